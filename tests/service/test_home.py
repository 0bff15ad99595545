"""The landing page and the health check."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from service.care_bundles import CareBundleRegistry


def test_index_lists_the_care_bundles_with_questionnaire_links(app: Flask, client: FlaskClient) -> None:
    registry: CareBundleRegistry = app.extensions["care_bundles"]
    response = client.get("/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert page.count('class="card"') == len(registry) >= 10
    for care_bundle in registry:
        assert f'href="/fhir/Questionnaire/{care_bundle.id}-{care_bundle.version}"' in page


def test_healthz_reports_database_and_care_bundles(app: Flask, client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "care_bundles": len(app.extensions["care_bundles"])}
