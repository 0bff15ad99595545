"""Reading what a FHIR client sends: strict JSON bodies, the resource inside ``Parameters``, what it names.

No routes here: every ``/fhir`` route is in :mod:`service.fhir_api.views`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from flask import request

from fhir_adapters.operation_outcome import Issue
from fhir_adapters.sdc import CompiledQuestionnaire
from service.care_bundles import CareBundleCatalogue
from service.errors import CareloopError, InvalidInput

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


def questionnaire_response_from(body: Any) -> dict[str, Any]:
    """The QuestionnaireResponse sent, alone or (as ``$validate`` allows) as the ``resource`` parameter."""
    if isinstance(body, dict) and body.get("resourceType") == "Parameters":
        body = _resource_from_parameters(body)
    if not isinstance(body, dict) or body.get("resourceType") != "QuestionnaireResponse":
        raise InvalidInput(
            "expected a QuestionnaireResponse",
            issues=[Issue("error", "structure", "expected a QuestionnaireResponse", "QuestionnaireResponse")],
        )
    return body


def _resource_from_parameters(body: dict[str, Any]) -> Any:
    for parameter in body.get("parameter") or ():
        if isinstance(parameter, dict) and parameter.get("name") == "resource":
            return parameter.get("resource")
    raise InvalidInput("Parameters must carry the QuestionnaireResponse in a 'resource' parameter")


def named_questionnaire(
    catalogue: CareBundleCatalogue, response: Mapping[str, Any]
) -> CompiledQuestionnaire | None:
    """The compiled Questionnaire a response names (``url|version``; a bare url means the latest version)."""
    reference = response.get("questionnaire")
    entry = catalogue.by_canonical.get(reference) if isinstance(reference, str) else None
    return entry.compiled_questionnaire if entry is not None else None
