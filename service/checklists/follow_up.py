"""Follow-up measures: one patient's checklists of a care bundle over time (baseline and follow-up).

Pure domain code: the caller (reports) finds a patient's checklists and gives their anchor times and values;
this module says what the measure makes of them. The baseline is the earliest checklist; the follow-up is
the latest one, or the latest one inside the measure's window after the baseline (whole local days,
inclusive at both ends).
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from schemas.care_bundle import CareBundle, FollowUp, ValueTest
from service.checklists.outcomes import Evaluation, Outcome
from service.checklists.timing import local_date

_COMPARE: dict[str, Callable[[Decimal, Decimal], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    "<": operator.lt,
    ">=": operator.ge,
    "<=": operator.le,
}


@dataclass(frozen=True)
class SeriesPoint:
    """One checklist of the patient: when its anchor happened, and the measure's value on it (if any)."""

    anchor: dt.date
    value: Decimal | None
    checklist_id: str | None = None


@dataclass(frozen=True)
class FollowUpOutcome:
    measure: FollowUp
    outcome: Outcome
    reason: str | None = None
    baseline: SeriesPoint | None = None
    follow_up: SeriesPoint | None = None
    change: Decimal | None = None


def point_of(
    measure: FollowUp, anchor: dt.date, answers: dict[str, list[object]], evaluation: Evaluation
) -> SeriesPoint:
    """The measure's value on one checklist: a calculated value, or the element's (enabled) answer."""
    if measure.element in evaluation.calculated:
        value = evaluation.calculated[measure.element]
    else:
        found = answers.get(measure.element, ()) if measure.element in evaluation.enabled else ()
        value = found[0] if found else None  # type: ignore[assignment]
    number = Decimal(value) if isinstance(value, int | Decimal) and not isinstance(value, bool) else None
    return SeriesPoint(anchor, number)


def judge_follow_up(
    care_bundle: CareBundle, measure: FollowUp, points: Sequence[SeriesPoint]
) -> FollowUpOutcome:
    zone = ZoneInfo(care_bundle.timezone)
    ordered = sorted(points, key=lambda point: _instant(point.anchor, zone))
    if not ordered:
        return FollowUpOutcome(measure, Outcome.NOT_APPLICABLE, "no checklist for this patient")
    baseline = ordered[0]
    if baseline.value is None:
        return FollowUpOutcome(measure, Outcome.MISSING, "no value at baseline", baseline)
    if measure.population is not None and not _holds(measure.population, baseline.value):
        reason = f"baseline {baseline.value} is not {measure.population.operator} {measure.population.value}"
        return FollowUpOutcome(measure, Outcome.NOT_APPLICABLE, reason, baseline)
    start = local_date(baseline.anchor, zone)
    later = [
        point for point in ordered[1:] if _in_window(measure, (local_date(point.anchor, zone) - start).days)
    ]
    if not later:
        return FollowUpOutcome(measure, Outcome.MISSING, "no follow-up checklist yet", baseline)
    follow_up = later[-1]
    if follow_up.value is None:
        return FollowUpOutcome(measure, Outcome.MISSING, "no value at follow-up", baseline, follow_up)
    change = follow_up.value - baseline.value
    test, tested = (measure.met, follow_up.value) if measure.met is not None else (measure.change, change)
    assert test is not None
    outcome = Outcome.MET if _holds(test, tested) else Outcome.NOT_MET
    return FollowUpOutcome(measure, outcome, None, baseline, follow_up, change)


def _in_window(measure: FollowUp, days: int) -> bool:
    if measure.after_days is None or measure.within_days is None:
        return True
    return measure.after_days <= days <= measure.within_days


def _holds(test: ValueTest, value: Decimal) -> bool:
    return _COMPARE[test.operator](value, test.value)


def _instant(value: dt.date, zone: ZoneInfo) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC)
    return dt.datetime.combine(value, dt.time(0), tzinfo=zone).astimezone(dt.UTC)
