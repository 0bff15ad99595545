"""FHIR R4 REST API under ``/fhir`` (``application/fhir+json``); every error is an ``OperationOutcome``."""

from __future__ import annotations

from service.fhir_api import (  # noqa: F401  (they add their routes to bp)
    definitions,
    measures,
    questionnaire_response_reads,
    questionnaire_responses,
)
from service.fhir_api.errors import register_error_handlers
from service.fhir_api.views import bp

__all__ = ["bp", "register_error_handlers"]
