"""Shared fixtures: an app on a throwaway database migrated once per run, and a rolled-back session per test.

The database is SQLite in a temporary folder unless ``CARELOOP_TEST_DATABASE_URL`` names another (CI sets a
fresh PostgreSQL database there). Tables come from the Alembic migrations, so every run also tests them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from flask_migrate import upgrade
from sqlalchemy.orm import Session

from service import create_app
from service.extensions import db

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED = PROJECT_ROOT.parent / "shared"


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


def pytest_report_header() -> str:
    url = os.environ.get("CARELOOP_TEST_DATABASE_URL")
    return f"careloop test database: {url.split('@')[-1] if url else 'SQLite (temporary file)'}"
