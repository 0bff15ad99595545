"""``/fhir/metadata`` and Questionnaire read and search, as an EHR sees them."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.codesystem import CodeSystem
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.questionnaire import Questionnaire
from flask.testing import FlaskClient

from fhir_adapters.vocabulary import CARELOOP_CANONICAL_BASE
from service.care_bundles import CareBundleRegistry
from service.config import PROJECT_ROOT
from service.fhir_api.serving import CAPABILITY_DATE

FHIR_JSON = "application/fhir+json; charset=utf-8"
#: Every shipped care bundle version, as Questionnaire resource ids.
SHIPPED = sorted(
    f"{care_bundle.id}-{care_bundle.version}"
    for care_bundle in CareBundleRegistry.from_directory(PROJECT_ROOT / "bundles")
)
OASI = ["oasi-care-bundle-1.0.0", "oasi-care-bundle-2.0.0"]
HIP = ["hip-fracture-pathway-1.0.0", "hip-fracture-pathway-2.0.0"]
FREED = ["freed-triage-1.0.0", "freed-triage-2.0.0"]


def get_json(client: FlaskClient, url: str, status: int = 200, **kwargs: Any) -> dict[str, Any]:
    response = client.get(url, **kwargs)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type == FHIR_JSON
    body: dict[str, Any] = response.get_json(force=True)
    return body


def assert_outcome(body: dict[str, Any], code: str, text: str) -> None:
    OperationOutcome.model_validate(body)
    (issue,) = body["issue"]
    assert issue["severity"] == "error"
    assert issue["code"] == code
    assert text in issue["diagnostics"]


def test_metadata_is_an_r4_capability_statement(client: FlaskClient) -> None:
    body = get_json(client, "/fhir/metadata")
    CapabilityStatement.model_validate(body)
    assert body["fhirVersion"] == "4.0.1"
    assert body["kind"] == "instance"
    by_type = {resource["type"]: resource for resource in body["rest"][0]["resource"]}
    assert list(by_type) == [
        "Questionnaire",
        "CodeSystem",
        "StructureDefinition",
        "QuestionnaireResponse",
        "Measure",
        "MeasureReport",
    ]
    questionnaire, response = by_type["Questionnaire"], by_type["QuestionnaireResponse"]
    for definitions in ("CodeSystem", "StructureDefinition"):
        assert [param["name"] for param in by_type[definitions]["searchParam"]] == ["url"]
    for searched in by_type.values():  # every search takes the result parameters, and says so
        assert "_summary (true, false, text, data, count)" in searched["documentation"]
    assert {param["name"] for param in questionnaire["searchParam"]} >= {"url", "version", "name", "status"}
    assert [item["code"] for item in questionnaire["interaction"]] == ["read", "search-type"]
    assert response["type"] == "QuestionnaireResponse"
    assert [operation["name"] for operation in response["operation"]] == ["validate"]
    assert body["implementation"]["url"] == "http://localhost/fhir"


def test_search_without_parameters_lists_every_care_bundle(client: FlaskClient) -> None:
    body = get_json(client, "/fhir/Questionnaire")
    Bundle.model_validate(body)
    assert body["type"] == "searchset"
    assert body["total"] == len(SHIPPED) >= 10
    assert sorted(entry["resource"]["id"] for entry in body["entry"]) == SHIPPED
    for entry in body["entry"]:
        care_bundle_id = entry["resource"]["id"].rsplit("-", 1)[0]
        assert entry["resource"]["url"] == f"{CARELOOP_CANONICAL_BASE}/Questionnaire/{care_bundle_id}"
    for entry in body["entry"]:
        assert entry["fullUrl"] == f"http://localhost/fhir/Questionnaire/{entry['resource']['id']}"
        assert entry["search"] == {"mode": "match"}
        Questionnaire.model_validate(entry["resource"])


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (f"url={CARELOOP_CANONICAL_BASE}/Questionnaire/oasi-care-bundle", OASI),
        (f"url={CARELOOP_CANONICAL_BASE}/Questionnaire/oasi-care-bundle|1.0.0", OASI[:1]),
        (f"url={CARELOOP_CANONICAL_BASE}/Questionnaire/oasi-care-bundle|2.0.0", OASI[1:]),
        (f"url={CARELOOP_CANONICAL_BASE}/Questionnaire/oasi-care-bundle|9.9.9", []),
        ("name=hip", HIP),
        ("name=HIPFRACTURE", HIP),
        ("name:exact=hip", []),
        ("name:exact=FreedTriage", FREED),
        ("name:contains=care", OASI),
        ("name=oasi,freed", FREED + OASI),
        ("status=active", SHIPPED),
        ("status=retired", []),
        ("status=active&name=freed", FREED),
        ("version=1.0.0&_id=freed-triage-1.0.0", FREED[:1]),
        ("version=2.0.0", [FREED[1], HIP[1], OASI[1]]),
        ("version=9.9.9", []),
        ("_format=json&name=oasi", OASI),
    ],
)
def test_search_parameters(client: FlaskClient, query: str, expected: list[str]) -> None:
    body = get_json(client, f"/fhir/Questionnaire?{query}")
    assert sorted(entry["resource"]["id"] for entry in body.get("entry", [])) == expected
    assert body["total"] == len(expected)


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ("colour=red", "unknown search parameter 'colour'"),
        ("status=bogus", "status must be one of"),
        ("url:below=x", "modifier :below is not supported on url"),
        ("name=", "name needs a value"),
    ],
)
def test_bad_search_parameter_is_400_with_operation_outcome(
    client: FlaskClient, query: str, text: str
) -> None:
    body = get_json(client, f"/fhir/Questionnaire?{query}", status=400)
    assert_outcome(body, "invalid", text)
    # The parameter as sent is in diagnostics: expression holds FHIRPath only.
    assert body["issue"][0]["diagnostics"].startswith(f"{query}: ")
    assert "expression" not in body["issue"][0]


def test_read_returns_the_questionnaire(client: FlaskClient) -> None:
    response = client.get("/fhir/Questionnaire/hip-fracture-pathway-1.0.0")
    assert response.status_code == 200
    body = response.get_json(force=True)
    resource = Questionnaire.model_validate(body)
    assert resource.url == f"{CARELOOP_CANONICAL_BASE}/Questionnaire/hip-fracture-pathway"
    # The ETag and versionId are a hash of the content served: the same from every worker, new with it.
    content = {key: value for key, value in body.items() if key != "meta"}
    digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:16]
    assert body["meta"]["versionId"] == digest
    assert response.headers["ETag"] == f'W/"{digest}"'
    assert response.headers["Last-Modified"].endswith(" GMT")
    again = client.get(
        "/fhir/Questionnaire/hip-fracture-pathway-1.0.0", headers={"If-None-Match": response.headers["ETag"]}
    )
    assert (again.status_code, again.data) == (304, b"")
    other = client.get("/fhir/Questionnaire/hip-fracture-pathway-2.0.0")
    assert other.headers["ETag"] != response.headers["ETag"]


def test_the_capability_statement_date_is_the_same_from_every_worker(client: FlaskClient) -> None:
    from service import create_app

    other = create_app({"ENV": "testing", "SECRET_KEY": "x", "DATABASE_URL": "sqlite://"})
    dates = {get_json(c, "/fhir/metadata")["date"] for c in (client, other.test_client())}
    assert dates == {CAPABILITY_DATE}


def test_count_pages_with_a_next_link(client: FlaskClient) -> None:
    everything = get_json(client, "/fhir/Questionnaire")
    first = get_json(client, "/fhir/Questionnaire?_count=2")
    assert first["total"] == everything["total"] > 2
    assert [entry["fullUrl"] for entry in first["entry"]] == [e["fullUrl"] for e in everything["entry"][:2]]
    (following,) = [link["url"] for link in first["link"] if link["relation"] == "next"]
    second = get_json(client, following.removeprefix("http://localhost"))
    assert [entry["fullUrl"] for entry in second["entry"]] == [e["fullUrl"] for e in everything["entry"][2:4]]


def test_summary_elements_and_total(client: FlaskClient) -> None:
    counted = get_json(client, "/fhir/Questionnaire?name=oasi&_summary=count")
    assert counted["total"] == len(OASI)
    assert counted.get("entry", []) == []
    summary = get_json(client, "/fhir/Questionnaire?name=oasi&_summary=true")
    for entry in summary["entry"]:
        assert "item" not in entry["resource"]
        assert {"url", "version", "status"} <= set(entry["resource"])
        assert entry["resource"]["meta"]["tag"][-1]["code"] == "SUBSETTED"
    chosen = get_json(client, "/fhir/Questionnaire?name=oasi&_elements=url,version")
    assert {frozenset(entry["resource"]) for entry in chosen["entry"]} == {
        frozenset({"resourceType", "id", "meta", "url", "version", "status"})  # status: mandatory
    }
    assert "total" not in get_json(client, "/fhir/Questionnaire?_total=none")


@pytest.mark.parametrize("query", ["_count=-1", "_summary=maybe", "_elements=a b", "_total=all", "_offset=x"])
def test_bad_result_parameters_are_400(client: FlaskClient, query: str) -> None:
    body = get_json(client, f"/fhir/Questionnaire?{query}", status=400)
    OperationOutcome.model_validate(body)
    assert body["issue"][0]["diagnostics"].startswith(query.split("=")[0])
    assert "expression" not in body["issue"][0]


def test_unknown_id_is_404_with_operation_outcome(client: FlaskClient) -> None:
    body = get_json(client, "/fhir/Questionnaire/no-such-thing", status=404)
    assert_outcome(body, "not-found", "Questionnaire/no-such-thing is not known here")


def test_unknown_fhir_route_is_404_with_operation_outcome(client: FlaskClient) -> None:
    body = get_json(client, "/fhir/Patient/123", status=404)
    assert_outcome(body, "not-found", "not found")


def test_unsupported_method_is_405_with_operation_outcome(client: FlaskClient) -> None:
    response = client.delete("/fhir/Questionnaire/oasi-care-bundle-1.0.0")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]
    assert_outcome(response.get_json(force=True), "not-supported", "not allowed")


def test_xml_is_not_acceptable(client: FlaskClient) -> None:
    body = get_json(client, "/fhir/metadata?_format=xml", status=406)
    assert_outcome(body, "not-supported", "FHIR JSON only")
    body = get_json(client, "/fhir/metadata", status=406, headers={"Accept": "application/fhir+xml"})
    assert_outcome(body, "not-supported", "only application/fhir+json")


@pytest.mark.parametrize(
    "resource_id", ["oasi-care-bundle-1.0.0", "hip-fracture-pathway-1.0.0", "freed-triage-1.0.0"]
)
def test_published_questionnaires_are_served_as_frozen(client: FlaskClient, resource_id: str) -> None:
    """The 1.0.0 Questionnaires keep their content (everything but meta) after the 2.0.0 fixes."""
    served = get_json(client, f"/fhir/Questionnaire/{resource_id}")
    golden = PROJECT_ROOT / "tests" / "data" / "questionnaires" / f"{resource_id}.json"
    frozen = json.loads(golden.read_text(encoding="utf-8"))
    served.pop("meta", None)
    frozen.pop("meta", None)
    assert served == frozen


def test_lenient_handling_ignores_unknown_parameters(client: FlaskClient) -> None:
    body = get_json(
        client, "/fhir/Questionnaire?name=oasi&_count=10&colour=red", headers={"Prefer": "handling=lenient"}
    )
    assert sorted(entry["resource"]["id"] for entry in body["entry"]) == OASI
    self_url = "http://localhost/fhir/Questionnaire?name=oasi&_count=10"  # _count is applied now
    assert body["link"] == [{"relation": "self", "url": self_url}]


def test_lenient_handling_still_rejects_bad_values_of_known_parameters(client: FlaskClient) -> None:
    body = get_json(
        client, "/fhir/Questionnaire?status=bogus", status=400, headers={"Prefer": "handling=lenient"}
    )
    assert_outcome(body, "invalid", "status must be one of")


def test_the_canonical_id_redirects_to_the_latest_version(client: FlaskClient) -> None:
    response = client.get("/fhir/Questionnaire/oasi-care-bundle")
    assert response.status_code == 302
    assert response.location == "/fhir/Questionnaire/oasi-care-bundle-2.0.0"
    followed = client.get("/fhir/Questionnaire/oasi-care-bundle", follow_redirects=True).get_json(force=True)
    assert (followed["url"], followed["version"]) == (
        f"{CARELOOP_CANONICAL_BASE}/Questionnaire/oasi-care-bundle",
        "2.0.0",
    )
    statement = get_json(client, "/fhir/metadata")
    (questionnaire,) = [r for r in statement["rest"][0]["resource"] if r["type"] == "Questionnaire"]
    assert "redirects (302) to its latest version" in questionnaire["documentation"]


def _local_codings(node: Any, base: str) -> set[tuple[str, str, str]]:
    """(system, code, display) of every answerOption coding of ``node`` in a Careloop code system."""
    found: set[tuple[str, str, str]] = set()
    if isinstance(node, dict):
        coding = node.get("valueCoding")
        if isinstance(coding, dict) and str(coding.get("system", "")).startswith(f"{base}/CodeSystem/"):
            found.add((coding["system"], coding["code"], coding.get("display", "")))
        for value in node.values():
            found |= _local_codings(value, base)
    elif isinstance(node, list):
        for value in node:
            found |= _local_codings(value, base)
    return found


def test_every_local_code_of_every_questionnaire_resolves_to_its_code_system(client: FlaskClient) -> None:
    questionnaires = [entry["resource"] for entry in get_json(client, "/fhir/Questionnaire")["entry"]]
    used = set().union(*(_local_codings(q, CARELOOP_CANONICAL_BASE) for q in questionnaires))
    assert used  # FREED, OASI... have options of their own
    systems = get_json(client, "/fhir/CodeSystem")
    by_url = {entry["resource"]["url"]: entry["resource"] for entry in systems["entry"]}
    for system, code, _display in used:
        resource = by_url[system]
        CodeSystem.model_validate(resource)
        assert code in {concept["code"] for concept in resource["concept"]}, (system, code)
        care_bundle_id = system.rsplit("/", 1)[1]
        assert get_json(client, f"/fhir/CodeSystem/{care_bundle_id}") == resource
    (one,) = get_json(client, f"/fhir/CodeSystem?url={next(iter(by_url))}")["entry"]
    assert one["resource"]["url"] == next(iter(by_url))
    get_json(client, "/fhir/CodeSystem/no-such-thing", status=404)
    get_json(client, "/fhir/CodeSystem?name=x", status=400)
