"""The server's ``CapabilityStatement`` (R4, 4.0.1)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

FHIR_VERSION = "4.0.1"
FHIR_JSON = "application/fhir+json"


def capability_statement(
    *,
    software_version: str,
    date: str,
    base_url: str,
    search_params: Mapping[str, Sequence[tuple[str, str, str]]],
) -> dict[str, Any]:
    """A CapabilityStatement for the resources in ``search_params``: name -> [(param, type, doc)]."""
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
        "rest": [
            {
                "mode": "server",
                "resource": [
                    {
                        "type": resource_type,
                        "interaction": [{"code": "read"}, {"code": "search-type"}],
                        "searchParam": [
                            {"name": name, "type": kind, "documentation": documentation}
                            for name, kind, documentation in params
                        ],
                    }
                    for resource_type, params in search_params.items()
                ],
            }
        ],
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
