"""Reading what a FHIR client sends: strict JSON bodies, the resource inside ``Parameters``, what it names.

No routes here: every ``/fhir`` route is in :mod:`service.fhir_api.views`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from flask import current_app, request

from fhir_adapters.operation_outcome import Issue, echo
from fhir_adapters.sdc import CompiledQuestionnaire
from service.care_bundles import CareBundleCatalogue
from service.errors import CareloopError, InvalidInput

_JSON_TYPES = ("application/fhir+json", "application/json")


class UnsupportedMediaType(CareloopError):
    status = 415
    fhir_code = "not-supported"


class PayloadTooLarge(CareloopError):
    status = 413
    fhir_code = "too-long"


#: How deep a body's JSON may nest: a QuestionnaireResponse nests four levels per level of items, so this
#: allows well over a dozen levels of items, and keeps every recursive reader of it far from Python's limit.
MAX_JSON_DEPTH = 64


def read_fhir_json() -> Any:
    """The request body as JSON: decimals kept exactly; refused with a clear error (never a 5xx) when it is
    larger than ``FHIR_MAX_BODY_BYTES`` (413, read no further), not JSON, NaN or Infinity, has a key twice
    in one object, nests deeper than :data:`MAX_JSON_DEPTH`, or holds a lone surrogate (``"\\ud800"``: not
    Unicode text, and it could not be written back)."""
    if request.mimetype not in _JSON_TYPES:
        raise UnsupportedMediaType(f"send application/fhir+json, not {request.mimetype or 'no Content-Type'}")
    limit = int(current_app.config["FHIR_MAX_BODY_BYTES"])
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"the body is larger than {limit} bytes")
    data = request.stream.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"the body is larger than {limit} bytes")

    def no_constants(name: str) -> Any:
        raise ValueError(f"{name} is not a JSON number")

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for key, value in pairs:
            if key in found:
                raise ValueError(f"the key {echo(key)} appears twice in one object")
            found[key] = value
        return found

    try:
        body = json.loads(
            data, parse_float=Decimal, parse_constant=no_constants, object_pairs_hook=no_duplicates
        )
    except RecursionError as error:
        raise InvalidInput(f"the body nests deeper than {MAX_JSON_DEPTH} levels") from error
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidInput(f"the body is not valid JSON: {_plain(error)}") from error
    _check_shape(body)
    return body


def _plain(error: Exception) -> str:
    """A JSON error's message without the document it quotes (the json module's messages quote none)."""
    return str(error)[:200]


def _check_shape(body: Any) -> None:
    """Depth and text, in one pass without recursion (a hostile body must not exhaust the stack)."""
    stack: list[tuple[Any, int]] = [(body, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            _check_text(value)
            continue
        if not isinstance(value, dict | list):
            continue
        if depth > MAX_JSON_DEPTH:
            raise InvalidInput(f"the body nests deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(value, dict):
            for key, child in value.items():
                _check_text(key)
                stack.append((child, depth + 1))
        else:
            stack.extend((child, depth + 1) for child in value)


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise InvalidInput("the body holds a lone surrogate (\\ud800-\\udfff): not Unicode text") from error


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
