"""Meaning checks of the rules: compliance, timing, calculated values, composites, population, checks and
follow-up measures. Split from ``meaning`` (elements and conditions) to keep each module small.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from schemas.care_bundle.meaning import Scope, check_answer, check_condition, check_conditions
from schemas.care_bundle.model import (
    ANCHOR,
    ANSWERABLE_TYPES,
    NUMBER_TYPES,
    TIME_TYPES,
    CareBundle,
    Condition,
    Element,
    TimingRule,
    rule_id,
)
from schemas.care_bundle.problems import Problem

_CALCULATED_TYPES = {
    "years_between": ("integer",),
    "months_between": ("integer",),
    "count": ("integer",),
    "sum": ("integer", "decimal"),
    "difference": ("integer", "decimal"),
    "all": ("boolean",),
    "any": ("boolean",),
}


def check_compliance(path: str, element: Element, scope: Scope) -> Iterator[Problem]:
    compliance = element.compliance
    assert compliance is not None
    file = scope.file
    if element.type in ("group", "display"):
        yield Problem(file, path, f"a {element.type} has no answer to judge; put compliance on its items")
        return
    for key in ("met", "exception"):
        for index, answer in enumerate(getattr(compliance, key)):
            yield from check_answer(
                file, f"{path}.{key}[{index}]", element, answer, "for this element", "of this element"
            )
    both = set(map(str, compliance.met)) & set(map(str, compliance.exception))
    if both:
        yield Problem(file, path, f"{sorted(both)} cannot be both met and an exception")
    if (
        compliance.at_least is not None or compliance.at_most is not None
    ) and element.type not in NUMBER_TYPES:
        yield Problem(file, path, "at_least / at_most judge a number: an integer or decimal element")
    if (
        compliance.at_least is not None
        and compliance.at_most is not None
        and compliance.at_least > compliance.at_most
    ):
        yield Problem(file, f"{path}.at_least", "at_least is above at_most")
    if not compliance.all_or_none and scope.care_bundle.composites:
        yield Problem(
            file, f"{path}.all_or_none", "with composites, leave the element out of their members instead"
        )
    # Judged once every answer is in: these may name any element (a reason asked below, for example).
    every = scope.everything()
    for index, condition in enumerate(compliance.exception_when):
        yield from check_condition(f"{path}.exception_when[{index}]", condition, every)
    yield from check_conditions(f"{path}.applies_when", compliance.applies_when, every)
    if compliance.timing and scope.group is not None:
        yield Problem(file, f"{path}.timing", "timing rules cannot sit inside a repeating group")
        return
    for index, rule in enumerate(compliance.timing):
        yield from _check_timing(f"{path}.timing[{index}]", element, rule, every)


def _time_element(scope: Scope, element_id: str) -> Element | None:
    if element_id == ANCHOR:
        return scope.care_bundle.anchor_element
    return scope.care_bundle.element(element_id)


def _check_timing(path: str, element: Element, rule: TimingRule, scope: Scope) -> Iterator[Problem]:
    file = scope.file
    event = element if rule.event is None else _time_element(scope, rule.event)
    if event is None:
        yield Problem(file, f"{path}.event", f"no element with id {rule.event!r}")
        return
    if event.type not in TIME_TYPES:
        where = f"{path}.event" if rule.event else path.rsplit(".timing", 1)[0] + ".timing"
        yield Problem(
            file,
            where,
            "timing rules judge a date or date-time; "
            + (f"{event.id!r}" if rule.event else "this element")
            + f" is {event.type}",
            "name the date or date-time element with event:",
        )
        return
    other_id = rule.start if rule.start is not None else rule.before
    key = "from" if rule.start is not None else "before"
    assert other_id is not None
    other = _time_element(scope, other_id)
    if other is None or other.type not in TIME_TYPES:
        what = "not the anchor or an element" if other is None else f"{other.type}, not a date or date-time"
        verb = "starts from" if key == "from" else "compares with"
        yield Problem(
            file,
            f"{path}.{key}",
            f"timing {verb} {other_id!r}, which is {what}",
            "use 'anchor' or the id of a date/dateTime element",
        )
        return
    if other.id == event.id:
        yield Problem(file, f"{path}.{key}", "a timing rule compares two different answers")
    if (rule.within_hours is not None or rule.after_hours is not None) and "date" in (other.type, event.type):
        yield Problem(
            file,
            path,
            "within_hours/within_days/after_* measure elapsed time between date-times",
            "use by_end_of_day / from_day for a calendar-day rule on dates",
        )
    if (
        rule.within_hours is not None
        and rule.after_hours is not None
        and rule.after_hours >= rule.within_hours
    ):
        yield Problem(file, path, "the window closes before it opens (after_* is not below within_*)")
    if rule.by_end_of_day is not None and rule.from_day is not None and rule.from_day > rule.by_end_of_day:
        yield Problem(file, path, "the window closes before it opens (from_day is above by_end_of_day)")
    if rule.applies_when is not None:
        yield from check_conditions(f"{path}.applies_when", rule.applies_when, scope)


def check_calculation(path: str, element: Element, scope: Scope) -> Iterator[Problem]:
    calculation = element.calculated
    assert calculation is not None
    file = scope.file
    allowed = _CALCULATED_TYPES[calculation.function]
    if element.type not in allowed:
        yield Problem(
            file, path, f"{calculation.function} gives a {' or '.join(allowed)}, not a {element.type}"
        )
    if element.required:
        yield Problem(file, f"{path}", "a calculated element is worked out, not asked: drop required")
    if scope.group is not None:
        yield Problem(file, path, "a calculated element cannot sit inside a repeating group")
    for index, condition in enumerate(calculation.conditions):
        yield from check_condition(f"{path}.{calculation.function}[{index}]", condition, scope)
    if calculation.function in ("all", "any"):
        return
    wanted = {"years_between": 2, "months_between": 2, "difference": 2}.get(calculation.function)
    if wanted is not None and len(calculation.elements) != wanted:
        yield Problem(file, path, f"{calculation.function} takes exactly {wanted} element ids")
    if not calculation.elements:
        yield Problem(file, path, f"{calculation.function} needs element ids")
    for index, element_id in enumerate(calculation.elements):
        where = f"{path}.{calculation.function}[{index}]"
        target = scope.seen.get(element_id) or (
            scope.care_bundle.anchor_element if element_id == ANCHOR else None
        )
        if target is None:
            later = scope.care_bundle.element(element_id) is not None
            yield Problem(
                file,
                where,
                f"{element_id!r} " + ("comes later" if later else "is not an element"),
                "a calculation uses elements above it",
            )
            continue
        yield from _check_argument(where, calculation.function, target, calculation.answer, scope)


def _check_argument(
    path: str, function: str, target: Element, answer: object, scope: Scope
) -> Iterator[Problem]:
    file = scope.file
    if function in ("years_between", "months_between") and target.type not in TIME_TYPES:
        yield Problem(file, path, f"{function} needs dates or date-times; {target.id!r} is {target.type}")
    elif function in ("sum", "difference") and target.type not in NUMBER_TYPES:
        yield Problem(file, path, f"{function} needs numbers; {target.id!r} is {target.type}")
    elif function == "count":
        if target.type not in ANSWERABLE_TYPES and not target.is_repeating_group:
            yield Problem(
                file, path, f"count needs answers or a repeating group; {target.id!r} is a {target.type}"
            )
        elif answer is not None and not target.is_repeating_group:
            yield from check_answer(file, path, target, answer, f"to count in {target.id!r}")
    if function != "count" and target.id in scope.care_bundle.repeating_group_of:
        yield Problem(file, path, f"{target.id!r} sits in a repeating group: only count can use it")


def check_measures(care_bundle: CareBundle, file: str) -> Iterator[Problem]:
    """Rule ids, composites, the population, checks and follow-up measures."""
    element_ids = {element.id for element in care_bundle.walk()} | {care_bundle.anchor.id}
    rule_ids: dict[str, str] = {}
    for element in care_bundle.compliance_elements:
        assert element.compliance is not None
        for index, rule in enumerate(element.compliance.timing):
            identifier = rule_id(element, index, rule)
            if identifier in rule_ids or identifier in element_ids:
                yield Problem(file, f"{element.id}.timing[{index}].id", f"id {identifier!r} is used twice")
            rule_ids[identifier] = element.id
    judged = {element.id for element in care_bundle.compliance_elements} | set(rule_ids)
    scope = Scope(file, care_bundle, {}).everything()

    measure_ids: list[str] = []
    for index, composite in enumerate(care_bundle.composites):
        path = f"composites[{index}]"
        measure_ids.append(composite.id)
        for number, member in enumerate(composite.members):
            if member not in judged:
                yield Problem(
                    file,
                    f"{path}.members[{number}]",
                    f"{member!r} is not an element with compliance or a timing rule id",
                )
            if composite.members.index(member) != number:
                yield Problem(file, f"{path}.members[{number}]", f"{member!r} is listed twice")
    if care_bundle.population is not None:
        yield from _top_level_conditions("population.when", care_bundle.population.when.items, scope)
    for index, check in enumerate(care_bundle.checks):
        measure_ids.append(check.id)
        yield from _top_level_conditions(
            f"checks[{index}].when", check.when.items if check.when else (), scope
        )
        yield from _top_level_conditions(f"checks[{index}].require", check.require.items, scope)
    for index, measure in enumerate(care_bundle.follow_up):
        measure_ids.append(measure.id)
        target = care_bundle.element(measure.element)
        if target is None or target.type not in NUMBER_TYPES:
            yield Problem(file, f"follow_up[{index}].element", f"{measure.element!r} is not a number element")
        elif measure.element in care_bundle.repeating_group_of:
            yield Problem(
                file, f"follow_up[{index}].element", "follow-up measures cannot use repeating groups"
            )
        if (
            measure.after_days is not None
            and measure.within_days is not None
            and measure.within_days <= measure.after_days
        ):
            yield Problem(file, f"follow_up[{index}]", "within_days must be above after_days")
    taken = element_ids | set(rule_ids)
    for index, identifier in enumerate(measure_ids):
        if measure_ids.index(identifier) != index or identifier in taken:
            yield Problem(file, f"measure {identifier!r}", f"id {identifier!r} is used twice")


def _top_level_conditions(path: str, conditions: Sequence[Condition], scope: Scope) -> Iterator[Problem]:
    for index, condition in enumerate(conditions):
        yield from check_condition(f"{path}[{index}]", condition, scope)
