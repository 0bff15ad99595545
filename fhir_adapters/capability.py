"""The server's ``CapabilityStatement`` (R4, 4.0.1)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

FHIR_VERSION = "4.0.1"
FHIR_JSON = "application/fhir+json"


def resource_capability(
    resource_type: str,
    *,
    interactions: Sequence[str] = (),
    search_params: Sequence[tuple[str, str, str]] = (),
    operations: Sequence[tuple[str, str]] = (),
    documentation: str | None = None,
) -> dict[str, Any]:
    """One ``rest.resource``: interactions, search parameters (name, type, doc), operations (name, url)."""
    entry: dict[str, Any] = {"type": resource_type}
    if documentation:
        entry["documentation"] = documentation
    if interactions:
        entry["interaction"] = [{"code": code} for code in interactions]
    if search_params:
        entry["searchParam"] = [
            {"name": name, "type": kind, "documentation": documentation}
            for name, kind, documentation in search_params
        ]
    if operations:
        entry["operation"] = [{"name": name, "definition": definition} for name, definition in operations]
    return entry


def capability_statement(
    *,
    software_version: str,
    date: str,
    base_url: str,
    resources: Sequence[Mapping[str, Any]],
    security: str | None = None,
) -> dict[str, Any]:
    """A CapabilityStatement for a JSON-only R4 server offering ``resources`` (see resource_capability);
    ``security`` says how clients authenticate (``rest.security.description``)."""
    rest: dict[str, Any] = {"mode": "server", "resource": list(resources)}
    if security:
        rest["security"] = {"cors": False, "description": security}
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": date,
        "publisher": "Careloop",
        "kind": "instance",
        "software": {"name": "Careloop", "version": software_version},
        "implementation": {"description": "Careloop FHIR R4 API", "url": base_url},
        "fhirVersion": FHIR_VERSION,
        "format": [FHIR_JSON, "json"],
        "rest": [rest],
    }


def searchset(resources: Sequence[Mapping[str, Any]], *, self_url: str, base_url: str) -> dict[str, Any]:
    """A ``searchset`` Bundle of all matches (care bundle counts are small: no paging needed)."""
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "link": [{"relation": "self", "url": self_url}],
        "entry": [
            {
                "fullUrl": f"{base_url}/{resource['resourceType']}/{resource['id']}",
                "resource": resource,
                "search": {"mode": "match"},
            }
            for resource in resources
        ],
    }
