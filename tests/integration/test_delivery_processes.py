"""Real ``flask deliver`` processes against the real FHIR server: a worker killed mid-batch and restarted, and
two workers at once on PostgreSQL. Nothing is lost and nothing is doubled: each checklist is one resource in
the EHR, holding its latest version, and no checklist was ever created twice."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, update

from fhir_adapters.ehr_client import for_ehr, same_content
from fhir_adapters.questionnaire_response import CHECKLIST_IDENTIFIER_SYSTEM
from service.extensions import db
from service.models import ChecklistChange, Delivery, DeliveryStatus
from tests.integration.conftest import TEST_DATABASE_URL, own_app
from tests.outbox_support import amend_oasi, complete_oasi, make_ehr_unit, make_nurse
from tests.peers.fault_proxy import FaultProxy
from tests.peers.medplum import MedplumPeer

PROJECT_ROOT = Path(__file__).resolve().parents[2]
QR = r"/QuestionnaireResponse"
#: A worker process must be done within this; a hang fails the test instead of stalling the suite.
PROCESS_TIMEOUT_S = 120


@pytest.fixture
def own(own_database: str, tmp_path: Path) -> Iterator[Flask]:
    app = own_app(own_database, tmp_path)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def start_worker(database_url: str, tmp_path: Path, *options: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "CARELOOP_ENV": "testing",
        "CARELOOP_SECRET_KEY": "integration",
        "CARELOOP_DATABASE_URL": database_url,
        "CARELOOP_SMART_KEYS_PATH": str(tmp_path / "smart-keys.json"),
        "CARELOOP_LOG_LEVEL": "WARNING",
        "FLASK_APP": "wsgi",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "deliver", *options],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finished(process: subprocess.Popen[str]) -> str:
    output, _ = process.communicate(timeout=PROCESS_TIMEOUT_S)
    assert process.returncode == 0, output
    return output


def seed(app: Flask, base_url: str, count: int, amended: int = 0, **site: Any) -> list[uuid.UUID]:
    catalogue = app.extensions["care_bundle_catalogue"]
    unit = make_ehr_unit(db.session, base_url, **site)
    nurse = make_nurse(db.session, unit)
    ids = [complete_oasi(db.session, catalogue, nurse, unit) for _ in range(count)]
    for checklist_id in ids[:amended]:
        amend_oasi(db.session, catalogue, nurse, checklist_id, base_version=2)
    return ids


def assert_each_once_and_latest(peer: MedplumPeer, ids: list[uuid.UUID]) -> None:
    db.session.expire_all()
    for checklist_id in ids:
        found = peer.search_by_identifier(CHECKLIST_IDENTIFIER_SYSTEM, str(checklist_id))
        assert len(found) == 1, f"checklist {checklist_id} is in the EHR {len(found)} times"
        latest = db.session.scalar(
            select(ChecklistChange.snapshot)
            .where(ChecklistChange.checklist_id == checklist_id, ChecklistChange.snapshot.is_not(None))
            .order_by(ChecklistChange.version.desc())
            .limit(1)
        )
        assert latest is not None
        assert same_content(found[0], for_ehr(latest))
    waiting = db.session.scalars(
        select(Delivery.status).where(Delivery.status.not_in(["delivered", "superseded"]))
    ).all()
    assert waiting == []


def test_a_worker_killed_mid_batch_loses_nothing_and_doubles_nothing(
    own: Flask, own_database: str, clean_fhir_peer: MedplumPeer, tmp_path: Path
) -> None:
    with FaultProxy(clean_fhir_peer.base) as proxy:
        ids = seed(own, proxy.url, 30)
        held, reached = threading.Event(), threading.Event()
        proxy.forward(method="POST", path=QR, times=3)
        proxy.hold(held, reached=reached, method="POST", path=QR)  # the 4th is stored, its answer held
        worker = start_worker(own_database, tmp_path, "--batch", "10", "--concurrency", "1", "--poll", "0.2")
        try:
            assert reached.wait(PROCESS_TIMEOUT_S), "the worker never sent its fourth write"
            worker.send_signal(signal.SIGKILL)  # mid-batch: 3 answered, 1 stored unanswered, 6 unsent
            worker.wait(PROCESS_TIMEOUT_S)
        finally:
            held.set()
            if worker.poll() is None:
                worker.kill()
            if worker.stdout is not None:
                worker.stdout.close()
        assert clean_fhir_peer.stats()["resources"] == {"QuestionnaireResponse": 4}
        in_flight = db.session.scalars(
            select(Delivery).where(Delivery.status == DeliveryStatus.IN_FLIGHT)
        ).all()
        assert len(in_flight) == 10  # the killed worker's batch: leased, nothing recorded

        # Time passes: the killed worker's leases run out (rewound here rather than waited for).
        db.session.execute(
            update(Delivery)
            .where(Delivery.status == DeliveryStatus.IN_FLIGHT)
            .values(next_attempt_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
        db.session.commit()
        output = finished(start_worker(own_database, tmp_path, "--once", "--batch", "10"))

    assert "delivered 30, retrying 0, dead letters 0" in output
    assert clean_fhir_peer.stats()["resources"] == {"QuestionnaireResponse": 30}
    assert_each_once_and_latest(clean_fhir_peer, ids)


def test_sigterm_finishes_the_write_in_hand_and_gives_back_the_rest(
    own: Flask, own_database: str, clean_fhir_peer: MedplumPeer, tmp_path: Path
) -> None:
    with FaultProxy(clean_fhir_peer.base) as proxy:
        ids = seed(own, proxy.url, 10, fhir_read_timeout=PROCESS_TIMEOUT_S)
        held, reached = threading.Event(), threading.Event()
        proxy.forward(method="POST", path=QR, times=2)
        proxy.hold(held, reached=reached, method="POST", path=QR)
        worker = start_worker(own_database, tmp_path, "--batch", "10", "--concurrency", "1", "--poll", "0.2")
        try:
            assert reached.wait(PROCESS_TIMEOUT_S), "the worker never sent its third write"
            worker.send_signal(signal.SIGTERM)
        finally:
            held.set()  # the write in hand gets its answer after the signal
        output = finished(worker)

    assert "delivered 3, retrying 0, dead letters 0" in output
    db.session.expire_all()
    statuses = sorted(db.session.scalars(select(Delivery.status)).all())
    assert statuses == ["delivered"] * 3 + ["pending"] * 7  # given back, due at once, for the next worker
    assert clean_fhir_peer.stats()["resources"] == {"QuestionnaireResponse": 3}
    assert len(ids) == 10


@pytest.mark.postgres
@pytest.mark.skipif(
    not TEST_DATABASE_URL.startswith("postgresql"),
    reason="two workers need PostgreSQL (FOR UPDATE SKIP LOCKED); SQLite runs one worker",
)
def test_two_workers_on_postgresql_double_nothing(
    own: Flask, own_database: str, clean_fhir_peer: MedplumPeer, tmp_path: Path
) -> None:
    with FaultProxy(clean_fhir_peer.base) as proxy:
        # A read timeout longer than the held answer takes: the first worker waits for it.
        ids = seed(own, proxy.url, 60, amended=10, fhir_read_timeout=PROCESS_TIMEOUT_S)
        held, reached = threading.Event(), threading.Event()
        proxy.hold(held, reached=reached, method="POST", path=QR)
        first = start_worker(own_database, tmp_path, "--once", "--batch", "5")
        try:
            assert reached.wait(PROCESS_TIMEOUT_S), "the first worker never sent a write"
            # The first worker holds a claimed batch (one write answered late); the second works beside it.
            second = finished(start_worker(own_database, tmp_path, "--once", "--batch", "5"))
        finally:
            held.set()
        first_output = finished(first)

    delivered = [int(output.split("delivered ", 1)[1].split(",", 1)[0]) for output in (first_output, second)]
    assert all(count > 0 for count in delivered), (first_output, second)
    assert sum(delivered) == 60
    stats = clean_fhir_peer.stats()
    assert stats["resources"] == {"QuestionnaireResponse": 60}
    assert stats["fhir_requests"].get("POST") == 60  # no checklist was ever sent twice
    assert_each_once_and_latest(clean_fhir_peer, ids)
