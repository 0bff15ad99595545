"""Browser tests: the real app under gunicorn (two workers), driven by Playwright in Debian's Chromium.

The live server runs as ``make run`` does (``CARELOOP_ENV=development`` with an explicit secret key) on a
database of its own: a fresh SQLite file, or, when ``CARELOOP_TEST_DATABASE_URL`` names a PostgreSQL
database, a fresh database created beside it on the same server (and dropped at the end), so it never
collides with the other tests' database. It is migrated with ``flask db upgrade`` and seeded with
``tests/browser/seed.py`` (a site and a unit offering every shipped care bundle) and ``flask users`` (a
clinician working there), each a subprocess with the server's environment.

Chromium is Debian's package (``/usr/bin/chromium``, or ``CARELOOP_TEST_CHROMIUM``): Playwright's own browser
download does not work here. Without it the browser tests skip locally and fail in CI (``CI`` set), where a
skipped browser test counts as a missing one. Tests that need only the live server (the concurrency test)
run either way.

On a failure, every open page of the test is saved as a screenshot in ``tests/browser/artifacts/``, and the
test's part of the server log is added to the report.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests
from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    from flask import Flask
    from playwright.sync_api import Browser, BrowserContext, Page, Playwright, StorageState

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
BIN = Path(sys.prefix) / "bin"
CHROMIUM = os.environ.get("CARELOOP_TEST_CHROMIUM", "/usr/bin/chromium")
#: As on this kind of machine's "known to work" list: without the background-networking flags Chromium
#: keeps trying to reach Google's hosts through a closed network. Playwright adds a new empty profile
#: (``--user-data-dir`` in a temporary folder) itself.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: A tablet held upright.
VIEWPORT = {"width": 768, "height": 1024}
SITE_CODE = "BROWSER1"
UNIT_CODE = "ward-1"
USERNAME = "casey"
PASSWORD = "browser-test-password"
DISPLAY_NAME = "Casey Clinician"
#: An admin of the live server (the admin pages' tests sign in as them).
ADMIN_USERNAME = "alex-admin"
HEALTH_TIMEOUT_S = 30.0
#: gunicorn's default access log line, and the worker's process id (which of the two served the request).
ACCESS_LOG_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" pid=%(p)s'

#: What a page waits for before a test gives up (Playwright's default is 30 s).
ACTION_TIMEOUT_MS = 10_000


# -- the live server ---------------------------------------------------------------------------------------


@dataclass
class LiveServer:
    url: str
    database_url: str
    log_path: Path
    process: subprocess.Popen[bytes]

    def log(self, start: int = 0) -> str:
        with self.log_path.open("rb") as handle:
            handle.seek(start)
            return handle.read().decode("utf-8", "replace")

    def log_size(self) -> int:
        return self.log_path.stat().st_size


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _run(command: list[str], env: dict[str, str], stdin: str | None = None) -> None:
    done = subprocess.run(
        command, cwd=PROJECT_ROOT, env=env, input=stdin, capture_output=True, text=True, timeout=120
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")


@contextmanager
def _database(tmp: Path) -> Iterator[str]:
    """A fresh database URL: a SQLite file, or a new database on the PostgreSQL server of the tests."""
    shared = os.environ.get("CARELOOP_TEST_DATABASE_URL")
    if not shared:
        yield f"sqlite:///{tmp / 'careloop-browser.db'}"
        return
    import psycopg

    url = make_url(shared)
    name = f"careloop_browser_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _wait_until_healthy(server: LiveServer) -> None:
    deadline = time.monotonic() + HEALTH_TIMEOUT_S
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.process.returncode}:\n{server.log()}")
        try:
            if requests.get(f"{server.url}/healthz", timeout=5).status_code == 200:
                return
        except requests.RequestException:  # not listening yet, or a worker still booting
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"gunicorn did not answer /healthz in {HEALTH_TIMEOUT_S:.0f} s:\n{server.log()}"
            )
        time.sleep(0.05)  # a short wait between polls, not a fixed delay


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("live-server")
    with _database(tmp) as database_url:
        env = {
            **os.environ,
            "CARELOOP_ENV": "development",
            "CARELOOP_SECRET_KEY": secrets.token_hex(32),
            "CARELOOP_DATABASE_URL": database_url,
            "FLASK_APP": "wsgi",
            "PYTHONUNBUFFERED": "1",
        }
        env.pop("CARELOOP_TEST_DATABASE_URL", None)
        _run([str(BIN / "flask"), "db", "upgrade"], env)
        _run([str(BIN / "python"), str(Path(__file__).with_name("seed.py")), SITE_CODE, UNIT_CODE], env)
        _run(
            [str(BIN / "flask"), "users", "create", USERNAME, "--name", DISPLAY_NAME, "--role", "clinician"]
            + ["--password-stdin"],
            env,
            stdin=PASSWORD + "\n",
        )
        _run([str(BIN / "flask"), "users", "add-unit", USERNAME, SITE_CODE, UNIT_CODE], env)
        _run(
            [str(BIN / "flask"), "users", "create", ADMIN_USERNAME, "--name", "Alex Admin", "--role", "admin"]
            + ["--password-stdin"],
            env,
            stdin=PASSWORD + "\n",
        )
        port = _free_port()
        log_path = tmp / "gunicorn.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "2"]
                + ["--access-logfile", "-", "--access-logformat", ACCESS_LOG_FORMAT]
                + ["--error-logfile", "-", "wsgi:app"],
                cwd=PROJECT_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        server = LiveServer(f"http://127.0.0.1:{port}", database_url, log_path, process)
        try:
            _wait_until_healthy(server)
            yield server
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


@pytest.fixture(scope="session")
def live_app(live_server: LiveServer) -> Iterator[Flask]:
    """An app in the test process on the live server's database, to read what the pages stored."""
    from service import create_app
    from service.extensions import db

    app = create_app(
        {"ENV": "testing", "SECRET_KEY": "read-only-checks", "DATABASE_URL": live_server.database_url}
    )
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _server_log_stays_clean(request: pytest.FixtureRequest) -> Iterator[None]:
    """No test may leave a traceback or a 5xx in the live server's log (only tests that use the server)."""
    if "live_server" not in request.fixturenames:
        yield
        return
    server: LiveServer = request.getfixturevalue("live_server")
    start = server.log_size()
    request.node.careloop_log = (server, start)
    yield
    written = server.log(start)
    problems = [
        line
        for line in written.splitlines()
        if "Traceback" in line or "database is locked" in line or re.search(r'" 5\d\d ', line)
    ]
    assert not problems, "the live server logged errors:\n" + "\n".join(problems) + "\n\n" + written[-20_000:]


# -- the browser -------------------------------------------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def _fresh_artifacts() -> None:
    """Screenshots of this run only."""
    for old in ARTIFACTS.glob("*.png"):
        old.unlink()


def _browser_missing() -> str | None:
    if not Path(CHROMIUM).is_file() or not os.access(CHROMIUM, os.X_OK):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium; .ci/run installs it)"
    return None


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Playwright]:
    missing = _browser_missing()
    if missing is not None:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests cannot run in CI: {missing}", pytrace=False)
        pytest.skip(f"browser tests skipped: {missing}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    browser = playwright_driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


#: Options of every context: a tablet with touch, desktop user agent, the wards' locale and time zone.
CONTEXT_OPTIONS: dict[str, Any] = {
    "viewport": VIEWPORT,
    "has_touch": True,
    "locale": "en-GB",
    "timezone_id": "Europe/London",
}


def sign_in(page: Page, base_url: str) -> None:
    """Sign in through the sign-in page's own form, as a person does."""
    from playwright.sync_api import expect

    page.goto(f"{base_url}/sign-in?next=/ward/")
    page.get_by_label("Username").fill(USERNAME)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").tap()
    expect(page.get_by_role("heading", name="Open checklists")).to_be_visible()


@pytest.fixture(scope="session")
def signed_in_state(browser: Browser, live_server: LiveServer) -> StorageState:
    """The cookies of one sign-in through the page, for the contexts of the tests that start signed in."""
    context = browser.new_context(**CONTEXT_OPTIONS)
    page = context.new_page()
    sign_in(page, live_server.url)
    state = context.storage_state()
    context.close()
    return state


NewContext = Callable[..., "BrowserContext"]


@pytest.fixture
def new_context(
    browser: Browser, live_server: LiveServer, signed_in_state: StorageState, request: pytest.FixtureRequest
) -> Iterator[NewContext]:
    """``new_context(signed_in=True, **options)``: a fresh context (closed after the test) whose pages are
    screenshotted if the test fails."""
    made: list[BrowserContext] = []
    request.node.careloop_contexts = made

    def make(*, signed_in: bool = True, **options: Any) -> BrowserContext:
        context = browser.new_context(
            **CONTEXT_OPTIONS,
            base_url=live_server.url,
            storage_state=signed_in_state if signed_in else None,
            **options,
        )
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        made.append(context)
        return context

    yield make
    for context in made:
        context.close()


@pytest.fixture
def page(new_context: NewContext) -> Page:
    """A signed-in tab with JavaScript on."""
    return new_context().new_page()


@pytest.fixture
def page_without_js(new_context: NewContext) -> Page:
    """A signed-in tab with JavaScript off."""
    return new_context(java_script_enabled=False).new_page()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.when != "call" or not report.failed:
        return
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", item.nodeid.split("::", 1)[-1])
    saved = []
    for context_number, context in enumerate(getattr(item, "careloop_contexts", ())):
        for page_number, open_page in enumerate(context.pages):
            path = ARTIFACTS / f"{name}-{context_number}-{page_number}.png"
            try:
                ARTIFACTS.mkdir(exist_ok=True)
                open_page.screenshot(path=str(path), full_page=True)
                saved.append(f"{path} ({open_page.url})")
            except Exception as error:  # noqa: BLE001 - a screenshot must not hide the failure itself
                saved.append(f"{path}: no screenshot ({error})")
    if saved:
        report.sections.append(("screenshots", "\n".join(saved)))
    if hasattr(item, "careloop_log"):
        server, start = item.careloop_log
        report.sections.append(("live server log", server.log(start)[-20_000:]))
