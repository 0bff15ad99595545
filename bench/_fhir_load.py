"""What ``bench.fhir_api`` sends and how: a throwaway PostgreSQL database, the 28-item payloads and the
hostile bodies, a client of a fixed number of threads posting them, and a request's profile grouped by stage.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import pstats
import secrets
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import requests
from flask_migrate import upgrade
from sqlalchemy import inspect

from bench._server import PROJECT_ROOT
from bench.ward import nhs_numbers, percentile, server_ms
from fhir_adapters.questionnaire_response import to_questionnaire_response
from schemas.care_bundle import CareBundle
from service import create_app
from service.auth.tokens import create_token
from service.extensions import db
from service.models import Site, Unit

CARE_BUNDLE = "hip-fracture-pathway"
#: The sending EHR's form identifier: each payload's own value makes it a new checklist, and a retry of it
#: a no-op (Careloop keeps the sender's identifier; the peer's identifier index answers If-None-Exist).
SENDER_SYSTEM = "https://bench.careloop.example/Id/form"
FHIR_JSON = "application/fhir+json"
SCOPES = "system/QuestionnaireResponse.cru"


# -- the database ----------------------------------------------------------------------------------------


@contextmanager
def throwaway_database(server_url: str) -> Iterator[str]:
    """A new PostgreSQL database on the server of ``server_url`` (a maintenance database URL, such as
    ``postgresql://postgres@127.0.0.1:5432/postgres``); its URL; dropped on the way out, whatever happens."""
    name = f"careloop_bench_fhir_{secrets.token_hex(4)}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(server_url)
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass(frozen=True)
class Seeded:
    token: str
    care_bundle: CareBundle


def prepare_database(settings: dict[str, Any]) -> Seeded:
    """Migrate the new database (what ``flask db upgrade`` runs) and add a site with one unit offering the
    care bundle and a token bound to that unit: what ``flask tokens create --unit`` makes."""
    app = create_app(settings)
    with app.app_context():
        try:
            if inspect(db.engine).get_table_names():
                raise SystemExit("the benchmark's database should be new and empty")
            upgrade()
            unit = Unit(site=Site(code="BENCH", name="Benchmark trust"), code="trauma", name="Trauma ward")
            unit.care_bundle_ids.append(CARE_BUNDLE)
            db.session.add(unit)
            db.session.flush()
            _, secret = create_token(db.session, name="bench EPR", site=unit.site, unit=unit, scopes=SCOPES)
            db.session.commit()
            entry = app.extensions["care_bundle_catalogue"].latest[CARE_BUNDLE]
            return Seeded(secret, entry.care_bundle)
        finally:
            db.session.remove()
            db.engine.dispose()


# -- the payloads ----------------------------------------------------------------------------------------


def hip_answers(anchor: dt.datetime) -> dict[str, list[Any]]:
    """A displaced intracapsular fracture, operated on: every element this path enables answered (the
    widest complete response of the care bundle: 27 elements and the anchor)."""
    return {
        "arrival-time": [anchor],
        "fracture-type": ["displaced-intracapsular"],
        "operated": ["yes"],
        "joint-care": ["yes"],
        "assessment-protocol": ["yes"],
        "fascia-iliaca-block": ["yes"],
        "fascia-iliaca-block-time": [anchor + dt.timedelta(hours=1)],
        "geriatrician-assessment": ["done"],
        "geriatrician-assessment-time": [anchor + dt.timedelta(hours=20)],
        "geriatrician-grade": ["consultant"],
        "orthogeriatric-assessment-pre-op": ["yes"],
        "amt-pre-op": ["done"],
        "amt-pre-op-score": [8],
        "planned-trauma-list": ["yes"],
        "anaesthesia-start": [anchor + dt.timedelta(hours=30)],
        "thr-eligible": ["yes"],
        "implant-displaced-intracapsular": ["total-hip-replacement"],
        "surgical-care-bundle": ["yes"],
        "amt-post-op": ["done"],
        "amt-post-op-score": [9],
        "delirium-screen-4at": [1],
        "post-op-mdt-rehabilitation": ["yes"],
        "mobilised-out-of-bed": ["yes"],
        "mobilised-date": [(anchor + dt.timedelta(days=1)).date()],
        "daily-rehabilitation": ["yes"],
        "falls-assessment": ["yes"],
        "bone-health-assessment": ["yes"],
        "nutritional-support": ["yes"],
    }


@dataclass(frozen=True)
class Payload:
    identifier: str
    body: bytes


def count_items(items: Sequence[Mapping[str, Any]]) -> int:
    """Items of a QuestionnaireResponse, nested ones included."""
    return sum(1 + count_items(item.get("item", [])) for item in items)


class Payloads:
    """Completed hip fracture responses, each with its own sender identifier and patient; every server
    gets the same sequence (``take`` them once, post them to each)."""

    def __init__(self, care_bundle: CareBundle, now: dt.datetime) -> None:
        self.care_bundle = care_bundle
        self.anchor = (now - dt.timedelta(days=20)).replace(microsecond=0)
        self.run = secrets.token_hex(3)
        self._numbers = nhs_numbers()
        self._serial = itertools.count(1)

    def document(self, identifier: str, nhs_number: str) -> dict[str, Any]:
        body = to_questionnaire_response(
            self.care_bundle,
            hip_answers(self.anchor),
            checklist_id="unused",
            status="completed",
            authored=self.anchor + dt.timedelta(days=3),
            nhs_number=nhs_number,
        )
        body["identifier"] = {"system": SENDER_SYSTEM, "value": identifier}
        return body

    def take(self, count: int) -> list[Payload]:
        taken = []
        for _ in range(count):
            identifier = f"bench-{self.run}-{next(self._serial):06d}"
            document = self.document(identifier, next(self._numbers))
            taken.append(Payload(identifier, json.dumps(document).encode()))
        return taken


def nested_items(levels: int, canonical: str) -> dict[str, Any]:
    item: dict[str, Any] = {"linkId": "x"}
    for _ in range(levels):
        item = {"linkId": "x", "item": [item]}
    return {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "questionnaire": canonical,
        "item": [item],
    }


def hostile_bodies(good: dict[str, Any], limit: int) -> list[tuple[str, bytes]]:
    """The bodies of tests/service/fhir_api/test_hostile_input.py, for a create: (label, body)."""
    canonical = str(good["questionnaire"])
    head = {key: good[key] for key in ("resourceType", "questionnaire", "status", "subject", "authored")}
    attachment = {"valueAttachment": {"contentType": "text/plain", "data": " " * 200_000 + "!"}}
    unknown = {**head, "item": [{"linkId": "a", "answer": [{"valueString": "x"}]}]}
    per_item = len(json.dumps({"linkId": "unknown-000000", "answer": [{"valueString": "x"}]})) + 2
    unknown["item"] = [
        {"linkId": f"unknown-{n:06d}", "answer": [{"valueString": "x"}]}
        for n in range((limit - 1000) // per_item)
    ]
    return [
        ("body over the limit", b"{" + b" " * limit + b"}"),
        ("JSON nested 1000 deep", b"[" * 1000 + b"]" * 1000),
        ("items nested 300 deep", json.dumps(nested_items(300, canonical)).encode()),
        ("lone surrogate", b'{"resourceType": "QuestionnaireResponse", "status": "\\ud800"}'),
        (
            "base64 of 200,000 spaces + !",
            json.dumps({**head, "item": [{"linkId": "arrival-time", "answer": [attachment]}]}).encode(),
        ),
        (f"{len(unknown['item']):,} unknown linkIds", json.dumps(unknown).encode()),
        ("duplicate keys", b'{"resourceType": "QuestionnaireResponse", "id": "a", "id": "b"}'),
    ]


# -- the client ------------------------------------------------------------------------------------------


class BenchError(RuntimeError):
    """A request answered what the benchmark did not expect: the figures would mean nothing."""


@dataclass(frozen=True)
class Target:
    """One FHIR server: where to POST and the headers its client sends (its token)."""

    label: str
    base: str
    token: str

    def headers(self, identifier: str | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": FHIR_JSON, "Accept": FHIR_JSON}
        if identifier is not None:
            headers["If-None-Exist"] = f"identifier={SENDER_SYSTEM}|{identifier}"
        return headers


@dataclass
class Run:
    """Posts to one server: wall time, and per request the time seen by the client (ms) and the server's
    own ``Server-Timing`` (ms, Careloop only)."""

    seconds: float = 0.0
    client_ms: list[float] = field(default_factory=list)
    server_ms: list[float] = field(default_factory=list)
    cpu_ms: float = 0.0  # the server processes' CPU time over the run

    def add(self, other: Run) -> None:
        self.seconds += other.seconds
        self.client_ms += other.client_ms
        self.server_ms += other.server_ms
        self.cpu_ms += other.cpu_ms

    @property
    def rate(self) -> float:
        return len(self.client_ms) / self.seconds

    def client(self, q: float) -> float:
        return percentile(self.client_ms, q)


def post_all(target: Target, payloads: Sequence[Payload], clients: int, conditional: bool) -> Run:
    """Post every payload (a new resource each: 201 expected) from ``clients`` threads at once, each with
    its own ``requests.Session``, each taking the next payload as soon as its last one is answered."""
    queue = iter(payloads)
    lock = threading.Lock()
    url = f"{target.base}/QuestionnaireResponse"

    def client_thread() -> Run:
        run = Run()
        with requests.Session() as http:
            while True:
                with lock:
                    payload = next(queue, None)
                if payload is None:
                    return run
                headers = target.headers(payload.identifier if conditional else None)
                began = time.perf_counter()
                response = http.post(url, data=payload.body, headers=headers, timeout=60)
                run.client_ms.append((time.perf_counter() - began) * 1000)
                if response.status_code != 201:
                    answered = f"{response.status_code}, not 201: {response.text[:300]}"
                    raise BenchError(f"{target.label}: POST answered {answered}")
                measured = server_ms(response.headers.get("Server-Timing", ""))
                if measured is not None:
                    run.server_ms.append(measured)

    began = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        runs = list(pool.map(lambda _: client_thread(), range(clients)))
    total = Run(seconds=time.perf_counter() - began)
    for run in runs:
        total.client_ms += run.client_ms
        total.server_ms += run.server_ms
    return total


@dataclass(frozen=True)
class Answer:
    status: str
    client_ms: float
    server_ms: float | None
    size: int


def post_once(target: Target, body: bytes) -> Answer:
    """One POST of ``body`` on a new connection; a server closing the connection mid-upload answers too."""
    began = time.perf_counter()
    try:
        response = requests.post(
            f"{target.base}/QuestionnaireResponse", data=body, headers=target.headers(), timeout=60
        )
    except requests.ConnectionError:
        return Answer("closed", (time.perf_counter() - began) * 1000, None, 0)
    elapsed = (time.perf_counter() - began) * 1000
    timing = server_ms(response.headers.get("Server-Timing", ""))
    return Answer(str(response.status_code), elapsed, timing, len(response.content))


# -- the profile -----------------------------------------------------------------------------------------

Key = tuple[str, int, str]


@dataclass(frozen=True)
class Stage:
    """Functions whose cumulative time makes one stage of a request: ``(path suffix, name)`` each, counted
    only where called by ``caller`` when one is given (the view), so that stages do not overlap."""

    label: str
    functions: tuple[tuple[str, str], ...]
    caller: tuple[str, str] | None = None
    indent: int = 0


def _matches(key: Key, function: tuple[str, str]) -> bool:
    return key[2] == function[1] and key[0].replace("\\", "/").endswith(function[0])


def cumulative(stats: pstats.Stats, stage: Stage) -> tuple[float, int]:
    """Seconds and calls of ``stage`` in ``stats``."""
    seconds, calls = 0.0, 0
    table: dict[Key, Any] = stats.stats  # type: ignore[attr-defined]
    for key, (_, nc, _, ct, callers) in table.items():
        if not any(_matches(key, function) for function in stage.functions):
            continue
        if stage.caller is None:
            seconds, calls = seconds + ct, calls + nc
            continue
        for caller, figures in callers.items():
            if _matches(caller, stage.caller):
                seconds, calls = seconds + figures[3], calls + figures[0]
    return seconds, calls


def short_name(key: Key) -> str:
    """``package/module.py:function`` for a profile key: site-packages and the project root cut off."""
    path = key[0].replace("\\", "/")
    for marker in ("/site-packages/", f"{PROJECT_ROOT.as_posix()}/", "/lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
    if path.startswith("~") or path == "":
        return key[2]  # a built-in: {method 'execute' of ...}
    return f"{'/'.join(path.split('/')[-2:])}:{key[2]}"


def top_functions(stats: pstats.Stats, below: float, count: int) -> list[tuple[Key, int, float]]:
    """The ``count`` functions of largest cumulative time under ``below`` seconds: (key, calls, seconds)."""
    table: dict[Key, Any] = stats.stats  # type: ignore[attr-defined]
    rows = [(key, nc, ct) for key, (_, nc, _, ct, _) in table.items() if ct < below * 0.999]
    return sorted(rows, key=lambda row: row[2], reverse=True)[:count]
