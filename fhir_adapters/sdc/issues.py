"""Issues the SDC validator adds to the shared ``Issue``: a marker for checks that need a terminology server.

A caller without a terminology server can still tell "no errors, but these bindings were not checked" from
"valid" (``verdict``), and a caller with one can run ``$validate-code`` on each ``TerminologyCheck``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from fhir_adapters.operation_outcome import Issue

TerminologyReason = Literal["value-set", "unit-value-set", "unit-conversion"]
Verdict = Literal["valid", "invalid", "needs-terminology"]


@dataclass(frozen=True)
class TerminologyCheck(Issue):
    """An answer whose verdict depends on a terminology server: membership of ``value_set`` (an
    ``answerValueSet`` or a unit value set) or a UCUM conversion. Severity is always ``information``."""

    reason: TerminologyReason = "value-set"
    value_set: str | None = None
    value: Any = field(default=None, compare=False)


def terminology_check(
    reason: TerminologyReason, diagnostics: str, expression: str, value_set: str | None, value: Any
) -> TerminologyCheck:
    return TerminologyCheck(
        severity="information",
        code="informational",
        diagnostics=f"Needs terminology ({reason}): {diagnostics}",
        expression=expression,
        reason=reason,
        value_set=value_set,
        value=value,
    )


def terminology_checks(issues: Iterable[Issue]) -> list[TerminologyCheck]:
    return [issue for issue in issues if isinstance(issue, TerminologyCheck)]


def verdict(issues: Iterable[Issue]) -> Verdict:
    """``invalid`` on any error or fatal issue; else ``needs-terminology`` when a binding went unchecked."""
    pending = False
    for issue in issues:
        if issue.is_error:
            return "invalid"
        pending = pending or isinstance(issue, TerminologyCheck)
    return "needs-terminology" if pending else "valid"
