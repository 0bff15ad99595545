"""The second pass over a care bundle: what the shape cannot check (ids, references, types of answers).

Conditions that decide what is shown (``enable_when``, calculations) may only look backwards, so a checklist
can be filled top to bottom; rules judged once every answer is in (exceptions, ``applies_when``, timing,
population, checks) may name any element. Every problem carries a YAML path and, where it helps, a hint.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from schemas.care_bundle.model import (
    ANCHOR,
    HELP_SUFFIX,
    NUMBER_TYPES,
    ORDERED_TYPES,
    CareBundle,
    Condition,
    Conditions,
    Element,
    coerce_answer,
)
from schemas.care_bundle.problems import Problem

#: UCUM codes are printable ASCII without spaces; a full UCUM parser would need a terminology server.
_UCUM_SYNTAX = re.compile(r"^[!-~]{1,32}$")


@dataclass(frozen=True)
class Scope:
    """What a condition may name: ``seen`` elements, and only items of its own repeating group (if any)."""

    file: str
    care_bundle: CareBundle
    seen: Mapping[str, Element]
    group: str | None = None

    def everything(self) -> Scope:
        every = dict(self.care_bundle._by_id)
        every[self.care_bundle.anchor.id] = self.care_bundle.anchor_element
        return Scope(self.file, self.care_bundle, every, self.group)


def paths(elements: Sequence[Element], prefix: str = "elements") -> Iterator[tuple[str, Element]]:
    for index, element in enumerate(elements):
        path = f"{prefix}[{index}]"
        yield path, element
        yield from paths(element.items, f"{path}.items")


def check_meaning(care_bundle: CareBundle, file: str = "<care bundle>") -> Iterator[Problem]:
    """What the shape cannot check. Yields every problem; an empty result means the care bundle is sound."""
    from schemas.care_bundle.meaning_rules import check_compliance, check_measures

    try:
        ZoneInfo(care_bundle.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        yield Problem(file, "timezone", f"unknown time zone {care_bundle.timezone!r}", "e.g. Europe/London")
    yield from _unique(file, "sources", [source.id for source in care_bundle.sources], "source id")
    yield from _unique(file, "patient_identifiers", list(care_bundle.patient_identifiers), "identifier")
    source_ids = {source.id for source in care_bundle.sources}

    anchor = care_bundle.anchor_element
    seen: dict[str, Element] = {anchor.id: anchor}
    for path, element in paths(care_bundle.elements):
        if element.id in seen or element.id == ANCHOR:
            yield Problem(file, f"{path}.id", f"element id {element.id!r} is used twice", "ids are unique")
        if element.id.endswith(HELP_SUFFIX):
            yield Problem(file, f"{path}.id", f"ids ending in {HELP_SUFFIX!r} are reserved", "help text")
        scope = Scope(file, care_bundle, dict(seen), care_bundle.repeating_group_of.get(element.id))
        yield from _check_element(path, element, scope, source_ids)
        if element.compliance is not None:
            yield from check_compliance(f"{path}.compliance", element, scope)
        seen[element.id] = element
    yield from check_measures(care_bundle, file)


def _unique(file: str, where: str, values: list[str], noun: str) -> Iterator[Problem]:
    for index, value in enumerate(values):
        if values.index(value) != index:
            yield Problem(file, f"{where}[{index}]", f"{noun} {value!r} is used twice")


def _check_element(path: str, element: Element, scope: Scope, source_ids: set[str]) -> Iterator[Problem]:
    from schemas.care_bundle.meaning_rules import check_calculation

    file, kind = scope.file, element.type
    if kind == "choice" and not element.options:
        yield Problem(file, f"{path}.options", "a choice element needs options", "list {code, display} pairs")
    if kind != "choice" and element.options:
        yield Problem(file, f"{path}.options", f"options only go with type choice, not {kind}")
    if kind == "group" and not element.items:
        yield Problem(file, f"{path}.items", "a group needs items")
    if kind != "group" and element.items:
        yield Problem(file, f"{path}.items", f"only a group has items, not a {kind} element")
    if kind == "display" and (element.required or element.compliance):
        yield Problem(file, path, "a display element shows text only: no required, no compliance")
    if element.is_repeating_group and scope.group is not None:
        yield Problem(file, f"{path}.repeats", "a repeating group cannot sit inside another repeating group")
    if element.max_repeats is not None and not element.repeats:
        yield Problem(file, f"{path}.max_repeats", "max_repeats goes with repeats: true")
    codes = [option.code for option in element.options]
    for index, code in enumerate(codes):
        if codes.index(code) != index:
            yield Problem(file, f"{path}.options[{index}].code", f"option code {code!r} is used twice")
    if any(option.exclusive for option in element.options) and not element.repeats:
        yield Problem(
            file,
            f"{path}.options",
            "exclusive options only matter when the element repeats (several answers)",
        )
    if (element.min_value is not None or element.max_value is not None) and kind not in NUMBER_TYPES:
        yield Problem(file, path, "min_value / max_value go with integer or decimal elements")
    if (
        element.min_value is not None
        and element.max_value is not None
        and element.min_value > element.max_value
    ):
        yield Problem(file, f"{path}.min_value", "min_value is above max_value")
    if element.max_length is not None and kind not in ("string", "text"):
        yield Problem(file, f"{path}.max_length", "max_length goes with string or text elements")
    if element.unit is not None:
        if kind not in NUMBER_TYPES:
            yield Problem(file, f"{path}.unit", "a unit goes with integer or decimal elements")
        if element.unit.code is not None and not _UCUM_SYNTAX.fullmatch(element.unit.code):
            yield Problem(file, f"{path}.unit.code", "not a UCUM code", "e.g. deg, a, mo, mmol/mol, {score}")
    for index, source in enumerate(element.sources):
        if source not in source_ids:
            yield Problem(
                file, f"{path}.sources[{index}]", f"no source with id {source!r}", "add it under sources"
            )
    if len(element.enable_when) > 1 and element.enable_behavior is None:
        yield Problem(
            file, f"{path}.enable_behavior", "more than one condition: say enable_behavior: all or any"
        )
    if element.enable_behavior is not None and len(element.enable_when) < 2:
        yield Problem(file, f"{path}.enable_behavior", "enable_behavior needs two or more conditions")
    for index, condition in enumerate(element.enable_when):
        yield from check_condition(f"{path}.enable_when[{index}]", condition, scope)
    if element.calculated is not None:
        yield from check_calculation(f"{path}.calculated", element, scope)


def check_conditions(path: str, conditions: Conditions | None, scope: Scope) -> Iterator[Problem]:
    for index, condition in enumerate(conditions.items if conditions else ()):
        yield from check_condition(f"{path}[{index}]", condition, scope)


def check_condition(path: str, condition: Condition, scope: Scope) -> Iterator[Problem]:
    file = scope.file
    target = scope.seen.get(condition.element)
    if target is None:
        if scope.care_bundle.element(condition.element) is not None:
            yield Problem(
                file,
                f"{path}.element",
                f"condition refers to {condition.element!r}, which comes later",
                "a condition may only depend on an element above it",
            )
        else:
            yield Problem(file, f"{path}.element", f"no element with id {condition.element!r}")
        return
    if target.type in ("group", "display"):
        yield Problem(file, f"{path}.element", f"{condition.element!r} is a {target.type}: it has no answer")
        return
    group = scope.care_bundle.repeating_group_of.get(condition.element)
    if group is not None and group != scope.group:
        yield Problem(
            file,
            f"{path}.element",
            f"{condition.element!r} sits in the repeating group {group!r}",
            "only items of the same repeating group can refer to it (one answer per instance)",
        )
    if condition.operator == "exists":
        if not isinstance(condition.answer, bool):
            yield Problem(file, f"{path}.answer", "with operator exists the answer is true or false")
        return
    if condition.operator not in ("=", "!=") and target.type not in ORDERED_TYPES:
        yield Problem(
            file,
            f"{path}.operator",
            f"{condition.operator} needs a number, date or date-time element; "
            f"{condition.element!r} is {target.type}",
        )
    yield from check_answer(
        file,
        f"{path}.answer",
        target,
        condition.answer,
        f"for {condition.element!r}",
        f"of {condition.element!r}",
    )


def check_answer(
    file: str, path: str, element: Element, answer: object, whose: str, options: str = "of this element"
) -> Iterator[Problem]:
    """``answer`` (as written in YAML) is a valid answer of ``element``: right type, a known option code."""
    try:
        value = coerce_answer(element.type, answer)  # type: ignore[arg-type]
    except (TypeError, ValueError) as error:
        yield Problem(file, path, f"not a valid answer {whose}: {error}")
        return
    if element.type == "choice" and element.option(value) is None:
        yield Problem(
            file,
            path,
            f"{answer!r} is not one of the options {options}",
            "use one of: " + ", ".join(option.code for option in element.options),
        )
