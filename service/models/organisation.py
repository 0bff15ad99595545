"""Who and where: sites (trusts) with their EHR endpoint, units (wards), users and their roles."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    String,
    Table,
    UniqueConstraint,
    false,
    func,
    text,
    true,
)
from sqlalchemy.ext.associationproxy import AssociationProxy, association_proxy
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.models.base import Model, TZDateTime, one_of, utcnow, values_of


class Role(StrEnum):
    CLINICIAN = "clinician"
    QI_LEAD = "qi_lead"
    ADMIN = "admin"


class EhrAuth(StrEnum):
    """How Careloop authenticates to a site's EHR."""

    NONE = "none"
    #: A static bearer token, read from ``fhir_credentials_ref`` (``env:NAME`` or ``file:/path``).
    BEARER = "bearer"
    #: SMART Backend Services: client credentials with a ``private_key_jwt`` assertion signed with
    #: Careloop's own key set (served as a JWKS the EHR registers).
    SMART = "smart"


class Site(Model):
    """A hospital trust, and the EHR that receives its completed checklists.

    Credentials are never stored here: ``fhir_credentials_ref`` names where a bearer token lives
    (``env:NAME`` or ``file:/path``), and SMART signing keys live in Careloop's key file, so a database
    dump leaks no secret.
    """

    __tablename__ = "site"
    __table_args__ = (
        CheckConstraint(one_of("fhir_auth", values_of(EhrAuth)), name="fhir_auth"),
        CheckConstraint(
            "fhir_auth <> 'smart' OR (fhir_token_url IS NOT NULL AND fhir_client_id IS NOT NULL "
            "AND fhir_signing_alg IS NOT NULL)",
            name="fhir_smart_complete",
        ),
        CheckConstraint(
            "fhir_auth <> 'bearer' OR fhir_credentials_ref IS NOT NULL", name="fhir_bearer_complete"
        ),
        CheckConstraint("NOT fhir_enabled OR fhir_base_url IS NOT NULL", name="fhir_enabled_has_base"),
        CheckConstraint("fhir_connect_timeout > 0 AND fhir_read_timeout > 0", name="fhir_timeouts_positive"),
        CheckConstraint(
            "fhir_signing_alg IS NULL OR fhir_signing_alg IN ('RS384', 'ES384')", name="fhir_signing_alg"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Short stable code (an ODS-style code for a real trust; obviously fake ones for the demo).
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    #: FHIR R4 base of the site's EHR; None: no write-back configured.
    fhir_base_url: Mapped[str | None] = mapped_column(String(500))
    #: Write-back on or off (a site may keep its settings while its EHR is not ready).
    fhir_enabled: Mapped[bool] = mapped_column(default=False, server_default=false())
    fhir_auth: Mapped[str] = mapped_column(
        String(16), default=EhrAuth.NONE.value, server_default=EhrAuth.NONE.value
    )
    #: Seconds to wait for a connection and for an answer.
    fhir_connect_timeout: Mapped[float] = mapped_column(Float, default=5.0, server_default=text("5"))
    fhir_read_timeout: Mapped[float] = mapped_column(Float, default=30.0, server_default=text("30"))
    #: SMART backend-services client registration (``fhir_auth = 'smart'``).
    fhir_client_id: Mapped[str | None] = mapped_column(String(200))
    fhir_token_url: Mapped[str | None] = mapped_column(String(500))
    fhir_scope: Mapped[str | None] = mapped_column(String(500))
    #: RS384 or ES384: which of Careloop's keys signs this site's client assertions.
    fhir_signing_alg: Mapped[str | None] = mapped_column(String(8))
    #: Where the bearer token lives, ``env:NAME`` or ``file:/path``: a reference, never the secret.
    fhir_credentials_ref: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow, server_default=func.now())

    units: Mapped[list[Unit]] = relationship(back_populates="site", order_by="Unit.code")

    def __repr__(self) -> str:
        return f"<Site {self.code}>"


#: Which units a user works in (clinicians see those units' checklists; QI leads their compliance).
user_unit = Table(
    "user_unit",
    Model.metadata,
    Column("user_id", ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True),
    Column("unit_id", ForeignKey("unit.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Unit(Model):
    """A ward, maternity unit or service within a site: where checklists are filled in."""

    __tablename__ = "unit"
    __table_args__ = (UniqueConstraint("site_id", "code", name="uq_unit_site_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"))
    #: Unique within the site.
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow, server_default=func.now())

    site: Mapped[Site] = relationship(back_populates="units")
    care_bundle_links: Mapped[list[UnitCareBundle]] = relationship(
        back_populates="unit",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="UnitCareBundle.care_bundle_id",
    )
    #: The care bundle ids this unit offers; append or remove plain ids.
    care_bundle_ids: AssociationProxy[list[str]] = association_proxy(
        "care_bundle_links",
        "care_bundle_id",
        creator=lambda care_bundle_id: UnitCareBundle(care_bundle_id=care_bundle_id),
    )
    users: Mapped[list[User]] = relationship(
        secondary=user_unit, back_populates="units", order_by="User.username"
    )

    def offered_version(self, care_bundle_id: str) -> str | None:
        """The version of a care bundle that new checklists on this unit use: its pinned version, or None
        for the latest loaded one (None too when the unit does not offer it: see ``care_bundle_ids``).

        The one answer to "which version?": the ward's start page and the lifecycle's ``start`` both ask it.
        """
        link = self.care_bundle_link(care_bundle_id)
        return link.pinned_version if link is not None else None

    def care_bundle_link(self, care_bundle_id: str) -> UnitCareBundle | None:
        """How this unit offers a care bundle, or None when it does not."""
        return next((link for link in self.care_bundle_links if link.care_bundle_id == care_bundle_id), None)

    def __repr__(self) -> str:
        return f"<Unit {self.code}>"


class UnitCareBundle(Model):
    """A care bundle offered on a unit: its latest version, or a pinned one. Care bundles live in YAML, so
    no foreign key."""

    __tablename__ = "unit_care_bundle"

    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id", ondelete="CASCADE"), primary_key=True)
    care_bundle_id: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    #: None: new checklists use the latest loaded version; else this version (a unit finishing an audit
    #: period on the version it started with).
    pinned_version: Mapped[str | None] = mapped_column(String(32))

    unit: Mapped[Unit] = relationship(back_populates="care_bundle_links")

    def __repr__(self) -> str:
        return f"<UnitCareBundle {self.unit_id} {self.care_bundle_id}>"


class User(Model):
    """A person who signs in. Deactivate rather than delete: audit events and checklists refer to users.

    The table is ``user_account`` because ``user`` is a reserved word in PostgreSQL. ``is_active``,
    ``is_authenticated``, ``is_anonymous`` and ``get_id`` are what Flask-Login asks of a user (its
    ``UserMixin``, written out because flask_login has no type hints); a deactivated user cannot sign in.
    """

    __tablename__ = "user_account"
    __table_args__ = (CheckConstraint(one_of("role", values_of(Role)), name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    #: werkzeug.security hash (method$salt$hash); never the password.
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow, server_default=func.now())
    #: May see patient identifiers in the compliance drill-down (each such read audited); no role has it by
    #: default: ``flask users grant-identifiers`` (migration 0008).
    can_read_patient_identifiers: Mapped[bool] = mapped_column(default=False, server_default=false())

    units: Mapped[list[Unit]] = relationship(
        secondary=user_unit, back_populates="users", order_by="Unit.code"
    )

    @property
    def is_active(self) -> bool:
        return bool(self.active)

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)

    def __repr__(self) -> str:
        return f"<User {self.username} {self.role}>"
