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


#: What an OperationOutcome carries at most: issues (the rest are counted in a last one), and characters of
#: one issue's diagnostics. Hostile input must not make a large answer.
MAX_ISSUES = 100
MAX_DIAGNOSTICS = 500
#: Characters of a client's value repeated in a message (:func:`echo`).
ECHO_CHARS = 40


def echo(value: object) -> str:
    """A value the client sent, as a message may repeat it: at most :data:`ECHO_CHARS` characters, quoted,
    with anything that is not valid Unicode escaped. Never use it for free text (it may be patient data)."""
    text = value if isinstance(value, str) else repr(value)
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    if len(text) > ECHO_CHARS:
        text = text[: ECHO_CHARS - 1] + "…"
    return f"'{text}'"


def has_errors(issues: Iterable[Issue]) -> bool:
    return any(issue.is_error for issue in issues)


def operation_outcome(issues: Iterable[Issue]) -> dict[str, Any]:
    """An OperationOutcome resource (as JSON) with one ``issue`` per problem.

    An empty list becomes the single informational "All OK" issue, since R4 requires at least one issue. At
    most :data:`MAX_ISSUES` issues are listed (a last one counts the rest), each diagnostics at most
    :data:`MAX_DIAGNOSTICS` characters.
    """
    rendered: list[dict[str, Any]] = []
    left_out = 0
    for issue in issues:
        if len(rendered) == MAX_ISSUES:
            left_out += 1
            continue
        diagnostics = issue.diagnostics
        if len(diagnostics) > MAX_DIAGNOSTICS:
            diagnostics = diagnostics[: MAX_DIAGNOSTICS - 1] + "…"
        entry: dict[str, Any] = {
            "severity": issue.severity,
            "code": issue.code,
            "diagnostics": diagnostics,
        }
        if issue.expression:
            entry["expression"] = [issue.expression]
        rendered.append(entry)
    if left_out:
        rendered.append(
            {
                "severity": "information",
                "code": "informational",
                "diagnostics": f"{left_out} more issue{'s' if left_out != 1 else ''} not shown",
            }
        )
    if not rendered:
        rendered.append({"severity": "information", "code": "informational", "diagnostics": "All OK"})
    return {"resourceType": "OperationOutcome", "issue": rendered}
