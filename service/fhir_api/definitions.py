"""The definitions Careloop publishes besides its Questionnaires, public like them (no token looked at):
each care bundle's own answer codes as a ``CodeSystem`` (``{base}/CodeSystem/<care bundle id>``) and the
extensions it defines as ``StructureDefinition``s (``{base}/StructureDefinition/<id>``). Read by id; searched
by ``url`` (the canonical) with the result parameters every search takes; any other parameter is a 400.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flask import Response, request

from fhir_adapters.codesystem import code_system
from fhir_adapters.operation_outcome import Issue
from fhir_adapters.structuredefinition import BY_ID, structure_definition, structure_definitions
from service.care_bundles import current_catalogue
from service.errors import InvalidInput, NotFound
from service.fhir_api.responses import fhir_response
from service.fhir_api.serving import NOT_SEARCH_PARAMS, result_params, search_list
from service.fhir_api.views import base_url, bp


@bp.get("/CodeSystem/<string:resource_id>")
def read_code_system(resource_id: str) -> Response:
    """A care bundle's own answer codes (``{base}/CodeSystem/<care bundle id>``): public terminology."""
    resource = _code_system(resource_id)
    if resource is None:
        raise NotFound(f"CodeSystem/{resource_id[:80]} is not known here", expression="CodeSystem.id")
    return fhir_response(resource)


@bp.get("/CodeSystem")
def search_code_system() -> Response:
    """``url`` (the canonical) is the one search parameter; with none, every code system."""
    found = [
        resource
        for care_bundle_id in current_catalogue().latest
        if (resource := _code_system(care_bundle_id)) is not None
    ]
    return _search_by_url("CodeSystem", found)


def _code_system(care_bundle_id: str) -> dict[str, Any] | None:
    catalogue = current_catalogue()
    latest = catalogue.latest.get(care_bundle_id)
    if latest is None:
        return None
    older = [e.care_bundle for e in catalogue if e.care_bundle.id == care_bundle_id and e is not latest]
    return code_system([*older, latest.care_bundle])


@bp.get("/StructureDefinition/<string:resource_id>")
def read_structure_definition(resource_id: str) -> Response:
    """An extension Careloop defines, by the last segment of its URL (``care-bundle-anchor``)."""
    definition = BY_ID.get(resource_id)
    if definition is None:
        raise NotFound(
            f"StructureDefinition/{resource_id[:80]} is not known here", expression="StructureDefinition.id"
        )
    return fhir_response(structure_definition(definition))


@bp.get("/StructureDefinition")
def search_structure_definition() -> Response:
    """``url`` (the canonical) is the one search parameter; with none, every extension defined."""
    return _search_by_url("StructureDefinition", structure_definitions())


def _search_by_url(resource_type: str, resources: Sequence[Mapping[str, Any]]) -> Response:
    unknown = sorted(set(request.args) - NOT_SEARCH_PARAMS - {"url"})
    if unknown:
        problem = Issue("error", "invalid", f"{unknown[0][:40]}: the {resource_type} search takes url only")
        raise InvalidInput("bad search parameter", issues=[problem])
    params = result_params(request.args.to_dict(flat=False))
    wanted = request.args.getlist("url")
    matches = [resource for resource in resources if not wanted or resource["url"] in wanted]
    applied = [("url", url) for url in wanted]
    return fhir_response(search_list(resource_type, params, applied, matches, base_url=base_url()))
