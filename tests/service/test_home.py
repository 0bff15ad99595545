"""The landing page and the health check."""

from __future__ import annotations

from flask.testing import FlaskClient


def test_index_lists_the_care_bundles_with_questionnaire_links(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert page.count('class="card"') == 3
    assert 'href="/fhir/Questionnaire/oasi-care-bundle-1.0.0"' in page
    assert 'href="/fhir/Questionnaire/hip-fracture-pathway-1.0.0"' in page
    assert 'href="/fhir/Questionnaire/freed-triage-1.0.0"' in page


def test_healthz_reports_database_and_care_bundles(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "care_bundles": 3}
