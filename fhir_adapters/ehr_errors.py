"""What can go wrong talking to an EHR, typed by what the caller should do about it.

- :class:`EhrUnavailable`: try again later (network error, timeout, 408, 429, 5xx); may carry the EHR's
  ``Retry-After``.
- :class:`AuthenticationRefused`: the EHR or its token endpoint refused our credentials. Retryable too: it is
  the site's configuration, not the checklist, that needs fixing, and once it is fixed the backlog drains.
- :class:`EhrRejected`: a 4xx that sending the same thing again cannot fix; carries the EHR's
  OperationOutcome. A dead letter.
- :class:`ChangedInEhr`: someone changed or deleted the resource in the EHR since we last wrote it. We stop
  rather than overwrite a clinician's change. A dead letter.

Messages never carry patient data: status lines, error classes and OperationOutcome issue summaries only.
"""

from __future__ import annotations

import email.utils
import json
from datetime import UTC, datetime
from typing import Any

import requests

#: An EHR answer larger than this is not read (a QuestionnaireResponse or OperationOutcome is far smaller).
MAX_RESPONSE_BYTES = 2 * 1024 * 1024
#: Retry-After beyond this is taken as this: an EHR asking for a day's pause is paused for an hour at a time.
MAX_RETRY_AFTER = 3600.0


class EhrError(Exception):
    retryable = False

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None,
        outcome: dict[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.outcome = outcome
        self.retry_after = retry_after


class EhrUnavailable(EhrError):
    retryable = True


class AuthenticationRefused(EhrError):
    retryable = True


class EhrRejected(EhrError):
    pass


class ChangedInEhr(EhrError):
    pass


def read_json(response: requests.Response) -> dict[str, Any] | None:
    """The JSON object of an answer, or None (empty, not JSON, not an object, or too large)."""
    body = read_body(response)
    if not body:
        return None
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return document if isinstance(document, dict) else None


def read_body(response: requests.Response) -> bytes:
    """At most :data:`MAX_RESPONSE_BYTES` of the answer's body; more is treated as no body."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > MAX_RESPONSE_BYTES:
        response.close()
        return b""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(chunk_size=65536):
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            response.close()
            return b""
        chunks.append(chunk)
    return b"".join(chunks)


def retry_after(response: requests.Response, now: datetime) -> float | None:
    """Seconds the EHR asked us to wait (``Retry-After``: delta-seconds or an HTTP-date), capped."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max(0.0, (when - now).total_seconds()), MAX_RETRY_AFTER)


def outcome_summary(outcome: dict[str, Any] | None, *, limit: int = 3) -> str:
    """The first issues of an OperationOutcome as ``severity code: text (expression)``, for admins.

    EHRs write these for people; they describe the resource's structure (codes, paths), not the patient.
    Each is cut short, so a server that echoes a value back cannot fill the admin page with it.
    """
    if not outcome or outcome.get("resourceType") != "OperationOutcome":
        return ""
    parts = []
    issues = _issues(outcome)
    for issue in issues[:limit]:
        if not isinstance(issue, dict):
            continue
        raw_details = issue.get("details")
        details: dict[str, Any] = raw_details if isinstance(raw_details, dict) else {}
        text = issue.get("diagnostics") or details.get("text") or ""
        expression = issue.get("expression")
        where = (
            f" ({', '.join(str(e)[:80] for e in expression[:2])})"
            if isinstance(expression, list) and expression
            else ""
        )
        parts.append(f"{issue.get('severity', '?')} {issue.get('code', '?')}: {str(text)[:160]}{where}")
    more = len(issues) - limit
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)


def bounded_outcome(outcome: dict[str, Any] | None, *, max_issues: int = 20) -> dict[str, Any] | None:
    """An OperationOutcome kept for the dead letter: at most ``max_issues`` issues, nothing else."""
    if not outcome or outcome.get("resourceType") != "OperationOutcome":
        return None
    return {"resourceType": "OperationOutcome", "issue": _issues(outcome)[:max_issues]}


def _issues(outcome: dict[str, Any]) -> list[Any]:
    issues = outcome.get("issue")
    return issues if isinstance(issues, list) else []
