"""Problems found in FHIR input, and their rendering as an R4 ``OperationOutcome``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

Severity = Literal["fatal", "error", "warning", "information"]


@dataclass(frozen=True)
class Issue:
    """One problem: FHIR severity, FHIR issue type code (``invalid``, ``required``, ``value``, ``not-found``,
    ``structure``...), a message for people, and the FHIR path it concerns
    (``QuestionnaireResponse.item[2].answer[0]``), if any."""

    severity: Severity
    code: str
    diagnostics: str
    expression: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity in ("fatal", "error")


def has_errors(issues: Iterable[Issue]) -> bool:
    return any(issue.is_error for issue in issues)


def operation_outcome(issues: Iterable[Issue]) -> dict[str, Any]:
    """An OperationOutcome resource (as JSON) with one ``issue`` per problem.

    An empty list becomes the single informational "All OK" issue, since R4 requires at least one issue.
    """
    rendered: list[dict[str, Any]] = []
    for issue in issues:
        entry: dict[str, Any] = {
            "severity": issue.severity,
            "code": issue.code,
            "diagnostics": issue.diagnostics,
        }
        if issue.expression:
            entry["expression"] = [issue.expression]
        rendered.append(entry)
    if not rendered:
        rendered.append({"severity": "information", "code": "informational", "diagnostics": "All OK"})
    return {"resourceType": "OperationOutcome", "issue": rendered}
