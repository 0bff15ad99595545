"""FHIR R4 REST API under ``/fhir``."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("fhir_api", __name__, url_prefix="/fhir")
