"""Who and where: sites (trusts) with their EHR endpoint, units (wards), users and their roles."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Column, ForeignKey, String, Table, UniqueConstraint, func, true
from sqlalchemy.ext.associationproxy import AssociationProxy, association_proxy
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.models.base import Model, TZDateTime, one_of, utcnow, values_of


class Role(StrEnum):
    CLINICIAN = "clinician"
    QI_LEAD = "qi_lead"
    ADMIN = "admin"


class Site(Model):
    """A hospital trust, and the EHR that receives its completed checklists.

    Credentials are never stored here: ``fhir_credentials_ref`` names the environment variable (or secret
    store entry) that holds the private key or client secret, so a database dump leaks no secret.
    """

    __tablename__ = "site"
    __table_args__ = (
        CheckConstraint(
            "fhir_token_url IS NULL OR (fhir_client_id IS NOT NULL AND fhir_credentials_ref IS NOT NULL)",
            name="fhir_auth_complete",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Short stable code (an ODS-style code for a real trust; obviously fake ones for the demo).
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    #: FHIR R4 base of the site's EHR; None: no write-back configured.
    fhir_base_url: Mapped[str | None] = mapped_column(String(500))
    #: SMART backend-services client registration; all None for an open (test) endpoint.
    fhir_client_id: Mapped[str | None] = mapped_column(String(200))
    fhir_token_url: Mapped[str | None] = mapped_column(String(500))
    fhir_scope: Mapped[str | None] = mapped_column(String(500))
    #: Name of the environment variable / secret holding the signing key: a reference, never the secret.
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

    def __repr__(self) -> str:
        return f"<Unit {self.code}>"


class UnitCareBundle(Model):
    """A care bundle (by id, any version) offered on a unit. Care bundles live in YAML, so no foreign key."""

    __tablename__ = "unit_care_bundle"

    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id", ondelete="CASCADE"), primary_key=True)
    care_bundle_id: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)

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
