"""``/fhir`` tried as an attacker would (issue 10, item 5): every hostile body gets a 4xx with an
OperationOutcome (or a 200 ``$validate`` outcome listing its problems), never a 5xx; nothing is written; the
answer is bounded and repeats no patient free text. Time and memory of these cases belong in the benchmark,
not here."""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

import pytest
from fhir.resources.R4B.operationoutcome import OperationOutcome
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fhir_adapters.operation_outcome import (
    ECHO_CHARS,
    MAX_DIAGNOSTICS,
    MAX_ISSUES,
    Issue,
    echo,
    operation_outcome,
)
from fhir_adapters.sdc.primitives import base64_length
from service.fhir_api.request_body import MAX_JSON_DEPTH
from service.models import AuditEvent, Checklist
from tests.service.fhir_api.test_validation import FHIR_JSON, URL

CANONICAL = "https://careloop.example/fhir/Questionnaire/oasi-care-bundle|1.0.0"
#: Every status a hostile body may get from ``$validate``.
CLEAN_STATUSES = {200, 400, 413, 415, 422}


def answer_of(client: FlaskClient, data: str | bytes) -> tuple[int, dict[str, Any]]:
    response = client.post(URL, data=data, content_type=FHIR_JSON)
    assert response.status_code in CLEAN_STATUSES, response.get_data(as_text=True)[:500]
    outcome = response.get_json(force=True)
    OperationOutcome.model_validate(outcome)
    return response.status_code, outcome


def stored_rows(session: Session) -> tuple[int, int]:
    return (
        session.scalar(select(func.count()).select_from(Checklist)) or 0,
        session.scalar(select(func.count()).select_from(AuditEvent)) or 0,
    )


def nested_items(levels: int) -> dict[str, Any]:
    item: dict[str, Any] = {"linkId": "x"}
    for _ in range(levels):
        item = {"linkId": "x", "item": [item]}
    return {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "questionnaire": CANONICAL,
        "item": [item],
    }


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        pytest.param("[" * 1000 + "]" * 1000, 400, f"deeper than {MAX_JSON_DEPTH}", id="json-1000-deep"),
        pytest.param(
            json.dumps(nested_items(300)), 400, f"deeper than {MAX_JSON_DEPTH}", id="items-300-deep"
        ),
        pytest.param(
            '{"resourceType": "QuestionnaireResponse", "status": "\\ud800"}',
            400,
            "lone surrogate",
            id="surrogate",
        ),
        pytest.param(
            '{"resourceType": "QuestionnaireResponse", "id": "a", "id": "b"}',
            400,
            "appears twice",
            id="dup-keys",
        ),
        pytest.param(b"{" + b" " * 2_000_001 + b"}", 413, "larger than", id="too-large"),
        pytest.param("NaN", 400, "not valid JSON", id="nan"),
    ],
)
def test_hostile_bodies_are_refused_clearly(
    client: FlaskClient, session: Session, body: str | bytes, status: int, says: str
) -> None:
    before = stored_rows(session)
    got, outcome = answer_of(client, body)
    assert got == status
    assert says in outcome["issue"][0]["diagnostics"]
    assert stored_rows(session) == before


def test_a_surrogate_in_a_key_is_refused_too(client: FlaskClient) -> None:
    status, outcome = answer_of(client, '{"resourceType": "QuestionnaireResponse", "\\udfff": 1}')
    assert status == 400
    assert "lone surrogate" in outcome["issue"][0]["diagnostics"]


def test_the_largest_accepted_body_is_the_configured_limit(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = json.dumps({"resourceType": "QuestionnaireResponse", "status": "completed"})
    monkeypatch.setitem(app.config, "FHIR_MAX_BODY_BYTES", len(body))
    assert answer_of(client, body)[0] == 200
    monkeypatch.setitem(app.config, "FHIR_MAX_BODY_BYTES", len(body) - 1)
    assert answer_of(client, body)[0] == 413


def test_many_unknown_link_ids_make_a_bounded_answer(client: FlaskClient) -> None:
    items = [{"linkId": f"unknown-{n}", "answer": [{"valueString": "x"}]} for n in range(5000)]
    body = {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "questionnaire": CANONICAL,
        "item": items,
    }
    status, outcome = answer_of(client, json.dumps(body))
    assert status == 200
    assert len(outcome["issue"]) == MAX_ISSUES + 1
    assert outcome["issue"][-1]["diagnostics"].endswith("more issues not shown")


def test_base64_of_spaces_is_not_base64_and_answers_at_once(client: FlaskClient) -> None:
    assert base64_length(" " * 200_000 + "!") is None
    assert base64_length("aGVs bG8=") == 5
    attachment = {"valueAttachment": {"contentType": "text/plain", "data": " " * 200_000 + "!"}}
    body = {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "item": [{"linkId": "a", "answer": [attachment]}],
    }
    status, outcome = answer_of(client, json.dumps(body))
    assert status == 200
    assert all(len(issue["diagnostics"]) <= MAX_DIAGNOSTICS for issue in outcome["issue"])


def test_free_text_is_never_repeated_back() -> None:
    secret = "Patient said she was frightened " * 3
    assert echo(secret) == f"'{secret[: ECHO_CHARS - 1]}…'"
    rendered = operation_outcome([Issue("error", "value", "x" * 10_000)] * (MAX_ISSUES + 5))
    assert len(rendered["issue"]) == MAX_ISSUES + 1
    assert {len(issue["diagnostics"]) for issue in rendered["issue"][:-1]} == {MAX_DIAGNOSTICS}
    assert rendered["issue"][-1]["diagnostics"] == "5 more issues not shown"


# -- malformed and mutated responses ------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


def _replace(document: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    target = document
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = new
    return document


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_responses_get_an_outcome_never_a_server_error(
    client: FlaskClient, session: Session, valid_response: dict[str, Any], data: st.DataObject
) -> None:
    before = stored_rows(session)
    document = copy.deepcopy(valid_response)
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        path = data.draw(st.sampled_from(_paths(document)))
        document = _replace(document, path, data.draw(json_values))
    text = json.dumps(document)
    if data.draw(st.booleans()):  # cut or corrupt the text itself, too
        cut = data.draw(st.integers(min_value=0, max_value=len(text)))
        text = text[:cut] + data.draw(st.sampled_from(["", "}", "\\ud800", '"', "\x00", "[" * 80]))
    answer_of(client, text)
    assert stored_rows(session) == before


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_creates_never_fail_on_the_server_nor_write_part_of_a_checklist(
    app: Flask, client: FlaskClient, session: Session, data: st.DataObject
) -> None:
    """``POST /fhir/QuestionnaireResponse`` with mutated bodies: a clean status every time; a refusal writes
    nothing at all (no checklist, no change row), an acceptance writes exactly one checklist."""
    from service.auth.tokens import create_token
    from service.models import ChecklistChange
    from tests.factories import make_unit_offering
    from tests.service.fhir_api.test_questionnaire_responses import response_body

    unit = make_unit_offering(session, "oasi-care-bundle", code=f"w-{uuid.uuid4().hex[:6]}")
    _, secret = create_token(
        session, name="fuzz", site=unit.site, unit=unit, scopes="system/QuestionnaireResponse.cu"
    )
    session.commit()
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/fhir+json"}
    document: Any = response_body(app)
    for _ in range(data.draw(st.integers(min_value=0, max_value=3))):
        path = data.draw(st.sampled_from(_paths(document)))
        document = _replace(document, path, data.draw(json_values))
    before = (
        session.scalar(select(func.count()).select_from(Checklist)) or 0,
        session.scalar(select(func.count()).select_from(ChecklistChange)) or 0,
    )
    response = client.post("/fhir/QuestionnaireResponse", data=json.dumps(document), headers=headers)
    assert response.status_code in {200, 201, 400, 403, 404, 409, 413, 415, 422}, response.get_data(
        as_text=True
    )
    after = (
        session.scalar(select(func.count()).select_from(Checklist)) or 0,
        session.scalar(select(func.count()).select_from(ChecklistChange)) or 0,
    )
    if response.status_code == 201:
        assert after[0] == before[0] + 1
    else:
        if response.status_code >= 400:
            OperationOutcome.model_validate(response.get_json(force=True))
        assert after == before
