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

Periods are counted from ``compliance_day`` (decision 0014: the outcomes per care bundle, unit and anchor day,
kept in step by the lifecycle), so a two-year chart reads at most 731 days of a few rows each; days are
folded into weeks or months here. Which of an episode's checklists counts is :func:`counted_condition`, the
one rule (``compliance_day`` is filled with it too); the drill-down reads the checklists themselves.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, func, null, or_, select
from sqlalchemy.orm import Session, aliased, scoped_session

from service.compliance.periods import Interval, Period, period_start, periods_covering

# From the modules, not the package: the lifecycle's write path imports this (service.compliance.daily).
from service.models.checklists import (
    FINAL_STATUSES,
    Checklist,
    ChecklistStatus,
    CompositeResult,
    ElementOutcome,
    RuleResult,
)
from service.models.compliance import ComplianceDay

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


def counted_condition(checklist: Any = Checklist) -> ColumnElement[bool]:
    """True for the final checklist that counts for its episode: no other final checklist of the same
    ``episode_key`` was completed later (or at the same moment with a greater id). The one rule of possible
    duplicates (decision 0012)."""
    peer = aliased(Checklist)
    return ~exists().where(
        peer.episode_key == checklist.episode_key,
        peer.status.in_(FINAL_STATUSES),
        or_(
            peer.completed_at > checklist.completed_at,
            and_(peer.completed_at == checklist.completed_at, peer.id > checklist.id),
        ),
    )


def final_checklists(scope: Scope, first: dt.date, last: dt.date) -> list[ColumnElement[bool]]:
    """The conditions of the scope's final checklists anchored from ``first`` to ``last``."""
    return [*_scoped(scope, first, last), Checklist.status.in_(FINAL_STATUSES)]


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
    day = ComplianceDay
    conditions = [
        *day_scope(scope, first, last),
        day.measure_kind == str(measure.kind),
        day.measure_id == measure.id,
    ]
    query = (
        select(day.anchor_date, day.outcome, day.reason, day.counted, func.sum(day.checklists))
        .where(*conditions)
        .group_by(day.anchor_date, day.outcome, day.reason, day.counted)
    )
    tally = Tally()
    for anchor_date, outcome, reason, counted, number in session.execute(query):
        start = period_start(anchor_date, interval)
        if not counted:
            tally.duplicates[start] += int(number)
        elif outcome == "not-applicable":
            tally.reasons[start][reason or "not applicable"] += int(number)
        else:
            tally.outcomes[start][outcome] += int(number)
    tally.still_open = _per_period(
        session,
        select(Checklist.anchor_date, func.count())
        .where(*_scoped(scope, first, last), Checklist.status == ChecklistStatus.IN_PROGRESS)
        .group_by(Checklist.anchor_date),
        interval,
    )
    return [tally.counts(period, today) for period in periods]


@dataclass
class Tally:
    """What a counting pass found per period start: outcomes, not applicable by reason, duplicates set
    aside, and what is still open (making the period incomplete)."""

    outcomes: dict[dt.date, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    reasons: dict[dt.date, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    duplicates: Counter[dt.date] = field(default_factory=Counter)
    still_open: Counter[dt.date] = field(default_factory=Counter)

    def counts(self, period: Period, today: dt.date) -> PeriodCounts:
        tally = self.outcomes[period.start]
        met, not_met, missing = tally["met"], tally["not-met"], tally["missing"]
        return PeriodCounts(
            period,
            numerator=met,
            denominator=met + not_met + missing,
            met=met,
            not_met=not_met,
            missing=missing,
            not_applicable=dict(sorted(self.reasons[period.start].items())),
            outside=tally["outside"],
            duplicates=self.duplicates[period.start],
            open=self.still_open[period.start],
            incomplete=not period.ended_by(today) or self.still_open[period.start] > 0,
        )


def day_scope(scope: Scope, first: dt.date, last: dt.date) -> list[ColumnElement[bool]]:
    """The ``compliance_day`` rows of the scope from ``first`` to ``last`` (every measure)."""
    day = ComplianceDay
    conditions = [
        day.care_bundle_id == scope.care_bundle_id,
        day.unit_id.in_(scope.unit_ids),
        day.anchor_date >= first,
        day.anchor_date <= last,
    ]
    if scope.versions:
        conditions.append(day.care_bundle_version.in_(scope.versions))
    return conditions


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
    table: Any
    if measure.kind is MeasureKind.COMPOSITE:
        table = CompositeResult
        outcome, reason, on = table.compliant, null(), table.composite_id == measure.id
    else:
        table = ElementOutcome if measure.kind is MeasureKind.ELEMENT else RuleResult
        key = table.element_id if measure.kind is MeasureKind.ELEMENT else table.rule_id
        outcome, reason, on = table.outcome, table.reason, key == measure.id
    query = (
        select(Checklist, counted_condition(), outcome, reason)
        .join(table, (table.checklist_id == Checklist.id) & on)
        .where(*final_checklists(scope, period.start, period.end - dt.timedelta(days=1)))
        .order_by(Checklist.anchor_time, Checklist.id)
    )
    rows = []
    for checklist, counted, found, why in session.execute(query):
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
                not counted,
            )
        )
    return rows
