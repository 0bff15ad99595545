"""Counts of a follow-up measure (across one patient's checklists: baseline and follow-up) per period.

A follow-up measure (FORMAT.md "Follow-up measures") is judged per patient by
:func:`service.checklists.follow_up.judge_follow_up`, the one implementation, over the patient's final
checklists of the care bundle on the scope's units (possible duplicates counted once, as everywhere). Each
patient counts in the period of their **baseline**'s anchor date (a cohort by when they started); the
follow-up may come later than the range. Numerator met, denominator met + not met + missing (a baseline with
no follow-up yet is missing, and makes its period incomplete: one may still come); not applicable (a baseline
outside the measure's population, no value at baseline counts as missing) is outside the denominator.

The measure's value on each checklist is the element's stored answer, or, for a calculated element, the
value ``evaluate`` works out (:func:`service.checklists.follow_up.point_of`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from decimal import Decimal

from sqlalchemy import select

from schemas.care_bundle import CareBundle, FollowUp
from service.care_bundles import CareBundleCatalogue
from service.checklists.evaluation import evaluate
from service.checklists.follow_up import SeriesPoint, judge_follow_up, point_of
from service.checklists.outcomes import Outcome
from service.checklists.store import answers_of
from service.compliance.counts import (
    AnySession,
    Behind,
    PeriodCounts,
    Scope,
    Tally,
    counted_condition,
    final_checklists,
)
from service.compliance.periods import Interval, Period, period_start, periods_covering
from service.errors import InvalidInput
from service.models import Answer, Checklist

#: The most checklists one follow-up report judges (each patient's series is read whole).
MAX_CHECKLISTS = 20_000
_EARLIEST = dt.datetime.min.replace(tzinfo=dt.UTC)
#: Not applicable, by what the judgement found (its own reason names values: never a report's key).
_NOT_APPLICABLE = "baseline outside the measure's population"


def follow_up_of(
    catalogue: CareBundleCatalogue, care_bundle_id: str, measure_id: str
) -> tuple[CareBundle, FollowUp]:
    """The newest loaded version of the care bundle that defines ``measure_id``, and its definition."""
    versions = sorted(
        (entry.care_bundle for entry in catalogue if entry.care_bundle.id == care_bundle_id),
        key=lambda bundle: bundle is not catalogue.latest[care_bundle_id].care_bundle,
    )
    for bundle in versions:
        for measure in bundle.follow_up:
            if measure.id == measure_id:
                return bundle, measure
    raise InvalidInput(f"the care bundle {care_bundle_id[:64]} has no follow-up measure {measure_id[:64]}")


def _series(
    session: AnySession, catalogue: CareBundleCatalogue, scope: Scope, measure: FollowUp, today: dt.date
) -> dict[tuple[str, str], list[tuple[Checklist, SeriesPoint]]]:
    """Every counted final checklist of the scope up to ``today``, with the measure's value, by patient."""
    rows = list(
        session.scalars(
            select(Checklist)
            .where(*final_checklists(scope, dt.date(1900, 1, 1), today), counted_condition())
            .order_by(Checklist.anchor_time, Checklist.id)
            .limit(MAX_CHECKLISTS + 1)
        )
    )
    if len(rows) > MAX_CHECKLISTS:
        raise InvalidInput(f"a follow-up report judges at most {MAX_CHECKLISTS} checklists: choose a unit")
    stored = _stored_values(session, [row.id for row in rows], measure.element)
    series: dict[tuple[str, str], list[tuple[Checklist, SeriesPoint]]] = defaultdict(list)
    for checklist in rows:
        entry = catalogue.get(checklist.care_bundle_id, checklist.care_bundle_version)
        if entry is None or checklist.anchor_time is None:
            continue
        bundle = entry.care_bundle
        element = bundle.element(measure.element)
        if element is not None and element.calculated is not None:
            session.refresh(checklist, ["answers"])
            answers = answers_of(bundle, checklist)
            point = point_of(
                measure, checklist.anchor_time, answers, evaluate(bundle, answers, checklist.anchor_time)
            )
        else:
            point = SeriesPoint(checklist.anchor_time, stored.get(checklist.id))
        point = SeriesPoint(point.anchor, point.value, str(checklist.id))
        series[(checklist.patient_identifier_system, checklist.patient_identifier)].append((checklist, point))
    return series


def _stored_values(session: AnySession, ids: list[uuid.UUID], element_id: str) -> dict[uuid.UUID, Decimal]:
    found: dict[uuid.UUID, Decimal] = {}
    for start in range(0, len(ids), 1000):
        query = select(Answer.checklist_id, Answer.value_int, Answer.value_decimal).where(
            Answer.checklist_id.in_(ids[start : start + 1000]), Answer.element_id == element_id
        )
        for checklist_id, whole, decimal in session.execute(query):
            value = whole if whole is not None else decimal
            if value is not None and checklist_id not in found:
                found[checklist_id] = Decimal(value)
    return found


def judged_patients(
    session: AnySession, catalogue: CareBundleCatalogue, scope: Scope, measure_id: str, today: dt.date
) -> list[tuple[Checklist, Outcome, str | None]]:
    """(baseline checklist, outcome, report reason) per patient of the scope."""
    bundle, measure = follow_up_of(catalogue, scope.care_bundle_id, measure_id)
    judged = []
    for points in _series(session, catalogue, scope, measure, today).values():
        outcome = judge_follow_up(bundle, measure, [point for _, point in points])
        baseline = next(
            checklist for checklist, point in points if outcome.baseline is None or point is outcome.baseline
        )
        reason = _NOT_APPLICABLE if outcome.outcome is Outcome.NOT_APPLICABLE else outcome.reason
        judged.append((baseline, outcome.outcome, reason))
    return judged


def count_follow_up(
    session: AnySession,
    catalogue: CareBundleCatalogue,
    scope: Scope,
    measure_id: str,
    *,
    first: dt.date,
    last: dt.date,
    interval: Interval,
    today: dt.date,
) -> list[PeriodCounts]:
    periods = periods_covering(first, last, interval)
    tally = Tally()
    if scope.unit_ids:
        for baseline, outcome, reason in judged_patients(session, catalogue, scope, measure_id, today):
            day = baseline.anchor_date
            if day is None or not periods[0].start <= day < periods[-1].end:
                continue
            start = period_start(day, interval)
            if outcome is Outcome.NOT_APPLICABLE:
                tally.reasons[start][reason or _NOT_APPLICABLE] += 1
            else:
                tally.outcomes[start][str(outcome)] += 1
                # A baseline still waiting for its follow-up: one may come, so the period is not final.
                tally.still_open[start] += outcome is Outcome.MISSING
    return [tally.counts(period, today) for period in periods]


def follow_up_behind(
    session: AnySession,
    catalogue: CareBundleCatalogue,
    scope: Scope,
    measure_id: str,
    period: Period,
    today: dt.date,
) -> list[Behind]:
    """The baseline checklist of each patient counted in ``period``, with the patient's outcome."""
    rows: list[Behind] = []
    for baseline, outcome, reason in judged_patients(session, catalogue, scope, measure_id, today):
        if baseline.anchor_date is None or not period.start <= baseline.anchor_date < period.end:
            continue
        rows.append(
            Behind(
                baseline.id,
                baseline.unit_id,
                baseline.care_bundle_version,
                baseline.anchor_time,
                baseline.completed_at,
                baseline.status,
                str(outcome),
                reason,
                False,
            )
        )
    return sorted(
        rows, key=lambda row: (row.anchor_time or dt.datetime.min.replace(tzinfo=dt.UTC), row.checklist_id)
    )
