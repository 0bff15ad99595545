"""The compliance API's queries and answers (issue 11): ``/api/compliance/report`` (JSON and CSV) and the
drill-down ``/api/compliance/checklists``.

Pure marshmallow (no ``service`` import): the words are the strings the service's enums use. Every text
a client sends is bounded here, so no error message can echo a long value. Proportions, limits and ratios
are JSON numbers rounded to 6 decimal places.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

#: Decimal places of every proportion, limit and ratio in the answers.
DECIMALS = 6
INTERVALS = ("week", "month")
CHARTS = ("p", "p_prime")
DIRECTIONS = ("increase", "decrease", "neutral")
MEASURE_KINDS = ("composite", "element", "rule", "follow-up")
#: ``composite:<id>``, ``element:<id>``, ``rule:<id>`` or ``follow-up:<id>``.
MEASURE_PATTERN = r"^(composite|element|rule|follow-up):[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
#: ``SITECODE/unitcode``.
UNIT_PATTERN = r"^[^/\s]{1,16}/[^/\s]{1,32}$"


class Rounded(fields.Float):
    """A float rounded to :data:`DECIMALS` places (None stays None)."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> float | None:
        return None if value is None else round(float(value), DECIMALS)


def _rounded(description: str) -> Rounded:
    return Rounded(allow_none=True, metadata={"description": f"{description} (rounded to 6 decimal places)"})


# -- queries ------------------------------------------------------------------------------------------------


class ScopeQuery(Schema):
    """What is counted: a care bundle (all versions or some), a measure, and a unit or a site."""

    care_bundle = fields.String(
        required=True, validate=validate.Length(1, 64), metadata={"description": "A care bundle id"}
    )
    measure = fields.String(
        validate=validate.Regexp(
            MEASURE_PATTERN, error="give composite:<id>, element:<id>, rule:<id> or follow-up:<id>"
        ),
        metadata={
            "description": "composite:<id> (all-or-none), element:<id>, rule:<id> (a timing rule) or "
            "follow-up:<id> (across a patient's checklists: each patient in the period of their "
            "baseline), as listed by /api/compliance/measures; default: the care bundle's first composite"
        },
    )
    unit = fields.String(
        validate=validate.Regexp(UNIT_PATTERN, error="give SITECODE/unitcode"),
        metadata={"description": "One unit, SITECODE/unitcode. Give unit or site, not both."},
    )
    site = fields.String(
        validate=validate.Length(1, 16),
        metadata={
            "description": "A site code: the units of that site the caller reports on (all of them for "
            "an admin or a token bound to the site; a QI lead's own units of it otherwise)"
        },
    )
    interval = fields.String(
        load_default="week",
        validate=validate.OneOf(INTERVALS),
        metadata={"description": "week (from Monday) or month (calendar), of local dates in Europe/London"},
    )
    versions = fields.List(
        fields.String(validate=validate.Length(1, 32)),
        data_key="version",
        load_default=list,
        validate=validate.Length(max=20),
        metadata={"description": "Care bundle versions to count (repeat the parameter); none: all versions"},
    )

    @validates_schema
    def _one_place(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if ("unit" in data) == ("site" in data):
            raise ValidationError("give exactly one of unit or site", "unit")


class ReportQuery(ScopeQuery):
    first = fields.Date(
        data_key="from",
        metadata={"description": "First day (ISO date); default: 52 weeks or 12 months before 'to'"},
    )
    last = fields.Date(
        data_key="to", metadata={"description": "Last day (ISO date, included); default: today in London"}
    )
    chart = fields.String(
        load_default="p", validate=validate.OneOf(CHARTS), metadata={"description": "p, or Laney's p'"}
    )
    direction = fields.String(
        load_default="increase",
        validate=validate.OneOf(DIRECTIONS),
        metadata={"description": "Which way is improvement"},
    )
    target = fields.Float(
        validate=validate.Range(0, 1), metadata={"description": "A target proportion, 0 to 1 (assurance)"}
    )
    rebase_at = fields.List(
        fields.Date(),
        data_key="rebase",
        load_default=list,
        validate=validate.Length(max=50),
        metadata={"description": "Period starts where the limits are recalculated (repeat the parameter)"},
    )
    baseline = fields.Integer(
        validate=validate.Range(1, 1000),
        metadata={"description": "A fixed baseline: each segment's limits from its first N points"},
    )


class DrillDownQuery(ReportQuery):
    """The chart's query (its range and chart settings are taken and not needed) and the point's period."""

    period = fields.Date(
        required=True, metadata={"description": "The first day of the period (a Monday, or the 1st)"}
    )


# -- answers ------------------------------------------------------------------------------------------------


class CodeName(Schema):
    code = fields.String()
    name = fields.String()


class UnitOut(Schema):
    site = fields.String(metadata={"description": "The site code"})
    code = fields.String()
    name = fields.String()


class CareBundleRef(Schema):
    id = fields.String()
    title = fields.String()


class MeasureRef(Schema):
    kind = fields.String(metadata={"description": "composite, element or rule"})
    id = fields.String()
    title = fields.String()


class ScopeOut(Schema):
    care_bundle = fields.Nested(CareBundleRef)
    measure = fields.Nested(MeasureRef)
    unit = fields.Nested(UnitOut, allow_none=True, metadata={"description": "Set when unit= was asked"})
    site = fields.Nested(CodeName, allow_none=True, metadata={"description": "Set when site= was asked"})
    units = fields.List(fields.Nested(UnitOut), metadata={"description": "Every unit counted"})
    site_complete = fields.Boolean(
        allow_none=True, metadata={"description": "site= only: true when every unit of the site is counted"}
    )
    versions = fields.List(fields.String(), metadata={"description": "Versions counted; empty: all"})
    interval = fields.String()
    first = fields.Date(data_key="from")
    last = fields.Date(data_key="to")
    today = fields.Date(metadata={"description": "The London date the report was made on"})


class PeriodRef(Schema):
    start = fields.Date(metadata={"description": "First day of the period"})
    end = fields.Date(metadata={"description": "Last day of the period (included)"})
    label = fields.String(metadata={"description": "2026-03 for a month, its Monday for a week"})


class PeriodOut(PeriodRef):
    numerator = fields.Integer()
    denominator = fields.Integer()
    proportion = _rounded("numerator / denominator; null when the denominator is 0")
    met = fields.Integer()
    not_met = fields.Integer()
    missing = fields.Integer(metadata={"description": "No answer: in the denominator, not met"})
    not_applicable = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        metadata={"description": "Not applicable, by reason: outside the denominator"},
    )
    outside = fields.Integer(metadata={"description": "All-or-none: checklists where no member applies"})
    duplicates = fields.Integer(metadata={"description": "Possible duplicates set aside (counted once)"})
    open = fields.Integer(metadata={"description": "Checklists anchored in the period still in progress"})
    incomplete = fields.Boolean(metadata={"description": "Not ended yet, or checklists still open"})
    version = fields.String(
        allow_none=True, metadata={"description": "The care bundle version most counted checklists used"}
    )
    centre = _rounded("Centre line")
    upper = _rounded("Upper 3-sigma limit")
    lower = _rounded("Lower 3-sigma limit")
    upper_2sigma = _rounded("Upper 2-sigma line")
    lower_2sigma = _rounded("Lower 2-sigma line")
    special_cause = fields.Boolean()
    rule = fields.String(
        allow_none=True, metadata={"description": "outside_limits, trend, two_of_three, shift"}
    )
    signal = fields.String(allow_none=True, metadata={"description": "improvement, concern or neutral"})
    segment = fields.Integer()
    in_baseline = fields.Boolean()


class SegmentOut(Schema):
    start = fields.Date(metadata={"description": "Start of the segment's first period"})
    stop = fields.Date(metadata={"description": "The day after the segment's last period"})
    centre = _rounded("Centre line")
    baseline_points = fields.Integer()
    trial = fields.Boolean(metadata={"description": "Fewer than 12 baseline points: trial limits"})
    overdispersion_ratio = _rounded("Laney's sigma z")


class ChartOut(Schema):
    kind = fields.String(metadata={"description": "p or p_prime"})
    direction = fields.String()
    target = _rounded("The target")
    variation_icon = fields.String(allow_none=True)
    assurance_icon = fields.String()
    trial = fields.Boolean()
    laney_recommended = fields.Boolean(metadata={"description": "Advice only: the data call for a p' chart"})
    segments = fields.List(fields.Nested(SegmentOut))
    rebase_at = fields.List(fields.Date())
    rebase_candidates = fields.List(
        fields.Date(), metadata={"description": "Where the version in use changes: offered, never applied"}
    )


class ReportOut(Schema):
    scope = fields.Nested(ScopeOut)
    periods = fields.List(fields.Nested(PeriodOut))
    chart = fields.Nested(ChartOut)


class ChecklistRow(Schema):
    checklist_id = fields.UUID()
    unit = fields.String(metadata={"description": "SITECODE/unitcode"})
    care_bundle_version = fields.String()
    anchor_time = fields.DateTime()
    completed_at = fields.DateTime(allow_none=True)
    status = fields.String()
    outcome = fields.String(metadata={"description": "met, not-met, missing, not-applicable; or outside"})
    reason = fields.String(allow_none=True)
    duplicate = fields.Boolean(metadata={"description": "A possible duplicate set aside (not counted)"})
    patient_identifier = fields.String(
        metadata={"description": "Only for users granted the permission (never for tokens); audited"}
    )
    patient_identifier_system = fields.String()


class DrillDownOut(Schema):
    scope = fields.Nested(ScopeOut)
    period = fields.Nested(PeriodRef)
    identifiers_included = fields.Boolean()
    checklists = fields.List(fields.Nested(ChecklistRow))
