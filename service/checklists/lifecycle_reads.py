"""Reading checklists for the actor who asks: the checklist, its history and the snapshot of a version.

A checklist outside the actor's units is answered as if it did not exist (NotFound), never Forbidden.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

from sqlalchemy import select

from service.checklists.lifecycle_input import Actor, DbSession
from service.checklists.store import with_judgement
from service.errors import NotFound
from service.models.changes import ChecklistChange
from service.models.checklists import Checklist


def get_checklist(session: DbSession, actor: Actor, checklist_id: uuid.UUID) -> Checklist:
    """The checklist, or NotFound when it does not exist or lies outside the actor's units."""
    checklist = session.get(Checklist, checklist_id)
    if checklist is None or not actor.may_see(checklist.unit_id):
        raise NotFound(f"checklist {checklist_id} not found")
    return checklist


def history(session: DbSession, actor: Actor, checklist_id: uuid.UUID) -> list[ChecklistChange]:
    """Every change to the checklist, oldest first (NotFound as :func:`get_checklist`)."""
    get_checklist(session, actor, checklist_id)
    query = select(ChecklistChange).where(ChecklistChange.checklist_id == checklist_id)
    return list(session.scalars(query.order_by(ChecklistChange.version)))


def snapshot(session: DbSession, actor: Actor, checklist_id: uuid.UUID, version: int) -> dict[str, Any]:
    """The QuestionnaireResponse of one completed, amended or entered-in-error version (FHIR ``vread``).

    A copy: the stored snapshot never changes. NotFound for another version (in-progress versions keep
    no snapshot).
    """
    get_checklist(session, actor, checklist_id)
    change = session.scalars(
        select(ChecklistChange).where(
            ChecklistChange.checklist_id == checklist_id, ChecklistChange.version == version
        )
    ).one_or_none()
    if change is None or change.snapshot is None:
        raise NotFound(f"checklist {checklist_id} has no stored snapshot of version {version}")
    return copy.deepcopy(change.snapshot)


def load_for_change(session: DbSession, actor: Actor, checklist_id: uuid.UUID) -> Checklist:
    """The checklist as committed, with what a change rewrites, locked against concurrent changes
    (``FOR UPDATE`` on PostgreSQL; on SQLite the transaction holds the write lock already, decision 0008).
    NotFound as :func:`get_checklist`."""
    query = (
        select(Checklist)
        .where(Checklist.id == checklist_id)
        .options(*with_judgement())
        .with_for_update(of=Checklist)
        .execution_options(populate_existing=True)
    )
    checklist = session.scalars(query).one_or_none()
    if checklist is None or not actor.may_see(checklist.unit_id):
        raise NotFound(f"checklist {checklist_id} not found")
    return checklist


def change_based_on(session: DbSession, checklist_id: uuid.UUID, based_on: int) -> ChecklistChange | None:
    """The stored change that was made on version ``based_on`` (0: the start), if any."""
    return session.scalars(
        select(ChecklistChange).where(
            ChecklistChange.checklist_id == checklist_id, ChecklistChange.based_on == based_on
        )
    ).one_or_none()
