"""``POST /fhir/QuestionnaireResponse/$validate``: the strict input path every response takes.

Strict FHIR JSON first (``"valueBoolean": "yes"`` and ``"status": "bogus"`` are errors, not coerced), then the
SDC rules against the care bundle's Questionnaire that ``questionnaire`` names. As FHIR's ``$validate`` says,
a response that could be read gets 200 with an OperationOutcome listing its problems; input that is not a
JSON resource at all gets 400.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from flask import Response, current_app, request

from fhir_adapters.operation_outcome import Issue
from fhir_adapters.questionnaire import canonical_url
from fhir_adapters.sdc_validation import (
    CompiledQuestionnaire,
    compile_questionnaire,
    to_operation_outcome,
    validate_questionnaire_response,
)
from service.care_bundles import CareBundleRegistry
from service.errors import CareloopError, InvalidInput
from service.fhir_api.responses import fhir_response
from service.fhir_api.views import bp, questionnaires

_JSON_TYPES = ("application/fhir+json", "application/json")


class UnsupportedMediaType(CareloopError):
    status = 415
    fhir_code = "not-supported"


def read_fhir_json() -> Any:
    """The request body as JSON: decimals kept exactly, NaN and Infinity refused (they are not JSON)."""
    if request.mimetype not in _JSON_TYPES:
        raise UnsupportedMediaType(f"send application/fhir+json, not {request.mimetype or 'no Content-Type'}")

    def no_constants(name: str) -> Any:
        raise ValueError(f"{name} is not a JSON number")

    try:
        return json.loads(request.get_data(cache=False), parse_float=Decimal, parse_constant=no_constants)
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidInput(f"the body is not valid JSON: {error}") from error


def compiled_questionnaires() -> dict[str, CompiledQuestionnaire]:
    """Compiled Questionnaires by ``url|version``, built once per app from the immutable registry."""
    cached: dict[str, CompiledQuestionnaire] | None = current_app.extensions.get("compiled_questionnaires")
    if cached is None:
        cached = {
            f"{resource['url']}|{resource['version']}": compile_questionnaire(resource)
            for resource in questionnaires().values()
        }
        current_app.extensions["compiled_questionnaires"] = cached
    return cached


def find_questionnaire(reference: Any) -> CompiledQuestionnaire | None:
    """The Questionnaire a response names (``url|version``; a bare url means the latest published version)."""
    if not isinstance(reference, str):
        return None
    compiled = compiled_questionnaires()
    if "|" in reference:
        return compiled.get(reference)
    registry: CareBundleRegistry = current_app.extensions["care_bundles"]
    for care_bundle in registry:
        if canonical_url(care_bundle) == reference:
            latest = registry.get(care_bundle.id)
            assert latest is not None
            return compiled[f"{reference}|{latest.version}"]
    return None


def _resource_from_parameters(body: dict[str, Any]) -> Any:
    """``$validate`` may receive the resource itself or a Parameters resource with a ``resource`` part."""
    for parameter in body.get("parameter") or ():
        if isinstance(parameter, dict) and parameter.get("name") == "resource":
            return parameter.get("resource")
    raise InvalidInput("Parameters must carry the QuestionnaireResponse in a 'resource' parameter")


@bp.post("/QuestionnaireResponse/$validate")
def validate_questionnaire_response_operation() -> Response:
    body = read_fhir_json()
    if isinstance(body, dict) and body.get("resourceType") == "Parameters":
        body = _resource_from_parameters(body)
    if not isinstance(body, dict) or body.get("resourceType") != "QuestionnaireResponse":
        raise InvalidInput(
            "expected a QuestionnaireResponse",
            issues=[Issue("error", "structure", "expected a QuestionnaireResponse", "QuestionnaireResponse")],
        )
    questionnaire = find_questionnaire(body.get("questionnaire"))
    issues = validate_questionnaire_response(questionnaire, body)
    return fhir_response(to_operation_outcome(issues))
