"""The outbound EHR client: writes one version of a checklist's QuestionnaireResponse, exactly once.

- A first write is a conditional create, ``POST [base]/QuestionnaireResponse`` with ``If-None-Exist:
  identifier=<system>|<checklist id>``: sending it twice (a lost answer, a worker killed mid-request) finds
  the first. A 200 with an existing resource is success when it holds what we send; when it holds an earlier
  version of ours we ``PUT`` ours over it; when it holds anything else, someone else wrote it: we stop.
- A later write (amendment, entered in error) is ``PUT [base]/QuestionnaireResponse/<ehr id>`` with
  ``If-Match`` on the version the EHR last gave us. On 412 we read the resource: if its current version is
  one we wrote (a version id we recorded, or content equal to one of our versions) we retry on that version,
  or stop if it already holds what we send; if anyone else changed it, we stop with :class:`ChangedInEhr`.
  We never overwrite a clinician's change.
- Errors are typed (:mod:`fhir_adapters.ehr_errors`): retryable or not, with the EHR's OperationOutcome.

Pure: no Flask, no database. Settings, the ``requests.Session``, the authenticator and the clock are given.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import requests

from fhir_adapters.ehr_auth import Authenticator, NoAuth
from fhir_adapters.ehr_errors import (
    AuthenticationRefused,
    ChangedInEhr,
    EhrRejected,
    EhrUnavailable,
    bounded_outcome,
    outcome_summary,
    read_json,
    retry_after,
)

FHIR_JSON = "application/fhir+json"
#: Statuses worth sending again (RFC 9110: 408 timeout, 429 too many, and server errors).
RETRYABLE_STATUSES = frozenset({408, 429})
#: 412 -> re-read -> PUT again: how many times before giving up for now (another writer racing with us).
MAX_PRECONDITION_ROUNDS = 3
#: Top-level elements the server owns: not part of what we compare.
SERVER_ELEMENTS = frozenset({"id", "meta", "text"})


@dataclass(frozen=True)
class EhrEndpoint:
    base_url: str
    connect_timeout: float = 5.0
    read_timeout: float = 30.0

    def url(self, *parts: str) -> str:
        return "/".join([self.base_url.rstrip("/"), *(quote(part, safe="") for part in parts)])


@dataclass(frozen=True)
class EhrCopy:
    """Where our resource is in the EHR: its id and the version the EHR last gave us."""

    resource_id: str
    version_id: str | None


@dataclass(frozen=True)
class Written:
    """The outcome of a delivery: the EHR's id and version, the last HTTP status, and what happened."""

    resource_id: str
    version_id: str | None
    status_code: int
    #: created | updated | already-there (our write whose answer was lost, found again)
    outcome: str


@dataclass(frozen=True)
class Ours:
    """What we know of our own earlier writes of this checklist, to tell them from someone else's."""

    #: EHR version ids we recorded for our writes.
    version_ids: Collection[str] = ()
    #: Our earlier versions of the resource (snapshots), compared without server-owned elements.
    documents: Sequence[dict[str, Any]] = ()


def for_ehr(snapshot: dict[str, Any]) -> dict[str, Any]:
    """What we send for a stored snapshot: the EHR owns ``id``, ``meta.versionId`` and ``meta.lastUpdated``
    (our snapshot's are Careloop's); profiles, tags and security labels go as they are."""
    document = {key: value for key, value in snapshot.items() if key != "id"}
    meta = snapshot.get("meta")
    if isinstance(meta, dict):
        kept = {
            key: value for key, value in meta.items() if key not in ("versionId", "lastUpdated", "source")
        }
        if kept:
            document["meta"] = kept
        else:
            document.pop("meta")
    return document


def same_content(left: dict[str, Any], right: dict[str, Any]) -> bool:
    """Equal once the elements the server owns (id, meta, narrative) are set aside."""
    return {k: v for k, v in left.items() if k not in SERVER_ELEMENTS} == {
        k: v for k, v in right.items() if k not in SERVER_ELEMENTS
    }


class EhrClient:
    def __init__(
        self,
        endpoint: EhrEndpoint,
        session: requests.Session,
        auth: Authenticator | None = None,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.endpoint = endpoint
        self.session = session
        self.auth = auth or NoAuth()
        self._now = now

    # -- the two writes ------------------------------------------------------------------------------------

    def deliver(
        self,
        document: dict[str, Any],
        *,
        identifier_system: str,
        identifier_value: str,
        copy: EhrCopy | None,
        ours: Ours | None = None,
    ) -> Written:
        """Write ``document`` (a QuestionnaireResponse): create it, or update the copy the EHR holds."""
        ours = ours or Ours()
        if copy is None:
            return self.create(document, identifier_system, identifier_value, ours)
        return self.update(document, copy, ours)

    def create(
        self, document: dict[str, Any], identifier_system: str, identifier_value: str, ours: Ours
    ) -> Written:
        body = {key: value for key, value in document.items() if key != "id"}
        response, found = self._send(
            "POST",
            self.endpoint.url("QuestionnaireResponse"),
            body,
            {"If-None-Exist": identifier_search(identifier_system, identifier_value)},
        )
        copy = self._copy_of(response, found)
        if response.status_code == 201:
            return Written(copy.resource_id, copy.version_id, 201, "created")
        # 200: the EHR already holds a QuestionnaireResponse with this identifier.
        if found is None or found.get("resourceType") != "QuestionnaireResponse":
            found = self.read(copy.resource_id)
            copy = EhrCopy(copy.resource_id, _version_of(found) or copy.version_id)
        if same_content(found, document):
            return Written(copy.resource_id, copy.version_id, response.status_code, "already-there")
        if _is_ours(found, copy, ours):
            return self.update(document, copy, ours)
        raise ChangedInEhr(
            "the EHR already holds a QuestionnaireResponse with this checklist's identifier that Careloop "
            "did not write (or that was changed in the EHR): not overwritten",
            status_code=response.status_code,
        )

    def update(self, document: dict[str, Any], copy: EhrCopy, ours: Ours) -> Written:
        url = self.endpoint.url("QuestionnaireResponse", copy.resource_id)
        body = {**document, "id": copy.resource_id}
        for _ in range(MAX_PRECONDITION_ROUNDS):
            headers = {"If-Match": f'W/"{copy.version_id}"'} if copy.version_id else {}
            response, found = self._send("PUT", url, body, headers, expect=(200, 201, 412, 404, 410))
            if response.status_code in (200, 201):
                written = self._copy_of(response, found, default_id=copy.resource_id)
                return Written(written.resource_id, written.version_id, response.status_code, "updated")
            if response.status_code in (404, 410):
                raise ChangedInEhr(
                    f"the QuestionnaireResponse was deleted in the EHR ({response.status_code}): not written "
                    "again",
                    status_code=response.status_code,
                )
            # 412: the EHR's copy moved on since our last write. Whose change was it?
            current = self.read(copy.resource_id)
            current_copy = EhrCopy(copy.resource_id, _version_of(current))
            if same_content(current, document):
                return Written(copy.resource_id, current_copy.version_id, 412, "already-there")
            if not _is_ours(current, current_copy, ours):
                raise ChangedInEhr(
                    "the QuestionnaireResponse was changed in the EHR since Careloop last wrote it: not "
                    "overwritten; review the EHR's version, then requeue or close this delivery",
                    status_code=412,
                )
            copy = current_copy
        raise EhrUnavailable(
            f"the EHR's version kept moving during {MAX_PRECONDITION_ROUNDS} attempts: trying later",
            status_code=412,
        )

    def read(self, resource_id: str) -> dict[str, Any]:
        url = self.endpoint.url("QuestionnaireResponse", resource_id)
        response, found = self._send("GET", url, None, {}, expect=(200, 404, 410))
        if response.status_code != 200 or found is None:
            raise ChangedInEhr(
                f"the QuestionnaireResponse is gone from the EHR ({response.status_code}): not written again",
                status_code=response.status_code,
            )
        return found

    # -- one HTTP exchange, typed ------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        url: str,
        body: dict[str, Any] | None,
        headers: dict[str, str],
        *,
        expect: tuple[int, ...] = (200, 201),
    ) -> tuple[requests.Response, dict[str, Any] | None]:
        """One request (and one more with a new token after a 401); raises unless the status is expected."""
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        for renew in (False, True):
            sent = {"Accept": FHIR_JSON, **headers}
            if data is not None:
                sent["Content-Type"] = f"{FHIR_JSON}; charset=utf-8"
            authorization = self.auth.authorization(self.session, renew=renew)
            if authorization:
                sent["Authorization"] = authorization
            try:
                response = self.session.request(
                    method,
                    url,
                    data=data,
                    headers=sent,
                    timeout=(self.endpoint.connect_timeout, self.endpoint.read_timeout),
                    allow_redirects=False,
                    stream=True,
                )
            except requests.Timeout as error:
                message = f"{method} timed out: {type(error).__name__}"
                raise EhrUnavailable(message, status_code=None) from error
            except requests.RequestException as error:
                message = f"{method} failed: {type(error).__name__}"
                raise EhrUnavailable(message, status_code=None) from error
            try:
                found = read_json(response)
            except requests.RequestException as error:  # the connection broke while the body was read
                raise EhrUnavailable(
                    f"{method} answer cut short: {type(error).__name__}", status_code=None
                ) from error
            if response.status_code == 401 and not renew:
                continue
            break
        status = response.status_code
        if status in expect:
            return response, found
        outcome = bounded_outcome(found)
        summary = outcome_summary(found)
        message = f"{method} QuestionnaireResponse: {status} {response.reason or ''}".rstrip()
        if summary:
            message += f": {summary}"
        if status == 401:
            raise AuthenticationRefused(message, status_code=status, outcome=outcome)
        if status in RETRYABLE_STATUSES or status >= 500:
            raise EhrUnavailable(
                message, status_code=status, outcome=outcome, retry_after=retry_after(response, self._now())
            )
        raise EhrRejected(message, status_code=status, outcome=outcome)

    def _copy_of(
        self, response: requests.Response, found: dict[str, Any] | None, *, default_id: str | None = None
    ) -> EhrCopy:
        """The id and version of what the EHR answered: body ``id``/``meta``, else Location and ETag."""
        resource_id = found.get("id") if found else None
        version_id = _version_of(found) if found else None
        headers = response.headers
        location = _location_parts(headers.get("Location") or headers.get("Content-Location"))
        if not resource_id and location:
            resource_id = location[0]
        if not version_id:
            version_id = _etag_version(response.headers.get("ETag")) or (location[1] if location else None)
        resource_id = resource_id or default_id
        if not isinstance(resource_id, str) or not resource_id:
            raise EhrRejected(
                f"the EHR answered {response.status_code} without saying where the resource is (no id, no "
                "Location)",
                status_code=response.status_code,
            )
        return EhrCopy(resource_id, version_id)


def _is_ours(found: dict[str, Any], copy: EhrCopy, ours: Ours) -> bool:
    if copy.version_id is not None and copy.version_id in ours.version_ids:
        return True
    return any(same_content(found, document) for document in ours.documents)


def _version_of(resource: dict[str, Any] | None) -> str | None:
    meta = resource.get("meta") if resource else None
    version = meta.get("versionId") if isinstance(meta, dict) else None
    return version if isinstance(version, str) and version else None


def _etag_version(etag: str | None) -> str | None:
    """``W/"3"`` -> ``3`` (FHIR servers give the version id as a weak ETag)."""
    if not etag:
        return None
    value = etag.strip()
    value = value.removeprefix("W/")
    return value.strip('"') or None


def _location_parts(location: str | None) -> tuple[str, str | None] | None:
    """``.../QuestionnaireResponse/<id>[/_history/<vid>]`` -> (id, vid)."""
    if not location:
        return None
    parts = location.split("?", 1)[0].rstrip("/").split("/")
    if "QuestionnaireResponse" not in parts:
        return None
    at = len(parts) - 1 - parts[::-1].index("QuestionnaireResponse")
    rest = parts[at + 1 :]
    if not rest:
        return None
    version = rest[2] if len(rest) >= 3 and rest[1] == "_history" else None
    return rest[0], version


def identifier_search(system: str, value: str) -> str:
    """``identifier=<system>|<value>``, escaped as a FHIR search (for ``If-None-Exist`` and searches)."""
    return f"identifier={_search_token(system)}|{_search_token(value)}"


def _search_token(value: str) -> str:
    """FHIR search escaping of ``|``, ``,`` and ``$`` in a token part, then URL-encoding for a header."""
    escaped = value.replace("\\", "\\\\").replace("|", "\\|").replace(",", "\\,").replace("$", "\\$")
    return quote(escaped, safe=":/.-_~")
