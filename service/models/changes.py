"""The history of a checklist: one row per change, the idempotency key of each, and immutable snapshots.

``service.checklists.lifecycle`` is the one writer. Each change says which version it was based on and which
it produced, so a replayed request (the tablet's offline queue, a retried POST) is recognised by the version
it was based on plus a hash of its payload, and a different payload on a stale version is refused instead of
overwriting someone else's change. Completed, amended and entered-in-error versions keep the exact
QuestionnaireResponse they became: history, ``vread`` and delivery read it, never a re-rendering.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, Text, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import BigIntId, Model, TZDateTime, one_of, utcnow, values_of
from service.models.checklists import ChecklistStatus


class ChangeOperation(StrEnum):
    """What a change did; the lifecycle function of the same name made it."""

    START = "start"
    SAVE_DRAFT = "save-draft"
    COMPLETE = "complete"
    AMEND = "amend"
    ENTERED_IN_ERROR = "entered-in-error"


#: Operations that must say why (their ``reason`` is required); no other keeps one.
REASONED_OPERATIONS = (ChangeOperation.AMEND, ChangeOperation.ENTERED_IN_ERROR)

_REASONED = ", ".join(f"'{operation}'" for operation in REASONED_OPERATIONS)

#: A JSON document whose None is SQL NULL (not JSON ``null``), so that CHECKs can test ``IS NULL``.
_NullableDocument = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


class ChecklistChange(Model):
    """One change to one checklist: the version it produced from the version it was based on.

    ``(checklist_id, version)`` and ``(checklist_id, based_on)`` are both unique: a version is produced
    once, and two changes based on the same version cannot both be stored (the second is a replay or a
    conflict). ``payload_sha256`` hashes a canonical JSON of the operation, its answers and reason, so a
    repeated request is recognised without keeping its content twice. ``reason`` is free text typed by a
    user: it lives here, never in the audit log. ``snapshot`` is the QuestionnaireResponse of a completed,
    amended or entered-in-error version, written once and never changed; None for in-progress versions.
    """

    __tablename__ = "checklist_change"
    __table_args__ = (
        UniqueConstraint("checklist_id", "version", name="uq_checklist_change_checklist_version"),
        UniqueConstraint("checklist_id", "based_on", name="uq_checklist_change_checklist_based_on"),
        CheckConstraint(one_of("operation", values_of(ChangeOperation)), name="operation"),
        CheckConstraint(one_of("status", values_of(ChecklistStatus)), name="status"),
        CheckConstraint("based_on >= 0 AND version > based_on", name="version_after_base"),
        CheckConstraint(
            f"(operation IN ({_REASONED}) AND reason IS NOT NULL) "
            f"OR (operation NOT IN ({_REASONED}) AND reason IS NULL)",
            name="reason_when_required",
        ),
        CheckConstraint(
            "(status = 'in-progress' AND snapshot IS NULL) "
            "OR (status <> 'in-progress' AND snapshot IS NOT NULL)",
            name="snapshot_when_final",
        ),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    checklist_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("checklist.id", ondelete="CASCADE"))
    #: The checklist version this change produced.
    version: Mapped[int]
    #: The version the request was based on (its ``If-Match``); 0 for ``start``.
    based_on: Mapped[int]
    operation: Mapped[str] = mapped_column(String(20))
    #: Hex SHA-256 of the canonical JSON of the request (operation, answers, reason).
    payload_sha256: Mapped[str] = mapped_column(String(64))
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    actor_client: Mapped[str | None] = mapped_column(String(200))
    #: Why it was amended or entered in error (1-500 characters); free text, never logged or audited.
    reason: Mapped[str | None] = mapped_column(Text)
    #: The checklist's status after the change.
    status: Mapped[str] = mapped_column(String(20))
    #: The QuestionnaireResponse of this version (``meta.versionId`` = ``version``); immutable.
    snapshot: Mapped[dict[str, Any] | None] = mapped_column(_NullableDocument)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow, server_default=func.now())

    def __repr__(self) -> str:
        return f"<ChecklistChange {self.checklist_id} v{self.based_on}->v{self.version} {self.operation}>"
