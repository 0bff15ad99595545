"""Keeps ``compliance_day`` in step with the stored outcomes (decision 0014).

A day of a care bundle on a unit (``Day``) is recounted from the outcome rows of its final checklists
whenever one of them may have changed: the lifecycle's write path calls :func:`refresh_after_change` with the
checklist before and after the change (its old and new anchor day, and the days of the checklists that share
its old or new episode, whose "counted" may flip); re-judging calls :func:`refresh_days`; a bulk load calls
:func:`rebuild`. Possible duplicates are decided by ``service.compliance.counts.counted_condition``, the one
rule reports use: of the final checklists sharing an ``episode_key``, the one completed last is counted.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    case,
    delete,
    func,
    insert,
    literal,
    select,
    tuple_,
    union_all,
)

from service.compliance.counts import AnySession, counted_condition
from service.models.checklists import FINAL_STATUSES, Checklist, CompositeResult, ElementOutcome, RuleResult
from service.models.compliance import ComplianceDay


class Day(NamedTuple):
    care_bundle_id: str
    unit_id: int
    anchor_date: dt.date


_COLUMNS = (
    "care_bundle_id",
    "unit_id",
    "anchor_date",
    "care_bundle_version",
    "measure_kind",
    "measure_id",
    "outcome",
    "reason",
    "counted",
    "checklists",
)


def _counts(where: Sequence[ColumnElement[bool]]) -> Any:
    """The rows of ``compliance_day`` for the final checklists ``where`` selects: each checklist once with
    whether it is counted, joined to each outcome table and grouped."""
    final = (
        select(
            Checklist.id,
            Checklist.care_bundle_id,
            Checklist.unit_id,
            Checklist.anchor_date,
            Checklist.care_bundle_version,
            counted_condition().label("counted"),
        )
        .where(*where, Checklist.status.in_(FINAL_STATUSES), Checklist.anchor_date.is_not(None))
        .subquery("final")
    )
    base = (final.c.care_bundle_id, final.c.unit_id, final.c.anchor_date, final.c.care_bundle_version)
    parts = []
    for kind, table, key in (
        ("element", ElementOutcome, ElementOutcome.element_id),
        ("rule", RuleResult, RuleResult.rule_id),
    ):
        reason = func.coalesce(table.reason, "")
        parts.append(
            select(*base, literal(kind), key, table.outcome, reason, final.c.counted, func.count())
            .join(table, table.checklist_id == final.c.id)
            .group_by(*base, key, table.outcome, reason, final.c.counted)
        )
    outcome = case(
        (CompositeResult.compliant.is_(True), "met"),
        (CompositeResult.compliant.is_(False), "not-met"),
        else_="outside",
    )
    parts.append(
        select(
            *base,
            literal("composite"),
            CompositeResult.composite_id,
            outcome,
            literal(""),
            final.c.counted,
            func.count(),
        )
        .join(CompositeResult, CompositeResult.checklist_id == final.c.id)
        .group_by(*base, CompositeResult.composite_id, outcome, final.c.counted)
    )
    return union_all(*parts)


def refresh_days(session: AnySession, days: Iterable[Day]) -> None:
    """Recount these days from the outcome rows (flushed first)."""
    wanted = sorted(set(days))
    if not wanted:
        return
    session.flush()
    if session.get_bind().dialect.name == "postgresql":
        # Two transactions recounting one day at once would both insert its rows (the second breaking
        # uq_compliance_day_cell): each day is recounted under a lock held to the end of the transaction,
        # taken in day order. The second then counts after the first commits (READ COMMITTED: each statement
        # sees what was committed before it), so the last to recount sees every change. SQLite writes are
        # serialised already.
        for day in wanted:
            session.execute(select(func.pg_advisory_xact_lock(_lock_key(day))))
    for start in range(0, len(wanted), 200):
        chunk = wanted[start : start + 200]
        keys = [tuple(day) for day in chunk]
        session.execute(
            delete(ComplianceDay).where(
                tuple_(ComplianceDay.care_bundle_id, ComplianceDay.unit_id, ComplianceDay.anchor_date).in_(
                    keys
                )
            )
        )
        selected = [tuple_(Checklist.care_bundle_id, Checklist.unit_id, Checklist.anchor_date).in_(keys)]
        session.execute(insert(ComplianceDay).from_select(_COLUMNS, _counts(selected)))


def _lock_key(day: Day) -> int:
    """A stable signed 64-bit key of the day (the same in every process)."""
    digest = hashlib.blake2b(f"compliance_day|{day[0]}|{day[1]}|{day[2].isoformat()}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


def rebuild(session: AnySession) -> None:
    """Recount every day (after a bulk load that bypassed the lifecycle)."""
    session.execute(delete(ComplianceDay))
    session.execute(insert(ComplianceDay).from_select(_COLUMNS, _counts([])))


def days_of(checklist: Checklist) -> set[Day]:
    if checklist.anchor_date is None:
        return set()
    return {Day(checklist.care_bundle_id, checklist.unit_id, checklist.anchor_date)}


def refresh_after_change(
    session: AnySession, checklist: Checklist, before: Day | None, episode_before: str | None
) -> None:
    """After a lifecycle change of ``checklist``: recount its day before and after, and the days of the
    checklists of its old and new episode (one of them may now be the one counted)."""
    days = days_of(checklist) | ({before} if before is not None else set())
    episodes = {key for key in (episode_before, checklist.episode_key) if key is not None}
    if episodes:
        peers = session.execute(
            select(Checklist.care_bundle_id, Checklist.unit_id, Checklist.anchor_date)
            .where(Checklist.episode_key.in_(episodes), Checklist.anchor_date.is_not(None))
            .distinct()
        )
        days |= {Day(cb, unit, day) for cb, unit, day in peers if day is not None}
    refresh_days(session, days)
