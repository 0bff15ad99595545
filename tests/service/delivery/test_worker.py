"""The delivery worker and the outbox against a mocked EHR (``responses``), with a clock the tests move on.

The same guarantees against a real FHIR server, through faults: tests/integration/test_delivery_faults.py.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
import responses
from responses import matchers
from sqlalchemy.orm import Session

from service.care_bundles import CareBundleCatalogue
from service.checklists.lifecycle import Actor
from service.delivery import outbox
from service.delivery.keys import KeyStore
from service.delivery.settings import Clients
from service.delivery.worker import CONFIG_RETRY, Worker
from service.models import ChecklistSource, DeliveryStatus, EhrAuth, Unit
from tests.outbox_support import (
    Clock,
    amend_oasi,
    complete_oasi,
    deliveries,
    enter_in_error,
    make_ehr_unit,
    make_nurse,
    states,
)

BASE = "https://ehr.example/fhir"
QR_URL = f"{BASE}/QuestionnaireResponse"


@pytest.fixture
def unit(session: Session) -> Unit:
    return make_ehr_unit(session, BASE)


@pytest.fixture
def nurse(session: Session, unit: Unit) -> Actor:
    return make_nurse(session, unit)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def keys(tmp_path: Path) -> KeyStore:
    return KeyStore(tmp_path / "smart-keys.json")


def make_worker(session: Session, clock: Clock, keys: KeyStore, **options: Any) -> Worker:
    return Worker(
        session, Clients(keys, clock=clock.timestamp, now=clock), now=clock, rng=lambda: 0.5, **options
    )


def stored(body: dict[str, Any], resource_id: str = "qr-1", version: str = "1") -> dict[str, Any]:
    return {**body, "id": resource_id, "meta": {"versionId": version}}


def echo(resource_id: str = "qr-1", version: str = "1", status: int = 201) -> Any:
    """A callback answering with what was sent, as a server that stored it would."""

    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        return (
            status,
            {"ETag": f'W/"{version}"'},
            json.dumps(stored(json.loads(request.body), resource_id, version)),
        )

    return answer


@responses.activate
def test_a_completion_is_created_in_the_ehr_and_its_id_and_version_recorded(
    session: Session, catalogue: CareBundleCatalogue, nurse: Actor, unit: Unit, clock: Clock, keys: KeyStore
) -> None:
    checklist_id = complete_oasi(session, catalogue, nurse, unit)
    responses.add_callback(responses.POST, QR_URL, callback=echo("qr-1", "1"))

    tally = make_worker(session, clock, keys).drain()

    (row,) = deliveries(session, checklist_id)
    assert (row.status, row.ehr_resource_id, row.ehr_version_id, row.ehr_status_code) == (
        "delivered",
        "qr-1",
        "1",
        201,
    )
    assert row.delivered_at == clock()
    assert (tally.delivered, tally.outcomes) == (1, {"created": 1})
    sent = json.loads(responses.calls[0].request.body)
    assert sent["identifier"]["value"] == str(checklist_id)
    assert responses.calls[0].request.headers["If-None-Exist"].endswith(f"|{checklist_id}")
    assert "id" not in sent
    assert "versionId" not in sent.get("meta", {})
    assert sent["status"] == "completed"


@responses.activate
def test_an_amendment_puts_over_the_ehr_copy_with_if_match(
    session: Session, catalogue: CareBundleCatalogue, nurse: Actor, unit: Unit, clock: Clock, keys: KeyStore
) -> None:
    checklist_id = complete_oasi(session, catalogue, nurse, unit)
    responses.add_callback(responses.POST, QR_URL, callback=echo("qr-1", "1"))
    make_worker(session, clock, keys).drain()
    amend_oasi(session, catalogue, nurse, checklist_id, base_version=2)
    responses.add_callback(
        responses.PUT,
        f"{QR_URL}/qr-1",
        callback=echo("qr-1", "2", 200),
        match=[matchers.header_matcher({"If-Match": 'W/"1"'})],
    )

    make_worker(session, clock, keys).drain()

    assert states(session, checklist_id) == [(2, "delivered"), (3, "delivered")]
    assert deliveries(session, checklist_id)[1].ehr_version_id == "2"
    sent = json.loads(responses.calls[1].request.body)
    assert (sent["id"], sent["status"]) == ("qr-1", "amended")


@responses.activate
def test_a_newer_version_supersedes_an_older_unsent_one(
    session: Session, catalogue: CareBundleCatalogue, nurse: Actor, unit: Unit, clock: Clock, keys: KeyStore
) -> None:
    checklist_id = complete_oasi(session, catalogue, nurse, unit)
    amend_oasi(session, catalogue, nurse, checklist_id, base_version=2)
    enter_in_error(session, catalogue, nurse, checklist_id, base_version=3)
    responses.add_callback(responses.POST, QR_URL, callback=echo("qr-1", "1"))

    make_worker(session, clock, keys).drain()

    assert states(session, checklist_id) == [(2, "superseded"), (3, "superseded"), (4, "delivered")]
    assert len(responses.calls) == 1
    assert json.loads(responses.calls[0].request.body)["status"] == "entered-in-error"


@responses.activate
def test_a_503_with_retry_after_backs_off_then_delivers(
    session: Session, catalogue: CareBundleCatalogue, nurse: Actor, unit: Unit, clock: Clock, keys: KeyStore
) -> None:
    checklist_id = complete_oasi(session, catalogue, nurse, unit)
    responses.post(QR_URL, status=503, headers={"Retry-After": "120"})
    worker = make_worker(session, clock, keys)

    worker.drain()

    (row,) = deliveries(session, checklist_id)
    assert (row.status, row.attempts, row.ehr_status_code) == ("pending", 1, 503)
    assert row.next_attempt_at == clock() + dt.timedelta(seconds=120)
    assert "503" in (row.last_error or "")
    clock.advance(seconds=119)
    assert worker.drain().delivered == 0  # not due yet
    assert len(responses.calls) == 1

    responses.replace(
        responses.POST, QR_URL, json=stored({"resourceType": "QuestionnaireResponse"}), status=201
    )
    clock.advance(seconds=1)
    worker.drain()

    (row,) = deliveries(session, checklist_id)
    assert (row.status, row.attempts, row.last_error) == ("delivered", 2, None)


def test_back_off_doubles_up_to_its_cap_with_jitter_and_honours_retry_after() -> None:
    low, high = (lambda: 0.0), (lambda: 1.0)
    assert outbox.backoff(1, None, high) == dt.timedelta(seconds=5)
    assert outbox.backoff(1, None, low) == dt.timedelta(seconds=2.5)
    assert outbox.backoff(4, None, high) == dt.timedelta(seconds=40)
    assert outbox.backoff(30, None, high) == outbox.BACKOFF_CAP
    assert outbox.backoff(30, None, low) == outbox.BACKOFF_CAP / 2
    assert outbox.backoff(1, 600, high) == dt.timedelta(seconds=600)


@responses.activate
def test_a_network_error_is_retried(
    session: Session, catalogue: CareBundleCatalogue, nurse: Actor, unit: Unit, clock: Clock, keys: KeyStore
) -> None:
    import requests

    checklist_id = complete_oasi(session, catalogue, nurse, unit)
    responses.post(QR_URL, body=requests.ConnectionError("refused"))

    make_worker(session, clock, keys).drain()

    (row,) = deliveries(session, checklist_id)
    assert (row.status, row.ehr_status_code) == ("pending", None)
    assert "ConnectionError" in (row.last_error or "")
    assert row.next_attempt_at == clock() + dt.timedelta(seconds=3.75)  # first back-off, jitter 0.5


@responses.activate
def test_a_422_is_a_dead_letter_with_its_outcome_and_a_requeue_delivers_it(
    session: Session, catalogue: CareBundleCatalogue, nurse: Actor, unit: Unit, clock: Clock, keys: KeyStore
) -> None:
    checklist_id = complete_oasi(session, catalogue, nurse, unit)
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "required", "diagnostics": "encounter is required here"}],
    }
    responses.post(QR_URL, status=422, json=outcome)

    tally = make_worker(session, clock, keys).drain()

    (row,) = deliveries(session, checklist_id)
    assert (row.status, row.ehr_status_code, row.operation_outcome) == ("dead", 422, outcome)
    assert "encounter is required here" in (row.last_error or "")
    assert tally.dead == 1
    clock.advance(hours=1)
    assert make_worker(session, clock, keys).drain().handled == 0  # dead letters wait for a person

    outbox.requeue(session, row.id, clock())
    session.commit()
    responses.replace(
        responses.POST, QR_URL, json=stored({"resourceType": "QuestionnaireResponse"}), status=201
    )
    make_worker(session, clock, keys).drain()

    (row,) = deliveries(session, checklist_id)
    assert (row.status, row.attempts) == ("delivered", 1)


@responses.activate
def test_a_change_made_in_the_ehr_is_a_dead_letter_and_is_not_overwritten(
    session: Session, catalogue: CareBundleCatalogue, nurse: Actor, unit: Unit, clock: Clock, keys: KeyStore
) -> None:
    checklist_id = complete_oasi(session, catalogue, nurse, unit)
    responses.add_callback(responses.POST, QR_URL, callback=echo("qr-1", "1"))
    make_worker(session, clock, keys).drain()
    amend_oasi(session, catalogue, nurse, checklist_id, base_version=2)
    theirs = {"resourceType": "QuestionnaireResponse", "status": "amended", "item": []}
    responses.put(f"{QR_URL}/qr-1", status=412)
    responses.get(f"{QR_URL}/qr-1", json=stored(theirs, "qr-1", "2"))

    make_worker(session, clock, keys).drain()

    assert states(session, checklist_id) == [(2, "delivered"), (3, "dead")]
    assert "changed in the EHR" in (deliveries(session, checklist_id)[1].last_error or "")
    assert [call.request.method for call in responses.calls] == ["POST", "PUT", "GET"]


@responses.activate
def test_a_late_result_from_a_worker_whose_lease_ran_out_is_not_recorded(
    session: Session, catalogue: CareBundleCatalogue, nurse: Actor, unit: Unit, clock: Clock, keys: KeyStore
) -> None:
    checklist_id = complete_oasi(session, catalogue, nurse, unit)
    (first,) = outbox.claim(session, "worker-a", clock())
    clock.advance(minutes=10)  # worker a hangs past its lease
    (second,) = outbox.claim(session, "worker-b", clock())
    assert second.delivery_id == first.delivery_id
    assert second.attempts == 2

    late = outbox.Result(first, DeliveryStatus.DELIVERED, 201, resource_id="x", version_id="1")
    assert outbox.record(session, "worker-a", clock(), [late]) == [late]
    on_time = outbox.Result(second, DeliveryStatus.DELIVERED, 201, resource_id="qr-9", version_id="1")
    assert outbox.record(session, "worker-b", clock(), [on_time]) == []
    (row,) = deliveries(session, checklist_id)
    assert (row.status, row.ehr_resource_id) == ("delivered", "qr-9")


def test_a_live_lease_keeps_the_checklist_from_other_workers(
    session: Session, catalogue: CareBundleCatalogue, nurse: Actor, unit: Unit, clock: Clock
) -> None:
    checklist_id = complete_oasi(session, catalogue, nurse, unit)
    assert len(outbox.claim(session, "worker-a", clock())) == 1
    amend_oasi(session, catalogue, nurse, checklist_id, base_version=2)

    assert outbox.claim(session, "worker-b", clock()) == []  # v3 waits until v2's answer is recorded
    assert states(session, checklist_id) == [(2, "in-flight"), (3, "pending")]


@responses.activate
def test_stopping_finishes_the_row_in_hand_and_gives_back_the_rest(
    session: Session, catalogue: CareBundleCatalogue, nurse: Actor, unit: Unit, clock: Clock, keys: KeyStore
) -> None:
    ids = [complete_oasi(session, catalogue, nurse, unit) for _ in range(3)]
    stop = threading.Event()

    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        stop.set()  # SIGTERM arrives while the first row is being sent
        return 201, {}, json.dumps(stored(json.loads(request.body), uuid.uuid4().hex))

    responses.add_callback(responses.POST, QR_URL, callback=answer)

    make_worker(session, clock, keys).run_once(stop)

    assert sorted(states(session, i)[0][1] for i in ids) == ["delivered", "pending", "pending"]
    assert len(responses.calls) == 1
    released = [deliveries(session, i)[0] for i in ids if states(session, i)[0][1] == "pending"]
    assert all(
        row.attempts == 0 and row.lease_owner is None and row.next_attempt_at == clock() for row in released
    )


def test_a_site_with_write_back_off_keeps_its_rows_waiting(
    session: Session, catalogue: CareBundleCatalogue, clock: Clock
) -> None:
    unit = make_ehr_unit(session, BASE, enabled=False)
    checklist_id = complete_oasi(session, catalogue, make_nurse(session, unit), unit)

    assert outbox.claim(session, "worker", clock()) == []
    assert states(session, checklist_id) == [(2, "pending")]
    assert outbox.backlog(session, unit.site_id).pending == 1


def test_a_response_that_came_from_the_ehr_is_not_written_back(
    session: Session, catalogue: CareBundleCatalogue, nurse: Actor, unit: Unit
) -> None:
    checklist_id = complete_oasi(session, catalogue, nurse, unit, source=ChecklistSource.FHIR)

    assert deliveries(session, checklist_id) == []


@responses.activate
def test_an_unreadable_bearer_token_waits_for_the_site_to_be_fixed(
    session: Session,
    catalogue: CareBundleCatalogue,
    clock: Clock,
    keys: KeyStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    unit = make_ehr_unit(
        session, BASE, auth=EhrAuth.BEARER, fhir_credentials_ref="env:CARELOOP_TEST_EHR_TOKEN"
    )
    checklist_id = complete_oasi(session, catalogue, make_nurse(session, unit), unit)
    monkeypatch.delenv("CARELOOP_TEST_EHR_TOKEN", raising=False)

    make_worker(session, clock, keys).drain()

    (row,) = deliveries(session, checklist_id)
    assert row.status == "pending"
    assert row.last_error == "site settings: the environment variable CARELOOP_TEST_EHR_TOKEN is not set"
    assert row.next_attempt_at == clock() + CONFIG_RETRY

    monkeypatch.setenv("CARELOOP_TEST_EHR_TOKEN", "t0ken-from-the-env")
    responses.post(
        QR_URL,
        json=stored({"resourceType": "QuestionnaireResponse"}),
        status=201,
        match=[matchers.header_matcher({"Authorization": "Bearer t0ken-from-the-env"})],
    )
    clock.advance(minutes=5)
    make_worker(session, clock, keys).drain()
    assert states(session, checklist_id) == [(2, "delivered")]


@responses.activate
def test_smart_backend_services_reuses_one_token_across_rows(
    session: Session, catalogue: CareBundleCatalogue, clock: Clock, keys: KeyStore
) -> None:
    keys.add("ES384", clock())
    token_url = "https://ehr.example/auth/token"
    unit = make_ehr_unit(
        session,
        BASE,
        auth=EhrAuth.SMART,
        fhir_client_id="careloop",
        fhir_token_url=token_url,
        fhir_signing_alg="ES384",
    )
    nurse = make_nurse(session, unit)
    for _ in range(3):
        complete_oasi(session, catalogue, nurse, unit)
    responses.post(token_url, json={"access_token": "tok", "token_type": "bearer", "expires_in": 60})
    responses.add_callback(responses.POST, QR_URL, callback=echo())

    tally = make_worker(session, clock, keys).drain()

    assert tally.delivered == 3
    methods = [(call.request.method, call.request.url) for call in responses.calls]
    assert methods.count(("POST", token_url)) == 1
    assert all(
        call.request.headers.get("Authorization") == "Bearer tok"
        for call in responses.calls
        if call.request.url == QR_URL
    )


def test_no_signing_key_is_a_site_settings_problem(
    session: Session, catalogue: CareBundleCatalogue, clock: Clock, keys: KeyStore
) -> None:
    unit = make_ehr_unit(
        session,
        BASE,
        auth=EhrAuth.SMART,
        fhir_client_id="careloop",
        fhir_token_url="https://ehr.example/auth/token",
        fhir_signing_alg="RS384",
    )
    checklist_id = complete_oasi(session, catalogue, make_nurse(session, unit), unit)

    make_worker(session, clock, keys).drain()

    (row,) = deliveries(session, checklist_id)
    assert row.status == DeliveryStatus.PENDING
    assert "no active RS384 signing key" in (row.last_error or "")


@responses.activate
def test_a_worker_held_up_by_a_slow_ehr_renews_the_leases_it_holds(
    session: Session,
    catalogue: CareBundleCatalogue,
    nurse: Actor,
    unit: Unit,
    clock: Clock,
    keys: KeyStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids = [complete_oasi(session, catalogue, nurse, unit) for _ in range(2)]
    worker = make_worker(session, clock, keys)
    worker.heartbeat = 0  # renew after every write (the real worker: every quarter of the lease)
    renewals: list[tuple[dt.datetime, list[int]]] = []
    renew = outbox.renew
    monkeypatch.setattr(
        outbox, "renew", lambda s, w, now, held: renewals.append((now, list(held))) or renew(s, w, now, held)
    )

    def slow(request: Any) -> tuple[int, dict[str, str], str]:
        clock.advance(seconds=50)  # each write takes 50 s: the batch outlasts the 60 s lease
        return 201, {}, json.dumps(stored(json.loads(request.body), uuid.uuid4().hex))

    responses.add_callback(responses.POST, QR_URL, callback=slow)
    start = clock()

    worker.run_once()

    second = deliveries(session, ids[1])[0].id
    assert (start + dt.timedelta(seconds=50), [second]) in renewals
    assert all(states(session, i) == [(2, "delivered")] for i in ids)
    assert worker.tally.lease_lost == 0


def test_a_renewed_lease_keeps_other_workers_off_and_a_lapsed_one_does_not(
    session: Session, catalogue: CareBundleCatalogue, nurse: Actor, unit: Unit, clock: Clock
) -> None:
    first, second = (complete_oasi(session, catalogue, nurse, unit) for _ in range(2))
    claimed = outbox.claim(session, "worker-a", clock())
    by_checklist = {row.checklist_id: row.delivery_id for row in claimed}
    clock.advance(seconds=50)
    outbox.renew(session, "worker-a", clock(), [by_checklist[first]])  # still working on the first
    clock.advance(seconds=20)  # 70 s after the claim

    taken = outbox.claim(session, "worker-b", clock())

    assert [row.checklist_id for row in taken] == [second]
