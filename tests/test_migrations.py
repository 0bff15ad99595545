"""The Alembic migrations: up from nothing, down to nothing, up again, and a schema equal to the models.

Each backend gets a database of its own: a temporary SQLite file, and, when ``CARELOOP_TEST_DATABASE_URL``
names a PostgreSQL server, a scratch database created on it and dropped afterwards (the shared test
database is left alone).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import CheckConstraint, create_engine, inspect, make_url
from sqlalchemy.engine import Engine

from service import create_app
from service.extensions import db

POSTGRES_URL = os.environ.get("CARELOOP_TEST_DATABASE_URL", "")
MODEL_TABLES = {
    "site",
    "unit",
    "unit_care_bundle",
    "user_account",
    "user_unit",
    "checklist",
    "answer",
    "element_outcome",
    "delivery",
    "audit_event",
}


def _postgres_admin_engine() -> Engine:
    url = make_url(POSTGRES_URL).set(drivername="postgresql+psycopg")
    return create_engine(url, isolation_level="AUTOCOMMIT")


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param(
            "postgresql",
            marks=[
                pytest.mark.postgres,
                pytest.mark.skipif(
                    not POSTGRES_URL.startswith("postgresql"),
                    reason="CARELOOP_TEST_DATABASE_URL is not PostgreSQL",
                ),
            ],
        ),
    ]
)
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a database with nothing in it."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    name = f"careloop_migrations_{uuid.uuid4().hex[:12]}"
    admin = _postgres_admin_engine()
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


@pytest.fixture
def migration_app(empty_database: str) -> Iterator[Flask]:
    app = create_app({"ENV": "testing", "SECRET_KEY": "test", "DATABASE_URL": empty_database})
    with app.app_context():
        yield app
        db.engine.dispose()


def _tables() -> set[str]:
    return set(inspect(db.engine).get_table_names())


def _schema_differences() -> list[object]:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, db.metadata))


def test_upgrade_downgrade_upgrade(migration_app: Flask) -> None:
    assert _tables() == set()

    upgrade()
    assert _tables() == MODEL_TABLES | {"alembic_version"}

    downgrade(revision="base")
    assert _tables() == {"alembic_version"}

    upgrade()
    assert _tables() == MODEL_TABLES | {"alembic_version"}
    assert _schema_differences() == []


def test_migrated_schema_matches_the_models(migration_app: Flask) -> None:
    upgrade()
    assert set(db.metadata.tables) == MODEL_TABLES
    # Tables, columns, types, nullability, server defaults, indexes, unique and foreign keys.
    assert _schema_differences() == []
    # Alembic does not compare CHECK constraints: compare their names here.
    inspector = inspect(db.engine)
    for table in db.metadata.sorted_tables:
        expected = {
            constraint.name for constraint in table.constraints if isinstance(constraint, CheckConstraint)
        }
        actual = {constraint["name"] for constraint in inspector.get_check_constraints(table.name)}
        assert actual == expected, table.name


def test_upgrade_can_be_written_out_as_postgresql_sql(capsys: pytest.CaptureFixture[str]) -> None:
    """``flask db upgrade --sql`` gives a DBA the DDL to review; no database is needed."""
    app = create_app(
        {"ENV": "testing", "SECRET_KEY": "test", "DATABASE_URL": "postgresql://nobody@127.0.0.1:9/none"}
    )
    with app.app_context():
        upgrade(sql=True)
    sql = capsys.readouterr().out
    assert "CREATE TABLE checklist" in sql
    assert "TIMESTAMP WITH TIME ZONE" in sql
    assert "JSONB" in sql
    assert "CONSTRAINT ck_checklist_status CHECK" in sql
    assert "INSERT INTO alembic_version (version_num) VALUES ('0001')" in sql
