"""One exception hierarchy for the domain; each blueprint renders it its own way.

A domain function raises these and never calls ``abort``: the FHIR API renders an ``OperationOutcome``, the
ward pages a form error or an error page. Messages must never contain patient identifiers or free text.
"""

from __future__ import annotations

from collections.abc import Sequence

from fhir_adapters.operation_outcome import Issue


class CareloopError(Exception):
    """Base class: an HTTP status and a FHIR issue type code travel with the message."""

    status = 400
    fhir_code = "processing"

    def __init__(self, message: str, *, issues: Sequence[Issue] = (), expression: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self._issues = tuple(issues)
        self.expression = expression

    @property
    def issues(self) -> tuple[Issue, ...]:
        """The problems, one per issue; a single error issue built from the message when none were given."""
        return self._issues or (Issue("error", self.fhir_code, self.message, self.expression),)


class InvalidInput(CareloopError):
    status = 400
    fhir_code = "invalid"


class Forbidden(CareloopError):
    """The actor may not do this (e.g. re-evaluation is for admins only)."""

    status = 403
    fhir_code = "forbidden"


class NotFound(CareloopError):
    status = 404
    fhir_code = "not-found"


class NotAcceptable(CareloopError):
    status = 406
    fhir_code = "not-supported"


class Conflict(CareloopError):
    status = 409
    fhir_code = "conflict"


class StaleVersion(Conflict):
    """A change based on a version that is not the checklist's current one (a lost update refused).

    ``current_version`` is the version the change should have been based on; None when a concurrent change
    was detected only at write time and the caller must read the checklist again to learn it.
    """

    def __init__(
        self,
        message: str,
        *,
        current_version: int | None,
        issues: Sequence[Issue] = (),
        expression: str | None = None,
    ) -> None:
        super().__init__(message, issues=issues, expression=expression)
        self.current_version = current_version


class PreconditionFailed(CareloopError):
    status = 412
    fhir_code = "conflict"


class Unprocessable(CareloopError):
    """Well-formed input that breaks the Questionnaire's or the care bundle's rules."""

    status = 422
    fhir_code = "processing"
