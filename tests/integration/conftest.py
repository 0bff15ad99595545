"""Integration fixtures: the FHIR peer behind a fault proxy, and (for tests that run real worker processes) a
database of its own whose commits other processes see."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from service import create_app
from service.extensions import db
from tests.peers.fault_proxy import FaultProxy
from tests.peers.medplum import MedplumPeer

TEST_DATABASE_URL = os.environ.get("CARELOOP_TEST_DATABASE_URL", "")


@pytest.fixture
def proxy(clean_fhir_peer: MedplumPeer) -> Iterator[FaultProxy]:
    """A fault proxy in front of an empty peer: sites point at ``proxy.url``."""
    with FaultProxy(clean_fhir_peer.base) as faults:
        yield faults


@pytest.fixture
def own_database(tmp_path: Path) -> Iterator[str]:
    """A new, migrated database of the kind the suite runs on (SQLite file, or a new PostgreSQL database),
    dropped afterwards: worker processes started by a test see what the test commits there."""
    if not TEST_DATABASE_URL.startswith("postgresql"):
        url = f"sqlite:///{tmp_path / 'integration.db'}"
        _migrate(url, tmp_path)
        yield url
        return
    name = f"careloop_integration_{uuid.uuid4().hex[:12]}"
    admin = create_engine(
        make_url(TEST_DATABASE_URL).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = make_url(TEST_DATABASE_URL).set(database=name).render_as_string(hide_password=False)
        _migrate(url, tmp_path)
        yield url
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


def _migrate(url: str, tmp_path: Path) -> None:
    app = own_app(url, tmp_path)
    with app.app_context():
        upgrade()
        db.engine.dispose()


def own_app(url: str, tmp_path: Path) -> Flask:
    return create_app(
        {
            "ENV": "testing",
            "TESTING": True,
            "SECRET_KEY": "integration",
            "DATABASE_URL": url,
            "SMART_KEYS_PATH": str(tmp_path / "smart-keys.json"),
        }
    )
