"""The scope matrix of ``/fhir`` (issue 10, item 3; decision 0011): every route × every kind of token.

Each cell is one real request through the test client, against a real checklist: unit A's draft, made
first by POST with a writer token of unit A (site S). ``ROUTES`` is held to ``app.url_map``, so a new
``/fhir`` route without a row fails ``test_the_matrix_has_a_row_for_every_fhir_route``. ``TOKENS`` spells
out what each token case's scopes grant (``qr``: QuestionnaireResponse letters, ``q``: Questionnaire, ``m``:
Measure, ``mr``: MeasureReport), and ``expected_status`` is the rule of decision 0011 written out:

- metadata, CodeSystem (and StructureDefinition, when it comes) and ``$validate`` are public: tokens are not
  looked at;
- Questionnaire and Measure read and search are public, but a token sent with them must be valid and allow
  them;
- MeasureReport search reports on what the token is bound to (its unit, or its whole site) by default: any
  valid binding with the scope gets 200 (asking for another unit or site: ``test_measures.py``);
- every other interaction needs a token: none, a malformed header, unknown, expired or revoked: 401; a scope
  that does not allow it: 403; a token bound to no unit reads its whole site but writes nowhere (403);
  another unit's or site's checklist is not found (404, answered as an id that does not exist).

Every cell also checks: a 4xx body is an OperationOutcome whose issue code fits the status; a request that
is not an allowed write changes no checklist; each use of a token that the route checks writes one audit
event with the route rule, written with the answer: ``token:<id>`` (expired and revoked ones too, so the
trail shows which client still uses one) or ``token:invalid`` (unknown, or a malformed header); outcome
``success`` below 400, ``denied`` for 403 and 404, ``failure`` for the rest.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from fhir_adapters.questionnaire_response import to_questionnaire_response
from service.auth.tokens import RESOURCES, create_token, revoke_token
from service.care_bundles import CareBundleRegistry
from service.models import AuditEvent, Checklist, ChecklistChange, Unit
from tests.factories import make_unit_offering

QR = "/fhir/QuestionnaireResponse"
BIRTH = dt.datetime(2026, 3, 29, 0, 30, tzinfo=dt.UTC)
DRAFT: dict[str, list[Any]] = {"birth-time": [BIRTH], "birth-mode": ["spontaneous-vaginal"]}
LETTER = {"create": "c", "read": "r", "update": "u", "delete": "d", "search": "s"}
ISSUE_CODE = {401: "login", 403: "forbidden", 404: "not-found"}


@dataclass(frozen=True)
class Route:
    name: str
    method: str
    rule: str
    #: The URL requested; ``{id}`` is unit A's checklist.
    url: str
    #: What ``tokens.require`` is asked (resource, action); None: the route does not look at tokens.
    check: tuple[str, str] | None = None
    #: Public, but a token sent must be valid and allow it.
    optional: bool = False
    ok: int = 200

    @property
    def writes(self) -> bool:
        return self.check is not None and self.check[1] in ("create", "update")

    @property
    def names_the_checklist(self) -> bool:
        return "{id}" in self.url


ONE_QR = f"{QR}/<string:resource_id>"
ROUTES = (
    Route("metadata", "GET", "/fhir/metadata", "/fhir/metadata"),
    Route("CodeSystem.search", "GET", "/fhir/CodeSystem", "/fhir/CodeSystem"),
    Route(
        "CodeSystem.read", "GET", "/fhir/CodeSystem/<string:resource_id>", "/fhir/CodeSystem/oasi-care-bundle"
    ),
    Route("QR.$validate", "POST", f"{QR}/$validate", f"{QR}/$validate"),
    Route(
        "Q.search",
        "GET",
        "/fhir/Questionnaire",
        "/fhir/Questionnaire",
        ("Questionnaire", "search"),
        optional=True,
    ),
    Route(
        "Q.read",
        "GET",
        "/fhir/Questionnaire/<string:resource_id>",
        "/fhir/Questionnaire/oasi-care-bundle-2.0.0",
        ("Questionnaire", "read"),
        optional=True,
    ),
    Route("QR.create", "POST", QR, QR, ("QuestionnaireResponse", "create"), ok=201),
    Route("QR.search", "GET", QR, QR, ("QuestionnaireResponse", "search")),
    Route("QR.read", "GET", ONE_QR, f"{QR}/{{id}}", ("QuestionnaireResponse", "read")),
    Route("QR.update", "PUT", ONE_QR, f"{QR}/{{id}}", ("QuestionnaireResponse", "update")),
    Route(
        "QR.history", "GET", f"{ONE_QR}/_history", f"{QR}/{{id}}/_history", ("QuestionnaireResponse", "read")
    ),
    Route("Measure.search", "GET", "/fhir/Measure", "/fhir/Measure", ("Measure", "search"), optional=True),
    Route(
        "Measure.read",
        "GET",
        "/fhir/Measure/<string:resource_id>",
        "/fhir/Measure/oasi-care-bundle",
        ("Measure", "read"),
        optional=True,
    ),
    Route(
        "MR.search",
        "GET",
        "/fhir/MeasureReport",
        "/fhir/MeasureReport?measure=oasi-care-bundle",
        ("MeasureReport", "search"),
    ),
    Route(
        "QR.vread",
        "GET",
        f"{ONE_QR}/_history/<string:version_id>",
        f"{QR}/{{id}}/_history/2",
        ("QuestionnaireResponse", "read"),
    ),
)

ROUTE = {route.name: route for route in ROUTES}
ALL_QR = "system/QuestionnaireResponse.cruds"


@dataclass(frozen=True)
class TokenCase:
    name: str
    scopes: str = ""
    #: What the scopes grant, written out: QuestionnaireResponse, Questionnaire, Measure and MeasureReport
    #: action letters.
    qr: str = ""
    q: str = ""
    m: str = ""
    mr: str = ""
    #: own (unit A) | site (site S, no unit) | sibling (unit B of site S) | other-site (unit C of site T)
    binding: str = "own"
    #: none | malformed | unknown | expired | revoked | valid
    state: str = "valid"


TOKENS = (
    TokenCase("none", state="none"),
    TokenCase("malformed", "system/QuestionnaireResponse.cru", state="malformed"),
    TokenCase("unknown", state="unknown"),
    TokenCase("expired", "system/QuestionnaireResponse.cru", "cru", state="expired"),
    TokenCase("revoked", "system/QuestionnaireResponse.cru", "cru", state="revoked"),
    TokenCase("rs", "system/QuestionnaireResponse.rs", "rs"),
    TokenCase("cu", "system/QuestionnaireResponse.cu", "cu"),
    TokenCase("cru", "system/QuestionnaireResponse.cru", "cru"),
    TokenCase("v1-read", "system/QuestionnaireResponse.read", "rs"),
    TokenCase("v1-write", "system/QuestionnaireResponse.write", "cud"),
    TokenCase("Q.rs", "system/Questionnaire.rs", q="rs"),
    TokenCase("M.rs MR.s", "system/Measure.rs system/MeasureReport.s", m="rs", mr="s"),
    TokenCase("MR.read", "system/MeasureReport.read", mr="rs"),
    TokenCase("MR.s site-level", "system/MeasureReport.s", mr="s", binding="site"),
    TokenCase("sibling-unit", ALL_QR, "cruds", binding="sibling"),
    TokenCase("other-site", ALL_QR, "cruds", binding="other-site"),
    TokenCase("site-level", ALL_QR, "cruds", binding="site"),
)


CASE = {case.name: case for case in TOKENS}


def expected_status(route: Route, case: TokenCase) -> int:
    if route.check is None:
        return route.ok  # public: tokens are not looked at
    if case.state == "none":
        return route.ok if route.optional else 401
    if case.state != "valid":
        return 401  # malformed, unknown, expired, revoked: one answer
    if not scope_allows(route, case):
        return 403
    if route.writes and case.binding == "site":
        return 403  # bound to no unit: a read-only client of the whole site (ApiToken.unit_id)
    if route.names_the_checklist and case.binding in ("sibling", "other-site"):
        return 404  # another unit's checklist: its existence unsaid
    return route.ok


def scope_allows(route: Route, case: TokenCase) -> bool:
    assert route.check is not None
    resource, action = route.check
    granted = {"Questionnaire": case.q, "QuestionnaireResponse": case.qr, "Measure": case.m}
    return LETTER[action] in granted.get(resource, case.mr)


@dataclass(frozen=True)
class World:
    unit: Unit  # A, of site S: the checklist's unit
    sibling: Unit  # B, of site S
    elsewhere: Unit  # C, of site T
    checklist_id: str


def questionnaire_response(app: Flask, answers: dict[str, list[Any]] = DRAFT) -> dict[str, Any]:
    registry: CareBundleRegistry = app.extensions["care_bundles"]
    oasi = registry.get("oasi-care-bundle", "2.0.0")
    assert oasi is not None
    body = to_questionnaire_response(
        oasi,
        answers,
        checklist_id="unused",
        status="in-progress",
        authored=BIRTH + dt.timedelta(hours=2),
        nhs_number="9434765919",
    )
    del body["identifier"]
    return body


def bearer(secret: str, scheme: str = "Bearer") -> dict[str, str]:
    return {"Authorization": f"{scheme} {secret}", "Content-Type": "application/fhir+json"}


@pytest.fixture
def world(app: Flask, client: FlaskClient, session: Session) -> World:
    unit = make_unit_offering(session, "oasi-care-bundle", code="ward-a")
    sibling = Unit(site=unit.site, code="ward-b", name="Ward B")
    sibling.care_bundle_ids.append("oasi-care-bundle")
    session.add(sibling)
    elsewhere = make_unit_offering(session, "oasi-care-bundle", code="ward-c")
    _, secret = create_token(session, name="setup", site=unit.site, unit=unit, scopes=ALL_QR)
    session.commit()
    made = client.post(QR, data=json.dumps(questionnaire_response(app)), headers=bearer(secret))
    assert made.status_code == 201, made.get_data(as_text=True)
    return World(unit, sibling, elsewhere, made.get_json(force=True)["id"])


def token_headers(session: Session, world: World, case: TokenCase) -> tuple[dict[str, str], str | None]:
    """The request headers of ``case`` and the ``actor_client`` its audit event should name (None: none)."""
    if case.state == "none":
        return {"Content-Type": "application/fhir+json"}, None
    if case.state == "unknown":
        return bearer("clt_" + "x" * 43), "token:invalid"
    unit = {"own": world.unit, "site": None, "sibling": world.sibling, "other-site": world.elsewhere}
    now = dt.datetime.now(dt.UTC)
    row, secret = create_token(
        session,
        name=f"case {case.name}",
        site=(unit[case.binding] or world.unit).site,
        unit=unit[case.binding],
        scopes=case.scopes,
        expires_at=now - dt.timedelta(minutes=1) if case.state == "expired" else None,
    )
    if case.state == "revoked":
        revoke_token(session, row.id, now)
    session.commit()
    if case.state == "malformed":
        return bearer(secret, scheme="Token"), "token:invalid"  # a good token, not sent as a bearer token
    return bearer(secret), f"token:{row.id}"


def send(app: Flask, client: FlaskClient, route: Route, url: str, headers: dict[str, str]) -> TestResponse:
    if route.method == "GET":
        return client.get(url, headers=headers)
    if route.method == "PUT":
        answers = {**DRAFT, "antenatal-discussion": ["yes"]}
        body = {**questionnaire_response(app, answers), "id": url.split("/")[-1]}
        return client.put(url, data=json.dumps(body), headers={**headers, "If-Match": 'W/"2"'})
    return client.post(url, data=json.dumps(questionnaire_response(app)), headers=headers)


def token_audits(session: Session, after: int = 0) -> list[AuditEvent]:
    """The audit events of token checks (lifecycle writes audit ``checklist`` events of their own)."""
    query = select(AuditEvent).where(AuditEvent.entity_type.in_(RESOURCES), AuditEvent.id > after)
    return list(session.scalars(query.order_by(AuditEvent.id)))


def last_audit_id(session: Session) -> int:
    return int(session.scalar(select(func.max(AuditEvent.id))) or 0)


def written(session: Session) -> tuple[int, int, list[int]]:
    """What a write would change: checklists, their changes, and the versions of them all."""
    session.expire_all()
    versions = list(session.scalars(select(Checklist.version).order_by(Checklist.id)))
    changes = int(session.scalar(select(func.count()).select_from(ChecklistChange)) or 0)
    return len(versions), changes, versions


def assert_outcome(response: TestResponse, status: int) -> None:
    assert response.mimetype == "application/fhir+json"
    outcome = response.get_json(force=True)
    assert outcome["resourceType"] == "OperationOutcome"
    assert [issue["code"] for issue in outcome["issue"]] == [ISSUE_CODE[status]]
    if status == 401:  # RFC 6750 section 3
        assert response.headers["WWW-Authenticate"].startswith('Bearer realm="careloop"')


def token_unit(world: World, case: TokenCase) -> Unit:
    return {"own": world.unit, "sibling": world.sibling, "other-site": world.elsewhere}[case.binding]


def cells() -> Iterator[Any]:
    for route in ROUTES:
        for case in TOKENS:
            yield pytest.param(route, case, id=f"{route.name}|{case.name}")


@pytest.mark.parametrize(("route", "case"), list(cells()))
def test_scope_matrix(
    app: Flask, client: FlaskClient, session: Session, world: World, route: Route, case: TokenCase
) -> None:
    headers, actor = token_headers(session, world, case)
    url = route.url.format(id=world.checklist_id)
    before, audited_before = written(session), last_audit_id(session)

    response = send(app, client, route, url, headers)

    status = expected_status(route, case)
    assert response.status_code == status, response.get_data(as_text=True)
    if status >= 400:
        assert_outcome(response, status)
    after = written(session)
    if route.writes and status < 400:
        assert after[0] == before[0] + (route.name == "QR.create")
        assert after[1] > before[1]  # new versions
    else:
        assert after == before, "a request that is not an allowed write changed a checklist"
    if route.name == "QR.create" and status == 201:
        made = session.get(Checklist, uuid.UUID(response.get_json(force=True)["id"]))
        assert made is not None
        assert made.unit_id == token_unit(world, case).id  # the token's unit, never another
    if route.name == "QR.search" and status == 200:
        sees_a = case.binding in ("own", "site")
        assert response.get_json(force=True)["total"] == int(sees_a)

    events = token_audits(session, audited_before)
    if route.check is None or actor is None:
        assert events == []  # tokens not looked at, or no token to name
        return
    resource, action = route.check
    (event,) = events
    assert (event.actor_client, event.action, event.entity_type, event.detail) == (
        actor,
        action,
        resource,
        {"route": route.rule},
    )
    if case.state != "valid":
        assert event.outcome == "failure"
    elif not scope_allows(route, case):
        assert event.outcome == "denied"
    elif status < 400:
        assert event.outcome == "success"
    else:
        assert event.outcome == "denied"  # the route's own refusal (no unit, another unit's checklist)
    if status == 404:
        assert_answered_as_missing(app, client, route, headers, response, world.checklist_id)


def assert_answered_as_missing(
    app: Flask, client: FlaskClient, route: Route, headers: dict[str, str], seen: TestResponse, real: str
) -> None:
    """Another unit's checklist gets the answer an id that names nothing gets: nothing to learn by trying."""
    missing = str(uuid.uuid4())
    probe = send(app, client, route, route.url.format(id=missing), headers)
    assert probe.status_code == seen.status_code
    assert probe.get_data(as_text=True).replace(missing, "<id>") == seen.get_data(as_text=True).replace(
        real, "<id>"
    )


def fhir_routes(app: Flask) -> set[tuple[str, str]]:
    return {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule == "/fhir" or rule.rule.startswith("/fhir/")
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS")
    }


def structure_definition_routes(app: Flask) -> set[tuple[str, str]]:
    return {(m, r) for m, r in fhir_routes(app) if m == "GET" and r.startswith("/fhir/StructureDefinition")}


def test_the_matrix_has_a_row_for_every_fhir_route(app: Flask) -> None:
    rows = [(route.method, route.rule) for route in ROUTES]
    assert len(rows) == len(set(rows))
    assert fhir_routes(app) - structure_definition_routes(app) == set(rows)


def test_structure_definitions_are_public_like_code_systems(
    client: FlaskClient, session: Session, world: World
) -> None:
    rules = sorted(rule for _, rule in structure_definition_routes(client.application))
    if not rules:
        pytest.skip("no /fhir/StructureDefinition route yet: this test runs when one is added")
    audited_before = last_audit_id(session)
    for rule in rules:
        url = re.sub(r"<[^>]+>", "oasi-care-bundle", rule)
        anonymous = client.get(url)
        assert anonymous.status_code in (200, 404), url
        for case in TOKENS:
            answer = client.get(url, headers=token_headers(session, world, case)[0])
            assert (answer.status_code, answer.data) == (anonymous.status_code, anonymous.data), (url, case)
    assert token_audits(session, audited_before) == []


@pytest.mark.parametrize("case", [c for c in TOKENS if c.state != "valid"], ids=lambda c: c.name)
def test_a_401_says_how_to_authenticate(
    client: FlaskClient, session: Session, world: World, case: TokenCase
) -> None:
    response = client.get(QR, headers=token_headers(session, world, case)[0])
    assert response.status_code == 401
    assert response.headers.get("WWW-Authenticate", "").startswith("Bearer")


@pytest.mark.parametrize(("route", "case"), [("QR.create", "site-level"), ("QR.read", "sibling-unit")])
def test_a_request_refused_after_the_scope_check_is_not_audited_as_a_success(
    app: Flask, client: FlaskClient, session: Session, world: World, route: str, case: str
) -> None:
    headers, actor = token_headers(session, world, CASE[case])
    audited_before = last_audit_id(session)
    url = ROUTE[route].url.format(id=world.checklist_id)
    assert send(app, client, ROUTE[route], url, headers).status_code in (403, 404)
    (event,) = token_audits(session, audited_before)
    assert event.actor_client == actor
    assert event.outcome != "success"


@pytest.mark.parametrize("suffix", ["", "/_history", "/_history/2"])
def test_a_read_is_audited_with_the_checklist_it_read(
    client: FlaskClient, session: Session, world: World, suffix: str
) -> None:
    headers, _ = token_headers(session, world, CASE["rs"])
    audited_before = last_audit_id(session)
    assert client.get(f"{QR}/{world.checklist_id}{suffix}", headers=headers).status_code == 200
    (event,) = token_audits(session, audited_before)
    assert event.entity_id == world.checklist_id
