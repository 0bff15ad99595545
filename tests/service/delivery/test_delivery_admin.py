"""What admins and EHRs see of delivery: the JWKS and key rotation, the deliveries page, the CLI, and the
delivery state on the ward's checklist page."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import responses
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from service.care_bundles import CareBundleCatalogue
from service.checklists.lifecycle import Actor
from service.delivery import outbox
from service.delivery.keys import KeyStore
from service.models import DeliveryStatus, Role, Unit, User
from tests.outbox_support import START, Clock, complete_oasi, deliveries, make_ehr_unit, make_nurse, states

BASE = "https://ehr.example/fhir"
QR_URL = f"{BASE}/QuestionnaireResponse"


@pytest.fixture
def keys_path(app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "smart-keys.json"
    monkeypatch.setitem(app.config, "SMART_KEYS_PATH", str(path))
    return path


# -- keys and the JWKS ------------------------------------------------------------------------------------


def test_key_rotation_publishes_old_and_new_keys_throughout(
    runner: FlaskCliRunner, client: FlaskClient, keys_path: Path
) -> None:
    assert client.get("/.well-known/jwks.json").get_json() == {"keys": []}

    first = runner.invoke(args=["keys", "add", "--alg", "RS384"])
    old_kid, _, state = first.output.split()
    assert state == "active"
    assert re.fullmatch(r"rs384-\d{8}-[0-9a-f]{12}", old_kid)  # never starts with "-" (an option)
    second = runner.invoke(args=["keys", "add", "--alg", "RS384"])
    new_kid, _, state = second.output.split()
    assert state == "next"  # published before it signs
    assert {key["kid"] for key in client.get("/.well-known/jwks.json").get_json()["keys"]} == {
        old_kid,
        new_kid,
    }

    assert runner.invoke(args=["keys", "activate", new_kid]).exit_code == 0
    store = KeyStore(keys_path)
    assert store.signing_key("RS384").kid == new_kid
    assert {(k.kid, k.state) for k in store.entries()} == {(old_kid, "previous"), (new_kid, "active")}
    refused = runner.invoke(args=["keys", "retire", new_kid])
    assert refused.exit_code == 1
    assert "is signing" in refused.output

    assert runner.invoke(args=["keys", "retire", old_kid]).exit_code == 0
    published = client.get("/.well-known/jwks.json")
    assert [key["kid"] for key in published.get_json()["keys"]] == [new_kid]
    assert published.headers["Cache-Control"] == "public, max-age=300"
    assert keys_path.stat().st_mode & 0o777 == 0o600


def test_the_jwks_carries_public_halves_only_and_verifies_our_assertions(
    client: FlaskClient, keys_path: Path
) -> None:
    store = KeyStore(keys_path)
    stored = store.add("ES384", START)
    published = client.get("/.well-known/jwks.json").get_json()

    (key,) = published["keys"]
    assert "d" not in key
    assert (key["alg"], key["use"], key["kid"]) == ("ES384", "sig", stored.kid)
    token = jwt.encode(
        {"alg": "ES384", "kid": stored.kid}, {"iss": "careloop"}, stored.key, algorithms=["ES384"]
    )
    assert jwt.decode(token, KeySet.import_key_set(published), algorithms=["ES384"]).claims == {
        "iss": "careloop"
    }


def test_keys_list_and_unknown_algorithms(runner: FlaskCliRunner, keys_path: Path) -> None:
    assert "no keys" in runner.invoke(args=["keys", "list"]).output
    assert runner.invoke(args=["keys", "add", "--alg", "HS256"]).exit_code == 2
    assert runner.invoke(args=["keys", "activate", "nope"]).exit_code == 1


# -- the deliveries page ----------------------------------------------------------------------------------


def _dead_letter(session: Session, catalogue: CareBundleCatalogue) -> tuple[uuid.UUID, int]:
    unit = make_ehr_unit(session, BASE)
    checklist_id = complete_oasi(session, catalogue, make_nurse(session, unit), unit)
    (claimed,) = outbox.claim(session, "w", START)
    failed = outbox.Result(
        claimed,
        DeliveryStatus.DEAD,
        422,
        error="EhrRejected: POST QuestionnaireResponse: 422: error required: encounter is required",
        outcome={"resourceType": "OperationOutcome", "issue": []},
    )
    assert outbox.record(session, "w", START, [failed]) == []
    return checklist_id, claimed.delivery_id


def test_admins_see_backlog_and_dead_letters_and_send_one_again(
    session: Session,
    catalogue: CareBundleCatalogue,
    client: FlaskClient,
    make_user: Callable[..., User],
    sign_in: Callable[..., TestResponse],
) -> None:
    checklist_id, delivery_id = _dead_letter(session, catalogue)
    make_user("admin", role=Role.ADMIN)
    sign_in("admin")

    page = client.get("/admin/deliveries").get_data(as_text=True)

    assert f'data-delivery="{delivery_id}"' in page
    assert "HTTP 422" in page
    assert "encounter is required" in page
    assert "9434765919" not in page  # no patient identifier on the page
    answer = client.post(f"/admin/deliveries/{delivery_id}/requeue")
    assert answer.status_code == 303
    assert states(session, checklist_id) == [(2, "pending")]
    assert "will be sent again" in client.get("/admin/deliveries").get_data(as_text=True)
    again = client.post(f"/admin/deliveries/{delivery_id}/requeue", follow_redirects=True)
    assert "only dead letters are requeued" in again.get_data(as_text=True)


@pytest.mark.parametrize("role", [Role.CLINICIAN, Role.QI_LEAD])
def test_only_admins_see_deliveries(
    client: FlaskClient, make_user: Callable[..., User], sign_in: Callable[..., TestResponse], role: Role
) -> None:
    assert client.get("/admin/deliveries").status_code == 302  # to sign in
    make_user("someone", role=role)
    sign_in("someone")
    assert client.get("/admin/deliveries").status_code == 403
    assert client.post("/admin/deliveries/1/requeue").status_code == 403


# -- the CLI ----------------------------------------------------------------------------------------------


def test_deliveries_list_and_requeue_from_the_command_line(
    session: Session, catalogue: CareBundleCatalogue, runner: FlaskCliRunner
) -> None:
    checklist_id, delivery_id = _dead_letter(session, catalogue)

    listed = runner.invoke(args=["deliveries", "list"])
    assert "dead 1" in listed.output
    assert f"{delivery_id:>8} dead" in listed.output
    assert "422" in listed.output

    assert runner.invoke(args=["deliveries", "requeue"]).exit_code == 2
    requeued = runner.invoke(args=["deliveries", "requeue", str(delivery_id)])
    assert requeued.exit_code == 0, requeued.output
    assert states(session, checklist_id) == [(2, "pending")]
    again = runner.invoke(args=["deliveries", "requeue", str(delivery_id)])
    assert again.exit_code == 1
    assert "only dead letters" in again.output


@responses.activate
def test_flask_deliver_once_drains_the_backlog(
    session: Session, catalogue: CareBundleCatalogue, runner: FlaskCliRunner, keys_path: Path
) -> None:
    unit = make_ehr_unit(session, BASE)
    nurse = make_nurse(session, unit)
    ids = [complete_oasi(session, catalogue, nurse, unit) for _ in range(2)]
    responses.post(
        QR_URL,
        json={"resourceType": "QuestionnaireResponse", "id": "x", "meta": {"versionId": "1"}},
        status=201,
    )

    result = runner.invoke(args=["deliver", "--once"])

    assert result.exit_code == 0, result.output
    assert "delivered 2, retrying 0, dead letters 0" in result.output
    assert all(states(session, i) == [(2, "delivered")] for i in ids)


# -- the ward ---------------------------------------------------------------------------------------------


def test_the_checklist_page_shows_its_delivery_state(
    session: Session,
    catalogue: CareBundleCatalogue,
    client: FlaskClient,
    make_user: Callable[..., User],
    sign_in: Callable[..., TestResponse],
) -> None:
    unit = make_ehr_unit(session, BASE)
    midwife = make_user("midwife", units=[unit])
    checklist_id = complete_oasi(
        session, catalogue, Actor(user_id=midwife.id, unit_ids=frozenset({unit.id})), unit
    )
    sign_in("midwife")

    def state() -> Any:
        page = client.get(f"/ward/checklists/{checklist_id}").get_data(as_text=True)
        return page.split('class="careloop-delivery" data-delivery="', 1)[1].split('"', 1)[0], page

    assert state()[0] == "pending"
    assert "Queued for the EHR" in state()[1]
    (claimed,) = outbox.claim(session, "w", Clock()())
    delivered = outbox.Result(claimed, DeliveryStatus.DELIVERED, 201, resource_id="qr-1", version_id="1")
    outbox.record(session, "w", START, [delivered])
    status, page = state()
    assert status == "delivered"
    assert "Sent to the EHR" in page
    assert "2 March 2026 at 09:00" in page
    assert deliveries(session, checklist_id)[0].ehr_resource_id == "qr-1"


def test_the_checklist_page_says_when_the_ehr_refused_it(
    session: Session,
    catalogue: CareBundleCatalogue,
    client: FlaskClient,
    make_user: Callable[..., User],
    sign_in: Callable[..., TestResponse],
) -> None:
    checklist_id, _ = _dead_letter(session, catalogue)
    (unit_id,) = {row.checklist.unit_id for row in deliveries(session, checklist_id)}
    make_user("midwife", units=[session.get(Unit, unit_id)])
    sign_in("midwife")

    page = client.get(f"/ward/checklists/{checklist_id}").get_data(as_text=True)

    assert 'data-delivery="dead"' in page
    assert "Not sent to the EHR" in page
    assert "on 2 March 2026 at 09:00: the EHR refused it" in page
    assert "encounter is required" not in page  # the EHR's reasons are for admins


def test_a_key_store_in_use_sees_a_rotation_made_by_another_process(keys_path: Path) -> None:
    worker_store, admin_store = KeyStore(keys_path), KeyStore(keys_path)
    first = admin_store.add("RS384", START)
    assert worker_store.signing_key("RS384").kid == first.kid
    assert worker_store.signing_key("RS384") is worker_store.signing_key("RS384")  # read once, not per write

    second = admin_store.add("RS384", START)
    admin_store.activate(second.kid)

    assert worker_store.signing_key("RS384").kid == second.kid
