"""Serialising FHIR JSON responses."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from flask import Response

from fhir_adapters.capability import FHIR_JSON
from fhir_adapters.operation_outcome import Issue, operation_outcome

FHIR_MIMETYPE = f"{FHIR_JSON}; charset=utf-8"


def fhir_response(
    resource: Mapping[str, Any], status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    body = json.dumps(resource, ensure_ascii=False, separators=(",", ":"))
    return Response(body, status=status, headers=dict(headers or {}), content_type=FHIR_MIMETYPE)


def outcome_response(issues: Iterable[Issue], status: int) -> Response:
    return fhir_response(operation_outcome(issues), status)
