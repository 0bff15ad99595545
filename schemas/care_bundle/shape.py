"""The first pass over a care bundle file: its shape (fields, types, enumerations), with marshmallow.

Each schema builds the immutable model object it describes; ``meaning`` then checks what shape cannot.
Unknown keys are errors everywhere: a misspelt key must never be silently ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, post_load, pre_load, validate
from marshmallow import validates_schema as _validates_schema

from fhir_adapters.identifiers import IDENTIFIER_KINDS
from schemas.care_bundle.model import (
    CALCULATIONS,
    CALENDARS,
    ELEMENT_TYPES,
    ID_PATTERN,
    OPERATORS,
    SEMVER_PATTERN,
    Anchor,
    AnswerValue,
    Calculation,
    CareBundle,
    Check,
    Coding,
    Compliance,
    Composite,
    Condition,
    Conditions,
    Element,
    FollowUp,
    Option,
    Population,
    Source,
    TimingRule,
    Unit,
    ValueTest,
)

_ID = validate.Regexp(ID_PATTERN, error="Use a-z, 0-9 and '-'.")
_TEXT = validate.Length(min=1)


def _flag(default: bool) -> fields.Boolean:
    """``true`` / ``false`` only: YAML's ``yes`` stays a code, never a boolean."""
    return fields.Boolean(load_default=default, truthy={True}, falsy={False})


def _frozen(data: dict[str, Any]) -> dict[str, Any]:
    """Lists become tuples, so the dataclasses built from ``data`` are immutable all the way down."""
    return {key: tuple(value) if isinstance(value, list) else value for key, value in data.items()}


def _one_of(data: Mapping[str, Any], keys: tuple[str, ...]) -> list[str]:
    return [key for key in keys if data.get(key) is not None]


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class _Notes(fields.List[str]):
    """A note or a list of notes."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(fields.String(validate=_TEXT), load_default=(), **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[str | None]:
        if isinstance(value, str):
            value = [value]
        return super()._deserialize(value, attr, data, **kwargs)


class _Scalar(fields.Field[AnswerValue]):
    """An answer as written in YAML: a string (code or date), a bool, or a number."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> AnswerValue:
        if isinstance(value, bool | str | int):
            return value
        if isinstance(value, float):
            return Decimal(str(value))
        raise ValidationError("Must be a code, true/false, a number or a date.")


class _Number(fields.Decimal):
    """A YAML number (not a quoted string) as an exact Decimal."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValidationError("Must be a number.")
        return super()._deserialize(str(value), attr, data, **kwargs)


class CodingSchema(_Strict):
    system = fields.Url(required=True, schemes={"http", "https", "urn"}, require_tld=False)
    code = fields.String(required=True, validate=_TEXT)
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
    code = fields.String(required=True, validate=_TEXT)
    display = fields.String(required=True, validate=_TEXT)
    system = fields.Url(load_default=None, schemes={"http", "https", "urn"}, require_tld=False)
    exclusive = _flag(False)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Option:
        return Option(**data)


class UnitSchema(_Strict):
    code = fields.String(required=True, validate=_TEXT)
    display = fields.String(required=True, validate=_TEXT)


class _Unit(fields.Field[Unit]):
    """Text (``degrees``, kept for published versions) or a UCUM unit ``{code: deg, display: degrees}``."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Unit:
        if isinstance(value, str) and value:
            return Unit(display=value)
        if isinstance(value, Mapping):
            loaded = UnitSchema().load(value)
            return Unit(display=loaded["display"], code=loaded["code"])
        raise ValidationError("Give a UCUM unit {code: ..., display: ...} (or text, in published versions).")


class ConditionSchema(_Strict):
    element = fields.String(required=True)
    operator = fields.String(required=True, validate=validate.OneOf(OPERATORS))
    answer = _Scalar(required=True)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Condition:
        return Condition(**data)


class _Conditions(fields.Field[Conditions]):
    """A list of conditions that must all hold, or ``{any: [...]}`` / ``{all: [...]}``."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Conditions:
        behavior = "all"
        if isinstance(value, Mapping):
            if len(value) != 1 or next(iter(value)) not in ("all", "any"):
                raise ValidationError("Write a list of conditions, or {any: [...]} / {all: [...]}.")
            behavior, value = next(iter(value.items()))
        if not isinstance(value, list) or not value:
            raise ValidationError("Give at least one condition.")
        items = ConditionSchema(many=True).load(value)
        return Conditions(tuple(items), "any" if behavior == "any" else "all")


class TimingRuleSchema(_Strict):
    id = fields.String(load_default=None, validate=_ID)
    title = fields.String(load_default=None, validate=_TEXT)
    event = fields.String(load_default=None)
    start = fields.String(load_default=None, data_key="from")
    before = fields.String(load_default=None)
    within_hours = _Number(load_default=None, validate=validate.Range(min=0, min_inclusive=False))
    within_days = _Number(load_default=None, validate=validate.Range(min=0, min_inclusive=False))
    by_end_of_day = fields.Integer(load_default=None, strict=True, validate=validate.Range(min=0))
    within_working_days = fields.Integer(load_default=None, strict=True, validate=validate.Range(min=1))
    after_hours = _Number(load_default=None, validate=validate.Range(min=0, min_inclusive=False))
    after_days = _Number(load_default=None, validate=validate.Range(min=0, min_inclusive=False))
    from_day = fields.Integer(load_default=None, strict=True, validate=validate.Range(min=1))
    applies_when = _Conditions(load_default=None)
    notes = _Notes()

    _UPPER = ("within_hours", "within_days", "by_end_of_day", "within_working_days")
    _LOWER = ("after_hours", "after_days", "from_day")

    @_validates_schema
    def one_window(self, data: dict[str, Any], **_: Any) -> None:
        starts = _one_of(data, ("start", "before"))
        upper, lower = _one_of(data, self._UPPER), _one_of(data, self._LOWER)
        if len(starts) != 1:
            raise ValidationError("Give exactly one of from (a window) or before (an order).", "_schema")
        if data.get("before") is not None and (upper or lower):
            raise ValidationError("A before rule has no window: drop within_*/after_*/from_day.", "_schema")
        if data.get("start") is not None and len(upper) != 1:
            raise ValidationError(
                "Give exactly one of within_hours, within_days, by_end_of_day or within_working_days.",
                "_schema",
            )
        if len(lower) > 1:
            raise ValidationError("Give at most one of after_hours, after_days or from_day.", "_schema")

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> TimingRule:
        for days, hours in (("within_days", "within_hours"), ("after_days", "after_hours")):
            value = data.pop(days)
            if value is not None:
                data[hours] = value * 24
        return TimingRule(**_frozen(data))


class ComplianceSchema(_Strict):
    met = fields.List(_Scalar(), load_default=())
    exception = fields.List(_Scalar(), load_default=())
    exception_when = fields.List(fields.Nested(ConditionSchema), load_default=())
    applies_when = _Conditions(load_default=None)
    recorded = _flag(False)
    at_least = _Number(load_default=None)
    at_most = _Number(load_default=None)
    timing = fields.List(fields.Nested(TimingRuleSchema), load_default=())
    all_or_none = _flag(True)

    @_validates_schema
    def says_something(self, data: dict[str, Any], **_: Any) -> None:
        if not _one_of(data, ("at_least", "at_most")) and not any(
            data.get(key) for key in ("met", "recorded", "timing")
        ):
            raise ValidationError(
                "Say what counts as met: met (answers), at_least / at_most, recorded: true, or timing.",
                field_name="_schema",
            )

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Compliance:
        return Compliance(**_frozen(data))


class _Calculation(fields.Field[Calculation]):
    """``{years_between: [a, b]}``, ``{count: [a, b], answer: done}``, ``{all: [conditions]}``..."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Calculation:
        if not isinstance(value, Mapping):
            raise ValidationError("Write one of: " + ", ".join(CALCULATIONS) + " (see FORMAT.md).")
        functions = [key for key in value if key in CALCULATIONS]
        extra = set(value) - set(CALCULATIONS) - {"answer"}
        if len(functions) != 1 or extra:
            raise ValidationError(
                "Give exactly one of: " + ", ".join(CALCULATIONS) + " (and answer for count)."
            )
        function = functions[0]
        arguments = value[function]
        if function in ("all", "any"):
            if not isinstance(arguments, list) or not arguments:
                raise ValidationError(f"{function} takes a list of conditions.")
            conditions = ConditionSchema(many=True).load(arguments)
            if "answer" in value:
                raise ValidationError("answer goes with count only.")
            return Calculation(function, conditions=tuple(conditions))
        if not isinstance(arguments, list) or not all(isinstance(item, str) for item in arguments):
            raise ValidationError(f"{function} takes a list of element ids.")
        if "answer" in value and function != "count":
            raise ValidationError("answer goes with count only.")
        answer = _Scalar().deserialize(value["answer"]) if "answer" in value else None
        return Calculation(function, tuple(arguments), answer)


class ElementSchema(_Strict):
    id = fields.String(required=True, validate=_ID)
    text = fields.String(required=True, validate=_TEXT)
    type = fields.String(required=True, validate=validate.OneOf(ELEMENT_TYPES))
    required = _flag(False)
    repeats = _flag(False)
    max_repeats = fields.Integer(load_default=None, strict=True, validate=validate.Range(min=1))
    options = fields.List(fields.Nested(OptionSchema), load_default=())
    enable_when = fields.List(fields.Nested(ConditionSchema), load_default=())
    enable_behavior = fields.String(load_default=None, validate=validate.OneOf(("all", "any")))
    code = _Codings(data_key="code")
    min_value = fields.Decimal(load_default=None)
    max_value = fields.Decimal(load_default=None)
    max_length = fields.Integer(load_default=None, strict=True, validate=validate.Range(min=1))
    unit = _Unit(load_default=None)
    help = fields.String(load_default=None)
    calculated = _Calculation(load_default=None)
    compliance = fields.Nested(ComplianceSchema, load_default=None)
    sources = fields.List(fields.String(), load_default=())
    notes = _Notes()
    items = fields.List(fields.Nested(lambda: ElementSchema()), load_default=())

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Element:
        data["codes"] = data.pop("code")
        return Element(**_frozen(data))


class AnchorSchema(_Strict):
    id = fields.String(required=True, validate=_ID)
    text = fields.String(required=True, validate=_TEXT)
    type = fields.String(load_default="dateTime", validate=validate.OneOf(("date", "dateTime")))
    notes = _Notes()

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Anchor:
        return Anchor(**_frozen(data))


class SourceSchema(_Strict):
    id = fields.String(required=True, validate=_ID)
    citation = fields.String(required=True, validate=_TEXT)
    url = fields.Url(load_default=None)
    notes = _Notes()

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Source:
        return Source(**_frozen(data))


class CompositeSchema(_Strict):
    id = fields.String(required=True, validate=_ID)
    title = fields.String(required=True, validate=_TEXT)
    description = fields.String(load_default="")
    members = fields.List(fields.String(validate=_TEXT), required=True, validate=validate.Length(min=1))
    notes = _Notes()

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Composite:
        return Composite(**_frozen(data))


class PopulationSchema(_Strict):
    text = fields.String(required=True, validate=_TEXT)
    when = _Conditions(required=True)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Population:
        return Population(**data)


class CheckSchema(_Strict):
    id = fields.String(required=True, validate=_ID)
    text = fields.String(required=True, validate=_TEXT)
    severity = fields.String(load_default="error", validate=validate.OneOf(("error", "warning")))
    when = _Conditions(load_default=None)
    require = _Conditions(required=True)
    notes = _Notes()

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Check:
        return Check(**_frozen(data))


class ValueTestSchema(_Strict):
    operator = fields.String(required=True, validate=validate.OneOf(OPERATORS[1:]))
    answer = _Number(required=True)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> ValueTest:
        return ValueTest(data["operator"], data["answer"])


class FollowUpSchema(_Strict):
    id = fields.String(required=True, validate=_ID)
    title = fields.String(required=True, validate=_TEXT)
    element = fields.String(required=True)
    population = fields.Nested(ValueTestSchema, load_default=None)
    met = fields.Nested(ValueTestSchema, load_default=None)
    change = fields.Nested(ValueTestSchema, load_default=None)
    after_days = fields.Integer(load_default=None, strict=True, validate=validate.Range(min=0))
    within_days = fields.Integer(load_default=None, strict=True, validate=validate.Range(min=1))
    notes = _Notes()

    @_validates_schema
    def one_test(self, data: dict[str, Any], **_: Any) -> None:
        if len(_one_of(data, ("met", "change"))) != 1:
            raise ValidationError("Give exactly one of met (the follow-up value) or change.", "_schema")
        if (data.get("after_days") is None) != (data.get("within_days") is None):
            raise ValidationError("Give both after_days and within_days, or neither (latest).", "_schema")

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> FollowUp:
        return FollowUp(**_frozen(data))


class CareBundleSchema(_Strict):
    id = fields.String(required=True, validate=_ID)
    version = fields.String(
        required=True, validate=validate.Regexp(SEMVER_PATTERN, error="Use MAJOR.MINOR.PATCH, e.g. 1.0.0.")
    )
    title = fields.String(required=True, validate=_TEXT)
    status = fields.String(required=True, validate=validate.OneOf(("draft", "active", "retired")))
    description = fields.String(load_default="")
    publisher = fields.String(load_default=None)
    subject_type = fields.String(load_default="Patient", validate=validate.OneOf(("Patient",)))
    timezone = fields.String(load_default="Europe/London")
    calendar = fields.String(load_default="england-and-wales", validate=validate.OneOf(CALENDARS))
    patient_identifiers = fields.List(
        fields.String(validate=validate.OneOf(tuple(IDENTIFIER_KINDS))),
        load_default=("nhs-number", "local"),
        validate=validate.Length(min=1),
    )
    anchor = fields.Nested(AnchorSchema, required=True)
    code = _Codings()
    sources = fields.List(fields.Nested(SourceSchema), required=True, validate=validate.Length(min=1))
    notes = _Notes()
    population = fields.Nested(PopulationSchema, load_default=None)
    composites = fields.List(fields.Nested(CompositeSchema), load_default=())
    checks = fields.List(fields.Nested(CheckSchema), load_default=())
    follow_up = fields.List(fields.Nested(FollowUpSchema), load_default=())
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
