"""Compliance counts per period from the stored outcomes (decision 0012): the one place reports count.

A measure is a composite (all-or-none), an element or a timing rule of one care bundle. For a scope (the
care bundle, all its versions or some, and the units of a unit or a site) and a range of local dates, each
period gets its numerator and denominator and, for elements and rules, met / not met / missing and not
applicable by reason:

- only completed and amended checklists count, each in the period of its anchor's local date;
- possible duplicates (the same ``episode_key``: patient, care bundle and episode) count once, the one
  completed last; the others are the period's ``duplicates``;
- all-or-none: numerator compliant, denominator compliant + not compliant; checklists where no member
  applies are ``outside``;
- an element or rule: numerator met, denominator met + not met + missing (IHI: an undocumented element is
  not done); not applicable (by reason) is outside the denominator;
- a period is ``incomplete`` while it has not ended or checklists anchored in it are still in progress.

Every query filters on ``(care_bundle_id, unit_id, anchor_date)`` (its index) and groups by
``anchor_date``; days are folded into weeks or months here.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Select, func, null, select
from sqlalchemy.orm import Session, scoped_session

from service.compliance.periods import Interval, Period, period_start, periods_covering
from service.models import (
    FINAL_STATUSES,
    Checklist,
    ChecklistStatus,
    CompositeResult,
    ElementOutcome,
    RuleResult,
)

AnySession = Session | scoped_session[Any]


class MeasureKind(StrEnum):
    COMPOSITE = "composite"
    ELEMENT = "element"
    RULE = "rule"
    #: Across one patient's checklists (baseline and follow-up): counted by ``service.compliance.follow_ups``.
    FOLLOW_UP = "follow-up"


@dataclass(frozen=True)
class Measure:
    kind: MeasureKind
    id: str


@dataclass(frozen=True)
class Scope:
    """What a report counts: one care bundle (``versions`` empty: all of them) on these units."""

    care_bundle_id: str
    unit_ids: tuple[int, ...]
    versions: tuple[str, ...] = ()


@dataclass(frozen=True)
class PeriodCounts:
    period: Period
    numerator: int = 0
    denominator: int = 0
    met: int = 0
    not_met: int = 0
    missing: int = 0
    #: Not applicable, by the reason stored with the outcome (outside every denominator).
    not_applicable: Mapping[str, int] = field(default_factory=dict)
    #: All-or-none: counted checklists where no member of the composite applies.
    outside: int = 0
    #: Possible duplicates set aside (another checklist of the same episode was counted).
    duplicates: int = 0
    #: Checklists anchored in the period and still in progress.
    open: int = 0
    incomplete: bool = False

    @property
    def proportion(self) -> float | None:
        return self.numerator / self.denominator if self.denominator else None


def _scoped(scope: Scope, first: dt.date, last: dt.date) -> list[ColumnElement[bool]]:
    conditions = [
        Checklist.care_bundle_id == scope.care_bundle_id,
        Checklist.unit_id.in_(scope.unit_ids),
        Checklist.anchor_date >= first,
        Checklist.anchor_date <= last,
    ]
    if scope.versions:
        conditions.append(Checklist.care_bundle_version.in_(scope.versions))
    return conditions


def ranked_checklists(scope: Scope, first: dt.date, last: dt.date) -> Any:
    """The final checklists of the scope, each with its rank among its episode's (1: the one counted)."""
    rank = (
        func.row_number()
        .over(
            partition_by=Checklist.episode_key,
            order_by=(Checklist.completed_at.desc(), Checklist.id.desc()),
        )
        .label("rank")
    )
    return (
        select(
            Checklist.id.label("id"),
            Checklist.anchor_date.label("anchor_date"),
            Checklist.care_bundle_version.label("version"),
            rank,
        )
        .where(*_scoped(scope, first, last), Checklist.status.in_(FINAL_STATUSES))
        .subquery("ranked")
    )


def _outcome_query(ranked: Any, measure: Measure) -> Select[Any]:
    counted = ranked.c.rank == 1
    if measure.kind is MeasureKind.COMPOSITE:
        return (
            select(ranked.c.anchor_date, CompositeResult.compliant, func.count())
            .join(CompositeResult, CompositeResult.checklist_id == ranked.c.id)
            .where(counted, CompositeResult.composite_id == measure.id)
            .group_by(ranked.c.anchor_date, CompositeResult.compliant)
        )
    table: Any = ElementOutcome if measure.kind is MeasureKind.ELEMENT else RuleResult
    key = table.element_id if measure.kind is MeasureKind.ELEMENT else table.rule_id
    return (
        select(ranked.c.anchor_date, table.outcome, table.reason, func.count())
        .join(table, table.checklist_id == ranked.c.id)
        .where(counted, key == measure.id)
        .group_by(ranked.c.anchor_date, table.outcome, table.reason)
    )


def count_measure(
    session: AnySession,
    scope: Scope,
    measure: Measure,
    *,
    first: dt.date,
    last: dt.date,
    interval: Interval,
    today: dt.date,
) -> list[PeriodCounts]:
    """The counts of ``measure`` for every period from the one holding ``first`` to the one holding
    ``last`` (local dates, both included; periods are whole, so the range widens to their edges)."""
    periods = periods_covering(first, last, interval)
    first, last = periods[0].start, periods[-1].end - dt.timedelta(days=1)
    if not scope.unit_ids:
        return [PeriodCounts(period, incomplete=not period.ended_by(today)) for period in periods]
    ranked = ranked_checklists(scope, first, last)
    tallies: dict[dt.date, Counter[str]] = defaultdict(Counter)
    reasons: dict[dt.date, Counter[str]] = defaultdict(Counter)
    for row in session.execute(_outcome_query(ranked, measure)):
        start = period_start(row[0], interval)
        if measure.kind is MeasureKind.COMPOSITE:
            tallies[start][{True: "met", False: "not-met", None: "outside"}[row[1]]] += row[2]
        elif row[1] == "not-applicable":
            reasons[start][row[2] or "not applicable"] += row[3]
        else:
            tallies[start][row[1]] += row[3]
    duplicates = _per_period(
        session,
        select(ranked.c.anchor_date, func.count()).where(ranked.c.rank > 1).group_by(ranked.c.anchor_date),
        interval,
    )
    still_open = _per_period(
        session,
        select(Checklist.anchor_date, func.count())
        .where(*_scoped(scope, first, last), Checklist.status == ChecklistStatus.IN_PROGRESS)
        .group_by(Checklist.anchor_date),
        interval,
    )
    results = []
    for period in periods:
        tally = tallies[period.start]
        met, not_met, missing = tally["met"], tally["not-met"], tally["missing"]
        results.append(
            PeriodCounts(
                period,
                numerator=met,
                denominator=met + not_met + missing,
                met=met,
                not_met=not_met,
                missing=missing,
                not_applicable=dict(sorted(reasons[period.start].items())),
                outside=tally["outside"],
                duplicates=duplicates[period.start],
                open=still_open[period.start],
                incomplete=not period.ended_by(today) or still_open[period.start] > 0,
            )
        )
    return results


def _per_period(
    session: AnySession, query: Select[dt.date | None, int], interval: Interval
) -> Counter[dt.date]:
    found: Counter[dt.date] = Counter()
    for day, number in session.execute(query):
        if day is not None:
            found[period_start(day, interval)] += number
    return found


@dataclass(frozen=True)
class Behind:
    """One checklist behind a point of a chart (no patient identifier: the caller adds one if allowed)."""

    checklist_id: uuid.UUID
    unit_id: int
    care_bundle_version: str
    anchor_time: dt.datetime | None
    completed_at: dt.datetime | None
    status: str
    #: met, not-met, missing, not-applicable; all-or-none: met, not-met or outside.
    outcome: str
    reason: str | None
    #: A possible duplicate set aside (another checklist of its episode is counted).
    duplicate: bool


def checklists_behind(session: AnySession, scope: Scope, measure: Measure, period: Period) -> list[Behind]:
    """Every final checklist of ``period`` with its outcome for ``measure``, duplicates included (flagged),
    in anchor order."""
    ranked = ranked_checklists(scope, period.start, period.end - dt.timedelta(days=1))
    table: Any
    if measure.kind is MeasureKind.COMPOSITE:
        table = CompositeResult
        outcome, reason, on = table.compliant, null(), table.composite_id == measure.id
    else:
        table = ElementOutcome if measure.kind is MeasureKind.ELEMENT else RuleResult
        key = table.element_id if measure.kind is MeasureKind.ELEMENT else table.rule_id
        outcome, reason, on = table.outcome, table.reason, key == measure.id
    query = (
        select(Checklist, ranked.c.rank, outcome, reason)
        .join(ranked, ranked.c.id == Checklist.id)
        .join(table, (table.checklist_id == Checklist.id) & on)
        .order_by(Checklist.anchor_time, Checklist.id)
    )
    rows = []
    for checklist, rank, found, why in session.execute(query):
        if measure.kind is MeasureKind.COMPOSITE:
            found = {True: "met", False: "not-met", None: "outside"}[found]
        rows.append(
            Behind(
                checklist.id,
                checklist.unit_id,
                checklist.care_bundle_version,
                checklist.anchor_time,
                checklist.completed_at,
                checklist.status,
                str(found),
                why,
                rank > 1,
            )
        )
    return rows
