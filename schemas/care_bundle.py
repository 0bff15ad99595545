"""The care bundle format: YAML under ``bundles/`` -> an immutable :class:`CareBundle`.

Two passes. The marshmallow schemas check shape (fields, types, enumerations); :func:`check_meaning` then
checks what the shape cannot: unique ids, conditions that point backwards at a real answer, timing rules that
point at a date or date-time, and so on. Every problem carries the file, a YAML path such as
``elements[3].enable_when[0].element`` and a hint for the clinical author. ``bundles/FORMAT.md`` is the
author's reference; keep it in step with this module.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml
from marshmallow import (
    EXCLUDE,
    RAISE,
    Schema,
    ValidationError,
    fields,
    post_load,
    pre_load,
    validate,
    validates_schema,
)

ElementType = Literal[
    "boolean", "choice", "integer", "decimal", "date", "dateTime", "string", "text", "group", "display"
]
ELEMENT_TYPES: tuple[str, ...] = (
    "boolean",
    "choice",
    "integer",
    "decimal",
    "date",
    "dateTime",
    "string",
    "text",
    "group",
    "display",
)
OPERATORS: tuple[str, ...] = ("exists", "=", "!=", ">", "<", ">=", "<=")
ORDERED_TYPES = frozenset({"integer", "decimal", "date", "dateTime"})
TIME_TYPES = frozenset({"date", "dateTime"})
ANSWERABLE_TYPES = frozenset(ELEMENT_TYPES) - {"group", "display"}
ANCHOR = "anchor"
#: Reserved suffix: the Questionnaire carries an element's help text in a display item ``{id}-help``.
HELP_SUFFIX = "-help"
ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"
SEMVER_PATTERN = r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$"

#: A plain Python value an element can hold: a code (choice), bool, int, Decimal, date, aware datetime, str.
AnswerValue = bool | int | Decimal | str | dt.date | dt.datetime


# --------------------------------------------------------------------------------------------------
# The in-memory model (immutable; built once at start-up)
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Coding:
    system: str
    code: str
    display: str | None = None


@dataclass(frozen=True)
class Option:
    code: str
    display: str
    system: str | None = None  # None: the care bundle's own code system


@dataclass(frozen=True)
class Condition:
    element: str
    operator: str
    answer: AnswerValue


@dataclass(frozen=True)
class TimingRule:
    """The element's date or date-time must fall in a window after ``start`` (an element id or ``anchor``).

    Exactly one of ``within_hours`` (elapsed hours) or ``by_end_of_day`` (calendar days in the care bundle's
    time zone: 0 = same day, 1 = by the end of the next day) is set.
    """

    start: str
    within_hours: Decimal | None = None
    by_end_of_day: int | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Compliance:
    """What makes an element ``met``; all the parts given must hold.

    ``met``: answers that meet it. ``exception``: answers that are a documented exception (the element is
    then ``not-applicable`` and does not count against all-or-none). ``exception_when``: conditions on other
    elements (above or below it), any one of which makes a documented exception. ``recorded``: any answer
    meets it. ``all_or_none``: False keeps the element out of the all-or-none composite (it is still
    reported per element).
    ``timing``: windows the answer must fall in.
    """

    met: tuple[AnswerValue, ...] = ()
    exception: tuple[AnswerValue, ...] = ()
    exception_when: tuple[Condition, ...] = ()
    recorded: bool = False
    timing: tuple[TimingRule, ...] = ()
    all_or_none: bool = True


@dataclass(frozen=True)
class Element:
    id: str
    text: str
    type: str
    required: bool = False
    repeats: bool = False
    options: tuple[Option, ...] = ()
    enable_when: tuple[Condition, ...] = ()
    enable_behavior: str | None = None
    codes: tuple[Coding, ...] = ()
    min_value: Decimal | None = None
    max_value: Decimal | None = None
    max_length: int | None = None
    unit: str | None = None
    help: str | None = None
    compliance: Compliance | None = None
    sources: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    items: tuple[Element, ...] = ()

    def option(self, code: object) -> Option | None:
        return next((option for option in self.options if option.code == code), None)


@dataclass(frozen=True)
class Anchor:
    id: str
    text: str
    type: str = "dateTime"
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Source:
    id: str
    citation: str
    url: str | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class CareBundle:
    id: str
    version: str
    title: str
    status: str
    anchor: Anchor
    elements: tuple[Element, ...]
    description: str = ""
    publisher: str | None = None
    subject_type: str = "Patient"
    timezone: str = "Europe/London"
    codes: tuple[Coding, ...] = ()
    sources: tuple[Source, ...] = ()
    notes: tuple[str, ...] = ()
    path: str | None = field(default=None, compare=False)

    def walk(self) -> Iterator[Element]:
        """Every element, depth first, in document order (groups before their items)."""

        def _walk(elements: Sequence[Element]) -> Iterator[Element]:
            for element in elements:
                yield element
                yield from _walk(element.items)

        return _walk(self.elements)

    def element(self, element_id: str) -> Element | None:
        return next((element for element in self.walk() if element.id == element_id), None)

    @cached_property
    def element_types(self) -> Mapping[str, str]:
        """Element id -> type for every element, the anchor included (for conditions and answers)."""
        types = {element.id: element.type for element in self.walk()}
        types[self.anchor.id] = self.anchor.type
        return types

    @property
    def anchor_element(self) -> Element:
        """The anchor as the required date/date-time element it is on every checklist (the first item)."""
        return Element(id=self.anchor.id, text=self.anchor.text, type=self.anchor.type, required=True)

    @property
    def compliance_elements(self) -> tuple[Element, ...]:
        return tuple(element for element in self.walk() if element.compliance is not None)


# --------------------------------------------------------------------------------------------------
# YAML: booleans are only true/false (``yes`` is a code here, not a bool) and dates stay text until the
# schema parses them, so the author's file means what it says.
# --------------------------------------------------------------------------------------------------


class CareBundleLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans and no implicit timestamps."""


CareBundleLoader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
CareBundleLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


# --------------------------------------------------------------------------------------------------
# Shape (marshmallow)
# --------------------------------------------------------------------------------------------------


def _frozen(data: dict[str, Any]) -> dict[str, Any]:
    """Lists become tuples, so the dataclasses built from ``data`` are immutable all the way down."""
    return {key: tuple(value) if isinstance(value, list) else value for key, value in data.items()}


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class _Notes(fields.List[str]):
    """A note or a list of notes."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(fields.String(validate=validate.Length(min=1)), load_default=(), **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[str | None]:
        if isinstance(value, str):
            value = [value]
        return super()._deserialize(value, attr, data, **kwargs)


class _Scalar(fields.Field[AnswerValue]):
    """An answer as written in YAML: a string (code or date), a bool, or a number."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> AnswerValue:
        if isinstance(value, bool | str):
            return value
        if isinstance(value, int):
            return value
        if isinstance(value, float):
            return Decimal(str(value))
        raise ValidationError("Must be a code, true/false, a number or a date.")


class CodingSchema(_Strict):
    system = fields.Url(required=True, schemes={"http", "https", "urn"}, require_tld=False)
    code = fields.String(required=True, validate=validate.Length(min=1))
    display = fields.String(load_default=None)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Coding:
        return Coding(**data)


class _Codings(fields.List[Any]):
    """One coding or a list of them."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(fields.Nested(CodingSchema), load_default=(), **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[Any | None]:
        if isinstance(value, Mapping):
            value = [value]
        return super()._deserialize(value, attr, data, **kwargs)


class OptionSchema(_Strict):
    code = fields.String(required=True, validate=validate.Length(min=1))
    display = fields.String(required=True, validate=validate.Length(min=1))
    system = fields.Url(load_default=None, schemes={"http", "https", "urn"}, require_tld=False)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Option:
        return Option(**data)


class ConditionSchema(_Strict):
    element = fields.String(required=True)
    operator = fields.String(required=True, validate=validate.OneOf(OPERATORS))
    answer = _Scalar(required=True)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Condition:
        return Condition(**data)


class TimingRuleSchema(_Strict):
    start = fields.String(required=True, data_key="from")
    within_hours = fields.Decimal(load_default=None, validate=validate.Range(min=0, min_inclusive=False))
    within_days = fields.Decimal(load_default=None, validate=validate.Range(min=0, min_inclusive=False))
    by_end_of_day = fields.Integer(load_default=None, strict=True, validate=validate.Range(min=0))
    notes = _Notes()

    @validates_schema
    def one_window(self, data: dict[str, Any], **_: Any) -> None:
        given = [key for key in ("within_hours", "within_days", "by_end_of_day") if data.get(key) is not None]
        if len(given) != 1:
            raise ValidationError(
                "Give exactly one of within_hours, within_days or by_end_of_day.", field_name="_schema"
            )

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> TimingRule:
        within_days = data.pop("within_days")
        if within_days is not None:
            data["within_hours"] = within_days * 24
        data["notes"] = tuple(data["notes"])
        return TimingRule(**data)


class ComplianceSchema(_Strict):
    met = fields.List(_Scalar(), load_default=())
    exception = fields.List(_Scalar(), load_default=())
    exception_when = fields.List(fields.Nested(ConditionSchema), load_default=())
    recorded = fields.Boolean(load_default=False, truthy={True}, falsy={False})
    timing = fields.List(fields.Nested(TimingRuleSchema), load_default=())
    all_or_none = fields.Boolean(load_default=True, truthy={True}, falsy={False})

    @validates_schema
    def says_something(self, data: dict[str, Any], **_: Any) -> None:
        if not (data.get("met") or data.get("recorded") or data.get("timing")):
            raise ValidationError(
                "Say what counts as met: met (answers), recorded: true, or timing.", field_name="_schema"
            )

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Compliance:
        return Compliance(**_frozen(data))


class ElementSchema(_Strict):
    id = fields.String(required=True, validate=validate.Regexp(ID_PATTERN, error="Use a-z, 0-9 and '-'."))
    text = fields.String(required=True, validate=validate.Length(min=1))
    type = fields.String(required=True, validate=validate.OneOf(ELEMENT_TYPES))
    required = fields.Boolean(load_default=False, truthy={True}, falsy={False})
    repeats = fields.Boolean(load_default=False, truthy={True}, falsy={False})
    options = fields.List(fields.Nested(OptionSchema), load_default=())
    enable_when = fields.List(fields.Nested(ConditionSchema), load_default=())
    enable_behavior = fields.String(load_default=None, validate=validate.OneOf(("all", "any")))
    code = _Codings(data_key="code")
    min_value = fields.Decimal(load_default=None)
    max_value = fields.Decimal(load_default=None)
    max_length = fields.Integer(load_default=None, strict=True, validate=validate.Range(min=1))
    unit = fields.String(load_default=None)
    help = fields.String(load_default=None)
    compliance = fields.Nested(ComplianceSchema, load_default=None)
    sources = fields.List(fields.String(), load_default=())
    notes = _Notes()
    items = fields.List(fields.Nested(lambda: ElementSchema()), load_default=())

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Element:
        data["codes"] = data.pop("code")
        return Element(**_frozen(data))


class AnchorSchema(_Strict):
    id = fields.String(required=True, validate=validate.Regexp(ID_PATTERN, error="Use a-z, 0-9 and '-'."))
    text = fields.String(required=True, validate=validate.Length(min=1))
    type = fields.String(load_default="dateTime", validate=validate.OneOf(("date", "dateTime")))
    notes = _Notes()

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Anchor:
        return Anchor(**_frozen(data))


class SourceSchema(_Strict):
    id = fields.String(required=True, validate=validate.Regexp(ID_PATTERN, error="Use a-z, 0-9 and '-'."))
    citation = fields.String(required=True, validate=validate.Length(min=1))
    url = fields.Url(load_default=None)
    notes = _Notes()

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Source:
        return Source(**_frozen(data))


class CareBundleSchema(_Strict):
    id = fields.String(required=True, validate=validate.Regexp(ID_PATTERN, error="Use a-z, 0-9 and '-'."))
    version = fields.String(
        required=True, validate=validate.Regexp(SEMVER_PATTERN, error="Use MAJOR.MINOR.PATCH, e.g. 1.0.0.")
    )
    title = fields.String(required=True, validate=validate.Length(min=1))
    status = fields.String(required=True, validate=validate.OneOf(("draft", "active", "retired")))
    description = fields.String(load_default="")
    publisher = fields.String(load_default=None)
    subject_type = fields.String(load_default="Patient", validate=validate.OneOf(("Patient",)))
    timezone = fields.String(load_default="Europe/London")
    anchor = fields.Nested(AnchorSchema, required=True)
    code = _Codings()
    sources = fields.List(fields.Nested(SourceSchema), required=True, validate=validate.Length(min=1))
    notes = _Notes()
    elements = fields.List(fields.Nested(ElementSchema), required=True, validate=validate.Length(min=1))

    @pre_load
    def must_be_mapping(self, data: Any, **_: Any) -> Any:
        if not isinstance(data, Mapping):
            raise ValidationError("A care bundle file holds one YAML mapping (id, version, title, ...).")
        return data

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> CareBundle:
        data["codes"] = data.pop("code")
        return CareBundle(**_frozen(data))


# unknown=EXCLUDE is never wanted: a misspelt key must be an error, not silently ignored.
assert CareBundleSchema.Meta.unknown != EXCLUDE


# --------------------------------------------------------------------------------------------------
# Problems and loading
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    file: str
    path: str
    message: str
    hint: str = ""

    def __str__(self) -> str:
        where = f"{self.file}: {self.path}" if self.path else self.file
        return f"{where}: {self.message}" + (f" (hint: {self.hint})" if self.hint else "")


def format_hint(path: str) -> str:
    """Where in bundles/FORMAT.md the field at ``path`` is explained (for problems without a closer hint)."""
    names = set(re.findall(r"[a-z_]+", path))
    for keys, section in _FORMAT_SECTIONS:
        if names & keys:
            return f"see bundles/FORMAT.md#{section}"
    return "see bundles/FORMAT.md#top-level-fields"


_FORMAT_SECTIONS: tuple[tuple[frozenset[str], str], ...] = (
    (frozenset({"line"}), "yaml-caveats"),
    (frozenset({"timing"}), "timing-rules"),
    (frozenset({"enable_when", "enable_behavior", "exception_when"}), "conditions"),
    (frozenset({"compliance"}), "compliance"),
    (frozenset({"options"}), "options"),
    (frozenset({"code"}), "code-a-coding"),
    (frozenset({"sources"}), "sources"),
    (frozenset({"anchor"}), "anchor"),
    (frozenset({"type"}), "types"),
    (frozenset({"elements", "items"}), "elements"),
    (frozenset({"version"}), "versions"),
)


class InvalidCareBundle(ValueError):
    """A care bundle file that cannot be used; ``problems`` lists every reason, each with a hint."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(
            problem if problem.hint else replace(problem, hint=format_hint(problem.path))
            for problem in problems
        )
        super().__init__("\n".join(str(problem) for problem in self.problems))


_SHAPE_HINTS = {
    "Unknown field.": "misspelt key? FORMAT.md lists every field",
    "Missing data for required field.": "add it; FORMAT.md says what it holds",
}


def _flatten(messages: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            if key == "_schema":
                yield from _flatten(value, path)
            elif isinstance(key, int):
                yield from _flatten(value, f"{path}[{key}]")
            else:
                yield from _flatten(value, f"{path}.{key}" if path else str(key))
    elif isinstance(messages, list | tuple):
        for message in messages:
            yield from _flatten(message, path)
    else:
        yield path, str(messages)


def parse_care_bundle(data: Any, file: str = "<care bundle>") -> CareBundle:
    """Check shape then meaning; raise :class:`InvalidCareBundle` listing every problem."""
    try:
        care_bundle: CareBundle = CareBundleSchema().load(data)
    except ValidationError as error:
        raise InvalidCareBundle(
            [
                Problem(file, path, message, _SHAPE_HINTS.get(message, ""))
                for path, message in _flatten(error.messages)
            ]
        ) from error
    problems = list(check_meaning(care_bundle, file))
    if problems:
        raise InvalidCareBundle(problems)
    return CareBundle(**{**care_bundle.__dict__, "path": file})


def load_care_bundle(path: str | Path) -> CareBundle:
    """Read and check one care bundle file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise InvalidCareBundle(
            [Problem(str(path), "", f"cannot read the file: {error.strerror}")]
        ) from error
    try:
        data = yaml.load(text, Loader=CareBundleLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise InvalidCareBundle(
            [Problem(str(path), where, f"not valid YAML: {getattr(error, 'problem', error)}")]
        ) from error
    return parse_care_bundle(data, str(path))


# --------------------------------------------------------------------------------------------------
# Meaning
# --------------------------------------------------------------------------------------------------


def _paths(elements: Sequence[Element], prefix: str = "elements") -> Iterator[tuple[str, Element]]:
    for index, element in enumerate(elements):
        path = f"{prefix}[{index}]"
        yield path, element
        yield from _paths(element.items, f"{path}.items")


def coerce_answer(element_type: str, value: AnswerValue) -> AnswerValue:
    """Turn a YAML scalar into the Python value an element of this type holds; ValueError if it cannot."""
    if element_type == "boolean":
        if isinstance(value, bool):
            return value
        raise ValueError("a boolean element's answer is true or false")
    if element_type == "integer":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ValueError("an integer element's answer is a whole number")
    if element_type == "decimal":
        if isinstance(value, int | Decimal) and not isinstance(value, bool):
            return Decimal(value)
        raise ValueError("a decimal element's answer is a number")
    if element_type == "date":
        if isinstance(value, str):
            return dt.date.fromisoformat(value)
        raise ValueError("a date element's answer is a date such as 2024-05-31")
    if element_type == "dateTime":
        if isinstance(value, str):
            moment = dt.datetime.fromisoformat(value)
            if moment.tzinfo is None:
                raise ValueError(
                    "a date-time answer needs a time zone offset, e.g. 2024-05-31T09:00:00+01:00"
                )
            return moment
        raise ValueError("a dateTime element's answer is a date-time with an offset")
    if isinstance(value, str) and element_type in ("choice", "string", "text"):
        return value
    raise ValueError(f"a {element_type} element's answer is text")


def check_meaning(care_bundle: CareBundle, file: str = "<care bundle>") -> Iterator[Problem]:
    """What the shape cannot check. Yields every problem; an empty result means the care bundle is sound."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(care_bundle.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        yield Problem(file, "timezone", f"unknown time zone {care_bundle.timezone!r}", "e.g. Europe/London")

    source_ids = [source.id for source in care_bundle.sources]
    for index, source_id in enumerate(source_ids):
        if source_ids.index(source_id) != index:
            yield Problem(file, f"sources[{index}].id", f"source id {source_id!r} is used twice")

    # Elements seen so far, in document order: conditions may only look backwards.
    anchor = care_bundle.anchor_element
    seen: dict[str, Element] = {anchor.id: anchor}
    every_id: dict[str, Element] = {element.id: element for element in care_bundle.walk()}
    every_id[anchor.id] = anchor

    for path, element in _paths(care_bundle.elements):
        if element.id in seen or element.id == ANCHOR:
            yield Problem(
                file,
                f"{path}.id",
                f"element id {element.id!r} is used twice",
                "ids are unique within the file",
            )
        if element.id.endswith(HELP_SUFFIX):
            yield Problem(
                file,
                f"{path}.id",
                f"ids ending in {HELP_SUFFIX!r} are reserved",
                "for the item holding help text",
            )
        yield from _check_element(file, path, element, seen, every_id, set(source_ids), anchor)
        seen[element.id] = element


def _check_element(
    file: str,
    path: str,
    element: Element,
    seen: Mapping[str, Element],
    every_id: Mapping[str, Element],
    source_ids: set[str],
    anchor: Element,
) -> Iterator[Problem]:
    kind = element.type
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
    codes = [option.code for option in element.options]
    for index, code in enumerate(codes):
        if codes.index(code) != index:
            yield Problem(file, f"{path}.options[{index}].code", f"option code {code!r} is used twice")
    if (element.min_value is not None or element.max_value is not None) and kind not in (
        "integer",
        "decimal",
    ):
        yield Problem(file, path, "min_value / max_value go with integer or decimal elements")
    if (
        element.min_value is not None
        and element.max_value is not None
        and element.min_value > element.max_value
    ):
        yield Problem(file, f"{path}.min_value", "min_value is above max_value")
    if element.max_length is not None and kind not in ("string", "text"):
        yield Problem(file, f"{path}.max_length", "max_length goes with string or text elements")
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
        yield from _check_condition(file, f"{path}.enable_when[{index}]", condition, seen, every_id)

    if element.compliance is not None:
        yield from _check_compliance(file, f"{path}.compliance", element, seen, every_id, anchor)


def _check_condition(
    file: str, path: str, condition: Condition, seen: Mapping[str, Element], every_id: Mapping[str, Element]
) -> Iterator[Problem]:
    target = seen.get(condition.element)
    if target is None:
        if condition.element in every_id:
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
    try:
        value = coerce_answer(target.type, condition.answer)
    except ValueError as error:
        yield Problem(file, f"{path}.answer", f"not a valid answer for {condition.element!r}: {error}")
        return
    if target.type == "choice" and target.option(value) is None:
        yield Problem(
            file,
            f"{path}.answer",
            f"{condition.answer!r} is not one of the options of {condition.element!r}",
            "use one of: " + ", ".join(option.code for option in target.options),
        )


def _check_compliance(
    file: str,
    path: str,
    element: Element,
    seen: Mapping[str, Element],
    every_id: Mapping[str, Element],
    anchor: Element,
) -> Iterator[Problem]:
    compliance = element.compliance
    assert compliance is not None
    if element.type in ("group", "display"):
        yield Problem(file, path, f"a {element.type} has no answer to judge; put compliance on its items")
        return
    for key in ("met", "exception"):
        for index, answer in enumerate(getattr(compliance, key)):
            where = f"{path}.{key}[{index}]"
            try:
                value = coerce_answer(element.type, answer)
            except ValueError as error:
                yield Problem(file, where, f"not a valid answer for this element: {error}")
                continue
            if element.type == "choice" and element.option(value) is None:
                yield Problem(
                    file,
                    where,
                    f"{answer!r} is not one of this element's options",
                    "use one of: " + ", ".join(option.code for option in element.options),
                )
    both = set(map(str, compliance.met)) & set(map(str, compliance.exception))
    if both:
        yield Problem(file, path, f"{sorted(both)} cannot be both met and an exception")
    # Exceptions are judged once every answer is in, so they may refer to any element (a reason asked below).
    for index, condition in enumerate(compliance.exception_when):
        yield from _check_condition(file, f"{path}.exception_when[{index}]", condition, every_id, every_id)
    if compliance.timing and element.type not in TIME_TYPES:
        yield Problem(
            file, f"{path}.timing", f"timing rules judge a date or date-time; this element is {element.type}"
        )
    for index, rule in enumerate(compliance.timing):
        where = f"{path}.timing[{index}]"
        start = anchor if rule.start in (ANCHOR, anchor.id) else seen.get(rule.start)
        if start is None:
            hint = "it comes later; timing counts from an earlier element" if rule.start in every_id else ""
            yield Problem(
                file,
                f"{where}.from",
                f"timing starts from {rule.start!r}, which is not the anchor or an element above",
                hint or "use 'anchor' or the id of a date/dateTime element",
            )
            continue
        if start.type not in TIME_TYPES:
            yield Problem(file, f"{where}.from", f"timing starts from {rule.start!r}, a {start.type} element")
        if rule.within_hours is not None and "date" in (start.type, element.type):
            yield Problem(
                file,
                where,
                "within_hours/within_days measure elapsed time between date-times",
                "use by_end_of_day for a calendar-day rule on dates",
            )
