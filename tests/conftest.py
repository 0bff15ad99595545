"""Shared fixtures: an app on a throwaway database migrated once per run, and a rolled-back session per test.

The database is SQLite in a temporary folder unless ``CARELOOP_TEST_DATABASE_URL`` names another (CI sets a
fresh PostgreSQL database there). Tables come from the Alembic migrations, so every run also tests them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from flask_migrate import upgrade
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from service import create_app
from service.auth.users import hash_password
from service.care_bundles import CareBundleCatalogue
from service.extensions import db
from service.models import Role, Unit, User

#: The real FHIR server (Medplum-based) for integration tests: ``fhir_peer``, ``clean_fhir_peer``...
pytest_plugins = ["tests.peers.fixtures"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED = PROJECT_ROOT.parent / "shared"
#: The password of every user made by ``make_user`` unless it says otherwise.
TEST_PASSWORD = "correct horse battery staple"


def _database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return os.environ.get("CARELOOP_TEST_DATABASE_URL") or (
        f"sqlite:///{tmp_path_factory.mktemp('db') / 'careloop-test.db'}"
    )


@pytest.fixture(scope="session")
def app_config(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return {
        "ENV": "testing",
        "TESTING": True,
        "SECRET_KEY": "test-secret-not-for-production",
        "DATABASE_URL": _database_url(tmp_path_factory),
        # Forms post without a CSRF token here; the ``csrf_enabled`` fixture turns the check back on (the
        # tests of tests/service/auth do, and a production-config app there checks it by default).
        "WTF_CSRF_ENABLED": False,
    }


@pytest.fixture(scope="session")
def app(app_config: dict[str, Any]) -> Iterator[Flask]:
    app = create_app(app_config)
    with app.app_context():
        upgrade()
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def catalogue(app: Flask) -> CareBundleCatalogue:
    """The app's care bundle catalogue (every loaded version, compiled)."""
    found: CareBundleCatalogue = app.extensions["care_bundle_catalogue"]
    return found


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    """``db.session`` in a transaction that is rolled back after the test; code under test may commit.

    Flask-SQLAlchemy's ``Session.get_bind`` returns the app's engine before it looks at the session's own
    ``bind``, so a session merely bound to a connection would still commit for real. The app's engine is
    swapped for one connection in an outer transaction instead: commits release savepoints inside it
    (``create_savepoint``), and nothing survives the test.
    """
    engines = db.engines
    engine = engines[None]
    connection = engine.connect()
    transaction = connection.begin()
    engines[None] = connection  # type: ignore[assignment]
    original = db.session
    db.session = db._make_scoped_session({"join_transaction_mode": "create_savepoint"})
    try:
        yield db.session
    finally:
        db.session.remove()
        db.session = original
        engines[None] = engine
        transaction.rollback()
        connection.close()


@pytest.fixture
def csrf_enabled(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """Check CSRF tokens in this test, as production does (read per request, so no new app is needed)."""
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)


@cache
def _password_hash(password: str) -> str:
    return hash_password(password)  # scrypt is slow on purpose: hash each test password once per run


@pytest.fixture
def make_user(session: Session) -> Callable[..., User]:
    """``make_user("sam", role=Role.CLINICIAN, units=[unit], active=True, password=TEST_PASSWORD)``."""

    def make(
        username: str = "clinician",
        *,
        role: Role | str = Role.CLINICIAN,
        units: Iterable[Unit] = (),
        active: bool = True,
        password: str = TEST_PASSWORD,
        display_name: str | None = None,
    ) -> User:
        user = User(
            username=username,
            display_name=display_name or f"{username.title()} (test)",
            password_hash=_password_hash(password),
            role=str(role),
            active=active,
            units=list(units),
        )
        session.add(user)
        session.flush()
        return user

    return make


@pytest.fixture
def sign_in(client: FlaskClient) -> Callable[..., TestResponse]:
    """``sign_in("sam")`` posts the sign-in form with ``client`` (default password ``TEST_PASSWORD``)."""

    def post(username: str, password: str = TEST_PASSWORD, *, next_url: str | None = None) -> TestResponse:
        return client.post(
            "/sign-in",
            query_string={"next": next_url} if next_url else None,
            data={"username": username, "password": password},
        )

    return post


def pytest_report_header() -> str:
    url = os.environ.get("CARELOOP_TEST_DATABASE_URL")
    return f"careloop test database: {url.split('@')[-1] if url else 'SQLite (temporary file)'}"
