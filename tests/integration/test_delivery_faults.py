"""Delivery against a real FHIR server (the Medplum peer) through a fault-injecting proxy.

After every fault and its recovery, each checklist is in the EHR exactly once (a search by its identifier
finds one resource) holding its latest version. The worker runs in the test's process on the test's rolled
back session, with a clock the tests move on; tests/integration/test_delivery_processes.py kills and races
real worker processes.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy.orm import Session

from fhir_adapters.ehr_client import for_ehr, same_content
from fhir_adapters.questionnaire_response import CHECKLIST_IDENTIFIER_SYSTEM
from service.care_bundles import CareBundleCatalogue
from service.delivery import outbox
from service.delivery.keys import KeyStore
from service.delivery.settings import Clients, SiteEhr
from service.delivery.worker import Worker
from service.models import ChecklistChange, EhrAuth, Unit
from tests.outbox_support import (
    Clock,
    amend_oasi,
    complete_oasi,
    deliveries,
    make_ehr_unit,
    make_nurse,
    states,
)
from tests.peers.fault_proxy import FaultProxy
from tests.peers.medplum import MedplumPeer

QR = r"/QuestionnaireResponse"


def worker(session: Session, clock: Clock, keys: KeyStore | None = None, **options: Any) -> Worker:
    store = keys or KeyStore(Path("/nonexistent/keys.json"))
    return Worker(
        session, Clients(store, clock=clock.timestamp, now=clock), now=clock, rng=lambda: 1.0, **options
    )


def latest_snapshot(session: Session, checklist_id: uuid.UUID) -> dict[str, Any]:
    change = (
        session.query(ChecklistChange)
        .filter(ChecklistChange.checklist_id == checklist_id, ChecklistChange.snapshot.is_not(None))
        .order_by(ChecklistChange.version.desc())
        .first()
    )
    assert change is not None
    assert change.snapshot is not None
    return change.snapshot


def in_ehr(peer: MedplumPeer, checklist_id: uuid.UUID, token: str | None = None) -> list[dict[str, Any]]:
    return peer.search_by_identifier(CHECKLIST_IDENTIFIER_SYSTEM, str(checklist_id), token=token)


def assert_exactly_once_and_latest(
    session: Session, peer: MedplumPeer, checklist_ids: list[uuid.UUID], token: str | None = None
) -> None:
    for checklist_id in checklist_ids:
        found = in_ehr(peer, checklist_id, token)
        assert len(found) == 1, f"checklist {checklist_id} is in the EHR {len(found)} times"
        assert same_content(found[0], for_ehr(latest_snapshot(session, checklist_id)))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ward(session: Session, proxy: FaultProxy) -> Unit:
    return make_ehr_unit(session, proxy.url)


def test_a_completion_is_one_resource_and_an_amendment_a_new_version_of_it(
    session: Session,
    catalogue: CareBundleCatalogue,
    ward: Unit,
    clean_fhir_peer: MedplumPeer,
    clock: Clock,
) -> None:
    nurse = make_nurse(session, ward)
    checklist_id = complete_oasi(session, catalogue, nurse, ward)

    worker(session, clock).drain()

    (created,) = in_ehr(clean_fhir_peer, checklist_id)
    assert created["status"] == "completed"
    (row,) = deliveries(session, checklist_id)
    assert (row.ehr_resource_id, row.ehr_version_id, row.ehr_status_code) == (
        created["id"],
        created["meta"]["versionId"],
        201,
    )

    amend_oasi(session, catalogue, nurse, checklist_id, base_version=2)
    worker(session, clock).drain()

    (amended,) = in_ehr(clean_fhir_peer, checklist_id)
    assert amended["id"] == created["id"]
    assert amended["meta"]["versionId"] != created["meta"]["versionId"]
    assert amended["status"] == "amended"
    assert deliveries(session, checklist_id)[1].ehr_version_id == amended["meta"]["versionId"]
    history = requests.get(
        f"{clean_fhir_peer.base}/QuestionnaireResponse/{created['id']}/_history", timeout=5
    )
    assert len(history.json()["entry"]) == 2
    assert_exactly_once_and_latest(session, clean_fhir_peer, [checklist_id])


def test_connection_refused_then_recovered(
    session: Session,
    catalogue: CareBundleCatalogue,
    ward: Unit,
    proxy: FaultProxy,
    clean_fhir_peer: MedplumPeer,
    clock: Clock,
) -> None:
    nurse = make_nurse(session, ward)
    ids = [complete_oasi(session, catalogue, nurse, ward) for _ in range(3)]
    proxy.refuse()

    tally = worker(session, clock).drain()

    assert tally.retrying == 3
    assert all(states(session, i) == [(2, "pending")] for i in ids)
    assert "ConnectionError" in (deliveries(session, ids[0])[0].last_error or "")
    proxy.accept()
    clock.advance(seconds=5)  # the first back-off (jitter 1.0: the full 5 s)
    worker(session, clock).drain()

    assert all(states(session, i) == [(2, "delivered")] for i in ids)
    assert_exactly_once_and_latest(session, clean_fhir_peer, ids)


def test_503_with_retry_after_is_honoured(
    session: Session,
    catalogue: CareBundleCatalogue,
    ward: Unit,
    proxy: FaultProxy,
    clean_fhir_peer: MedplumPeer,
    clock: Clock,
) -> None:
    checklist_id = complete_oasi(session, catalogue, make_nurse(session, ward), ward)
    proxy.status(503, {"Retry-After": "90"}, method="POST", path=QR, times=2)

    worker(session, clock).drain()
    clock.advance(seconds=89)
    worker(session, clock).drain()
    assert [status for _, _, status in proxy.requests] == [503]  # not asked again before Retry-After
    clock.advance(seconds=1)
    worker(session, clock).drain()  # the second 503
    clock.advance(seconds=90)
    worker(session, clock).drain()

    assert [status for _, _, status in proxy.requests] == [503, 503, 201]
    (row,) = deliveries(session, checklist_id)
    assert (row.status, row.attempts) == ("delivered", 3)
    assert_exactly_once_and_latest(session, clean_fhir_peer, [checklist_id])


def test_a_read_timeout_after_the_write_was_stored_does_not_double_it(
    session: Session,
    catalogue: CareBundleCatalogue,
    proxy: FaultProxy,
    clean_fhir_peer: MedplumPeer,
    clock: Clock,
) -> None:
    ward = make_ehr_unit(session, proxy.url)
    ward.site.fhir_read_timeout = 0.3
    session.commit()
    checklist_id = complete_oasi(session, catalogue, make_nurse(session, ward), ward)
    released = threading.Event()
    proxy.hold(released, method="POST", path=QR)

    try:
        tally = worker(session, clock).drain()
    finally:
        released.set()

    assert tally.retrying == 1
    assert "ReadTimeout" in (deliveries(session, checklist_id)[0].last_error or "")
    assert len(in_ehr(clean_fhir_peer, checklist_id)) == 1  # the EHR stored it; we did not hear back
    clock.advance(seconds=5)
    tally = worker(session, clock).drain()

    assert tally.outcomes == {"already-there": 1}
    assert_exactly_once_and_latest(session, clean_fhir_peer, [checklist_id])


def test_a_500_returned_after_the_write_was_stored_does_not_double_it(
    session: Session,
    catalogue: CareBundleCatalogue,
    ward: Unit,
    proxy: FaultProxy,
    clean_fhir_peer: MedplumPeer,
    clock: Clock,
) -> None:
    nurse = make_nurse(session, ward)
    checklist_id = complete_oasi(session, catalogue, nurse, ward)
    proxy.lost_response(500, method="POST", path=QR)

    worker(session, clock).drain()
    clock.advance(seconds=5)
    worker(session, clock).drain()

    assert [status for method, _, status in proxy.requests if method == "POST"] == [500, 200]
    assert_exactly_once_and_latest(session, clean_fhir_peer, [checklist_id])

    # The same for an amendment: the PUT is stored, its answer lost; the retry's If-Match fails (412), the
    # EHR's version is read and found to be ours already.
    amend_oasi(session, catalogue, nurse, checklist_id, base_version=2)
    proxy.lost_response(500, method="PUT", path=QR)
    worker(session, clock).drain()
    clock.advance(seconds=5)
    tally = worker(session, clock).drain()

    assert tally.outcomes == {"already-there": 1}
    assert states(session, checklist_id) == [(2, "delivered"), (3, "delivered")]
    assert_exactly_once_and_latest(session, clean_fhir_peer, [checklist_id])


def test_everything_recovers_after_a_mixed_outage(
    session: Session,
    catalogue: CareBundleCatalogue,
    ward: Unit,
    proxy: FaultProxy,
    clean_fhir_peer: MedplumPeer,
    clock: Clock,
) -> None:
    nurse = make_nurse(session, ward)
    ids = [complete_oasi(session, catalogue, nurse, ward) for _ in range(8)]
    amend_oasi(session, catalogue, nurse, ids[0], base_version=2)  # superseded before it is ever sent
    proxy.drop(method="POST", path=QR)
    proxy.status(503, {"Retry-After": "30"}, method="POST", path=QR)
    proxy.lost_response(502, method="POST", path=QR, times=2)
    proxy.status(429, method="POST", path=QR)

    for _ in range(6):
        worker(session, clock, batch=3).drain()
        clock.advance(seconds=60)

    assert proxy.pending == 0
    assert all(states(session, i)[-1] == (3 if i == ids[0] else 2, "delivered") for i in ids)
    assert_exactly_once_and_latest(session, clean_fhir_peer, ids)
    assert clean_fhir_peer.stats()["resources"] == {"QuestionnaireResponse": 8}


def test_a_422_is_a_dead_letter_then_requeued_after_the_fix_and_delivered(
    session: Session,
    catalogue: CareBundleCatalogue,
    ward: Unit,
    proxy: FaultProxy,
    clean_fhir_peer: MedplumPeer,
    clock: Clock,
) -> None:
    checklist_id = complete_oasi(session, catalogue, make_nurse(session, ward), ward)
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "error",
                "code": "processing",
                "diagnostics": "Profile https://ehr.example/QR-local: encounter is required",
                "expression": ["QuestionnaireResponse.encounter"],
            }
        ],
    }
    proxy.status(422, json_body=outcome, method="POST", path=QR)  # an EHR with a stricter local profile

    worker(session, clock).drain()
    clock.advance(hours=2)
    worker(session, clock).drain()  # dead letters are not retried on their own

    (row,) = deliveries(session, checklist_id)
    assert (row.status, row.ehr_status_code, row.operation_outcome) == ("dead", 422, outcome)
    assert "encounter is required" in (row.last_error or "")
    assert in_ehr(clean_fhir_peer, checklist_id) == []

    # The EHR's team relaxes the profile (the proxy stops refusing); an admin requeues the dead letter.
    outbox.requeue(session, row.id, clock())
    session.commit()
    worker(session, clock).drain()

    assert states(session, checklist_id) == [(2, "delivered")]
    assert_exactly_once_and_latest(session, clean_fhir_peer, [checklist_id])


def test_a_change_made_in_the_ehr_between_our_versions_is_kept(
    session: Session,
    catalogue: CareBundleCatalogue,
    ward: Unit,
    clean_fhir_peer: MedplumPeer,
    clock: Clock,
) -> None:
    nurse = make_nurse(session, ward)
    checklist_id = complete_oasi(session, catalogue, nurse, ward)
    worker(session, clock).drain()
    (ours,) = in_ehr(clean_fhir_peer, checklist_id)
    theirs = {**ours, "status": "amended", "author": {"display": "Dr Clinician (in the EHR)"}}
    changed = requests.put(
        f"{clean_fhir_peer.base}/QuestionnaireResponse/{ours['id']}",
        json=theirs,
        headers={"Content-Type": "application/fhir+json", "If-Match": f'W/"{ours["meta"]["versionId"]}"'},
        timeout=5,
    )
    assert changed.status_code == 200, changed.text

    amend_oasi(session, catalogue, nurse, checklist_id, base_version=2)
    worker(session, clock).drain()

    assert states(session, checklist_id) == [(2, "delivered"), (3, "dead")]
    assert "changed in the EHR" in (deliveries(session, checklist_id)[1].last_error or "")
    (kept,) = in_ehr(clean_fhir_peer, checklist_id)
    assert kept["author"] == {"display": "Dr Clinician (in the EHR)"}
    assert kept["meta"]["versionId"] == changed.json()["meta"]["versionId"]


def test_a_delivery_run_spanning_a_token_expiry_gets_a_new_token(
    session: Session, catalogue: CareBundleCatalogue, clean_smart_fhir_peer: MedplumPeer, tmp_path: Path
) -> None:
    peer = clean_smart_fhir_peer
    clock = Clock(dt.datetime.now(dt.UTC))  # the peer checks assertions against real time
    keys = KeyStore(tmp_path / "keys.json")
    keys.add("RS384", clock())
    peer.register_client("careloop-test", jwks=keys.public_jwks())
    ward = make_ehr_unit(
        session,
        peer.base,
        auth=EhrAuth.SMART,
        fhir_client_id="careloop-test",
        fhir_token_url=peer.token_url,
        fhir_signing_alg="RS384",
        fhir_scope="system/QuestionnaireResponse.cruds",
    )
    nurse = make_nurse(session, ward)
    first = [complete_oasi(session, catalogue, nurse, ward, clock()) for _ in range(2)]
    clients = Clients(keys, now=clock)
    run = Worker(session, clients, now=clock, rng=lambda: 1.0, batch=2)

    assert run.run_once() == 2
    assert run.tally.delivered == 2, deliveries(session, first[0])[0].last_error
    peer.expire_tokens()  # the token ends while our cache still holds it: the next write gets a 401
    later = [complete_oasi(session, catalogue, nurse, ward, clock()) for _ in range(3)]
    run.drain()

    assert run.tally.delivered == 5
    assert peer.stats()["tokens_issued"] == 2
    authorization = clients.authenticator(SiteEhr.of(ward.site)).authorization(requests.Session())
    assert authorization is not None
    token = authorization.removeprefix("Bearer ")
    assert_exactly_once_and_latest(session, peer, [*first, *later], token=token)
    assert requests.get(f"{peer.base}/QuestionnaireResponse", timeout=5).status_code == 401
