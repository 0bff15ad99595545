"""Keeps ``compliance_day`` in step with the stored outcomes (decision 0014).

The lifecycle's write path adds each change's difference: :func:`before_change` notes what the changed
checklist and the checklists of its old and new episode (whose "counted" may flip) add to the table, and
:func:`after_change` adds what they add after the change minus that (an upsert per cell; cells down to 0
are deleted), so a write costs the same however many checklists its day holds. Re-judging recounts whole
days (:func:`refresh_days`); a bulk load recounts everything (:func:`rebuild`). Possible duplicates are
decided by ``service.compliance.counts.counted_condition``, the one rule reports use: of the final checklists
sharing an ``episode_key``, the one completed last is counted.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
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
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

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
            session.execute(select(func.pg_advisory_xact_lock(_lock_key(("day", *day)))))
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


def _lock_key(parts: tuple[Any, ...]) -> int:
    """A stable signed 64-bit key of a day or an episode (the same in every process)."""
    text = "|".join(str(part) for part in ("compliance_day", *parts))
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big", signed=True)


def rebuild(session: AnySession) -> None:
    """Recount every day (after a bulk load that bypassed the lifecycle)."""
    session.execute(delete(ComplianceDay))
    session.execute(insert(ComplianceDay).from_select(_COLUMNS, _counts([])))


def days_of(checklist: Checklist) -> set[Day]:
    if checklist.anchor_date is None:
        return set()
    return {Day(checklist.care_bundle_id, checklist.unit_id, checklist.anchor_date)}


Cell = tuple[Any, ...]
_KEY_COLUMNS = _COLUMNS[:-1]


def _contributions(session: AnySession, ids: set[uuid.UUID]) -> Counter[Cell]:
    """What these checklists add to ``compliance_day`` now (the same counting as a recount)."""
    if not ids:
        return Counter()
    found: Counter[Cell] = Counter()
    for row in session.execute(_counts([Checklist.id.in_(sorted(ids))])):
        found[tuple(row[:-1])] += int(row[-1])
    return found


@dataclass
class PendingChange:
    """The checklists one change can move in ``compliance_day`` and what they added before it."""

    ids: set[uuid.UUID]
    before: Counter[Cell]


def before_change(
    session: AnySession, checklist: Checklist, anchor_after: dt.datetime | None
) -> PendingChange:
    """Before a lifecycle change of ``checklist`` (its anchor becoming ``anchor_after``): lock its old and new
    episodes (PostgreSQL), and note what it and the checklists of those episodes add now. Only they can
    change: the checklist's own rows, and which checklist of an episode is counted."""
    episodes = sorted(
        key for key in {checklist.episode_key, checklist.reporting_keys(anchor_after)[1]} if key is not None
    )
    ids = {checklist.id}
    # Without flushing: a checklist being started is not written yet (it adds nothing before), and its first
    # write must be the lifecycle's own (the version counter).
    with session.no_autoflush:
        if episodes and session.get_bind().dialect.name == "postgresql":
            # Two changes of one episode at once must not both judge which of its checklists counts.
            for key in episodes:
                session.execute(select(func.pg_advisory_xact_lock(_lock_key(("episode", key)))))
        if episodes:
            peers = select(Checklist.id).where(
                Checklist.episode_key.in_(episodes), Checklist.status.in_(FINAL_STATUSES)
            )
            ids |= set(session.scalars(peers))
        # Only final checklists add anything: a start, or a first completion with no other final checklist
        # of its episode, has nothing to count before.
        counted_now = ids if checklist.status in FINAL_STATUSES or len(ids - {checklist.id}) else set()
        before = _contributions(session, counted_now)
    return PendingChange(ids, before)


def after_change(session: AnySession, pending: PendingChange) -> None:
    """Add to ``compliance_day`` what the change made different (deltas add up: concurrent changes of other
    checklists on the same day commute, each upsert locking the rows it adds to)."""
    session.flush()
    after = _contributions(session, pending.ids)
    delta = {cell: after[cell] - pending.before[cell] for cell in after.keys() | pending.before.keys()}
    changed = [dict(zip(_COLUMNS, (*cell, number), strict=True)) for cell, number in delta.items() if number]
    if not changed:
        return
    dialect_insert: Any = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    upsert = dialect_insert(ComplianceDay)
    upsert = upsert.on_conflict_do_update(
        index_elements=list(_KEY_COLUMNS),
        set_={"checklists": ComplianceDay.checklists + upsert.excluded.checklists},
    )
    session.execute(upsert, changed)
    fallen = [tuple(row[name] for name in _KEY_COLUMNS) for row in changed if row["checklists"] < 0]
    if fallen:  # cells that may be down to 0
        cells = tuple_(*(getattr(ComplianceDay, name) for name in _KEY_COLUMNS))
        session.execute(delete(ComplianceDay).where(ComplianceDay.checklists <= 0, cells.in_(fallen)))
