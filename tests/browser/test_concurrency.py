"""The embedded default holds up under gunicorn: clinicians on four tablets start and complete checklists at
the same moment, through the live server's two worker processes, on its database (SQLite in WAL mode with
a busy timeout and immediate write transactions, unless the run is on PostgreSQL). Every post succeeds, the
server logs no "database is locked" and no error, and every checklist is stored completed.

This drives the pages' forms with ``requests`` (no browser), so it runs wherever the live server does.
"""

from __future__ import annotations

import html
import re
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import requests
from flask import Flask
from sqlalchemy import select

from service.compliance.daily import rebuild
from service.extensions import db
from service.models import Checklist, ChecklistStatus, ComplianceDay
from tests.browser.conftest import PASSWORD, USERNAME, LiveServer
from tests.factories import OASI_FORM

CLIENTS = 4
CHECKLISTS_PER_CLIENT = 10
TIMEOUT_S = 60
VAGINAL_BIRTH = OASI_FORM


def hidden(page: str, name: str) -> str:
    """The value of the (first) input named ``name`` in ``page``."""
    tag = re.search(rf'<input[^>]*\sname="{re.escape(name)}"[^>]*>', page)
    value = re.search(r'\svalue="([^"]*)"', tag[0]) if tag else None
    assert value is not None, f"no {name} field"
    return html.unescape(value[1])


def signed_in(base: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{base}/sign-in", timeout=TIMEOUT_S).text
    response = session.post(
        f"{base}/sign-in",
        data={"csrf_token": hidden(page, "csrf_token"), "username": USERNAME, "password": PASSWORD},
        allow_redirects=False,
        timeout=TIMEOUT_S,
    )
    assert response.status_code == 303, response.text
    return session


def start_and_complete(session: requests.Session, base: str, patient: int) -> tuple[uuid.UUID, list[str]]:
    """Start an OASI checklist through both start steps and complete it; the statuses that were wrong."""
    wrong: list[str] = []

    def post(url: str, data: dict[str, str], expected: int) -> requests.Response:
        response = session.post(url, data=data, allow_redirects=False, timeout=TIMEOUT_S)
        if response.status_code != expected:
            wrong.append(f"POST {url} -> {response.status_code}, not {expected}")
        return response

    start = session.get(f"{base}/ward/start", timeout=TIMEOUT_S).text
    choice = re.search(r'value="(\d+:oasi-care-bundle)"', start)
    assert choice is not None
    form = {
        "csrf_token": hidden(start, "csrf_token"),
        "choice": choice[1],
        "patient_kind": "local",
        "patient_value": f"LOAD-{patient:03d}",
        "anchor-day": "2",
        "anchor-month": "3",
        "anchor-year": "2026",
        "anchor-time": "04:30",
    }
    confirm = post(f"{base}/ward/start", form, 200)
    checklist_id = hidden(confirm.text, "checklist_id")
    started = post(f"{base}/ward/start", {**form, "action": "start", "checklist_id": checklist_id}, 303)
    url = base + started.headers.get("Location", f"/ward/checklists/{checklist_id}")
    page = session.get(url, timeout=TIMEOUT_S).text
    fields = {
        "csrf_token": hidden(page, "csrf_token"),
        "version": hidden(page, "version"),
        "base": hidden(page, "base"),
        "action": "complete",
        **VAGINAL_BIRTH,
    }
    post(url, fields, 303)
    return uuid.UUID(checklist_id), wrong


def logged_posts(server: LiveServer, start: int, expected: int) -> list[str]:
    """The access log lines of the ward's posts since ``start``, once all ``expected`` are written (a worker
    writes its line just after it has sent the response)."""
    deadline = time.monotonic() + 10
    while True:
        posts = [line for line in server.log(start).splitlines() if '"POST /ward/' in line]
        if len(posts) >= expected or time.monotonic() > deadline:
            assert len(posts) == expected
            return posts
        time.sleep(0.05)


def test_concurrent_completions_through_two_workers(live_server: LiveServer, live_app: Flask) -> None:
    base = live_server.url
    log_start = live_server.log_size()
    sessions = [signed_in(base) for _ in range(CLIENTS)]
    barrier = threading.Barrier(CLIENTS)

    def client(number: int) -> list[tuple[uuid.UUID, list[str]]]:
        barrier.wait(timeout=TIMEOUT_S)
        return [
            start_and_complete(sessions[number], base, number * CHECKLISTS_PER_CLIENT + index)
            for index in range(CHECKLISTS_PER_CLIENT)
        ]

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        results = [item for batch in pool.map(client, range(CLIENTS)) for item in batch]

    assert [problem for _, wrong in results for problem in wrong] == []
    posts = logged_posts(live_server, log_start, CLIENTS * CHECKLISTS_PER_CLIENT * 3)
    log = live_server.log(log_start)
    assert "database is locked" not in log
    assert "Traceback" not in log
    assert not re.search(r'" 5\d\d ', log)
    workers = {found[1] for line in posts if (found := re.search(r"pid=<(\d+)>", line))}
    assert len(workers) == 2, f"the posts were served by worker(s) {workers}, not both"

    ids = {checklist_id for checklist_id, _ in results}
    assert len(ids) == CLIENTS * CHECKLISTS_PER_CLIENT
    with live_app.app_context():
        stored = db.session.execute(
            select(Checklist.id, Checklist.status, Checklist.version).where(Checklist.id.in_(ids))
        ).all()
        db.session.remove()
    assert {row.id for row in stored} == ids
    assert {(row.status, row.version) for row in stored} == {(ChecklistStatus.COMPLETED, 2)}

    # All of them on one day of one unit: the day counts the workers kept under each other's feet equal a
    # recount (decision 0014: each day is recounted under a lock on PostgreSQL; SQLite serialises writes).
    with live_app.app_context():
        kept = day_cells()
        rebuild(db.session)
        recounted = day_cells()
        db.session.rollback()  # leave the live server's table as its workers made it
        db.session.remove()
    assert kept == recounted
    assert sum(cell[-1] for cell in kept if cell[4] == "composite" and cell[8]) >= len(ids)


def day_cells() -> set[tuple[object, ...]]:
    return {
        tuple(row)
        for row in db.session.execute(
            select(
                ComplianceDay.care_bundle_id,
                ComplianceDay.unit_id,
                ComplianceDay.anchor_date,
                ComplianceDay.care_bundle_version,
                ComplianceDay.measure_kind,
                ComplianceDay.measure_id,
                ComplianceDay.outcome,
                ComplianceDay.reason,
                ComplianceDay.counted,
                ComplianceDay.checklists,
            )
        )
    }
