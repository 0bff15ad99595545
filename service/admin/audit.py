"""The audit event of an administrative change (a site, a unit, a user): who changed what.

``detail`` names what changed (field names, care bundle ids and versions, roles), never a value that could
be a secret, and never a password. Admin changes use the generic ``create`` and ``update`` actions.
"""

from __future__ import annotations

from typing import Any

from service.checklists import Actor
from service.extensions import AnySession
from service.models import AuditAction, AuditEvent, AuditOutcome

#: The actor of ``flask sites``, ``flask units`` and other commands run on the server (no signed-in user).
CLI_ACTOR = Actor(user_id=None, client="flask-cli", unit_ids=None)


def record(
    session: AnySession,
    actor: Actor,
    action: AuditAction,
    entity_type: str,
    entity_id: int | str,
    **detail: Any,
) -> None:
    """Add the audit event of a change that succeeded (the caller flushes with the change)."""
    session.add(
        AuditEvent(
            actor_user_id=actor.user_id,
            actor_client=actor.client,
            action=action.value,
            entity_type=entity_type,
            entity_id=str(entity_id),
            outcome=AuditOutcome.SUCCESS.value,
            detail=detail or None,
        )
    )
