"""``/fhir/StructureDefinition``: every extension under Careloop's canonical base that a served
Questionnaire or QuestionnaireResponse carries resolves, at its URL's id and by ``url`` search, to a valid
definition."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.structuredefinition import StructureDefinition
from flask import Flask
from flask.testing import FlaskClient

from fhir_adapters.structuredefinition import extension_problems
from fhir_adapters.vocabulary import CARELOOP_EXTENSION_BASE, NHS_NUMBER_SYSTEM
from service.care_bundles import CareBundleCatalogue
from service.checklists.lifecycle_records import questionnaire_response
from tests.service.fhir_api.test_views import SHIPPED, assert_outcome, get_json

ANCHORED = dt.datetime(2026, 3, 29, 0, 30, tzinfo=dt.UTC)


def _our_extension_urls(node: Any) -> set[str]:
    """Every extension url under our base anywhere in ``node``."""
    found: set[str] = set()
    if isinstance(node, dict):
        for extension in node.get("extension", ()):
            if str(extension.get("url", "")).startswith(f"{CARELOOP_EXTENSION_BASE}/"):
                found.add(extension["url"])
        for value in node.values():
            found |= _our_extension_urls(value)
    elif isinstance(node, list):
        for value in node:
            found |= _our_extension_urls(value)
    return found


def _served_responses(catalogue: CareBundleCatalogue) -> list[dict[str, Any]]:
    """A QuestionnaireResponse as served for a checklist of every shipped care bundle version."""
    responses = []
    for entry in catalogue:
        anchor = entry.care_bundle.anchor_element
        value = ANCHORED if anchor.type == "dateTime" else ANCHORED.date()
        responses.append(
            questionnaire_response(
                entry.care_bundle,
                {anchor.id: [value]},
                checklist_id=uuid.uuid4(),
                status="in-progress",
                subject_system=NHS_NUMBER_SYSTEM,
                subject_value="9434765919",
                encounter=None,
                version=1,
                now=ANCHORED,
            )
        )
    return responses


def test_every_extension_we_serve_resolves_to_its_structure_definition(
    app: Flask, client: FlaskClient
) -> None:
    questionnaires = [entry["resource"] for entry in get_json(client, "/fhir/Questionnaire")["entry"]]
    assert sorted(resource["id"] for resource in questionnaires) == SHIPPED
    served = questionnaires + _served_responses(app.extensions["care_bundle_catalogue"])
    used = set().union(*(_our_extension_urls(resource) for resource in served))
    assert len(used) >= 7  # anchor, time zone, sources, compliance, population, composites, follow-up
    for url in sorted(used):
        definition = get_json(client, f"/fhir/StructureDefinition/{url.rsplit('/', 1)[1]}")
        StructureDefinition.model_validate(definition)
        assert definition["url"] == url
        (found,) = get_json(client, f"/fhir/StructureDefinition?url={url}")["entry"]
        assert found["resource"] == definition
    for resource in served:  # and each instance is what its definition says
        assert extension_problems(resource) == [], resource["id"]


def test_search_lists_every_definition(client: FlaskClient) -> None:
    body = get_json(client, "/fhir/StructureDefinition")
    Bundle.model_validate(body)
    assert body["total"] == len(body["entry"]) == 8
    for entry in body["entry"]:
        resource = entry["resource"]
        StructureDefinition.model_validate(resource)
        assert entry["fullUrl"] == f"http://localhost/fhir/StructureDefinition/{resource['id']}"
        assert resource["url"] == f"{CARELOOP_EXTENSION_BASE}/{resource['id']}"
        assert (resource["type"], resource["kind"], resource["derivation"]) == (
            "Extension",
            "complex-type",
            "constraint",
        )
    assert get_json(client, "/fhir/StructureDefinition?url=https://example.org/x")["total"] == 0
    both = [f"{CARELOOP_EXTENSION_BASE}/care-bundle-anchor", f"{CARELOOP_EXTENSION_BASE}/care-bundle-source"]
    assert get_json(client, f"/fhir/StructureDefinition?url={both[0]}&url={both[1]}")["total"] == 2


@pytest.mark.parametrize(
    ("url", "status", "text"),
    [
        (
            "/fhir/StructureDefinition/care-bundle-nothing",
            404,
            "StructureDefinition/care-bundle-nothing is not known",
        ),
        ("/fhir/StructureDefinition/" + "x" * 300, 404, "is not known here"),
        ("/fhir/StructureDefinition?name=x", 400, "the StructureDefinition search takes url only"),
        ("/fhir/StructureDefinition?_count=x", 400, "_count=x"),
    ],
)
def test_refusals_are_operation_outcomes(client: FlaskClient, url: str, status: int, text: str) -> None:
    body = get_json(client, url, status=status)
    assert_outcome(body, "not-found" if status == 404 else "invalid", text)
    assert "x" * 100 not in body["issue"][0]["diagnostics"]  # what was sent is not echoed at length
