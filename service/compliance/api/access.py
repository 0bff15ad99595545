"""Who may count checklists through the compliance API, on which units, and the audit of identifier reads.

- A bearer token (``Authorization: Bearer``) with ``system/MeasureReport.rs`` (or ``.read``): the units of
  its site, or its one unit. Each use is audited by :mod:`service.auth.tokens`. Tokens never get patient
  identifiers.
- Otherwise a signed-in QI lead (the units they are a member of) or admin (every unit). Nobody signed in:
  401; another role: 403 (JSON, never a redirect).

``unit=SITE/unit`` must be one of those units; ``site=SITE`` means the caller's units of that site (all of
them for an admin or a site token; the answer's ``site_complete`` says whether every unit is counted).
Anything else is "not found" (404), whether it exists or not, so nothing leaks.

Patient identifiers in the drill-down: only for a user with ``can_read_patient_identifiers`` (granted with
``flask users grant-identifiers``; no role has it by default). Each checklist whose identifier is returned
gets its own audit event (``read`` of ``checklist`` <id>, the ward's shape), so a record's history shows
who saw it; the events are written after the answer is made and only when it succeeds. The identifiers
never go into the audit trail or the logs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flask import Response, g, request
from flask_login import current_user
from sqlalchemy import select

from service.auth import signed_in_user, tokens, unit_ids_of
from service.errors import Forbidden, NotFound
from service.extensions import AnySession, db, writes_follow
from service.models import AuditAction, AuditEvent, Role, Site, Unit, User

_REPORTING_ROLES = frozenset({Role.QI_LEAD.value, Role.ADMIN.value})


@dataclass(frozen=True)
class Caller:
    """A signed-in user or a token's client, and the units they report on."""

    unit_ids: frozenset[int]
    user: User | None = None
    client: tokens.Client | None = None

    @property
    def may_read_identifiers(self) -> bool:
        return self.user is not None and bool(self.user.can_read_patient_identifiers)


def current_caller(session: AnySession) -> Caller:
    """The caller of this request; 401 (nobody, or a bad token), 403 (a role or scope that may not)."""
    if "Authorization" in request.headers:
        client = tokens.require("MeasureReport", "read")
        if client is None:  # pragma: no cover - require() returns a client when a token was sent
            raise tokens.Unauthorized("this needs a bearer token")
        if client.token.unit_id is not None:
            return Caller(frozenset({client.token.unit_id}), client=client)
        ids = session.scalars(select(Unit.id).where(Unit.site_id == client.token.site_id))
        return Caller(frozenset(ids), client=client)
    if not current_user.is_authenticated:
        raise tokens.Unauthorized("sign in, or send a bearer token (Authorization: Bearer <token>)")
    user = signed_in_user()
    if user.role not in _REPORTING_ROLES:
        raise Forbidden("the compliance API is for QI leads and admins")
    return Caller(unit_ids_of(user), user=user)


@dataclass(frozen=True)
class Place:
    """The units a report counts: one asked for by ``unit=``, or the caller's units of a ``site=``."""

    units: tuple[Unit, ...]
    unit: Unit | None = None
    site: Site | None = None
    #: site= only: every unit of the site is counted.
    site_complete: bool | None = None

    @property
    def unit_ids(self) -> tuple[int, ...]:
        return tuple(unit.id for unit in self.units)

    @property
    def label(self) -> str:
        if self.unit is not None:
            return f"{self.unit.site.code}/{self.unit.code}"
        return self.site.code if self.site is not None else ""


def resolve_place(session: AnySession, caller: Caller, *, unit: str | None, site: str | None) -> Place:
    """The units of ``unit`` (``SITE/unit``) or ``site`` the caller reports on; NotFound otherwise (the
    codes are bounded by the query schema, so the message never echoes a long value)."""
    if unit is not None:
        site_code, _, unit_code = unit.partition("/")
        found = session.scalar(select(Unit).join(Site).where(Site.code == site_code, Unit.code == unit_code))
        if found is None or found.id not in caller.unit_ids:
            raise NotFound(f"no unit {unit[:64]} that you report on")
        return Place((found,), unit=found)
    found_site = session.scalar(select(Site).where(Site.code == (site or "")))
    mine = tuple(u for u in found_site.units if u.id in caller.unit_ids) if found_site else ()
    if found_site is None or not mine:
        raise NotFound(f"no site {(site or '')[:64]} with units that you report on")
    return Place(mine, site=found_site, site_complete=len(mine) == len(found_site.units))


def audit_identifier_reads(caller: Caller, checklist_ids: Iterable[str], **detail: Any) -> None:
    """One ``read`` event per checklist whose patient identifier goes out, written after the answer
    (:func:`write_identifier_audit`). ``detail`` holds what was asked (never an identifier)."""
    if caller.user is None:
        return
    pending: list[AuditEvent] = g.setdefault("compliance_identifier_reads", [])
    pending.extend(
        AuditEvent(
            actor_user_id=caller.user.id,
            action=AuditAction.READ.value,
            entity_type="checklist",
            entity_id=checklist_id,
            detail={"route": "/api/compliance/checklists", "patient_identifier": True, **detail},
        )
        for checklist_id in checklist_ids
    )


def after_compliance_request(response: Response) -> Response:
    """Write the identifier reads of a successful answer in their own transaction (if that fails, the
    request fails and the identifiers are not sent). (A 401's ``WWW-Authenticate`` comes with every
    ``/api`` and ``/fhir`` error: ``service.fhir_api.errors``.)"""
    pending: list[AuditEvent] = g.pop("compliance_identifier_reads", [])
    if pending and response.status_code < 400:
        writes_follow()
        db.session.add_all(pending)
        db.session.commit()
    return response
