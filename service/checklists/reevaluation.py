"""Re-judging recorded checklists: the explicit, audited admin action behind changed historic figures.

Reports read stored outcomes, so a change to how the engine judges (decision 0005) alters history only
when an admin re-evaluates. Each checklist is judged again under its own care bundle version (never
another one) from its stored answers, as at its completion time, so that only a change in the rules and
not the passing of time (a deadline going from due to overdue) shows up as a change. A dry run writes
nothing; applying rewrites the changed judgements and audits each one and the run.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, scoped_session

from schemas.care_bundle import CareBundle
from service.care_bundles import CareBundleRegistry
from service.checklists.evaluation import evaluate
from service.checklists.store import Judgement, answers_of, record_evaluation, with_judgement
from service.compliance.daily import days_of, refresh_days
from service.errors import Forbidden, NotFound
from service.models.audit import AuditAction, AuditEvent
from service.models.checklists import FINAL_STATUSES, Checklist
from service.models.organisation import Role, User

#: Checklists loaded (and locked, when applying) per query.
_CHUNK = 500
_NOT_RECORDED = "not-recorded"


@dataclass(frozen=True)
class CompliantCounts:
    """How many checklists a composite finds compliant, not compliant, outside its denominator (None), and,
    before a re-evaluation, with no stored result at all."""

    compliant: int = 0
    not_compliant: int = 0
    outside: int = 0
    not_recorded: int = 0

    @classmethod
    def of(cls, tally: Mapping[object, int]) -> CompliantCounts:
        return cls(tally[True], tally[False], tally[None], tally[_NOT_RECORDED])


@dataclass(frozen=True)
class CompositeCounts:
    composite_id: str
    before: CompliantCounts
    after: CompliantCounts


@dataclass(frozen=True)
class ReevaluationSummary:
    """What a re-evaluation found (and, when ``applied``, wrote). Checklist UUIDs identify no patient."""

    care_bundle_id: str
    version: str
    applied: bool
    checked: int
    changed_ids: tuple[uuid.UUID, ...]
    composites: tuple[CompositeCounts, ...]

    @property
    def changed(self) -> int:
        return len(self.changed_ids)


def reevaluate(
    session: Session | scoped_session[Any],
    registry: CareBundleRegistry,
    care_bundle_id: str,
    version: str,
    *,
    actor: User,
    now: dt.datetime,
    apply: bool,
) -> ReevaluationSummary:
    """Judge every completed or amended checklist of ``care_bundle_id`` ``version`` again.

    Compares the new judgement with the stored one. With ``apply`` the changed ones are rewritten
    (``record_evaluation``), each with a ``re-evaluate`` audit event, plus one event for the run, all at
    ``now`` and flushed, not committed; without it nothing is written. The checklists are locked while
    applying (``FOR UPDATE`` on PostgreSQL) so that an amendment cannot slip in between judging and writing.

    Raises ``NotFound`` for a care bundle version that is not loaded, ``Forbidden`` unless ``actor`` is an
    active admin user.
    """
    care_bundle = registry.get(care_bundle_id, version)
    if care_bundle is None:
        raise NotFound(f"care bundle {care_bundle_id} version {version} is not loaded")
    _require_admin(session, actor)

    wanted = (
        Checklist.care_bundle_id == care_bundle_id,
        Checklist.care_bundle_version == version,
        Checklist.status.in_([str(status) for status in FINAL_STATUSES]),
    )
    ids = session.scalars(select(Checklist.id).where(*wanted).order_by(Checklist.id)).all()
    before: dict[str, Counter[object]] = {c.id: Counter() for c in care_bundle.all_composites}
    after: dict[str, Counter[object]] = {c.id: Counter() for c in care_bundle.all_composites}
    changed: list[uuid.UUID] = []
    checked = 0
    for chunk in _chunks(ids, _CHUNK):
        for checklist in _load(session, wanted, chunk, lock=apply):
            checked += 1
            evaluation = evaluate(care_bundle, answers_of(care_bundle, checklist), _judged_at(checklist, now))
            old = Judgement.of_checklist(checklist)
            new = Judgement.of_evaluation(evaluation, checklist.status)
            _tally(before, old.composites)
            _tally(after, new.composites)
            if old == new:
                continue
            changed.append(checklist.id)
            if apply:
                record_evaluation(session, checklist, evaluation)
                session.add(_checklist_event(care_bundle, checklist, actor, now, old, new))
                refresh_days(session, days_of(checklist))  # the compliance reports' day counts

    summary = ReevaluationSummary(
        care_bundle_id=care_bundle_id,
        version=version,
        applied=apply,
        checked=checked,
        changed_ids=tuple(changed),
        composites=tuple(
            CompositeCounts(key, CompliantCounts.of(before[key]), CompliantCounts.of(after[key]))
            for key in before
        ),
    )
    if apply:
        session.add(_summary_event(summary, actor, now))
        session.flush()
    return summary


def _require_admin(session: Session | scoped_session[Any], actor: User) -> None:
    stored = session.get(User, actor.id) if actor.id is not None else None
    if stored is None or stored.role != Role.ADMIN or not stored.active:
        raise Forbidden("re-evaluating checklists needs an active admin user")


def _load(
    session: Session | scoped_session[Any], wanted: Sequence[Any], ids: Sequence[uuid.UUID], *, lock: bool
) -> Iterable[Checklist]:
    query = (
        select(Checklist)
        .where(Checklist.id.in_(ids), *wanted)  # still final once locked
        .options(*with_judgement())
        .order_by(Checklist.id)
        .execution_options(populate_existing=True)
    )
    if lock:
        query = query.with_for_update(of=Checklist)
    return session.scalars(query).all()


def _chunks(items: Sequence[uuid.UUID], size: int) -> Iterable[Sequence[uuid.UUID]]:
    return (items[start : start + size] for start in range(0, len(items), size))


def _judged_at(checklist: Checklist, now: dt.datetime) -> dt.datetime:
    """The instant the stored judgement was made: completion (the CHECK guarantees it when final)."""
    return checklist.completed_at or now


def _tally(counts: dict[str, Counter[object]], composites: Mapping[str, bool | None]) -> None:
    for composite_id, tally in counts.items():
        tally[composites.get(composite_id, _NOT_RECORDED)] += 1


def _differences(old: Mapping[str, object], new: Mapping[str, object]) -> int:
    """How many keys were added, removed or hold another value."""
    missing = object()
    return sum(1 for key in old.keys() | new.keys() if old.get(key, missing) != new.get(key, missing))


def _checklist_event(
    care_bundle: CareBundle,
    checklist: Checklist,
    actor: User,
    now: dt.datetime,
    old: Judgement,
    new: Judgement,
) -> AuditEvent:
    """The audit event of one rewritten checklist: counts and versions only, never patient data."""
    return AuditEvent(
        occurred_at=now,
        actor_user_id=actor.id,
        action=AuditAction.REEVALUATE,
        entity_type="checklist",
        entity_id=str(checklist.id),
        detail={
            "care_bundle_id": care_bundle.id,
            "care_bundle_version": care_bundle.version,
            "compliant_before": old.compliant,
            "compliant_after": new.compliant,
            "element_outcomes_changed": _differences(old.elements, new.elements),
            "rule_outcomes_changed": _differences(old.rules, new.rules),
            "composite_outcomes_changed": _differences(old.composites, new.composites),
            "failed_checks_changed": _differences(old.failed_checks, new.failed_checks),
        },
    )


def _summary_event(summary: ReevaluationSummary, actor: User, now: dt.datetime) -> AuditEvent:
    return AuditEvent(
        occurred_at=now,
        actor_user_id=actor.id,
        action=AuditAction.REEVALUATE,
        entity_type="care-bundle",
        entity_id=summary.care_bundle_id,  # at most 64 characters, as the column; the version is in detail
        detail={
            "care_bundle_id": summary.care_bundle_id,
            "care_bundle_version": summary.version,
            "checked": summary.checked,
            "changed": summary.changed,
            "composites": {
                counts.composite_id: {"before": asdict(counts.before), "after": asdict(counts.after)}
                for counts in summary.composites
            },
        },
    )
