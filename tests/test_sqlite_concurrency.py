"""The embedded default holds: two worker processes complete checklists at once on one SQLite file.

Each worker starts and completes checklists through the lifecycle service, committing after every operation,
so the two processes contend for the write lock hundreds of times. With WAL, a busy timeout and immediate
write transactions (decision 0008) none of them may fail with "database is locked", and every checklist
must be stored. The workers are separate processes (spawned, as gunicorn's workers are separate), each
with its own app and connection pool.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import queue
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from flask_migrate import upgrade
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError

from service import create_app
from service.care_bundles import current_catalogue
from service.checklists.lifecycle import Actor, complete, start
from service.config import ConfigError
from service.extensions import db
from service.models import Checklist, ChecklistChange, Delivery, Unit
from tests.factories import BIRTH, VALID_NHS_NUMBER, make_unit_offering, oasi_answers

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CHECKLISTS_PER_WORKER = 30
WORKERS = 2
NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def _config(url: str) -> dict[str, Any]:
    return {"ENV": "testing", "SECRET_KEY": "test", "DATABASE_URL": url}


def complete_checklists(url: str, unit_id: int, ids: list[str], barrier: Any, results: Any) -> None:
    """A worker: start and complete each checklist, one commit per operation; report every failure."""
    failures: list[str] = []
    app = create_app(_config(url))
    with app.app_context():
        catalogue = current_catalogue()
        actor = Actor(user_id=None, client=f"worker-{multiprocessing.current_process().name}", unit_ids=None)
        barrier.wait()
        for text_id in ids:
            checklist_id = uuid.UUID(text_id)
            try:
                unit = db.session.get(Unit, unit_id)
                assert unit is not None
                start(
                    db.session,
                    catalogue,
                    actor,
                    checklist_id=checklist_id,
                    care_bundle_id="oasi-care-bundle",
                    version="2.0.0",
                    unit=unit,
                    patient_kind="nhs-number",
                    patient_value=VALID_NHS_NUMBER,
                    patient_system=None,
                    encounter=None,
                    anchor_time=BIRTH,
                    now=NOW,
                )
                db.session.commit()
                complete(
                    db.session,
                    catalogue,
                    actor,
                    checklist_id,
                    base_version=1,
                    answers=oasi_answers(),
                    now=NOW,
                )
                db.session.commit()
            except Exception as error:  # noqa: BLE001 - every failure is reported to the test
                db.session.rollback()
                failures.append(f"{type(error).__name__}: {error}")
        db.session.remove()
        db.engine.dispose()
    results.put(failures)


def collect(results: Any, workers: list[Any], seconds: float = 120) -> list[list[str]]:
    """Each worker's failures; fails at once if a worker dies without reporting."""
    found: list[list[str]] = []
    deadline = time.monotonic() + seconds
    while len(found) < len(workers):
        try:
            found.append(results.get(timeout=1))
        except queue.Empty:
            died = [worker.name for worker in workers if worker.exitcode not in (None, 0)]
            assert not died, f"worker(s) {died} died without reporting"
            assert time.monotonic() < deadline, "the workers did not finish in time"
    return found


def test_two_workers_complete_checklists_concurrently_without_database_is_locked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'concurrent.db'}"
    app = create_app(_config(url))
    with app.app_context():
        upgrade()
        unit_id = make_unit_offering(db.session, "oasi-care-bundle").id
        db.session.commit()
        assert db.session.scalar(text("PRAGMA journal_mode")) == "wal"
        assert db.session.scalar(text("PRAGMA busy_timeout")) == app.config["SQLITE_BUSY_TIMEOUT_MS"] == 15000
        db.session.remove()
        db.engine.dispose()

    # A spawned worker imports this module by name: it needs the project root on its path (pytest's
    # importlib mode does not put it there), and spawn hands the parent's sys.path to the child.
    monkeypatch.syspath_prepend(str(PROJECT_ROOT))
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(WORKERS)
    results = context.Queue()
    batches = [[str(uuid.uuid4()) for _ in range(CHECKLISTS_PER_WORKER)] for _ in range(WORKERS)]
    workers = [
        context.Process(
            target=complete_checklists, args=(url, unit_id, batch, barrier, results), name=f"w{index}"
        )
        for index, batch in enumerate(batches)
    ]
    for worker in workers:
        worker.start()
    failures = collect(results, workers)
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0

    assert failures == [[]] * WORKERS
    with app.app_context():
        expected = {uuid.UUID(text_id) for batch in batches for text_id in batch}
        stored = db.session.execute(select(Checklist.id, Checklist.status, Checklist.version)).all()
        assert {row.id for row in stored} == expected
        assert {(row.status, row.version) for row in stored} == {("completed", 2)}
        assert db.session.scalar(select(func.count()).select_from(ChecklistChange)) == 2 * len(expected)
        assert db.session.scalar(select(func.count()).select_from(Delivery)) == len(expected)
        db.session.remove()
        db.engine.dispose()


def test_the_busy_timeout_is_a_setting(tmp_path: Path) -> None:
    app = create_app({**_config(f"sqlite:///{tmp_path / 'timeout.db'}"), "SQLITE_BUSY_TIMEOUT_MS": 2500})
    with app.app_context():
        with db.engine.connect() as connection:
            assert connection.scalar(text("PRAGMA busy_timeout")) == 2500
            assert connection.scalar(text("PRAGMA journal_mode")) == "wal"
            assert connection.scalar(text("PRAGMA foreign_keys")) == 1
        db.engine.dispose()


@pytest.mark.parametrize("value", [-1, "soon", 1.5, True])
def test_a_busy_timeout_that_is_not_whole_milliseconds_stops_the_app(tmp_path: Path, value: object) -> None:
    with pytest.raises(ConfigError, match="CARELOOP_SQLITE_BUSY_TIMEOUT_MS must be a whole number"):
        create_app({**_config(f"sqlite:///{tmp_path / 'bad.db'}"), "SQLITE_BUSY_TIMEOUT_MS": value})


def test_write_transactions_take_the_lock_when_they_begin(tmp_path: Path) -> None:
    """A second transaction waits for the first at BEGIN (here: gives up after its busy timeout), before
    it has read anything that the first could make stale."""
    app = create_app({**_config(f"sqlite:///{tmp_path / 'immediate.db'}"), "SQLITE_BUSY_TIMEOUT_MS": 0})
    with app.app_context():
        with db.engine.connect() as first, db.engine.connect() as second:
            first.begin()
            with pytest.raises(OperationalError, match="database is locked"):
                second.begin()
            first.rollback()
            second.begin()
            second.rollback()
        db.engine.dispose()


def test_reading_requests_do_not_wait_for_the_write_lock(tmp_path: Path) -> None:
    """A GET begins deferred: it reads while another connection holds the write lock (a POST would wait)."""
    import sqlite3

    url = f"sqlite:///{tmp_path / 'locked.db'}"
    app = create_app({**_config(url), "SQLITE_BUSY_TIMEOUT_MS": 300})
    with app.app_context():
        upgrade()
        db.engine.dispose()
    writer = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")  # another worker in the middle of a completion
        started = time.monotonic()
        response = app.test_client().get("/healthz")
        assert response.status_code == 200, response.get_data(as_text=True)
        assert time.monotonic() - started < 0.3  # it did not wait out the busy timeout
        with app.app_context():
            # A write transaction does wait for the lock, and gives up after the busy timeout.
            with pytest.raises(OperationalError, match="locked"):
                db.session.execute(text("SELECT 1"))
            db.session.rollback()
    finally:
        writer.execute("ROLLBACK")
        writer.close()
