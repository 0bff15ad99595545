"""The ward pages under gunicorn (2 workers) with signed-in clients: server time of the checklist page and of
a completion against a trivial route (``/healthz``) in the same run, bytes over the wire for a first and a
warm load of the checklist page, the offline code among them (the service worker and the page's offline
modules, issue 9) and the app shell the service worker caches, and the workers' memory.

Run from the repository root: ``python -m bench.ward`` (``make bench-ward``). It serves a new SQLite file
in a temporary folder, or the database ``CARELOOP_DATABASE_URL`` names, which must be a throwaway one: the
benchmark migrates it and adds a site, a unit, a user and a few hundred checklists (it refuses a database
that already has tables). Server time is the app's ``Server-Timing`` header, so time spent queueing for a
worker is not in it. Prints the figures and the goals; exits 0 whether or not they are met (a benchmark
reports), non-zero only if it could not run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import math
import os
import re
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Container, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit
from zoneinfo import ZoneInfo

import requests
from flask_migrate import upgrade
from sqlalchemy import inspect

from bench import _server
from bench._wire import (
    Fetched,
    WarmAction,
    fetch,
    first_load,
    hidden_inputs,
    js_references,
    same_origin,
    warm_load,
)
from fhir_adapters.identifiers import modulus_11_valid
from service import create_app
from service.auth import users
from service.extensions import db
from service.models import Role, Site, Unit
from tests.factories import OASI_FORM

CARE_BUNDLE = "oasi-care-bundle"
USERNAME = "bench-midwife"
PASSWORD = secrets.token_urlsafe(18)
#: A spontaneous vaginal birth meeting every practice: a completion the rules accept.
COMPLETE = {"action": "complete", **OASI_FORM}
#: Goals of issues 7 (times, page weights) and 9 (offline code): (label, limit, unit).
GOALS = {
    "page": ("checklist page p95", 30.0, "ms"),
    "completion": ("completion p95", 60.0, "ms"),
    "first": ("first load", 150.0, "KB"),
    "warm": ("warm load", 20.0, "KB"),
    "offline": ("offline code on first load", 30.0, "KB"),
}
KB = 1000  # bytes; the goals are in KB
#: The page's offline modules: its ``<script type="module">`` under here, and what they import.
OFFLINE_SCRIPTS = "/static/js/offline/"
#: The service worker, if the offline modules do not say (``navigator.serviceWorker.register("...")``).
SERVICE_WORKER = "/ward/sw.js"
#: What the server prepends to the service worker: its settings, JSON, up to the first ``;`` + newline.
_SETTINGS = "const CARELOOP = "
_REGISTER = re.compile(r"""\bserviceWorker\s*\.\s*register\(\s*(["'`])([^"'`\n]+)\1""")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class BenchError(RuntimeError):
    """The benchmark could not measure what it meant to (a request answered unexpectedly)."""


# -- figures ---------------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100), interpolating between the two nearest ranks."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def server_ms(header: str) -> float | None:
    """The ``app`` metric's duration in a ``Server-Timing`` header value, or None."""
    for metric in header.split(","):
        name, *parameters = (part.strip() for part in metric.split(";"))
        if name == "app":
            for parameter in parameters:
                if parameter.startswith("dur="):
                    return float(parameter.removeprefix("dur="))
    return None


def nhs_numbers() -> Iterator[str]:
    """Valid NHS numbers from the range kept for testing (999 000 0000 onwards)."""
    for number in itertools.count(999_000_000_0):
        if modulus_11_valid(str(number)):
            yield str(number)


@dataclass
class Sample:
    server_ms: float
    client_ms: float


@dataclass
class Route:
    label: str
    samples: list[Sample] = field(default_factory=list)
    #: The workers' CPU time over the route's run, per request.
    cpu_ms: float = 0.0

    def server(self, q: float) -> float:
        return percentile([sample.server_ms for sample in self.samples], q)

    def client(self, q: float) -> float:
        return percentile([sample.client_ms for sample in self.samples], q)


# -- the offline code ------------------------------------------------------------------------------------


class _ModuleScripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if (
            tag == "script"
            and attributes.get("type", "").strip().lower() == "module"
            and attributes.get("src")
        ):
            self.sources.append(attributes["src"])


def module_scripts(html: str) -> list[str]:
    """The ``src`` of each ``<script type="module">`` of ``html``, in order, each once."""
    parser = _ModuleScripts()
    parser.feed(html)
    parser.close()
    return list(dict.fromkeys(parser.sources))


def registered_workers(source: str) -> list[str]:
    """The service workers a script registers (``navigator.serviceWorker.register("...")``, literal URLs)."""
    return list(dict.fromkeys(match[2] for match in _REGISTER.finditer(source)))


def service_worker_settings(source: str) -> dict[str, Any]:
    """The settings the server prepends to the service worker: the JSON after ``const CARELOOP = `` up to the
    first ``;`` and newline (``json.dumps`` writes no newline, so one cannot be inside it)."""
    start = source.find(_SETTINGS)
    end = source.find(";\n", start)
    if start < 0 or end < 0:
        raise ValueError(f"no {_SETTINGS.strip()} ...;")
    settings = json.loads(source[start + len(_SETTINGS) : end])
    if not isinstance(settings, dict):
        raise ValueError(f"{_SETTINGS.strip()} is not an object")
    return settings


@dataclass
class OfflineCode:
    """The offline code a first load of a ward page adds, and the shell its service worker caches."""

    #: The service worker, then the page's offline modules and what they import (``idb``), as sent.
    code: list[Fetched]
    #: Every URL of the service worker's ``shell``, as sent (fetched once when the worker installs).
    shell: list[Fetched]
    #: Shell URLs on another origin: not fetched, not counted.
    elsewhere: list[str] = field(default_factory=list)
    #: How each of ``code`` was loaded: the page's module script, imported by a module, registered by one.
    via: dict[str, str] = field(default_factory=dict)

    @property
    def code_bytes(self) -> int:
        return sum(record.body_bytes for record in self.code)

    @property
    def shell_bytes(self) -> int:
        return sum(record.body_bytes for record in self.shell)


def _fetched(http: requests.Session, url: str) -> tuple[Fetched, str]:
    """GET ``url`` afresh (no validators): its record, which must be a 200, and its text."""
    record, body = fetch(http, url)
    if record.status != 200:
        raise BenchError(f"{url} answered {record.status}, not 200")
    return record, body.decode("utf-8", errors="replace")


def offline_load(http: requests.Session, page_url: str) -> OfflineCode:
    """The service worker and the offline modules the page at ``page_url`` loads (its module scripts under
    :data:`OFFLINE_SCRIPTS`, followed through their imports), and then the service worker's shell: each
    fetched afresh, as it goes over the wire, whether or not the first load had it already."""
    _, html = _fetched(http, page_url)
    entries = [same_origin(page_url, src) for src in module_scripts(html)]
    queue = [url for url in entries if url and urlsplit(url).path.startswith(OFFLINE_SCRIPTS)]
    seen = set(queue)
    via = dict.fromkeys(queue, "the page's module script")
    modules: list[Fetched] = []
    workers: dict[str, str] = {}  # the worker's URL: the module registering it
    while queue:
        url = queue.pop(0)
        record, source = _fetched(http, url)
        modules.append(record)
        for worker in registered_workers(source):
            resolved = same_origin(page_url, worker)  # relative to the document, not to the script
            if resolved is not None:
                workers.setdefault(resolved, url)
        for reference in js_references(source):
            resolved = same_origin(url, reference)
            if resolved is not None and resolved not in seen:
                seen.add(resolved)
                queue.append(resolved)
                via[resolved] = f"imported by {_label(url, 30)}"
    worker_url, registered_by = next(iter(workers.items()), (urljoin(page_url, SERVICE_WORKER), ""))
    via[worker_url] = f"registered by {_label(registered_by, 30)}" if registered_by else "assumed"
    worker, source = _fetched(http, worker_url)
    shell: list[Fetched] = []
    elsewhere: list[str] = []
    for url in service_worker_settings(source).get("shell", []):
        resolved = same_origin(worker_url, url)
        if resolved is None:
            elsewhere.append(url)
        else:
            shell.append(_fetched(http, resolved)[0])
    return OfflineCode([worker, *modules], shell, elsewhere, via)


# -- the database and the clients ------------------------------------------------------------------------


def prepare_database(settings: dict[str, Any]) -> int:
    """Migrate the (empty) database and add a unit offering OASI and a clinician in it; the unit's id."""
    app = create_app(settings)
    with app.app_context():
        try:
            tables = inspect(db.engine).get_table_names()
            if tables:
                raise SystemExit(
                    f"the database already has tables ({', '.join(sorted(tables)[:5])}...): the benchmark "
                    "needs a new, empty, throwaway database (it migrates it and adds data)"
                )
            upgrade()
            unit = Unit(
                site=Site(code="BENCH", name="Benchmark trust"), code="labour-ward", name="Labour ward"
            )
            unit.care_bundle_ids.append(CARE_BUNDLE)
            db.session.add(unit)
            user = users.create_user(
                db.session, USERNAME, display_name="Bench Midwife", role=Role.CLINICIAN, password=PASSWORD
            )
            users.add_unit(db.session, user, unit)
            db.session.commit()
            return unit.id
        finally:
            db.session.remove()
            db.engine.dispose()


class Client:
    """One signed-in browser session (cookies, the session's CSRF token); asks for gzip like a browser."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = requests.Session()
        self.http.headers["Accept-Encoding"] = "gzip"
        self.csrf = ""

    def url(self, path: str) -> str:
        return urljoin(self.base_url, path)

    def request(self, method: str, path: str, expect: int, data: dict[str, str] | None = None) -> Sample:
        began = time.perf_counter()
        response = self.http.request(method, self.url(path), data=data, allow_redirects=False, timeout=30)
        elapsed = (time.perf_counter() - began) * 1000
        if response.status_code != expect:
            raise BenchError(f"{method} {path} answered {response.status_code}, not {expect}")
        measured = server_ms(response.headers.get("Server-Timing", ""))
        if measured is None:
            raise BenchError(f"{method} {path} sent no Server-Timing: app;dur=...")
        if response.is_redirect and method == "POST":
            # As a browser would, untimed: the page shows (and so clears) the flashed message, which
            # would otherwise pile up in the session cookie, making every later request slower.
            self.http.get(self.url(response.headers["Location"]), timeout=30).raise_for_status()
        return Sample(measured, elapsed)

    def sign_in(self) -> None:
        token = hidden_inputs(self.http.get(self.url("/sign-in"), timeout=30).text)["csrf_token"]
        form = {"csrf_token": token, "username": USERNAME, "password": PASSWORD}
        self.request("POST", "/sign-in", 303, form)
        self.csrf = hidden_inputs(self.http.get(self.url("/ward/start"), timeout=30).text)["csrf_token"]

    def start_checklist(self, unit_id: int, nhs_number: str, anchor: dt.datetime) -> str:
        """Start an OASI checklist through both steps of the start page; its page's path."""
        form = {
            "csrf_token": self.csrf,
            "choice": f"{unit_id}:{CARE_BUNDLE}",
            "patient_kind": "nhs-number",
            "patient_value": nhs_number,
            "anchor-day": str(anchor.day),
            "anchor-month": str(anchor.month),
            "anchor-year": str(anchor.year),
            "anchor-time": anchor.strftime("%H:%M"),
        }
        confirm = self.http.post(self.url("/ward/start"), data=form, allow_redirects=False, timeout=30)
        if confirm.status_code != 200:
            raise BenchError(f"the start page answered {confirm.status_code}")
        form.update(action="start", checklist_id=hidden_inputs(confirm.text)["checklist_id"])
        started = self.http.post(self.url("/ward/start"), data=form, allow_redirects=False, timeout=30)
        if started.status_code != 303:
            raise BenchError(f"starting a checklist answered {started.status_code}")
        return urlsplit(self.url(started.headers["Location"])).path

    def completion_form(self, path: str) -> dict[str, str]:
        """The form that completes the checklist at ``path``, as its page would post it."""
        page = self.http.get(self.url(path), timeout=30)
        hidden = hidden_inputs(page.text)
        return {name: hidden[name] for name in ("csrf_token", "version", "base")} | COMPLETE


Job = Callable[[Client], Sample]
T = TypeVar("T")


def each(clients: Sequence[Client], work: Callable[[Client, int], T]) -> list[T]:
    """``work(client, index)`` for every client, all at once; the results in the clients' order."""
    with ThreadPoolExecutor(len(clients)) as pool:
        return list(pool.map(work, clients, range(len(clients))))


def run(clients: Sequence[Client], jobs: Sequence[Sequence[Job]]) -> list[Sample]:
    """Each client runs its own list of jobs, one after another, all clients at once."""
    results = each(clients, lambda client, index: [job(client) for job in jobs[index]])
    return [sample for samples in results for sample in samples]


def deal(count: int, clients: int) -> list[int]:
    """How many of ``count`` jobs each of ``clients`` gets: shared out as evenly as possible."""
    return [len(range(index, count, clients)) for index in range(clients)]


def get(path: str) -> Job:
    return lambda client: client.request("GET", path, 200)


def post(path: str, form: dict[str, str]) -> Job:
    return lambda client: client.request("POST", path, 303, form)


# -- the run ---------------------------------------------------------------------------------------------


@dataclass
class Results:
    routes: dict[str, Route]
    first: list[Fetched]
    warm: list[tuple[WarmAction, Fetched | None]]
    offline: OfflineCode
    memory: dict[int, dict[str, int]]


def measure(base_url: str, unit_id: int, master_pid: int, options: argparse.Namespace) -> Results:
    """Sign the clients in, set up checklists, warm up, then time each route in turn (all clients at once),
    load a checklist page as a browser would, and read the workers' memory."""
    clients = [Client(base_url) for _ in range(options.clients)]
    each(clients, lambda client, _: client.sign_in())

    # Set-up: two in-progress checklists per client to open, and a new checklist for every completion
    # (each client completes its own: the form carries its session's CSRF token), two more to warm up.
    anchor = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=3)).astimezone(ZoneInfo("Europe/London"))
    shares = [2 + 2 + share for share in deal(options.completions, len(clients))]
    patients = list(itertools.islice(nhs_numbers(), sum(shares)))
    firsts = [sum(shares[:index]) for index in range(len(shares))]

    def set_up(client: Client, index: int) -> tuple[list[str], list[tuple[str, dict[str, str]]]]:
        mine = patients[firsts[index] : firsts[index] + shares[index]]
        paths = [client.start_checklist(unit_id, patient, anchor) for patient in mine]
        return paths[:2], [(path, client.completion_form(path)) for path in paths[2:]]

    prepared = each(clients, set_up)
    pages = [open_pages for open_pages, _ in prepared]
    completions = [forms for _, forms in prepared]

    # Warm-up, not counted: templates compiled, caches and connection pools filled, in both workers.
    run(clients, [[get("/healthz")] * 10 + [get(mine[0])] * 5 for mine in pages])
    run(clients, [[post(path, form) for path, form in forms[:2]] for forms in completions])

    routes = {
        "baseline": Route("GET /healthz (baseline)"),
        "page": Route("GET checklist page"),
        "completion": Route("POST completion"),
    }
    workers = _server.worker_pids(master_pid)

    def time_route(route: Route, jobs: Sequence[Sequence[Job]]) -> None:
        cpu = _server.cpu_seconds(workers)
        route.samples = run(clients, jobs)
        route.cpu_ms = (_server.cpu_seconds(workers) - cpu) * 1000 / len(route.samples)

    shares = deal(options.requests, len(clients))
    time_route(routes["baseline"], [[get("/healthz")] * share for share in shares])
    time_route(
        routes["page"],
        [[get(mine[n % 2]) for n in range(share)] for share, mine in zip(shares, pages, strict=True)],
    )
    time_route(
        routes["completion"], [[post(path, form) for path, form in forms[2:]] for forms in completions]
    )

    # A browser with an empty cache, signed in, opens a checklist; then opens it again.
    browser = clients[0].http
    first = first_load(browser, clients[0].url(pages[0][1]))
    warm = warm_load(browser, first)
    offline = offline_load(browser, clients[0].url(pages[0][1]))
    memory = {pid: _server.memory_kib(pid) for pid in _server.worker_pids(master_pid)}
    return Results(routes, first, warm, offline, memory)


def report(results: Results, setting: str) -> None:
    """Print the figures and the goals, each PASS or MISS."""
    print(setting)
    print()
    print("Server time per request (Server-Timing: app;dur), ms; ratios to the baseline's p50 and p95")
    print(
        f"{'':26}{'n':>5}{'p50':>8}{'p95':>8}{'p50 x':>8}{'p95 x':>8}{'CPU':>7}"
        "   client p50 / p95 (with queueing)"
    )
    baseline = results.routes["baseline"]
    for route in results.routes.values():
        p50, p95 = route.server(50), route.server(95)
        print(
            f"{route.label:26}{len(route.samples):5d}{p50:8.1f}{p95:8.1f}"
            f"{p50 / baseline.server(50):8.1f}{p95 / baseline.server(95):8.1f}{route.cpu_ms:7.1f}"
            f"   {route.client(50):.1f} / {route.client(95):.1f}"
        )
    print(
        "CPU: the workers' CPU time per request over the route's run (a completion's includes the page it\n"
        "redirects to, fetched as a browser would but not timed); server time above it is waiting: for the\n"
        "CPU (other processes, the other worker, the clients) or for a lock."
    )

    print()
    print("Bytes over the wire for the checklist page (bodies as sent, Accept-Encoding: gzip; KB = 1000 B)")
    print(f"  {'':44}{'first load':>16}   {'warm load: cached, revalidated or asked again'}")
    first_total = warm_total = 0
    for record, (action, again) in zip(results.first, results.warm, strict=True):
        encoding = record.headers.get("Content-Encoding", "-")
        warm_bytes = again.body_bytes if again else 0
        status = str(again.status) if again else ""
        print(
            f"  {_label(record.url):44}{record.body_bytes:8d} B {encoding:>5}   "
            f"{action:10} {status:>3} {warm_bytes:7d} B"
        )
        first_total += record.body_bytes
        warm_total += warm_bytes
    first_headers = sum(record.header_bytes for record in results.first)
    warm_records = [again for _, again in results.warm if again is not None]
    warm_headers = sum(record.header_bytes for record in warm_records)
    print(f"  {'total of the bodies':44}{first_total / KB:8.1f} KB{'':21}{warm_total / KB:7.1f} KB")
    print(
        f"  {'requests (headers, about)':44}{len(results.first):5d} ({first_headers / KB:.1f} KB)"
        f"{'':14}{len(warm_records):5d} ({warm_headers / KB:.1f} KB)"
    )
    report_offline(results.offline, results.first)

    print()
    print("Worker memory (VmRSS after the run; VmHWM the peak)")
    for pid, fields in sorted(results.memory.items()):
        print(
            f"  worker {pid}: {fields['VmRSS'] / 1024:.1f} MiB (peak {fields.get('VmHWM', 0) / 1024:.1f} MiB)"
        )

    figures = {
        "page": results.routes["page"].server(95),
        "completion": results.routes["completion"].server(95),
        "first": first_total / KB,
        "warm": warm_total / KB,
        "offline": results.offline.code_bytes / KB,
    }
    print()
    print("Goals")
    for key, (label, limit, unit) in GOALS.items():
        met = figures[key] < limit
        goal = f"{label} < {limit:g} {unit}"
        print(f"  {goal:34}{figures[key]:8.1f} {unit:3} {'PASS' if met else 'MISS'}")


def report_offline(offline: OfflineCode, first: Sequence[Fetched]) -> None:
    """The offline code the first load adds (goal of issue 9) and the shell the service worker caches, each
    file marked by whether the first load above counts it already."""
    in_first = {record.url for record in first}
    print()
    print("Offline code on the first load (issue 9): the service worker and the page's offline modules with")
    print("what they import (bodies as sent, fetched afresh; Accept-Encoding: gzip; KB = 1000 B)")
    for record in offline.code:
        encoding = record.headers.get("Content-Encoding", "-")
        counted = "in the first load above" if record.url in in_first else "NOT in the first load above"
        note = offline.via.get(record.url, "")
        print(f"  {_label(record.url):44}{record.body_bytes:8d} B {encoding:>5}   {counted}, {note}")
    code, code_in_first = offline.code_bytes, _bytes(offline.code, in_first)
    _kb("offline code on first load", code)
    _kb("  of it counted in the first load above", code_in_first)
    _kb("  of it on top of the first load above", code - code_in_first)

    shell, shell_in_first = offline.shell_bytes, _bytes(offline.shell, in_first)
    count = len(offline.shell)
    print(f"Offline shell: the {count} URLs of the service worker's shell, fetched once when it installs")
    _kb("offline shell cached in the background", shell, "(no goal)")
    _kb("  of it files the first load above fetched", shell_in_first, "(a fresh HTTP cache may serve them)")
    _kb("  of it files the first load did not", shell - shell_in_first)
    if offline.elsewhere:
        print(f"  shell URLs on another origin, not counted: {', '.join(offline.elsewhere)}")


def _bytes(records: Iterable[Fetched], urls: Container[str]) -> int:
    """The bodies' bytes of those of ``records`` whose URL is one of ``urls``."""
    return sum(record.body_bytes for record in records if record.url in urls)


def _kb(label: str, size: int, note: str = "") -> None:
    print(f"  {label:44}{size / KB:8.1f} KB{'   ' + note if note else ''}")


def _label(url: str, width: int = 44) -> str:
    """A URL's path for the table: ids shortened, long paths cut on the left."""
    path = _UUID.sub("<id>", urlsplit(url).path)
    return path if len(path) <= width else "..." + path[-(width - 3) :]


def describe(url: str) -> str:
    """The database, without credentials."""
    if url.startswith("sqlite"):
        return "SQLite (a new file in a temporary folder)"
    parts = urlsplit(url)
    return f"PostgreSQL {parts.hostname}:{parts.port or 5432}{parts.path} (throwaway)"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ward", description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--clients", type=int, default=4, help="signed-in clients at once (default 4)")
    parser.add_argument("--requests", type=int, default=400, help="requests per GET route (default 400)")
    parser.add_argument("--completions", type=int, default=200, help="completions (default 200)")
    options = parser.parse_args(argv)

    load = os.getloadavg()[0]  # others' work on the machine shows in the server times too
    with tempfile.TemporaryDirectory(prefix="careloop-bench-") as folder:
        url = os.environ.get("CARELOOP_DATABASE_URL") or f"sqlite:///{Path(folder) / 'bench.db'}"
        settings: dict[str, Any] = {
            "ENV": "production",
            "SECRET_KEY": secrets.token_hex(32),
            "DATABASE_URL": url,
            "SESSION_COOKIE_SECURE": False,  # plain HTTP on the loopback
            "LOG_LEVEL": "WARNING",
        }
        unit_id = prepare_database(settings)
        env = _server.environment(
            {
                name: str(value).lower() if isinstance(value, bool) else str(value)
                for name, value in settings.items()
            }
        )
        with (Path(folder) / "gunicorn.log").open("w+b") as log:
            server = _server.start(env, workers=options.workers, log=log)
            try:
                results = measure(server.base_url, unit_id, server.process.pid, options)
            except Exception:
                print(server.log_tail(), file=sys.stderr)
                raise
            finally:
                _server.stop(server)
    setting = (
        f"Careloop ward benchmark: gunicorn, {options.workers} sync workers, {options.clients} signed-in "
        f"clients, {describe(url)}\nMachine: {os.cpu_count()} CPUs, load average {load:.2f} before the run"
    )
    report(results, setting)
    return 0


if __name__ == "__main__":
    sys.exit(main())
