"""Generic SDC validation of QuestionnaireResponses against Questionnaires (FHIR R4), on plain JSON."""

from __future__ import annotations

from fhir_adapters.sdc.compiled import CompiledQuestionnaire, compile_questionnaire
from fhir_adapters.sdc.issues import TerminologyCheck, Verdict, terminology_checks, verdict
from fhir_adapters.sdc.validate import (
    INCOMPLETE_STATUSES,
    EnabledKey,
    enabled_items,
    to_operation_outcome,
    validate_response,
)

__all__ = [
    "INCOMPLETE_STATUSES",
    "CompiledQuestionnaire",
    "EnabledKey",
    "TerminologyCheck",
    "Verdict",
    "compile_questionnaire",
    "enabled_items",
    "terminology_checks",
    "to_operation_outcome",
    "validate_response",
    "verdict",
]
