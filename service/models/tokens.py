"""Bearer tokens of system clients (an EHR, an integration engine) on ``/fhir``: stored hashed, bound to a
site and, for writes, to one unit, with SMART-style scopes (``service.auth.tokens``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.models.base import Model, TZDateTime, utcnow
from service.models.organisation import Site, Unit


class ApiToken(Model):
    """One client's token. Only its SHA-256 is kept: the token is shown once, when it is made."""

    __tablename__ = "api_token"
    __table_args__ = (CheckConstraint("length(token_sha256) = 64", name="token_sha256_length"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Who the client is, for people: "Trust EPR interface engine".
    name: Mapped[str] = mapped_column(String(200))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), index=True)
    #: The one unit its writes land in (None: a read-only client of the whole site).
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"))
    #: Space-separated SMART scopes as given (``system/QuestionnaireResponse.rs``).
    scopes: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow, server_default=func.now())
    expires_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(TZDateTime)

    site: Mapped[Site] = relationship()
    unit: Mapped[Unit | None] = relationship()
