"""``POST /fhir/QuestionnaireResponse`` under gunicorn (2 workers) on PostgreSQL, side by side with the
Medplum peer of tests/peers (issue 10, item 6): throughput and latency of completed responses of about 30
items (28: the widest complete response of the hip fracture pathway) with full validation and persistence,
the hostile bodies' time and the workers' memory, and a profile of where a request's time goes.

Run from the repository root: ``python -m bench.fhir_api`` (``--help`` for the sizes). It creates a new
PostgreSQL database on the server ``--postgres`` names (a maintenance database URL; default
``postgresql://postgres@127.0.0.1:5432/postgres``), migrates it, adds a unit offering the care bundle and a
token bound to it, and drops the database at the end. Both servers start with the same store size (the same
responses pre-loaded), then get the same payloads from the same client (a fixed number of threads, each a
``requests.Session``) in rounds, alternating which goes first. Every POST is a new checklist: its own sender
identifier, sent as a conditional create (``If-None-Exist: identifier=...``), which the peer answers from its
identifier index (``--plain``: plain creates to both). Goals: throughput Careloop/peer >= 1.0, p95 < 50 ms.
Prints the figures and the goals; exits 0 whether or not they are met, non-zero only if it could not run.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bench import _server
from bench._fhir_load import (
    Answer,
    Payload,
    Payloads,
    Run,
    Stage,
    Target,
    count_items,
    cumulative,
    hostile_bodies,
    post_all,
    post_once,
    prepare_database,
    short_name,
    throwaway_database,
    top_functions,
)
from bench.ward import describe, percentile
from service import create_app
from service.extensions import db
from service.models import Checklist
from tests.peers.medplum import MedplumPeer

GOAL_RATIO = 1.0
GOAL_P95_MS = 50.0
MIB = 1024  # KiB


@dataclass
class Memory:
    """Resident memory (VmRSS) and its peak so far (VmHWM) of each process, in KiB, at one moment."""

    rss: dict[int, int]
    peak: dict[int, int]

    @classmethod
    def read(cls, pids: Sequence[int]) -> Memory:
        fields = {pid: _server.memory_kib(pid) for pid in pids}
        return cls(
            {pid: f["VmRSS"] for pid, f in fields.items()}, {pid: f["VmHWM"] for pid, f in fields.items()}
        )

    def show(self) -> str:
        return ", ".join(
            f"{self.rss[pid] / MIB:.1f} MiB (peak {self.peak[pid] / MIB:.1f})" for pid in sorted(self.rss)
        )


@dataclass
class Hostile:
    label: str
    size: int
    careloop: list[Answer]
    peer: list[Answer]
    peak_after: dict[int, int]  # the workers' VmHWM after this case, KiB


@dataclass
class Results:
    care_bundle: str
    payload_items: int
    payload_bytes: int
    preload_seconds: dict[str, float]
    runs: dict[str, Run]
    rounds: list[dict[str, float]]
    stores: dict[str, int] = field(default_factory=dict)  # each server's store after the timed rounds
    memory: dict[str, Memory] = field(default_factory=dict)  # the gunicorn workers', by moment
    hostile: list[Hostile] = field(default_factory=list)
    written_by_hostile: int = 0
    peer_memory: Memory | None = None


def stored_checklists(settings: dict[str, Any]) -> int:
    app = create_app(settings)
    with app.app_context():
        try:
            return int(db.session.scalar(select(func.count()).select_from(Checklist)) or 0)
        finally:
            db.session.remove()
            db.engine.dispose()


def measure(
    targets: dict[str, Target], pids: dict[str, list[int]], payloads: Payloads, options: argparse.Namespace
) -> Results:
    """Pre-load both stores with the same responses, then time each server in turn on the same new ones,
    round after round, alternating which goes first."""
    conditional = not options.plain
    memory = {"idle, after start": Memory.read(pids["careloop"])}
    preload = payloads.take(options.preload)
    preload_seconds = {
        name: post_all(target, preload, options.clients, conditional).seconds
        for name, target in targets.items()
    }
    runs = {name: Run() for name in targets}
    rounds = []
    for number in range(options.rounds):
        batch = payloads.take(options.requests // options.rounds)
        rates = {}
        for name in list(targets) if number % 2 == 0 else list(reversed(targets)):
            cpu = _server.cpu_seconds(pids[name])
            run = post_all(targets[name], batch, options.clients, conditional)
            run.cpu_ms = (_server.cpu_seconds(pids[name]) - cpu) * 1000
            runs[name].add(run)
            rates[name] = run.rate
        rounds.append(rates)
    memory["after the timed POSTs"] = Memory.read(pids["careloop"])
    return Results(
        care_bundle=f"{payloads.care_bundle.title} {payloads.care_bundle.version}",
        payload_items=count_items(json.loads(preload[0].body)["item"]),
        payload_bytes=len(preload[0].body),
        preload_seconds=preload_seconds,
        runs=runs,
        rounds=rounds,
        memory=memory,
    )


def send_hostile(
    targets: dict[str, Target], workers: list[int], good: dict[str, Any], options: argparse.Namespace
) -> list[Hostile]:
    """Each hostile body ``--hostile-repeats`` times to each server, one request at a time."""
    cases = []
    for label, body in hostile_bodies(good, options.limit):
        ours = [post_once(targets["careloop"], body) for _ in range(options.hostile_repeats)]
        theirs = [post_once(targets["peer"], body) for _ in range(options.hostile_repeats)]
        cases.append(Hostile(label, len(body), ours, theirs, Memory.read(workers).peak))
    return cases


# -- the profile -----------------------------------------------------------------------------------------

VIEW = ("service/fhir_api/questionnaire_responses.py", "create_questionnaire_response")
VALIDATE = ("fhir_adapters/sdc_validation.py", "validate_questionnaire_response")
LIFECYCLE = (("service/checklists/lifecycle.py", "start"), ("service/checklists/lifecycle.py", "complete"))
STAGES = [
    Stage(
        "token check (2 SELECTs, UPDATE of its last use, audit INSERT, 2 commits)",
        (("service/auth/tokens.py", "require"),),
        VIEW,
    ),
    Stage(
        "identifier look-ups (If-None-Exist, then the body's)",
        (("service/fhir_api/questionnaire_responses.py", "_existing"),),
        VIEW,
    ),
    Stage(
        "JSON parsing (strict: duplicates, depth, decimals)",
        (("service/fhir_api/request_body.py", "read_fhir_json"),),
        VIEW,
    ),
    Stage("validation: strict FHIR JSON, then the SDC rules of the Questionnaire", (VALIDATE,), VIEW),
    Stage(
        "answers read from the response",
        (("fhir_adapters/questionnaire_response.py", "answers_from_response"),),
        VIEW,
    ),
    Stage("lifecycle: start, then complete (the one write path)", LIFECYCLE, VIEW),
    Stage(
        "evaluate (the care bundle's rules; start and complete)",
        (("service/checklists/evaluation.py", "evaluate"),),
        None,
        1,
    ),
    Stage(
        "the response it builds validated again (start and complete)",
        (("service/checklists/lifecycle_writes.py", "refuse_or_respond"),),
        None,
        1,
    ),
    Stage(
        "outcome rows written (INSERTs at start, UPDATEs at complete)",
        (("service/checklists/store.py", "record_evaluation"),),
        None,
        1,
    ),
    Stage("answer rows written", (("service/checklists/lifecycle_records.py", "write_answers"),), None, 1),
    Stage(
        "the started checklist read again to complete it",
        (("service/checklists/lifecycle_reads.py", "load_for_change"),),
        None,
        1,
    ),
    Stage("commit", (("sqlalchemy/orm/scoping.py", "commit"),), VIEW),
    Stage(
        "attributes reloaded after a commit expired them (SELECTs)",
        (("sqlalchemy/orm/attributes.py", "__get__"),),
        VIEW,
    ),
    Stage(
        "read back for the answer (checklist, its rows, snapshot)",
        (
            ("service/checklists/lifecycle_reads.py", "get_checklist"),
            ("service/fhir_api/questionnaire_responses.py", "current_resource"),
        ),
        VIEW,
    ),
    Stage(
        "serialisation (JSON out, headers)",
        (("service/fhir_api/questionnaire_responses.py", "_reply"),),
        VIEW,
    ),
]
#: Across the stages: validation (the view's run and the lifecycle's two), and the driver's round trips.
STRICT = Stage("", (("fhir_adapters/strict_json.py", "check_questionnaire_response_json"),))
SDC = Stage("", (("fhir_adapters/sdc/validate.py", "validate_response"),))
STATEMENTS = Stage("", (("psycopg/cursor.py", "execute"), ("psycopg/cursor.py", "executemany")))
COMMITS = Stage("", (("psycopg/connection.py", "commit"),))


@dataclass
class Profile:
    requests: int
    plain_ms: float  # mean per request in process without the profiler
    stats: pstats.Stats


def profile(settings: dict[str, Any], token: str, payloads: list[Payload], warm: int) -> Profile:
    """The same POSTs in this process (a Flask test client, no HTTP) against the same database: the first
    ``warm`` untimed, half the rest timed plainly, the other half under cProfile."""
    app = create_app(settings)
    client = app.test_client()
    target = Target("in process", "", token)
    half = (len(payloads) - warm) // 2

    def post(payload: Payload) -> None:
        headers = target.headers(payload.identifier)
        response = client.post("/fhir/QuestionnaireResponse", data=payload.body, headers=headers)
        if response.status_code != 201:
            raise RuntimeError(f"in process: {response.status_code} {response.get_data(as_text=True)[:300]}")

    profiler = cProfile.Profile()
    try:
        for payload in payloads[:warm]:
            post(payload)
        began = time.perf_counter()
        for payload in payloads[warm : warm + half]:
            post(payload)
        plain_ms = (time.perf_counter() - began) * 1000 / half
        profiler.enable()
        for payload in payloads[warm + half :]:
            post(payload)
        profiler.disable()
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    return Profile(len(payloads) - warm - half, plain_ms, pstats.Stats(profiler))


def report_profile(result: Profile) -> None:
    stats, n = result.stats, result.requests
    wsgi, _ = cumulative(stats, Stage("", (("flask/app.py", "wsgi_app"),)))
    view, _ = cumulative(stats, Stage("", (VIEW,)))
    per = 1000 / n  # seconds over n requests -> ms per request
    print()
    print(
        f"Profile: {n} more of the same POSTs in process (create_app on the same database, Flask test\n"
        f"client, no HTTP) under cProfile: {wsgi * per:.1f} ms per request in Flask's wsgi_app, profiler "
        f"overhead included\n({result.plain_ms:.1f} ms per request in process without it). Stages, ms per "
        "request and share of wsgi_app:"
    )
    listed = 0.0
    for stage in STAGES:
        seconds, _ = cumulative(stats, stage)
        listed += seconds if stage.indent == 0 else 0.0
        label = f"  of which {stage.label}" if stage.indent else stage.label
        print(f"  {label:76}{seconds * per:7.1f}{seconds / wsgi:6.0%}")
    rows = [
        ("rest of the view", view - listed),
        ("Flask around the view (routing, hooks, error handlers)", wsgi - view),
    ]
    for label, seconds in rows:
        print(f"  {label:76}{seconds * per:7.1f}{seconds / wsgi:6.0%}")
    (strict, runs), (sdc, _) = cumulative(stats, STRICT), cumulative(stats, SDC)
    print(
        f"  across the stages: {runs / n:.0f} validations per request, {(strict + sdc) * per:.1f} ms "
        f"({(strict + sdc) / wsgi:.0%}): strict FHIR JSON {strict * per:.1f} ms, SDC rules {sdc * per:.1f} ms"
    )
    waited, statements = cumulative(stats, STATEMENTS)
    committed, commits = cumulative(stats, COMMITS)
    print(
        f"  across the stages: {statements / n:.0f} SQL statements and {commits / n:.0f} commits per "
        f"request, {(waited + committed) * per:.1f} ms in the driver ({(waited + committed) / wsgi:.0%})"
    )
    print()
    print("Top 15 functions by cumulative time under wsgi_app (ms and calls per request, share of wsgi_app)")
    for key, calls, seconds in top_functions(stats, wsgi, 15):
        print(f"  {short_name(key)[:76]:76}{seconds * per:7.1f}{calls / n:7.1f}{seconds / wsgi:6.0%}")


# -- the report ------------------------------------------------------------------------------------------


def report(results: Results, options: argparse.Namespace) -> None:
    careloop, peer = results.runs["careloop"], results.runs["peer"]
    print()
    print(
        f"Payload: {results.care_bundle}, {results.payload_items} items (a displaced intracapsular "
        "fracture, operated:\nevery element this enables answered, the anchor included), "
        f"{results.payload_bytes / 1000:.1f} KB of JSON; each server pre-loaded\nwith the same "
        f"{options.preload} responses ({results.preload_seconds['careloop']:.1f} s Careloop, "
        f"{results.preload_seconds['peer']:.1f} s peer); stores after the timed POSTs:\n"
        f"{results.stores['careloop']} checklists in Careloop, {results.stores['peer']} "
        "QuestionnaireResponses in the peer"
    )
    print()
    print(
        f"POST throughput and latency, ms ({options.clients} client threads; client side, queueing included)"
    )
    print(
        f"  {'':22}{'n':>6}{'req/s':>8}{'p50':>8}{'p95':>8}{'p99':>8}{'max':>8}{'CPU/req':>9}"
        "   server p50 / p95"
    )
    for label, run in (("Careloop (gunicorn)", careloop), ("Medplum peer (Node)", peer)):
        n = len(run.client_ms)
        server = (
            f"{percentile(run.server_ms, 50):.1f} / {percentile(run.server_ms, 95):.1f}"
            if run.server_ms
            else "-"
        )
        print(
            f"  {label:22}{n:6d}{run.rate:8.1f}{run.client(50):8.1f}{run.client(95):8.1f}"
            f"{run.client(99):8.1f}{max(run.client_ms):8.1f}{run.cpu_ms / n:9.1f}   {server}"
        )
    print(
        "  CPU/req: the servers' own CPU time per request (both gunicorn workers, or the Node process; not\n"
        "  PostgreSQL's); server p50 / p95: Careloop's Server-Timing (app;dur), time inside the app"
    )
    for number, rates in enumerate(results.rounds, 1):
        print(
            f"  round {number} ({'Careloop' if number % 2 else 'peer'} first): Careloop "
            f"{rates['careloop']:.1f} req/s, peer {rates['peer']:.1f} req/s, "
            f"ratio {rates['careloop'] / rates['peer']:.2f}"
        )
    print(f"  throughput ratio Careloop / peer: {careloop.rate / peer.rate:.2f}")

    print()
    print(
        "Hostile bodies: POST /fhir/QuestionnaireResponse with a valid token, each "
        f"{options.hostile_repeats} times to each server,\none at a time; status; ms client side, median / "
        "max; Careloop's largest server time; the larger\nworker's peak RSS (VmHWM) after the case"
    )
    print(
        f"  {'':29}{'bytes':>10}{'Careloop':>10}{'ms':>16}{'server':>8}{'peak RSS':>13}{'peer':>6}{'ms':>14}"
    )
    for case in results.hostile:
        timed = [answer.server_ms for answer in case.careloop if answer.server_ms is not None]
        print(
            f"  {case.label:29}{case.size:10,d}{_statuses(case.careloop):>10}{_times(case.careloop):>16}"
            f"{(f'{max(timed):.1f}' if timed else '-'):>8}{max(case.peak_after.values()) / MIB:9.1f} MiB"
            f"{_statuses(case.peer):>6}{_times(case.peer):>14}"
        )
    before = results.memory["after the timed POSTs"].peak
    after = results.memory["after the hostile bodies"].peak
    print(
        "  workers' peak RSS before the hostile bodies "
        + " and ".join(f"{before[pid] / MIB:.1f}" for pid in sorted(before))
        + " MiB, after "
        + " and ".join(f"{after[pid] / MIB:.1f}" for pid in sorted(after))
        + f" MiB: up {max(after[pid] - before[pid] for pid in after) / MIB:.1f} MiB at most"
    )
    written = results.written_by_hostile
    print(f"  checklists the hostile bodies wrote in Careloop: {written}{'' if written == 0 else ' (A BUG)'}")
    if results.peer_memory is not None:
        print(f"  the peer's Node process afterwards: {results.peer_memory.show()}")
    print()
    print("gunicorn workers' memory: VmRSS (peak VmHWM), each worker")
    for moment, memory in results.memory.items():
        print(f"  {moment:26}{memory.show()}")


def report_goals(results: Results) -> None:
    careloop, peer = results.runs["careloop"], results.runs["peer"]
    ratio, p95 = careloop.rate / peer.rate, careloop.client(95)
    server_p95 = percentile(careloop.server_ms, 95)
    print()
    print("Goals (issue 10, item 6)")
    verdicts = [
        (f"throughput ratio Careloop / peer >= {GOAL_RATIO:g}", f"{ratio:.2f}", ratio >= GOAL_RATIO),
        (f"p95 < {GOAL_P95_MS:g} ms, client side (with queueing)", f"{p95:.1f} ms", p95 < GOAL_P95_MS),
        (
            f"p95 < {GOAL_P95_MS:g} ms, server time (Server-Timing)",
            f"{server_p95:.1f} ms",
            server_p95 < GOAL_P95_MS,
        ),
    ]
    for label, figure, met in verdicts:
        print(f"  {label:52}{figure:>10}   goal {'met' if met else 'missed'}")


def _statuses(answers: Sequence[Answer]) -> str:
    return "/".join(dict.fromkeys(answer.status for answer in answers))


def _times(answers: Sequence[Answer]) -> str:
    times = [answer.client_ms for answer in answers]
    return f"{statistics.median(times):.1f} / {max(times):.1f}"


def run_servers(
    settings: dict[str, Any], token: str, payloads: Payloads, options: argparse.Namespace
) -> Results:
    """Start gunicorn and the peer, measure both, send the hostile bodies, stop both."""
    env = _server.environment(
        {
            name: str(value).lower() if isinstance(value, bool) else str(value)
            for name, value in settings.items()
        }
    )
    peer_token = os.urandom(16).hex()
    with (
        tempfile.TemporaryDirectory(prefix="careloop-bench-") as folder,
        (Path(folder) / "gunicorn.log").open("w+b") as log,
        MedplumPeer.start(static_token=peer_token) as peer,
    ):
        server = _server.start(env, workers=options.workers, log=log)
        try:
            targets = {
                "careloop": Target("Careloop", f"{server.base_url}/fhir", token),
                "peer": Target("Medplum peer", peer.base, peer_token),
            }
            workers = _server.worker_pids(server.process.pid)
            results = measure(targets, {"careloop": workers, "peer": [peer.process.pid]}, payloads, options)
            stored = stored_checklists(settings)
            results.stores = {
                "careloop": stored,
                "peer": peer.stats()["resources"].get("QuestionnaireResponse", 0),
            }
            good = payloads.document("hostile", "9434765919")
            results.hostile = send_hostile(targets, workers, good, options)
            results.written_by_hostile = stored_checklists(settings) - stored
            results.memory["after the hostile bodies"] = Memory.read(workers)
            results.peer_memory = Memory.read([peer.process.pid])
        except Exception:
            print(server.log_tail(), file=sys.stderr)
            raise
        finally:
            _server.stop(server)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fhir_api", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "CARELOOP_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="a maintenance database of the PostgreSQL server to use (default: %(default)s)",
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--clients", type=int, default=4, help="client threads (default 4)")
    parser.add_argument(
        "--preload", type=int, default=500, help="responses in each store before timing (default 500)"
    )
    parser.add_argument("--requests", type=int, default=1000, help="timed POSTs per server (default 1000)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds they are split into (default 2)")
    parser.add_argument(
        "--hostile-repeats", type=int, default=3, help="sends of each hostile body (default 3)"
    )
    parser.add_argument("--profile", type=int, default=200, help="POSTs profiled in process (default 200)")
    parser.add_argument("--plain", action="store_true", help="plain creates (no If-None-Exist) to both")
    options = parser.parse_args(argv)
    if options.requests < options.rounds or options.preload < 1 or options.profile < 2:
        parser.error("--requests must be at least --rounds, --preload at least 1, --profile at least 2")

    load = os.getloadavg()[0]  # others' work on the machine shows in the figures too
    with throwaway_database(options.postgres) as url:
        settings: dict[str, Any] = {
            "ENV": "production",
            "SECRET_KEY": os.urandom(32).hex(),
            "DATABASE_URL": url,
            "SESSION_COOKIE_SECURE": False,  # plain HTTP on the loopback
            "LOG_LEVEL": "WARNING",
        }
        seeded = prepare_database(settings)
        options.limit = int(create_app(settings).config["FHIR_MAX_BODY_BYTES"])
        payloads = Payloads(seeded.care_bundle, dt.datetime.now(dt.UTC))
        results = run_servers(settings, seeded.token, payloads, options)
        profiled = profile(settings, seeded.token, payloads.take(options.profile * 2 + 20), warm=20)
    requests = (
        "plain creates"
        if options.plain
        else "conditional creates (If-None-Exist: identifier=...), answered from an index by both"
    )
    print(
        "Careloop FHIR API benchmark (issue 10, item 6): POST /fhir/QuestionnaireResponse\n"
        f"Careloop: gunicorn, {options.workers} sync workers, {describe(url)}, created\n"
        "  for the run and dropped; strict JSON and SDC validation against the Questionnaire, judged,\n"
        "  stored (answers, outcomes, snapshot, audit events) through the checklist\n"
        "  lifecycle, with durable commits\n"
        "Peer: Medplum fhir-router 4.5.2 in memory (tests/peers/medplum, one Node process) with its\n"
        "  identifier index: structure validation and required bindings only (no SDC rules, no rules\n"
        "  judged, nothing on disk)\n"
        f"Requests: {requests};\n  gunicorn's sync workers close each connection, the peer keeps it alive\n"
        f"Machine: {os.cpu_count()} CPUs shared by both servers, the client and PostgreSQL; load average "
        f"{load:.2f} before the run"
    )
    report(results, options)
    report_profile(profiled)
    report_goals(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
