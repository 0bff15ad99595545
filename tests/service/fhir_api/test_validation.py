"""``POST /fhir/QuestionnaireResponse/$validate``: the strict input path."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from fhir.resources.R4B.operationoutcome import OperationOutcome
from flask import Flask
from flask.testing import FlaskClient

from fhir_adapters.questionnaire_response import to_questionnaire_response
from service.care_bundles import CareBundleRegistry

URL = "/fhir/QuestionnaireResponse/$validate"
FHIR_JSON = "application/fhir+json"


def post(
    client: FlaskClient, body: Any, status: int = 200, content_type: str = FHIR_JSON
) -> list[dict[str, Any]]:
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    response = client.post(URL, data=data, content_type=content_type)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type == "application/fhir+json; charset=utf-8"
    outcome = response.get_json(force=True)
    OperationOutcome.model_validate(outcome)
    issues: list[dict[str, Any]] = outcome["issue"]
    return issues


def errors(issues: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [issue for issue in issues if issue["severity"] in ("error", "fatal")]


def test_valid_response_has_no_errors(client: FlaskClient, valid_response: dict[str, Any]) -> None:
    issues = post(client, valid_response)
    assert errors(issues) == []


def test_parameters_wrapper_is_accepted(client: FlaskClient, valid_response: dict[str, Any]) -> None:
    wrapped = {"resourceType": "Parameters", "parameter": [{"name": "resource", "resource": valid_response}]}
    assert errors(post(client, wrapped)) == []


def test_yes_is_not_a_boolean(client: FlaskClient, valid_response: dict[str, Any]) -> None:
    valid_response["item"].append({"linkId": "perineal-examination", "answer": [{"valueBoolean": "yes"}]})
    found = errors(post(client, valid_response))
    assert any(
        issue["expression"] == ["QuestionnaireResponse.item[3].answer[0].valueBoolean"] for issue in found
    ), found


def test_bogus_status_is_refused(client: FlaskClient, valid_response: dict[str, Any]) -> None:
    valid_response["status"] = "bogus"
    (issue,) = errors(post(client, valid_response))
    assert issue["expression"] == ["QuestionnaireResponse.status"]


def test_required_answer_missing_is_reported_with_its_path(
    client: FlaskClient, valid_response: dict[str, Any]
) -> None:
    del valid_response["item"][1]  # antenatal-discussion, required
    found = errors(post(client, valid_response))
    assert [issue["code"] for issue in found] == ["required"]
    assert "antenatal-discussion" in found[0]["diagnostics"]


def test_unknown_questionnaire_is_not_found(client: FlaskClient, valid_response: dict[str, Any]) -> None:
    valid_response["questionnaire"] = "https://careloop.example/fhir/Questionnaire/oasi-care-bundle|9.9.9"
    found = errors(post(client, valid_response))
    assert [issue["code"] for issue in found] == ["not-found"]


def test_a_response_naming_no_questionnaire_is_checked_for_structure_with_a_warning(
    client: FlaskClient, valid_response: dict[str, Any]
) -> None:
    del valid_response["questionnaire"]
    issues = post(client, valid_response)
    assert errors(issues) == []
    (warning,) = [issue for issue in issues if issue["severity"] == "warning"]
    assert "SDC rules were not applied" in warning["diagnostics"]
    valid_response["item"][0]["answer"] = [{"valueBoolean": "yes"}]  # the structure is still checked
    assert [issue["code"] for issue in errors(post(client, valid_response))] == ["structure"]


def test_bare_canonical_means_the_latest_version(
    app: Flask, client: FlaskClient, valid_response: dict[str, Any]
) -> None:
    registry: CareBundleRegistry = app.extensions["care_bundles"]
    latest = registry.get("oasi-care-bundle")
    assert latest is not None
    assert latest.version == "2.0.0"
    response = to_questionnaire_response(
        latest,
        {"birth-time": [dt.datetime(2026, 3, 29, 0, 30, tzinfo=dt.UTC)], "birth-mode": ["caesarean"]}
        | {"antenatal-discussion": ["yes"]},
        checklist_id="4f7f0c52-1c65-4b61-b7a3-51a4b1f3c2d9",
        status="completed",
        authored=dt.datetime(2026, 3, 29, 2, 0, tzinfo=dt.UTC),
    )
    response["questionnaire"] = response["questionnaire"].split("|")[0]
    assert errors(post(client, response)) == []
    # A 1.0.0 response naming no version is judged against 2.0.0, where birth-mode comes first.
    valid_response["questionnaire"] = valid_response["questionnaire"].split("|")[0]
    assert [issue["code"] for issue in errors(post(client, valid_response))] == ["structure"]


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ("{not json", "the body is not valid JSON"),
        ('{"resourceType": "QuestionnaireResponse", "x": NaN}', "NaN is not a JSON number"),
        ('{"resourceType": "Patient"}', "expected a QuestionnaireResponse"),
        ('{"resourceType": "Parameters", "parameter": []}', "'resource' parameter"),
    ],
)
def test_unreadable_input_is_400(client: FlaskClient, body: str, text: str) -> None:
    (issue,) = post(client, body, status=400)
    assert text in issue["diagnostics"]


def test_other_media_types_are_415(client: FlaskClient, valid_response: dict[str, Any]) -> None:
    (issue,) = post(client, json.dumps(valid_response), status=415, content_type="text/plain")
    assert issue["code"] == "not-supported"
