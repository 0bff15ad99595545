"""The outbox: one row per version of a checklist to deliver to one site's EHR."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, func, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.models.base import BigIntId, JSONDocument, Model, TZDateTime, one_of, utcnow, values_of
from service.models.organisation import Site

if TYPE_CHECKING:
    from service.models.checklists import Checklist


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    IN_FLIGHT = "in-flight"
    DELIVERED = "delivered"
    #: A 4xx that retrying cannot fix, or a change someone made in the EHR: a dead letter, shown to
    #: admins, re-queueable.
    DEAD = "dead"
    #: Never sent: a newer version of the same checklist went instead (or had already gone).
    SUPERSEDED = "superseded"


class Delivery(Model):
    """Getting one version of one checklist's QuestionnaireResponse into one EHR, exactly once.

    Written in the same transaction as the checklist change. Workers claim ``pending`` rows whose
    ``next_attempt_at`` has passed (``FOR UPDATE SKIP LOCKED`` on PostgreSQL) and mark them ``in-flight``
    with ``next_attempt_at`` pushed forward as a lease: an ``in-flight`` row whose lease has run out
    belongs to a worker that died and may be claimed again.
    """

    __tablename__ = "delivery"
    __table_args__ = (
        UniqueConstraint(
            "checklist_id", "checklist_version", "site_id", name="uq_delivery_checklist_version_site"
        ),
        CheckConstraint(one_of("status", values_of(DeliveryStatus)), name="status"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        CheckConstraint("status <> 'delivered' OR delivered_at IS NOT NULL", name="delivered_at_set"),
        # The worker's claim query: WHERE status = ... AND next_attempt_at <= now ORDER BY next_attempt_at.
        Index("ix_delivery_status_next_attempt", "status", "next_attempt_at"),
        # One version of a checklist in flight to a site at a time: versions go in order, and two workers
        # can never send two versions of one checklist at once (the second claim fails on this index).
        Index(
            "uq_delivery_one_in_flight",
            "checklist_id",
            "site_id",
            unique=True,
            sqlite_where=text("status = 'in-flight'"),
            postgresql_where=text("status = 'in-flight'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    checklist_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("checklist.id", ondelete="CASCADE"))
    #: The checklist version this delivery carries (its ``version`` column when the row was written).
    checklist_version: Mapped[int]
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), index=True)
    status: Mapped[str] = mapped_column(
        String(16), default=DeliveryStatus.PENDING.value, server_default=DeliveryStatus.PENDING.value
    )
    attempts: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    next_attempt_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow, server_default=func.now())
    #: The worker holding an ``in-flight`` row (host:pid:random), so a late answer from a worker whose
    #: lease ran out cannot overwrite the row another worker took over.
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    last_attempt_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    #: Last failure, for admins; no patient data (status line, error class, OperationOutcome summary).
    last_error: Mapped[str | None] = mapped_column(Text)
    #: What the EHR answered: its resource id and version (for a later PUT with If-Match), HTTP status.
    ehr_resource_id: Mapped[str | None] = mapped_column(String(64))
    ehr_version_id: Mapped[str | None] = mapped_column(String(64))
    ehr_status_code: Mapped[int | None]
    operation_outcome: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        TZDateTime, default=utcnow, onupdate=utcnow, server_default=func.now()
    )
    delivered_at: Mapped[datetime | None] = mapped_column(TZDateTime)

    checklist: Mapped[Checklist] = relationship(back_populates="deliveries")
    site: Mapped[Site] = relationship()

    def __repr__(self) -> str:
        return (
            f"<Delivery {self.checklist_id} v{self.checklist_version} -> site {self.site_id} {self.status}>"
        )
