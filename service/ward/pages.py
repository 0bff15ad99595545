"""Helpers of the ward views that need the request or the database: the actor, the clock, audit of reads,
the worklist query, possible duplicates, and the judgement of a checklist's stored answers.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from flask import Response, current_app, flash, g
from sqlalchemy import select

from service.auth import signed_in_user, unit_ids_of
from service.care_bundles import CatalogueEntry, current_catalogue
from service.checklists import Actor, Evaluation, evaluate
from service.checklists.store import answers_of
from service.errors import NotFound
from service.extensions import db, writes_follow
from service.models import AuditAction, AuditEvent, Checklist, ChecklistStatus, ElementOutcome, Unit

#: The banner after a change the user waited for, by ward action.
DONE_MESSAGES = {
    "complete": "Checklist completed. It will be sent to the patient's record.",
    "amend": "Checklist amended.",
    "save": "Draft saved on the server.",
}


def flash_done(action: str) -> None:
    """Say on the next page that the change went through (nothing for starting or a group added)."""
    if action in DONE_MESSAGES:
        flash(DONE_MESSAGES[action], "success")


def now() -> dt.datetime:
    """The time of the request; tests may set ``WARD_NOW`` to an aware datetime."""
    fixed = current_app.config.get("WARD_NOW")
    return fixed if isinstance(fixed, dt.datetime) else dt.datetime.now(dt.UTC)


def actor() -> Actor:
    user = signed_in_user()
    return Actor(user_id=user.id, unit_ids=unit_ids_of(user))


def audit_read(
    entity_type: str, entity_id: str | None, action: AuditAction = AuditAction.READ, **detail: Any
) -> None:
    """Every read of patient data is audited (who, what record; never the data). The event is written
    once the page is rendered (:func:`write_audited_reads`), so the reading itself holds no write lock."""
    pending: list[AuditEvent] = g.setdefault("audited_reads", [])
    pending.append(
        AuditEvent(
            actor_user_id=signed_in_user().id,
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            detail=detail or None,
        )
    )


def write_audited_reads(response: Response) -> Response:
    """After a page is rendered: write its read audit events in their own short transaction. If that
    fails the request fails, and the page is not sent."""
    pending: list[AuditEvent] = g.pop("audited_reads", [])
    if pending:
        writes_follow()
        db.session.add_all(pending)
        db.session.commit()
    return response


def my_units() -> list[Unit]:
    ids = unit_ids_of(signed_in_user())
    if not ids:
        return []
    return list(db.session.scalars(select(Unit).where(Unit.id.in_(ids), Unit.active).order_by(Unit.name)))


def entry_of(checklist: Checklist) -> CatalogueEntry:
    entry = current_catalogue().get(checklist.care_bundle_id, checklist.care_bundle_version)
    if entry is None:  # a version removed from bundles/: published versions must stay
        raise NotFound(
            f"care bundle {checklist.care_bundle_id} {checklist.care_bundle_version} is not loaded"
        )
    return entry


def judged(checklist: Checklist, when: dt.datetime) -> tuple[dict[str, list[Any]], Evaluation]:
    """The checklist's stored answers and their judgement at ``when``."""
    care_bundle = entry_of(checklist).care_bundle
    answers = answers_of(care_bundle, checklist)
    return answers, evaluate(care_bundle, answers, when)


@dataclass(frozen=True)
class WorklistRow:
    checklist: Checklist
    title: str
    next_due_at: dt.datetime | None
    overdue: bool


def worklist(unit_ids: frozenset[int], when: dt.datetime) -> list[WorklistRow]:
    """Open checklists of these units, newest first, with the earliest open deadline of each."""
    if not unit_ids:
        return []
    checklists = db.session.scalars(
        select(Checklist)
        .where(Checklist.unit_id.in_(unit_ids), Checklist.status == ChecklistStatus.IN_PROGRESS)
        .order_by(Checklist.created_at.desc())
        .limit(200)
    ).all()
    due: dict[uuid.UUID, dt.datetime] = {}
    if checklists:
        rows = db.session.execute(
            select(ElementOutcome.checklist_id, ElementOutcome.due_at).where(
                ElementOutcome.checklist_id.in_([checklist.id for checklist in checklists]),
                ElementOutcome.timing_status.in_(("due", "overdue")),
                ElementOutcome.due_at.is_not(None),
            )
        )
        for checklist_id, due_at in rows:
            if due_at is not None and (checklist_id not in due or due_at < due[checklist_id]):
                due[checklist_id] = due_at
    catalogue = current_catalogue()
    found = []
    for checklist in checklists:
        entry = catalogue.get(checklist.care_bundle_id, checklist.care_bundle_version)
        title = entry.care_bundle.title if entry else checklist.care_bundle_id
        next_due = due.get(checklist.id)
        found.append(WorklistRow(checklist, title, next_due, next_due is not None and next_due < when))
    return found


def open_duplicates(
    unit_ids: frozenset[int], care_bundle_id: str, system: str, value: str
) -> list[Checklist]:
    """Open checklists of the same care bundle for the same patient, in the user's units."""
    if not unit_ids:
        return []
    return list(
        db.session.scalars(
            select(Checklist).where(
                Checklist.unit_id.in_(unit_ids),
                Checklist.care_bundle_id == care_bundle_id,
                Checklist.patient_identifier == value,
                Checklist.patient_identifier_system == system,
                Checklist.status == ChecklistStatus.IN_PROGRESS,
            )
        )
    )
