"""System access to ``/fhir``: bearer tokens with SMART-style scopes, bound to a site (and one unit for
writes), stored hashed, made, listed and revoked with ``flask tokens``; every use audited.

Scopes: SMART v2 ``system/<Resource>.<cruds>`` (``system/QuestionnaireResponse.rs``, ``.cu``), and v1
``system/<Resource>.read`` (= ``rs``), ``.write`` (= ``cud``) and ``.*`` (= ``cruds``). ``<Resource>`` is one
of :data:`RESOURCES`; anything else is refused when the token is made.

Missing (where a token is required), unknown, expired or revoked: 401. Valid but without the scope: 403.
Each answer carries an OperationOutcome (``service.fhir_api.errors``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Final

from flask import Flask, Response, g, request
from sqlalchemy import select, update

from service.errors import CareloopError, Forbidden, InvalidInput, NotFound
from service.extensions import AnySession, db, writes_follow
from service.models import ApiToken, AuditAction, AuditEvent, AuditOutcome, Site, Unit

#: What a token may be granted: the forms and their responses, and compliance (``MeasureReport``: the
#: compliance API and the FHIR MeasureReports; ``Measure``: their definitions).
RESOURCES: Final = frozenset({"Questionnaire", "QuestionnaireResponse", "Measure", "MeasureReport"})
_V2 = re.compile(r"^system/(?P<resource>[A-Za-z]+)\.(?P<actions>c?r?u?d?s?)$")
_V1 = {"read": "rs", "write": "cud", "*": "cruds"}
#: What each action letter allows.
ACTIONS: Final = {"c": "create", "r": "read", "u": "update", "d": "delete", "s": "search"}
TOKEN_PREFIX: Final = "clt_"


class Unauthorized(CareloopError):
    status = 401
    fhir_code = "login"


@dataclass(frozen=True)
class Grant:
    """What a token allows: resource type -> action letters."""

    allowed: dict[str, frozenset[str]]

    def allows(self, resource: str, action: str) -> bool:
        return action in self.allowed.get(resource, frozenset())


def parse_scopes(text: str) -> Grant:
    """``system/QuestionnaireResponse.rs system/Questionnaire.read`` -> a :class:`Grant`; InvalidInput for
    anything else (a patient/ or user/ scope, an unknown resource, ``.x``)."""
    allowed: dict[str, set[str]] = {}
    scopes = text.split()
    if not scopes:
        raise InvalidInput("give at least one scope, for example system/QuestionnaireResponse.rs")
    for scope in scopes:
        resource, _, actions = scope.removeprefix("system/").rpartition(".")
        if not scope.startswith("system/") or resource not in RESOURCES:
            raise InvalidInput(f"scope {scope[:80]!r}: system/<{'|'.join(sorted(RESOURCES))}>.<cruds>")
        letters = _V1.get(actions)
        if letters is None:
            match = _V2.match(scope)
            if match is None or not match["actions"]:
                raise InvalidInput(
                    f"scope {scope[:80]!r}: actions are c, r, u, d, s in that order, or read/write/*"
                )
            letters = match["actions"]
        allowed.setdefault(resource, set()).update(letters)
    return Grant({resource: frozenset(letters) for resource, letters in allowed.items()})


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    session: AnySession,
    *,
    name: str,
    site: Site,
    unit: Unit | None,
    scopes: str,
    expires_at: dt.datetime | None = None,
) -> tuple[ApiToken, str]:
    """A new token: its row and the token itself, which is not kept (only its SHA-256)."""
    parse_scopes(scopes)
    if not name.strip() or len(name) > 200:
        raise InvalidInput("give the client a name of 1 to 200 characters")
    if unit is not None and unit.site_id != site.id:
        raise InvalidInput(f"unit {unit.code} is not a unit of site {site.code}")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        name=name.strip(),
        token_sha256=digest(secret),
        site_id=site.id,
        unit_id=unit.id if unit is not None else None,
        scopes=" ".join(scopes.split()),
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    return row, secret


def revoke_token(session: AnySession, token_id: int, now: dt.datetime) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(f"no token {token_id}")
    if row.revoked_at is None:
        row.revoked_at = now
    return row


def all_tokens(session: AnySession) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).order_by(ApiToken.id)))


@dataclass(frozen=True)
class Client:
    """The system client of this request."""

    token: ApiToken
    grant: Grant

    @property
    def label(self) -> str:
        return f"token:{self.token.id}"


def presented_token() -> str | None:
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthorized("send Authorization: Bearer <token>")
    return value.strip()


def _find(session: AnySession, token: str) -> ApiToken | None:
    found: ApiToken | None = session.scalar(select(ApiToken).where(ApiToken.token_sha256 == digest(token)))
    return found


def _usable(row: ApiToken | None, now: dt.datetime) -> bool:
    return row is not None and row.revoked_at is None and (row.expires_at is None or row.expires_at > now)


def require(resource: str, action: str, *, optional: bool = False) -> Client | None:
    """The client of this request, allowed to ``action`` (``read``, ``search``, ``create``...) ``resource``.

    ``optional``: a request with no token is let through (None) — public routes; one with a token is checked
    all the same. Every use of a token is audited, allowed or not: one event per request, written when its
    answer is known (:func:`write_audit`), so a route's own refusal (403, 404) is not audited as a success."""
    try:
        token = presented_token()
    except Unauthorized:
        _audit_later(None, resource, action)  # a malformed Authorization header is a use too
        raise
    if token is None:
        if optional:
            return None
        raise Unauthorized("this needs a bearer token (Authorization: Bearer <token>)")
    now = dt.datetime.now(dt.UTC)
    row = _find(db.session, token)
    if row is None or not _usable(row, now):
        # An expired or revoked token is audited under its id: the trail shows which client still uses it.
        _audit_later(row, resource, action)
        raise Unauthorized("the bearer token is not valid (unknown, expired or revoked)")
    client = Client(row, parse_scopes(row.scopes))
    letter = next(letter for letter, name in ACTIONS.items() if name == action)
    _audit_later(row, resource, action, used_at=now)  # its last use is written with the audit event
    if not client.grant.allows(resource, letter):
        raise Forbidden(f"the token's scopes do not allow {action} on {resource}")
    return client


_AUDITED_AS = {
    "read": AuditAction.READ,
    "search": AuditAction.SEARCH,
    "create": AuditAction.CREATE,
    "update": AuditAction.UPDATE,
    "delete": AuditAction.DELETE,
}


@dataclass(frozen=True)
class _PendingAudit:
    actor: str
    resource: str
    action: str
    route: str | None
    #: A valid token's id and the time of this use (``api_token.last_used_at``).
    token_id: int | None = None
    used_at: dt.datetime | None = None


def _audit_later(
    row: ApiToken | None, resource: str, action: str, *, used_at: dt.datetime | None = None
) -> None:
    g.careloop_token_audit = _PendingAudit(
        actor=f"token:{row.id}" if row is not None else "token:invalid",
        resource=resource,
        action=action,
        route=request.url_rule.rule if request.url_rule else None,
        token_id=row.id if row is not None and used_at is not None else None,
        used_at=used_at,
    )


def _outcome_of(status: int) -> AuditOutcome:
    if status < 400:
        return AuditOutcome.SUCCESS
    if status in (403, 404):  # refused by access control (another unit's checklist is not found)
        return AuditOutcome.DENIED
    return AuditOutcome.FAILURE


def write_audit(response: Response) -> Response:
    """After each request that presented a token: its one audit event, with the answer's outcome and the
    checklist it named (never the token, never a query string). The request's own work is already
    committed or, on a refusal, rolled back first, so nothing of it is committed here."""
    pending: _PendingAudit | None = g.pop("careloop_token_audit", None)
    if pending is None:
        return response
    if response.status_code >= 400:
        db.session.rollback()
    entity_id = (request.view_args or {}).get("resource_id")
    if entity_id is None and response.status_code == 201 and response.headers.get("Location"):
        entity_id = response.headers["Location"].split("/_history/")[0].rsplit("/", 1)[-1]
    # A GET's reading transaction ends here and the writes begin immediate (SQLite, decision 0008): the
    # request itself never writes on its read snapshot.
    writes_follow()
    if pending.token_id is not None:
        db.session.execute(
            update(ApiToken).where(ApiToken.id == pending.token_id).values(last_used_at=pending.used_at)
        )
    db.session.add(
        AuditEvent(
            actor_client=pending.actor,
            action=_AUDITED_AS.get(pending.action, AuditAction.READ),
            entity_type=pending.resource,
            entity_id=entity_id[:64] if entity_id else None,
            outcome=_outcome_of(response.status_code),
            detail={"route": pending.route},
        )
    )
    db.session.commit()
    return response


def init_app(app: Flask) -> None:
    app.after_request(write_audit)
