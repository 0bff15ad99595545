"""``_count``, ``_offset``, ``_summary``, ``_elements`` and ``_total`` on every ``/fhir`` search, through
the one implementation (``service.fhir_api.serving``): ``SEARCHES`` is held to the routes, so a new search
without a row here fails ``test_every_search_is_here``."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.codesystem import CodeSystem
from fhir.resources.R4B.measure import Measure
from fhir.resources.R4B.measurereport import MeasureReport
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from fhir.resources.R4B.structuredefinition import StructureDefinition
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from fhir_adapters.subsetting import MANDATORY_ELEMENTS, SUBSETTED, SUMMARY_ELEMENTS
from tests.factories import make_unit_offering
from tests.service.fhir_api.test_questionnaire_responses import OASI_ANSWERS, post, response_body, token_for

#: Resource type -> (its model, an optional element each of its resources has).
SEARCHES: dict[str, tuple[Any, str]] = {
    "Questionnaire": (Questionnaire, "title"),
    "CodeSystem": (CodeSystem, "title"),
    "StructureDefinition": (StructureDefinition, "title"),
    "QuestionnaireResponse": (QuestionnaireResponse, "authored"),
    "Measure": (Measure, "title"),
    "MeasureReport": (MeasureReport, "period"),
}
#: What a search needs besides the parameters tested (MeasureReport: the Measure; 12 weeks by default).
REQUIRED = {"MeasureReport": "measure=oasi-care-bundle&"}
ALWAYS = {"resourceType", "id", "meta"}
NOW = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)


@pytest.fixture(params=sorted(SEARCHES))
def search(request: pytest.FixtureRequest) -> tuple[str, dict[str, str]]:
    """A search's resource type and the headers it needs (a token and three responses, for QR; a token and a
    fixed clock, for MeasureReport)."""
    resource_type: str = request.param
    if resource_type not in ("QuestionnaireResponse", "MeasureReport"):
        return resource_type, {}
    app: Flask = request.getfixturevalue("app")
    client: FlaskClient = request.getfixturevalue("client")
    session: Session = request.getfixturevalue("session")
    if resource_type == "MeasureReport":  # a report's date is the time of the search
        request.getfixturevalue("monkeypatch").setitem(app.config, "FHIR_NOW", NOW)
        unit = make_unit_offering(session, "oasi-care-bundle")
        return resource_type, token_for(session, unit, "system/MeasureReport.s")
    headers = token_for(
        session, make_unit_offering(session, "oasi-care-bundle"), "system/QuestionnaireResponse.cs"
    )
    draft = {key: OASI_ANSWERS[key] for key in ("birth-time", "birth-mode")}
    for body in (response_body(app), response_body(app, "in-progress", draft), response_body(app)):
        post(client, headers, body, 201)
    return resource_type, headers


def get(
    client: FlaskClient, resource_type: str, headers: dict[str, str], query: str, status: int = 200
) -> Any:
    response = client.get(f"/fhir/{resource_type}?{REQUIRED.get(resource_type, '')}{query}", headers=headers)
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json(force=True)
    (OperationOutcome if status >= 400 else Bundle).model_validate(body)
    return body


def ids(bundle: dict[str, Any]) -> list[str]:
    return [entry["resource"]["id"] for entry in bundle.get("entry", [])]


def test_every_search_is_here(app: Flask) -> None:
    searches = {
        rule.rule.removeprefix("/fhir/")
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/fhir/") and "<" not in rule.rule and "GET" in (rule.methods or ())
    } - {"metadata"}
    assert searches == set(SEARCHES)


def test_count_and_offset_page_through_every_match(
    client: FlaskClient, search: tuple[str, dict[str, str]]
) -> None:
    resource_type, headers = search
    everything = get(client, resource_type, headers, "_count=100")
    assert everything["total"] == len(everything["entry"]) >= 3
    assert [link["relation"] for link in everything["link"]] == ["self"]
    seen: list[str] = []
    url: str | None = f"/fhir/{resource_type}?{REQUIRED.get(resource_type, '')}_count=2"
    while url is not None:
        page = client.get(url, headers=headers).get_json(force=True)
        assert page["total"] == everything["total"]
        assert len(page["entry"]) <= 2
        seen += ids(page)
        url = next((link["url"] for link in page["link"] if link["relation"] == "next"), None)
        url = url.removeprefix("http://localhost") if url else None
    assert seen == ids(everything)
    second = get(client, resource_type, headers, "_count=2&_offset=2")
    assert ids(second) == ids(everything)[2:4]
    assert "_offset=2" in second["link"][0]["url"]  # the self link names the page it is
    past = get(client, resource_type, headers, "_count=2&_offset=500")
    assert (ids(past), past["total"]) == ([], everything["total"])
    nothing = get(client, resource_type, headers, "_count=0")
    assert (ids(nothing), nothing["total"], len(nothing["link"])) == ([], everything["total"], 1)


def test_summary_count_gives_the_total_only(client: FlaskClient, search: tuple[str, dict[str, str]]) -> None:
    resource_type, headers = search
    total = get(client, resource_type, headers, "_count=100")["total"]
    counted = get(client, resource_type, headers, "_summary=count&_total=none")
    assert (counted["total"], counted.get("entry", [])) == (total, [])


def test_summary_true_serves_the_summary_elements_tagged_subsetted(
    client: FlaskClient, search: tuple[str, dict[str, str]]
) -> None:
    resource_type, headers = search
    model, _ = SEARCHES[resource_type]
    whole = {
        entry["resource"]["id"]: entry["resource"]
        for entry in get(client, resource_type, headers, "_count=100")["entry"]
    }
    summary = get(client, resource_type, headers, "_summary=true&_count=100")
    assert ids(summary) == list(whole)
    for entry in summary["entry"]:
        resource = entry["resource"]
        model.model_validate(resource)
        expected = {key for key in whole[resource["id"]] if key in SUMMARY_ELEMENTS[resource_type]} | {"meta"}
        assert set(resource) == expected
        assert resource["meta"]["tag"][-1] == SUBSETTED  # each of these has non-summary elements


def test_elements_keeps_those_named_and_the_mandatory_ones(
    client: FlaskClient, search: tuple[str, dict[str, str]]
) -> None:
    resource_type, headers = search
    model, element = SEARCHES[resource_type]
    chosen = get(client, resource_type, headers, f"_elements={element}&_count=100")
    for entry in chosen["entry"]:
        model.model_validate(entry["resource"])
        assert set(entry["resource"]) == ALWAYS | MANDATORY_ELEMENTS[resource_type] | {element}
        assert entry["resource"]["meta"]["tag"][-1] == SUBSETTED
    assert f"_elements={element}" in chosen["link"][0]["url"]


def test_summary_text_data_and_false(client: FlaskClient, search: tuple[str, dict[str, str]]) -> None:
    resource_type, headers = search
    whole = get(client, resource_type, headers, "_count=100")
    assert get(client, resource_type, headers, "_summary=false&_count=100")["entry"] == whole["entry"]
    assert (
        get(client, resource_type, headers, "_summary=data&_count=100")["entry"] == whole["entry"]
    )  # no text
    for entry in get(client, resource_type, headers, "_summary=text&_count=100")["entry"]:
        assert set(entry["resource"]) == ALWAYS | MANDATORY_ELEMENTS[resource_type]


@pytest.mark.parametrize(("total", "given"), [("none", False), ("estimate", True), ("accurate", True)])
def test_total(client: FlaskClient, search: tuple[str, dict[str, str]], total: str, given: bool) -> None:
    resource_type, headers = search
    body = get(client, resource_type, headers, f"_total={total}&_count=1")
    assert ("total" in body) is given
    assert len(body["entry"]) == 1
    assert any(link["relation"] == "next" for link in body["link"])  # paging needs no total


@pytest.mark.parametrize(
    "query",
    ["_count=-1", "_count=x", "_offset=x", "_summary=maybe", "_elements=a b", "_elements=,", "_total=all"],
)
def test_bad_result_parameters_are_400(
    client: FlaskClient, search: tuple[str, dict[str, str]], query: str
) -> None:
    resource_type, headers = search
    body = get(client, resource_type, headers, query, status=400)
    (issue,) = body["issue"]
    assert (issue["severity"], issue["code"]) == ("error", "invalid")
    assert issue["diagnostics"].startswith(query.split("=")[0])
    assert "expression" not in issue


def test_unknown_parameters_are_still_400(client: FlaskClient, search: tuple[str, dict[str, str]]) -> None:
    resource_type, headers = search
    body = get(client, resource_type, headers, "colour=red&_summary=true", status=400)
    assert "colour" in body["issue"][0]["diagnostics"]


def test_a_refused_identifier_is_not_echoed(client: FlaskClient, session: Session) -> None:
    """A patient's number sent without its system is refused without being echoed; the search's other
    problems come in the same OperationOutcome."""
    headers = token_for(
        session, make_unit_offering(session, "oasi-care-bundle"), "system/QuestionnaireResponse.s"
    )
    for key in ("subject:identifier", "identifier"):
        refused = client.get(f"/fhir/QuestionnaireResponse?{key}=9434765919&_count=x", headers=headers)
        assert refused.status_code == 400
        assert [issue["diagnostics"] for issue in refused.get_json(force=True)["issue"]] == [
            "_count=x: give a whole number from 0",
            f"{key}: give system|value",
        ]
        assert "9434765919" not in refused.get_data(as_text=True)
