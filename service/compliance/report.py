"""A compliance report: the counts of one measure per period (``counts``) and its SPC chart (``service.spc``).

The one builder every output uses: the compliance API and its CSV, the ``/reports`` dashboard and the FHIR
``MeasureReport``. The user chooses the chart (p, or Laney's p' when over-dispersion is found: offered, never
switched to), the improvement direction (higher compliance is better unless said otherwise), an optional
target, rebase points and a fixed baseline; the periods where the care bundle version in use changes are
returned as rebase candidates, never applied.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass

from sqlalchemy import func, select

from service.care_bundles import CareBundleCatalogue
from service.compliance.counts import (
    AnySession,
    Behind,
    Measure,
    MeasureKind,
    PeriodCounts,
    Scope,
    checklists_behind,
    count_measure,
    day_scope,
)
from service.compliance.follow_ups import count_follow_up, follow_up_behind
from service.compliance.periods import Interval, Period, period_start
from service.errors import InvalidInput, NotFound
from service.models.compliance import ComplianceDay
from service.spc import Chart, ChartKind, ImprovementDirection, p_chart, p_prime_chart, rebase_candidates


@dataclass(frozen=True)
class MeasureInfo:
    measure: Measure
    title: str
    #: The element a rule belongs to (rules), or the composite's members (composites).
    detail: tuple[str, ...] = ()


def measures_of(catalogue: CareBundleCatalogue, care_bundle_id: str) -> list[MeasureInfo]:
    """Every measure of the care bundle over all its loaded versions, newest wording first: composites,
    compliance elements, timing rules, follow-up measures."""
    entries = [entry for entry in catalogue if entry.care_bundle.id == care_bundle_id]
    if not entries:
        raise NotFound(f"care bundle {care_bundle_id[:64]} is not loaded")
    latest = catalogue.latest[care_bundle_id]
    ordered = [latest, *(entry for entry in reversed(entries) if entry is not latest)]
    found: dict[Measure, MeasureInfo] = {}
    for entry in ordered:
        bundle = entry.care_bundle
        for composite in bundle.all_composites:
            measure = Measure(MeasureKind.COMPOSITE, composite.id)
            found.setdefault(measure, MeasureInfo(measure, composite.title, tuple(composite.members)))
        for element in bundle.compliance_elements:
            measure = Measure(MeasureKind.ELEMENT, element.id)
            found.setdefault(measure, MeasureInfo(measure, element.text))
        for rule_id, element, rule in bundle.timing_rules:
            measure = Measure(MeasureKind.RULE, rule_id)
            found.setdefault(
                measure, MeasureInfo(measure, rule.title or f"{element.text}: timing", (element.id,))
            )
        for follow_up in bundle.follow_up:
            measure = Measure(MeasureKind.FOLLOW_UP, follow_up.id)
            found.setdefault(measure, MeasureInfo(measure, follow_up.title, (follow_up.element,)))
    order = {MeasureKind.COMPOSITE: 0, MeasureKind.ELEMENT: 1, MeasureKind.RULE: 2, MeasureKind.FOLLOW_UP: 3}
    return sorted(found.values(), key=lambda info: order[info.measure.kind])


@dataclass(frozen=True)
class ReportRequest:
    care_bundle_id: str
    measure: Measure
    unit_ids: tuple[int, ...]
    first: dt.date
    last: dt.date
    interval: Interval = Interval.WEEK
    versions: tuple[str, ...] = ()
    chart: ChartKind = ChartKind.P
    direction: ImprovementDirection = ImprovementDirection.INCREASE
    target: float | None = None
    #: Starts of the periods where the user rebases the limits.
    rebase_at: tuple[dt.date, ...] = ()
    #: A fixed baseline: the limits of each segment from its first N points with a value.
    baseline_points: int | None = None


@dataclass(frozen=True)
class Report:
    request: ReportRequest
    measure: MeasureInfo
    periods: tuple[PeriodCounts, ...]
    chart: Chart
    #: The care bundle version most of each period's counted checklists used (None: no checklist).
    versions: tuple[str | None, ...]
    #: Starts of the periods where that version changes: offered as rebase points, never applied.
    rebase_candidates: tuple[dt.date, ...]


def build_report(
    session: AnySession, catalogue: CareBundleCatalogue, request: ReportRequest, today: dt.date
) -> Report:
    """Counts and chart of ``request``; InvalidInput for a measure the care bundle does not have, a chart
    that is not a proportion chart, a target outside 0 to 1 or a rebase point that starts no period."""
    info = {item.measure: item for item in measures_of(catalogue, request.care_bundle_id)}.get(
        request.measure
    )
    if info is None:
        raise InvalidInput(
            f"the care bundle {request.care_bundle_id} has no {request.measure.kind} of that id"
        )
    if request.chart not in (ChartKind.P, ChartKind.P_PRIME):
        raise InvalidInput("compliance is a proportion: choose a p or a p' chart")
    if request.target is not None and not 0 <= request.target <= 1:
        raise InvalidInput("a target is a proportion from 0 to 1")
    scope = Scope(request.care_bundle_id, request.unit_ids, request.versions)
    periods = count_any(
        session,
        catalogue,
        scope,
        request.measure,
        first=request.first,
        last=request.last,
        interval=request.interval,
        today=today,
    )
    starts = [period.period.start for period in periods]
    unknown = [day for day in request.rebase_at if day not in starts]
    if unknown:
        raise InvalidInput("a rebase point must be the first day of a period in the range")
    draw = p_chart if request.chart is ChartKind.P else p_prime_chart
    chart = draw(
        [period.numerator for period in periods],
        [period.denominator for period in periods],
        improvement_direction=request.direction,
        target=request.target,
        rebase_at=tuple(sorted(starts.index(day) for day in set(request.rebase_at))),
        baseline_length=request.baseline_points,
    )
    versions = _versions_in_use(session, scope, periods, request.interval)
    candidates = _carried(versions)
    return Report(
        request=request,
        measure=info,
        periods=tuple(periods),
        chart=chart,
        versions=versions,
        rebase_candidates=tuple(starts[index] for index in rebase_candidates(candidates)),
    )


def count_any(
    session: AnySession,
    catalogue: CareBundleCatalogue,
    scope: Scope,
    measure: Measure,
    *,
    first: dt.date,
    last: dt.date,
    interval: Interval,
    today: dt.date,
) -> list[PeriodCounts]:
    """The counts of any measure: stored outcomes (``count_measure``) or a follow-up measure judged per
    patient (``count_follow_up``). Every output counts through here."""
    if measure.kind is MeasureKind.FOLLOW_UP:
        return count_follow_up(
            session, catalogue, scope, measure.id, first=first, last=last, interval=interval, today=today
        )
    return count_measure(session, scope, measure, first=first, last=last, interval=interval, today=today)


def behind_any(
    session: AnySession,
    catalogue: CareBundleCatalogue,
    scope: Scope,
    measure: Measure,
    period: Period,
    today: dt.date,
) -> list[Behind]:
    """The checklists behind a point of any measure (a follow-up measure: each patient's baseline)."""
    if measure.kind is MeasureKind.FOLLOW_UP:
        return follow_up_behind(session, catalogue, scope, measure.id, period, today)
    return checklists_behind(session, scope, measure, period)


def _versions_in_use(
    session: AnySession, scope: Scope, periods: list[PeriodCounts], interval: Interval
) -> tuple[str | None, ...]:
    if not periods or not scope.unit_ids:
        return tuple(None for _ in periods)
    # Versions counted on any composite (every final checklist has its version's composites).
    day = ComplianceDay
    first, last = periods[0].period.start, periods[-1].period.end - dt.timedelta(days=1)
    conditions = [*day_scope(scope, first, last), day.measure_kind == "composite", day.counted.is_(True)]
    query = (
        select(day.anchor_date, day.care_bundle_version, func.sum(day.checklists))
        .where(*conditions)
        .group_by(day.anchor_date, day.care_bundle_version)
    )
    used: dict[dt.date, Counter[str]] = defaultdict(Counter)
    for anchor_date, version, number in session.execute(query):
        used[period_start(anchor_date, interval)][version] += int(number)
    return tuple(
        used[period.period.start].most_common(1)[0][0] if used[period.period.start] else None
        for period in periods
    )


def _carried(versions: tuple[str | None, ...]) -> list[str]:
    """Each period's version, a period without checklists taking the one before it (so a gap is no change)."""
    carried: list[str] = []
    last = next((version for version in versions if version is not None), "")
    for version in versions:
        last = version if version is not None else last
        carried.append(last)
    return carried
