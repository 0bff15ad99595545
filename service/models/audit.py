"""The audit trail: who did what to which record, and whether it worked."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.models.base import BigIntId, JSONDocument, Model, TZDateTime, one_of, utcnow, values_of
from service.models.organisation import User


class AuditAction(StrEnum):
    CREATE = "create"
    READ = "read"
    UPDATE = "update"
    DELETE = "delete"
    SEARCH = "search"
    EXPORT = "export"
    LOGIN = "login"
    LOGOUT = "logout"
    #: An admin re-judged recorded checklists under their care bundle version's rules.
    REEVALUATE = "re-evaluate"


class AuditOutcome(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    #: Refused by access control.
    DENIED = "denied"


class AuditEvent(Model):
    """One audited action. Every read and write of patient data gets one.

    The trail refers to records by type and id only. ``detail`` must never hold patient identifiers, names,
    answers or other free text typed by users: the audit log is kept longer and shown more widely than the
    records it describes. Put counts, versions, care bundle ids, HTTP statuses there.
    """

    __tablename__ = "audit_event"
    __table_args__ = (
        CheckConstraint(one_of("action", values_of(AuditAction)), name="action"),
        CheckConstraint(one_of("outcome", values_of(AuditOutcome)), name="outcome"),
        # The history of one record.
        Index("ix_audit_event_entity", "entity_type", "entity_id"),
        # What one user did, newest first.
        Index("ix_audit_event_actor", "actor_user_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(
        TZDateTime, default=utcnow, server_default=func.now(), index=True
    )
    #: A signed-in person, or ``actor_client``: the OAuth client id of a system (an EHR, a script); neither
    #: for a failed sign-in with an unknown username.
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    actor_client: Mapped[str | None] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(16))
    #: What was acted on: ``checklist``, ``delivery``, ``user``, ``unit``, ``compliance-report``...
    entity_type: Mapped[str] = mapped_column(String(40))
    #: The record's id (a checklist UUID, a user id), None for searches and exports.
    entity_id: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(
        String(16), default=AuditOutcome.SUCCESS.value, server_default=AuditOutcome.SUCCESS.value
    )
    #: Structured context. NEVER patient identifiers or free text (see the class docstring).
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)

    actor: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<AuditEvent {self.action} {self.entity_type} {self.entity_id} {self.outcome}>"
