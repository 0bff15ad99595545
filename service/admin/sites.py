"""Site administration: sites and their EHR settings, units, and the care bundles each unit offers.

The one path behind the admin pages and ``flask sites`` / ``flask units``. Plain domain code, as
:mod:`service.auth.users`: an explicit session, actor and arguments; ``flush()`` but never ``commit()``;
:class:`~service.errors.InvalidInput` with one field issue per bad field (``issue.field`` names the form
field), :class:`~service.errors.NotFound`, :class:`~service.errors.Conflict`. Everything is checked before
the first write, so a refused change leaves the session as it found it. Every change writes an audit event.

No secret is ever stored: a bearer token is named by a reference (``env:NAME`` or ``file:/path``,
:mod:`service.delivery.secrets`) and SMART client assertions are signed with Careloop's own keys; a site only
says which algorithm (RS384 or ES384) and its client registration.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

from sqlalchemy import select

from service.admin.audit import record
from service.auth.users import find_unit
from service.checklists import Actor
from service.checklists.lifecycle_input import ChecklistIssue, field_issue
from service.delivery.secrets import reference_problem
from service.errors import Conflict, InvalidInput, NotFound
from service.extensions import AnySession
from service.models import AuditAction, EhrAuth, Site, Unit, UnitCareBundle

if TYPE_CHECKING:
    from service.care_bundles import CareBundleCatalogue

__all__ = [
    "LATEST",
    "MAX_TIMEOUT_SECONDS",
    "SIGNING_ALGORITHMS",
    "CareBundleOption",
    "EhrSettings",
    "all_sites",
    "care_bundle_options",
    "create_site",
    "create_unit",
    "disable_care_bundle",
    "enable_care_bundle",
    "find_site",
    "find_unit",
    "set_unit_active",
    "units_of",
    "update_ehr_settings",
]

#: Site codes: an ODS-style code (upper-case letters and digits; ``-`` allowed for made-up ones).
SITE_CODE: Final = re.compile(r"[A-Z0-9][A-Z0-9-]{0,15}")
#: Unit codes: unique within their site, lower-case as in ``labour-ward``.
UNIT_CODE: Final = re.compile(r"[a-z0-9][a-z0-9._-]{0,31}")
NAME_MAX_LENGTH: Final = 200
#: A request to an EHR waits at most this long to connect, and as long again for the answer.
MAX_TIMEOUT_SECONDS: Final = 300.0
SIGNING_ALGORITHMS: Final = ("RS384", "ES384")
#: What a unit offers when it pins no version (stored as ``pinned_version`` None).
LATEST: Final = "latest"
_URL_MAX_LENGTH: Final = 500
_SCOPE_MAX_LENGTH: Final = 500
_CLIENT_ID_MAX_LENGTH: Final = 200
_REFERENCE_MAX_LENGTH: Final = 200
#: An OAuth scope is space-separated tokens of printable ASCII but ``"`` and ``\`` (RFC 6749, 3.3).
_SCOPE_TOKEN: Final = re.compile(r"[\x21\x23-\x5B\x5D-\x7E]+")
_CLIENT_ID: Final = re.compile(r"[\x21-\x7E]+")


# -- sites ------------------------------------------------------------------------------------------------


def all_sites(session: AnySession) -> list[Site]:
    return list(session.scalars(select(Site).order_by(Site.code)))


def find_site(session: AnySession, code: str) -> Site:
    site = session.scalar(select(Site).where(Site.code == code))
    if site is None:
        raise NotFound(f"no site {code!r}")
    return site


def create_site(session: AnySession, actor: Actor, *, code: str, name: str) -> Site:
    """A new site with write-back off and no EHR settings. Raises InvalidInput or Conflict (code taken)."""
    code = code.strip()
    issues: list[ChecklistIssue] = []
    if not SITE_CODE.fullmatch(code):
        issues.append(
            field_issue("code", "give a site code of 1 to 16 upper-case letters, digits or '-', such as RX1")
        )
    name = _name(name, issues)
    if issues:
        raise InvalidInput(f"the site cannot be added: {len(issues)} problem(s)", issues=issues)
    if session.scalar(select(Site.id).where(Site.code == code)) is not None:
        raise Conflict(
            f"a site with the code {code} already exists",
            issues=[field_issue("code", f"a site with the code {code} already exists", "duplicate")],
        )
    site = Site(code=code, name=name)
    session.add(site)
    session.flush()
    record(session, actor, AuditAction.CREATE, "site", site.id, code=site.code)
    session.flush()
    return site


@dataclass(frozen=True)
class EhrSettings:
    """Everything an admin sets about a site's EHR. Text fields may be blank (stored as None); the
    timeouts may be text, as typed in a form. Fields that the chosen ``auth`` does not use are cleared."""

    base_url: str | None = None
    enabled: bool = False
    auth: str = EhrAuth.NONE.value
    credentials_ref: str | None = None
    client_id: str | None = None
    token_url: str | None = None
    scope: str | None = None
    signing_alg: str | None = None
    connect_timeout: float | str = 5.0
    read_timeout: float | str = 30.0

    @classmethod
    def of(cls, site: Site) -> EhrSettings:
        """A site's current settings (to show in a form, or to change a few of them)."""
        return cls(
            base_url=site.fhir_base_url,
            enabled=site.fhir_enabled,
            auth=site.fhir_auth,
            credentials_ref=site.fhir_credentials_ref,
            client_id=site.fhir_client_id,
            token_url=site.fhir_token_url,
            scope=site.fhir_scope,
            signing_alg=site.fhir_signing_alg,
            connect_timeout=site.fhir_connect_timeout,
            read_timeout=site.fhir_read_timeout,
        )


def update_ehr_settings(session: AnySession, actor: Actor, site: Site, settings: EhrSettings) -> list[str]:
    """Check and store a site's EHR settings; return the names of the fields that changed (audited).

    Raises InvalidInput with one issue per bad field (fields as in :class:`EhrSettings`): the base URL is
    an absolute ``http``/``https`` address without a query or fragment, and ``https`` (or loopback) when
    credentials travel to it; timeouts are 0 < t <= 300 seconds; ``bearer`` needs a credentials reference;
    ``smart`` needs a client id, a token URL (``https``, or ``http`` on the loopback only) and a signing
    algorithm; write-back can be enabled only with a base URL.
    """
    issues: list[ChecklistIssue] = []
    auth = settings.auth.strip() if isinstance(settings.auth, str) else ""
    if auth not in {member.value for member in EhrAuth}:
        issues.append(field_issue("auth", "choose none, bearer or smart", "required"))
    base_url = _url(settings.base_url, "base_url", issues, https_only=False)
    if base_url is None and settings.enabled:
        issues.append(
            field_issue("base_url", "enter the EHR's FHIR base URL to enable write-back", "required")
        )
    if base_url is not None and auth in (EhrAuth.BEARER, EhrAuth.SMART) and not _secure(base_url):
        issues.append(
            field_issue("base_url", "use https: credentials are sent to this address (http only on loopback)")
        )
    connect_timeout = _timeout(settings.connect_timeout, "connect_timeout", issues)
    read_timeout = _timeout(settings.read_timeout, "read_timeout", issues)
    credentials_ref = client_id = token_url = scope = signing_alg = None
    if auth == EhrAuth.BEARER:
        credentials_ref = _reference(settings.credentials_ref, issues)
    elif auth == EhrAuth.SMART:
        client_id = _client_id(settings.client_id, issues)
        token_url = _url(settings.token_url, "token_url", issues, https_only=True)
        if token_url is None and not any(issue.field == "token_url" for issue in issues):
            issues.append(field_issue("token_url", "enter the EHR's token URL", "required"))
        scope = _scope(settings.scope, issues)
        signing_alg = _blank_to_none(settings.signing_alg)
        if signing_alg not in SIGNING_ALGORITHMS:
            issues.append(field_issue("signing_alg", "choose RS384 or ES384", "required"))
    if issues:
        raise InvalidInput(
            f"the EHR settings of {site.code} cannot be saved: {len(issues)} problem(s)", issues=issues
        )

    new = {
        "fhir_base_url": base_url,
        "fhir_enabled": bool(settings.enabled),
        "fhir_auth": auth,
        "fhir_credentials_ref": credentials_ref,
        "fhir_client_id": client_id,
        "fhir_token_url": token_url,
        "fhir_scope": scope,
        "fhir_signing_alg": signing_alg,
        "fhir_connect_timeout": connect_timeout,
        "fhir_read_timeout": read_timeout,
    }
    changed = [column for column, value in new.items() if getattr(site, column) != value]
    if changed:
        for column in changed:
            setattr(site, column, new[column])
        record(session, actor, AuditAction.UPDATE, "site", site.id, changed=changed)
        session.flush()
    return changed


def _blank_to_none(value: str | None) -> str | None:
    text = value.strip() if isinstance(value, str) else None
    return text or None


def _name(name: str, issues: list[ChecklistIssue]) -> str:
    text = " ".join(name.split()) if isinstance(name, str) else ""
    if not text or len(text) > NAME_MAX_LENGTH:
        issues.append(field_issue("name", f"enter a name of 1 to {NAME_MAX_LENGTH} characters", "required"))
    return text


def _secure(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "https" or _is_loopback(parts.hostname or "")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url(value: str | None, field: str, issues: list[ChecklistIssue], *, https_only: bool) -> str | None:
    """An absolute http(s) URL without query, fragment or credentials, trailing slashes removed."""
    text = _blank_to_none(value)
    if text is None:
        return None
    wanted = "https://" if https_only else "http:// or https://"
    problem = None
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        parts = None
    if len(text) > _URL_MAX_LENGTH:
        problem = f"a URL is at most {_URL_MAX_LENGTH} characters"
    elif parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        problem = f"enter an absolute address starting {wanted}"
    elif any(char.isspace() or ord(char) < 0x20 or ord(char) == 0x7F for char in text):
        problem = "a URL has no spaces or control characters"
    elif parts.username is not None or parts.password is not None:
        problem = "a URL must not hold a user name or password: credentials are never stored"
    elif "?" in text or "#" in text:
        problem = "a base URL has no query (?) or fragment (#)"
    elif https_only and parts.scheme != "https" and not _is_loopback(parts.hostname):
        problem = "use https (http only on the loopback, for testing)"
    if problem is not None:
        issues.append(field_issue(field, problem))
        return None
    return text.rstrip("/")


def _timeout(value: float | str, field: str, issues: list[ChecklistIssue]) -> float:
    problem = f"enter a number of seconds more than 0 and at most {MAX_TIMEOUT_SECONDS:g}"
    try:
        if isinstance(value, bool):
            raise ValueError(value)
        seconds = float(value.strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        issues.append(field_issue(field, problem, "required" if not str(value).strip() else "invalid"))
        return 0.0
    if not math.isfinite(seconds) or not 0 < seconds <= MAX_TIMEOUT_SECONDS:
        issues.append(field_issue(field, problem))
    return seconds


def _reference(value: str | None, issues: list[ChecklistIssue]) -> str | None:
    text = _blank_to_none(value)
    if text is None:
        issues.append(
            field_issue(
                "credentials_ref", "enter where the bearer token is: env:NAME or file:/path", "required"
            )
        )
        return None
    problem = reference_problem(text)
    if problem is None and len(text) > _REFERENCE_MAX_LENGTH:
        problem = f"a reference is at most {_REFERENCE_MAX_LENGTH} characters"
    if problem is not None:
        issues.append(field_issue("credentials_ref", problem))
        return None
    return text


def _client_id(value: str | None, issues: list[ChecklistIssue]) -> str | None:
    text = _blank_to_none(value)
    if text is None:
        issues.append(field_issue("client_id", "enter the client id the EHR registered", "required"))
    elif len(text) > _CLIENT_ID_MAX_LENGTH or not _CLIENT_ID.fullmatch(text):
        issues.append(
            field_issue("client_id", f"a client id is 1 to {_CLIENT_ID_MAX_LENGTH} characters without spaces")
        )
        return None
    return text


def _scope(value: str | None, issues: list[ChecklistIssue]) -> str | None:
    text = " ".join(value.split()) if isinstance(value, str) else ""
    if not text:
        return None
    if len(text) > _SCOPE_MAX_LENGTH:
        issues.append(field_issue("scope", f"a scope is at most {_SCOPE_MAX_LENGTH} characters"))
        return None
    if not all(_SCOPE_TOKEN.fullmatch(token) for token in text.split(" ")):
        issues.append(field_issue("scope", 'give scopes separated by spaces, without " or \\'))
        return None
    return text


# -- units ------------------------------------------------------------------------------------------------


def units_of(session: AnySession, site: Site | None = None) -> list[Unit]:
    """Every unit (of ``site``), by site code then unit code."""
    query = select(Unit).join(Unit.site).order_by(Site.code, Unit.code)
    if site is not None:
        query = query.where(Unit.site_id == site.id)
    return list(session.scalars(query))


def create_unit(session: AnySession, actor: Actor, site: Site, *, code: str, name: str) -> Unit:
    """A new active unit of ``site`` offering no care bundle yet. Raises InvalidInput or Conflict."""
    code = code.strip()
    issues: list[ChecklistIssue] = []
    if not UNIT_CODE.fullmatch(code):
        issues.append(
            field_issue(
                "code",
                "give a unit code of 1 to 32 lower-case letters, digits, '.', '_' or '-', "
                "such as labour-ward",
            )
        )
    name = _name(name, issues)
    if issues:
        raise InvalidInput(f"the unit cannot be added: {len(issues)} problem(s)", issues=issues)
    if any(unit.code == code for unit in site.units):
        raise Conflict(
            f"{site.code} already has a unit {code}",
            issues=[field_issue("code", f"{site.code} already has a unit with the code {code}", "duplicate")],
        )
    unit = Unit(code=code, name=name)
    site.units.append(unit)
    session.flush()
    record(session, actor, AuditAction.CREATE, "unit", unit.id, site=site.code, code=unit.code)
    session.flush()
    return unit


def set_unit_active(session: AnySession, actor: Actor, unit: Unit, active: bool) -> bool:
    """Deactivate a unit (no new checklists start there; its records stay) or reactivate it. False when
    it already was so (nothing written)."""
    if unit.active == active:
        return False
    unit.active = active
    record(session, actor, AuditAction.UPDATE, "unit", unit.id, active=active)
    session.flush()
    return True


@dataclass(frozen=True)
class CareBundleOption:
    """A care bundle a unit can offer: its id, the title of its latest version, and every loaded version,
    newest first."""

    care_bundle_id: str
    title: str
    latest_version: str
    versions: tuple[str, ...]


def care_bundle_options(catalogue: CareBundleCatalogue) -> list[CareBundleOption]:
    """Every loaded care bundle, by title."""
    options = []
    for care_bundle_id, latest in catalogue.latest.items():
        versions = [entry.version for entry in catalogue if entry.care_bundle.id == care_bundle_id]
        options.append(
            CareBundleOption(
                care_bundle_id, latest.care_bundle.title, latest.version, tuple(reversed(versions))
            )
        )
    return sorted(options, key=lambda option: (option.title.lower(), option.care_bundle_id))


def enable_care_bundle(
    session: AnySession,
    actor: Actor,
    catalogue: CareBundleCatalogue,
    unit: Unit,
    care_bundle_id: str,
    version: str | None = None,
) -> UnitCareBundle:
    """Offer a care bundle on ``unit`` at its latest version (``version`` None, blank or ``latest``) or
    pinned to a version loaded in ``catalogue``; on a unit that offers it already, change the pin.

    Checklists already started keep their version. Raises InvalidInput (field ``care_bundle_id`` or
    ``version``) for a care bundle or version that is not loaded.
    """
    care_bundle_id = care_bundle_id.strip()
    pinned = _blank_to_none(version)
    if pinned == LATEST:
        pinned = None
    if catalogue.get(care_bundle_id) is None:
        raise InvalidInput(
            f"no care bundle {care_bundle_id!r} is loaded",
            issues=[field_issue("care_bundle_id", f"no care bundle {care_bundle_id!r} is loaded")],
        )
    if pinned is not None and catalogue.get(care_bundle_id, pinned) is None:
        loaded = ", ".join(_versions(catalogue, care_bundle_id))
        message = f"version {pinned!r} of {care_bundle_id} is not loaded: choose latest or one of {loaded}"
        raise InvalidInput(message, issues=[field_issue("version", message)])
    link = unit.care_bundle_link(care_bundle_id)
    if link is not None and link.pinned_version == pinned:
        return link
    previous: str | None = None
    if link is None:
        link = UnitCareBundle(care_bundle_id=care_bundle_id, pinned_version=pinned)
        unit.care_bundle_links.append(link)
    else:
        previous = link.pinned_version or LATEST
        link.pinned_version = pinned
    record(
        session,
        actor,
        AuditAction.UPDATE,
        "unit",
        unit.id,
        care_bundle_id=care_bundle_id,
        offered=pinned or LATEST,
        previously=previous,
    )
    session.flush()
    return link


def disable_care_bundle(session: AnySession, actor: Actor, unit: Unit, care_bundle_id: str) -> None:
    """Stop offering a care bundle on ``unit`` (its checklists stay). Raises NotFound if it was not."""
    link = unit.care_bundle_link(care_bundle_id)
    if link is None:
        message = f"this unit does not offer the care bundle {care_bundle_id}"
        raise NotFound(message, issues=[field_issue("care_bundle_id", message, "not-found")])
    unit.care_bundle_links.remove(link)
    record(session, actor, AuditAction.UPDATE, "unit", unit.id, care_bundle_id=care_bundle_id, offered=None)
    session.flush()


def _versions(catalogue: CareBundleCatalogue, care_bundle_id: str) -> Sequence[str]:
    return [entry.version for entry in catalogue if entry.care_bundle.id == care_bundle_id]
