"""Delivery throughput: a backlog of completed checklists drained into the local FHIR server (the Medplum peer
of tests/peers) by the delivery worker, against a plain ``requests`` client sending the same conditional
creates to the same peer in the same run.

Run from the repository root: ``python -m bench.delivery [--count 5000]``. It uses a new SQLite file in a
temporary folder, or the database ``CARELOOP_DATABASE_URL`` names, which must be a throwaway one (it refuses
a database that already has tables). The backlog is one completion made through the lifecycle, copied
``count`` times with new checklist ids (the worker reads each copy's own snapshot). Both runs start from an
empty peer and are single-threaded; the ratio is the worker's throughput over the plain client's.
Goal: >= 0.8. Prints the figures; exits 0 whether or not the goal is met, non-zero only if it could not run.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import requests
from flask import current_app
from flask_migrate import upgrade
from sqlalchemy import func, insert, inspect, select

from fhir_adapters.ehr_client import FHIR_JSON, for_ehr, identifier_search
from service import create_app
from service.delivery.keys import KeyStore
from service.delivery.settings import Clients
from service.delivery.worker import Worker
from service.extensions import db
from service.models import Checklist, ChecklistChange, Delivery, DeliveryStatus
from tests.outbox_support import complete_oasi, make_ehr_unit, make_nurse
from tests.peers.medplum import MedplumPeer

GOAL = 0.8


def seed(count: int, base_url: str) -> list[dict[str, Any]]:
    """One completion through the lifecycle, copied ``count - 1`` times; returns every snapshot."""
    catalogue = current_app.extensions["care_bundle_catalogue"]
    unit = make_ehr_unit(db.session, base_url)
    first = complete_oasi(db.session, catalogue, make_nurse(db.session, unit), unit)
    checklist = db.session.get(Checklist, first)
    change = db.session.scalar(
        select(ChecklistChange).where(ChecklistChange.checklist_id == first, ChecklistChange.version == 2)
    )
    assert checklist is not None
    assert change is not None
    assert change.snapshot is not None
    columns = {c.key: getattr(checklist, c.key) for c in Checklist.__table__.columns}
    change_columns = {
        c.key: getattr(change, c.key) for c in ChecklistChange.__table__.columns if c.key != "id"
    }
    snapshots = [change.snapshot]
    checklists, changes, rows = [], [], []
    for _ in range(count - 1):
        checklist_id = uuid.uuid4()
        snapshot = copy.deepcopy(change.snapshot)
        snapshot["id"] = str(checklist_id)
        snapshot["identifier"]["value"] = str(checklist_id)
        snapshots.append(snapshot)
        checklists.append({**columns, "id": checklist_id})
        changes.append({**change_columns, "checklist_id": checklist_id, "snapshot": snapshot})
        rows.append(
            {
                "checklist_id": checklist_id,
                "checklist_version": 2,
                "site_id": unit.site_id,
                "status": DeliveryStatus.PENDING.value,
                "next_attempt_at": change.created_at,
                "created_at": change.created_at,
                "updated_at": change.created_at,
                "attempts": 0,
            }
        )
    for start in range(0, len(checklists), 500):
        db.session.execute(insert(Checklist), checklists[start : start + 500])
        db.session.execute(insert(ChecklistChange), changes[start : start + 500])
        db.session.execute(insert(Delivery), rows[start : start + 500])
    db.session.commit()
    return snapshots


def plain_client(peer: MedplumPeer, snapshots: list[dict[str, Any]]) -> float:
    """Seconds for a bare ``requests`` loop to send the same conditional creates."""
    session = requests.Session()
    url = f"{peer.base}/QuestionnaireResponse"
    started = time.perf_counter()
    for snapshot in snapshots:
        document = for_ehr(snapshot)
        identifier = document["identifier"]
        response = session.post(
            url,
            json=document,
            headers={
                "Content-Type": FHIR_JSON,
                "Accept": FHIR_JSON,
                "If-None-Exist": identifier_search(identifier["system"], identifier["value"]),
            },
            timeout=(5, 30),
        )
        response.raise_for_status()
    return time.perf_counter() - started


def worker_drain(keys: KeyStore, batch: int | None, concurrency: int | None) -> tuple[float, int]:
    """The worker as ``flask deliver`` runs it (its batch and concurrency settings unless given)."""
    config = current_app.config
    worker = Worker(
        db.session,
        Clients(keys),
        batch=batch or int(config["DELIVERY_BATCH"]),
        concurrency=concurrency or int(config["DELIVERY_CONCURRENCY"]),
    )
    started = time.perf_counter()
    tally = worker.drain()
    return time.perf_counter() - started, tally.delivered


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=5000, help="completions in the backlog (default 5000)")
    parser.add_argument("--batch", type=int, help="the worker's batch (default: CARELOOP_DELIVERY_BATCH)")
    parser.add_argument(
        "--concurrency",
        type=int,
        help="the worker's writes in flight (default: CARELOOP_DELIVERY_CONCURRENCY)",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="careloop-bench-delivery-") as folder:
        database = os.environ.get("CARELOOP_DATABASE_URL") or f"sqlite:///{Path(folder) / 'bench.db'}"
        app = create_app(
            {
                "ENV": "testing",
                "SECRET_KEY": "bench",
                "DATABASE_URL": database,
                "SMART_KEYS_PATH": str(Path(folder) / "keys.json"),
                "LOG_LEVEL": "WARNING",
            }
        )
        with app.app_context():
            if inspect(db.engine).get_table_names():
                print(f"refusing to use {database}: it already has tables (give a throwaway database)")
                return 2
            upgrade()
            with MedplumPeer.start() as peer:
                started = time.perf_counter()
                snapshots = seed(args.count, peer.base)
                print(
                    f"backlog: {len(snapshots)} completions seeded in {time.perf_counter() - started:.1f} s"
                )

                baseline = plain_client(peer, snapshots)
                stored = peer.stats()
                peer.reset()
                drained, delivered = worker_drain(
                    KeyStore(Path(folder) / "keys.json"), args.batch, args.concurrency
                )
                waiting = db.session.scalar(
                    select(func.count())
                    .select_from(Delivery)
                    .where(Delivery.status != DeliveryStatus.DELIVERED)
                )
                after = peer.stats()
        print(
            f"plain requests client: {len(snapshots) / baseline:8.1f} creates/s ({baseline:.2f} s); "
            f"peer {stored}"
        )
        print(
            f"delivery worker:       {delivered / drained:8.1f} deliveries/s ({drained:.2f} s); peer {after}"
        )
        ratio = (delivered / drained) / (len(snapshots) / baseline)
        print(
            f"ratio (worker / plain client): {ratio:.2f}  goal >= {GOAL}: "
            f"{'met' if ratio >= GOAL else 'MISSED'}"
        )
        if waiting or delivered != len(snapshots):
            print(f"NOT ALL DELIVERED: {delivered} delivered, {waiting} rows not delivered")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
