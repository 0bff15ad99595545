"""The parts of ``bench.fhir_api`` that start no server: its payloads (valid, about 30 items, each a new
checklist; the app takes one), its hostile bodies, the headers it sends, and how it groups a profile."""

from __future__ import annotations

import cProfile
import datetime as dt
import json
import os
import pstats
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from bench import _fhir_load, fhir_api
from fhir_adapters.sdc_validation import validate_questionnaire_response
from service.auth.tokens import create_token
from service.care_bundles import CatalogueEntry
from tests.factories import make_unit_offering


@pytest.fixture
def entry(app: Flask) -> CatalogueEntry:
    latest: CatalogueEntry = app.extensions["care_bundle_catalogue"].latest[_fhir_load.CARE_BUNDLE]
    return latest


@pytest.fixture
def payloads(entry: CatalogueEntry) -> _fhir_load.Payloads:
    return _fhir_load.Payloads(entry.care_bundle, dt.datetime.now(dt.UTC))


def test_each_payload_is_a_valid_completed_response_of_28_items_with_its_own_identifier(
    entry: CatalogueEntry, payloads: _fhir_load.Payloads
) -> None:
    taken = payloads.take(3)
    documents = [json.loads(payload.body) for payload in taken]
    assert len({payload.identifier for payload in taken}) == 3
    assert [document["identifier"]["value"] for document in documents] == [p.identifier for p in taken]
    assert len({document["subject"]["identifier"]["value"] for document in documents}) == 3
    for document in documents:
        assert document["status"] == "completed"
        assert document["questionnaire"] == entry.canonical
        assert _fhir_load.count_items(document["item"]) == 28
        errors = [
            i for i in validate_questionnaire_response(entry.compiled_questionnaire, document) if i.is_error
        ]
        assert errors == []


def test_the_app_makes_a_checklist_of_a_payload_and_refuses_the_hostile_bodies(
    client: FlaskClient, session: Session, payloads: _fhir_load.Payloads
) -> None:
    unit = make_unit_offering(session, _fhir_load.CARE_BUNDLE, code="bench-ward")
    _, secret = create_token(session, name="bench", site=unit.site, unit=unit, scopes=_fhir_load.SCOPES)
    session.commit()
    target = _fhir_load.Target("in process", "", secret)
    payload = payloads.take(1)[0]
    url = "/fhir/QuestionnaireResponse"
    assert client.post(url, data=payload.body, headers=target.headers(payload.identifier)).status_code == 201
    assert client.post(url, data=payload.body, headers=target.headers(payload.identifier)).status_code == 200
    good = payloads.document("hostile", "9434765919")
    # The body over the limit is left out: its 413 is tested in tests/service/fhir_api.
    for label, body in _fhir_load.hostile_bodies(good, 200_000)[1:]:
        status = client.post(url, data=body, headers=target.headers()).status_code
        assert status in (400, 422), label


def test_hostile_bodies_straddle_the_limit(payloads: _fhir_load.Payloads) -> None:
    limit = 100_000
    bodies = dict(_fhir_load.hostile_bodies(payloads.document("x", "9434765919"), limit))
    assert len(bodies) == 7
    assert len(bodies["body over the limit"]) > limit
    unknown = next(body for label, body in bodies.items() if label.endswith("unknown linkIds"))
    assert limit - 2000 < len(unknown) <= limit
    assert bodies["JSON nested 1000 deep"] == b"[" * 1000 + b"]" * 1000


def test_count_items_counts_nested_items() -> None:
    items = [{"linkId": "a"}, {"linkId": "g", "item": [{"linkId": "b"}, {"linkId": "c", "item": [{}]}]}]
    assert _fhir_load.count_items(items) == 5


def test_a_target_sends_its_token_and_a_conditional_create_on_the_sender_identifier() -> None:
    target = _fhir_load.Target("peer", "http://127.0.0.1:1/fhir", "secret")
    assert target.headers() == {
        "Authorization": "Bearer secret",
        "Content-Type": "application/fhir+json",
        "Accept": "application/fhir+json",
    }
    assert target.headers("bench-1")["If-None-Exist"] == f"identifier={_fhir_load.SENDER_SYSTEM}|bench-1"


def test_runs_add_up() -> None:
    run = _fhir_load.Run(seconds=2.0, client_ms=[1.0, 2.0], server_ms=[0.5], cpu_ms=3.0)
    run.add(_fhir_load.Run(seconds=2.0, client_ms=[3.0, 4.0], server_ms=[0.7], cpu_ms=1.0))
    assert (run.seconds, run.rate, run.cpu_ms, run.server_ms) == (4.0, 1.0, 4.0, [0.5, 0.7])
    assert run.client(50) == pytest.approx(2.5)


def _inner(n: int) -> int:
    return sum(range(n))


def _outer() -> int:
    return _inner(1000) + _inner(2000)


def _elsewhere() -> int:
    return _inner(10)


def test_stages_count_the_time_of_their_functions_where_the_caller_calls_them() -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    _outer()
    _elsewhere()
    profiler.disable()
    stats = pstats.Stats(profiler)
    here = "tests/bench/test_fhir_api_bench.py"
    everywhere = _fhir_load.cumulative(stats, _fhir_load.Stage("", ((here, "_inner"),)))
    from_outer = _fhir_load.cumulative(stats, _fhir_load.Stage("", ((here, "_inner"),), (here, "_outer")))
    assert (everywhere[1], from_outer[1]) == (3, 2)
    assert 0 < from_outer[0] <= everywhere[0]
    outer, _ = _fhir_load.cumulative(stats, _fhir_load.Stage("", ((here, "_outer"),)))
    names = [_fhir_load.short_name(key) for key, _, _ in _fhir_load.top_functions(stats, outer * 2, 5)]
    assert "bench/test_fhir_api_bench.py:_outer" in names


def test_short_names_drop_the_install_prefix() -> None:
    key = ("/x/.venv/lib/python3.11/site-packages/sqlalchemy/orm/session.py", 1, "commit")
    assert _fhir_load.short_name(key) == "orm/session.py:commit"
    assert _fhir_load.short_name(("~", 0, "<built-in method time.sleep>")) == "<built-in method time.sleep>"


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads /proc (Linux)")
def test_memory_is_read_for_each_process() -> None:
    memory = fhir_api.Memory.read([os.getpid()])
    assert memory.rss[os.getpid()] > 0
    assert memory.peak[os.getpid()] >= memory.rss[os.getpid()]
    assert "MiB (peak" in memory.show()


def test_hostile_statuses_and_times_are_summarised() -> None:
    answers: list[Any] = [
        _fhir_load.Answer("400", 3.0, 1.0, 10),
        _fhir_load.Answer("400", 1.0, 0.5, 10),
        _fhir_load.Answer("closed", 2.0, None, 0),
    ]
    assert fhir_api._statuses(answers) == "400/closed"
    assert fhir_api._times(answers) == "2.0 / 3.0"
