"""``/api/compliance/measures``, the OpenAPI document and the API's JSON errors."""

from __future__ import annotations

from flask.testing import FlaskClient


def test_the_measures_of_a_care_bundle_are_listed_composites_first(client: FlaskClient) -> None:
    response = client.get("/api/compliance/measures", query_string={"care_bundle": "oasi-care-bundle"})
    assert response.status_code == 200
    measures = response.get_json()
    assert measures[0] == {
        "kind": "composite",
        "id": "oasi-care-bundle",
        "title": "OASI care bundle, all four practices",
        "detail": [
            "antenatal-discussion",
            "mpp",
            "episiotomy-performed",
            "episiotomy-mediolateral-60",
            "perineal-examination",
        ],
    }
    assert {"kind": "element", "id": "mpp"}.items() <= next(m for m in measures if m["id"] == "mpp").items()


def test_errors_are_json_and_echo_at_most_a_bounded_value(client: FlaskClient) -> None:
    missing = client.get("/api/compliance/measures")
    assert missing.status_code == 422
    assert missing.get_json()["errors"] == {"query": {"care_bundle": ["Missing data for required field."]}}
    unknown = client.get("/api/compliance/measures", query_string={"care_bundle": "x" * 5000})
    assert unknown.status_code == 404
    assert unknown.get_json()["code"] == 404
    assert len(unknown.get_json()["message"]) < 120
    assert client.get("/api/no-such-thing").get_json()["code"] == 404


def test_the_openapi_document_describes_the_api(client: FlaskClient) -> None:
    document = client.get("/api/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    assert "/api/compliance/measures" in document["paths"]


def test_an_unknown_query_parameter_is_refused_not_ignored(client: FlaskClient) -> None:
    # A typo (form= for from=) must not silently fall back to the default range.
    response = client.get(
        "/api/compliance/measures", query_string={"care_bundle": "oasi-care-bundle", "form": "2026-01-01"}
    )
    assert response.status_code == 422
    assert "form" in response.get_json()["errors"]["query"]
