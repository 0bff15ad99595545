"""Validating a QuestionnaireResponse against its Questionnaire: the public entry points.

Typical use: ``compiled = compile_questionnaire(q)`` once per Questionnaire version, then
``validate_questionnaire_response(compiled, data)`` per response, and ``to_operation_outcome(issues)`` to
answer a client. ``verdict(issues)`` says ``valid`` / ``invalid`` / ``needs-terminology``; the
``TerminologyCheck`` issues (``terminology_checks``) list what a terminology server would still have to
confirm. The rules live in ``fhir_adapters.sdc``; the JSON shape checks in ``fhir_adapters.strict_json``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fhir_adapters.operation_outcome import Issue, has_errors
from fhir_adapters.sdc import (
    INCOMPLETE_STATUSES,
    CompiledQuestionnaire,
    TerminologyCheck,
    Verdict,
    compile_questionnaire,
    terminology_checks,
    to_operation_outcome,
    validate_response,
    verdict,
)
from fhir_adapters.strict_json import check_questionnaire_response_json

__all__ = [
    "INCOMPLETE_STATUSES",
    "CompiledQuestionnaire",
    "TerminologyCheck",
    "Verdict",
    "check_questionnaire_response_json",
    "compile_questionnaire",
    "terminology_checks",
    "to_operation_outcome",
    "validate_questionnaire_response",
    "validate_response",
    "verdict",
]


def validate_questionnaire_response(
    questionnaire: Mapping[str, Any] | CompiledQuestionnaire | None, data: Any
) -> list[Issue]:
    """Strict FHIR JSON checks, then the SDC rules against ``questionnaire`` (None: not found).

    The SDC rules run only on well-formed JSON: on malformed input they would repeat the same answer
    errors in other words, so the structural errors come back alone, as with other FHIR validators.
    """
    issues = check_questionnaire_response_json(data)
    if has_errors(issues):
        return issues
    return issues + validate_response(questionnaire, data)
