"""The CapabilityStatement says what the routes and the token checks do (issue 10, item 3), and the access
log never carries a query string or anything else that identifies a patient."""

from __future__ import annotations

import datetime as dt
import runpy
from types import SimpleNamespace

from flask import Flask
from flask.testing import FlaskClient
from gunicorn.config import Config
from gunicorn.glogging import Logger
from sqlalchemy.orm import Session

from service.auth.tokens import parse_scopes
from service.config import PROJECT_ROOT

#: How each /fhir route (method, rule) appears in a CapabilityStatement.
EXPECTED = {
    ("GET", "/fhir/Questionnaire/<string:resource_id>"): ("Questionnaire", "interaction", "read"),
    ("GET", "/fhir/Questionnaire"): ("Questionnaire", "interaction", "search-type"),
    ("POST", "/fhir/QuestionnaireResponse/$validate"): ("QuestionnaireResponse", "operation", "validate"),
    ("GET", "/fhir/CodeSystem/<string:resource_id>"): ("CodeSystem", "interaction", "read"),
    ("GET", "/fhir/CodeSystem"): ("CodeSystem", "interaction", "search-type"),
    ("GET", "/fhir/StructureDefinition/<string:resource_id>"): ("StructureDefinition", "interaction", "read"),
    ("GET", "/fhir/StructureDefinition"): ("StructureDefinition", "interaction", "search-type"),
    ("POST", "/fhir/QuestionnaireResponse"): ("QuestionnaireResponse", "interaction", "create"),
    ("PUT", "/fhir/QuestionnaireResponse/<string:resource_id>"): (
        "QuestionnaireResponse",
        "interaction",
        "update",
    ),
    ("GET", "/fhir/QuestionnaireResponse"): ("QuestionnaireResponse", "interaction", "search-type"),
    ("GET", "/fhir/QuestionnaireResponse/<string:resource_id>/_history"): (
        "QuestionnaireResponse",
        "interaction",
        "history-instance",
    ),
    ("GET", "/fhir/QuestionnaireResponse/<string:resource_id>/_history/<string:version_id>"): (
        "QuestionnaireResponse",
        "interaction",
        "vread",
    ),
    ("GET", "/fhir/QuestionnaireResponse/<string:resource_id>"): (
        "QuestionnaireResponse",
        "interaction",
        "read",
    ),
    ("GET", "/fhir/Measure/<string:resource_id>"): ("Measure", "interaction", "read"),
    ("GET", "/fhir/Measure"): ("Measure", "interaction", "search-type"),
    ("GET", "/fhir/MeasureReport"): ("MeasureReport", "interaction", "search-type"),
}


def test_the_capability_statement_lists_exactly_the_routes(app: Flask, client: FlaskClient) -> None:
    routes = {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/fhir/") and rule.rule != "/fhir/metadata"
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS")
    }
    assert routes == set(EXPECTED)
    statement = client.get("/fhir/metadata").get_json(force=True)
    (rest,) = statement["rest"]
    stated = {
        (resource["type"], "interaction", interaction["code"])
        for resource in rest["resource"]
        for interaction in resource.get("interaction", ())
    } | {
        (resource["type"], "operation", operation["name"])
        for resource in rest["resource"]
        for operation in resource.get("operation", ())
    }
    assert stated == set(EXPECTED.values())


def test_the_security_it_states_is_the_one_enforced(client: FlaskClient, session: Session) -> None:
    # (``session``: the refused token's audit event is rolled back with the test.)
    security = client.get("/fhir/metadata").get_json(force=True)["rest"][0]["security"]["description"]
    for scope in (
        "system/Questionnaire.rs",
        "system/QuestionnaireResponse.rs",
        "system/QuestionnaireResponse.cu",
    ):
        assert scope in security
        parse_scopes(scope)  # a scope it names is one a token can be made with
    assert "Questionnaire read and search are public" in security
    assert client.get("/fhir/Questionnaire").status_code == 200  # as stated: no token needed
    assert client.get("/fhir/Questionnaire", headers={"Authorization": "Bearer clt_nope"}).status_code == 401
    assert "CodeSystem and StructureDefinition read and search are public" in security
    for public in (
        "/fhir/CodeSystem",
        "/fhir/StructureDefinition",
        "/fhir/StructureDefinition/care-bundle-anchor",
    ):
        # No token needed, and one sent is not looked at.
        assert client.get(public).status_code == 200
        assert client.get(public, headers={"Authorization": "Bearer clt_nope"}).status_code == 200


def test_the_access_log_names_the_path_only() -> None:
    settings = runpy.run_path(str(PROJECT_ROOT / "gunicorn.conf.py"))
    config = Config()
    config.set("access_log_format", settings["access_log_format"])
    logger = Logger(config)
    nhs = "9434765919"
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": f"/fhir/QuestionnaireResponse?subject:identifier=https://fhir.nhs.uk/Id/nhs-number|{nhs}",
        "PATH_INFO": "/fhir/QuestionnaireResponse",
        "QUERY_STRING": f"subject:identifier=https://fhir.nhs.uk/Id/nhs-number|{nhs}",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "10.0.0.7",
        "HTTP_REFERER": f"https://ehr.example/patient?nhs={nhs}",
        "HTTP_USER_AGENT": "integration-engine/1.0",
    }
    response = SimpleNamespace(status="200 OK", sent=123, headers=[])
    request = SimpleNamespace(headers=[])
    line = settings["access_log_format"] % logger.atoms(
        response, request, environ, dt.timedelta(seconds=0.02)
    )
    assert '"GET /fhir/QuestionnaireResponse HTTP/1.1" 200 123' in line
    assert nhs not in line
    assert "?" not in line
