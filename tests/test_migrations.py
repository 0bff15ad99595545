"""The Alembic migrations: up from nothing, down to nothing, up again, and a schema equal to the models.

Each backend gets a database of its own: a temporary SQLite file, and, when ``CARELOOP_TEST_DATABASE_URL``
names a PostgreSQL server, a scratch database created on it and dropped afterwards (the shared test
database is left alone).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import (
    CheckConstraint,
    String,
    Uuid,
    bindparam,
    create_engine,
    insert,
    inspect,
    make_url,
)
from sqlalchemy import text as sql
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from service import create_app
from service.extensions import db
from service.models import Checklist, ChecklistChange, Delivery, Unit

POSTGRES_URL = os.environ.get("CARELOOP_TEST_DATABASE_URL", "")
MODEL_TABLES = {
    "site",
    "unit",
    "unit_care_bundle",
    "user_account",
    "user_unit",
    "checklist",
    "checklist_change",
    "answer",
    "element_outcome",
    "rule_outcome",
    "composite_outcome",
    "check_result",
    "delivery",
    "api_token",
    "audit_event",
    "compliance_day",
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
    assert "CREATE TABLE rule_outcome" in sql
    assert "ADD CONSTRAINT uq_answer_checklist_element_instance_position UNIQUE" in sql
    assert "UPDATE alembic_version SET version_num='0002' WHERE alembic_version.version_num = '0001'" in sql
    assert "CREATE TABLE checklist_change" in sql
    assert "CONSTRAINT uq_checklist_change_checklist_based_on UNIQUE (checklist_id, based_on)" in sql
    assert "UPDATE alembic_version SET version_num='0003' WHERE alembic_version.version_num = '0002'" in sql
    assert "CREATE TABLE api_token" in sql
    assert "CONSTRAINT uq_api_token_token_sha256 UNIQUE (token_sha256)" in sql


# -- 0002: answers in repeating group instances -----------------------------------------------------------

#: Columns as they are in 0001 (the models' ``answer`` has ``instance`` since 0002).
_ANSWER = sql(
    "INSERT INTO answer (checklist_id, element_id, instance, position, value_code) "
    "VALUES (:checklist_id, :element_id, :instance, :position, :code)"
).bindparams(bindparam("checklist_id", type_=Uuid()), bindparam("code", type_=String()))
_ANSWER_0001 = sql(
    "INSERT INTO answer (checklist_id, element_id, position, value_code) "
    "VALUES (:checklist_id, :element_id, :position, :code)"
).bindparams(bindparam("checklist_id", type_=Uuid()), bindparam("code", type_=String()))


def _checklist_with_answers_at_0001() -> uuid.UUID:
    checklist_id = uuid.uuid4()
    with db.engine.begin() as connection:
        # Raw SQL: the models' site has columns 0001 has not (their Python defaults would be inserted).
        connection.execute(sql("INSERT INTO site (id, code, name) VALUES (1, 'S1', 'Site')"))
        connection.execute(insert(Unit.__table__).values(id=1, site_id=1, code="ward", name="Ward"))
        connection.execute(
            insert(Checklist.__table__).values(
                id=checklist_id,
                care_bundle_id="oasi-care-bundle",
                care_bundle_version="1.0.0",
                unit_id=1,
                patient_identifier="1",
                patient_identifier_system="urn:local",
            )
        )
        connection.execute(
            _ANSWER_0001,
            [
                {"checklist_id": checklist_id, "element_id": "tear", "position": 0, "code": "2nd"},
                {"checklist_id": checklist_id, "element_id": "tear", "position": 1, "code": "buttonhole"},
            ],
        )
    return checklist_id


def _answers() -> list[tuple[Any, ...]]:
    with db.engine.connect() as connection:
        rows = connection.execute(sql("SELECT * FROM answer ORDER BY id")).mappings()
        return [(row["element_id"], row.get("instance"), row["position"], row["value_code"]) for row in rows]


def _answer_unique_constraints() -> set[str | None]:
    return {constraint["name"] for constraint in inspect(db.engine).get_unique_constraints("answer")}


def test_existing_answers_move_into_instance_0_and_back(migration_app: Flask) -> None:
    upgrade(revision="0001")
    checklist_id = _checklist_with_answers_at_0001()

    upgrade()
    assert _answers() == [("tear", 0, 0, "2nd"), ("tear", 0, 1, "buttonhole")]
    assert _answer_unique_constraints() == {"uq_answer_checklist_element_instance_position"}
    with db.engine.begin() as connection:  # the same position in another instance is another answer
        connection.execute(
            _ANSWER,
            {"checklist_id": checklist_id, "element_id": "tear", "instance": 1, "position": 0, "code": "3a"},
        )
        connection.execute(sql("DELETE FROM answer WHERE instance = 1"))

    downgrade(revision="0001")
    assert _answers() == [("tear", None, 0, "2nd"), ("tear", None, 1, "buttonhole")]
    assert _answer_unique_constraints() == {"uq_answer_checklist_element_position"}
    assert "rule_outcome" not in _tables()


@pytest.mark.parametrize(
    "statement",
    [
        _ANSWER.bindparams(element_id="goal", instance=1, position=0, code="walk"),
        sql(
            "INSERT INTO audit_event (action, entity_type, actor_client) "
            "VALUES ('re-evaluate', 'checklist', 'x')"
        ),
    ],
    ids=["answer-in-instance-1", "re-evaluate-event"],
)
def test_downgrade_refuses_to_lose_what_0001_cannot_hold(
    migration_app: Flask, statement: Any, caplog: pytest.LogCaptureFixture
) -> None:
    upgrade(revision="0001")
    checklist_id = _checklist_with_answers_at_0001()
    upgrade()
    with db.engine.begin() as connection:
        connection.execute(statement, {"checklist_id": checklist_id})

    with caplog.at_level(logging.ERROR, logger="flask_migrate"), pytest.raises(SystemExit):
        downgrade(revision="0001")

    assert "cannot downgrade to 0001" in caplog.text
    assert {"rule_outcome", "composite_outcome", "check_result"} <= _tables()
    assert _answer_unique_constraints() == {"uq_answer_checklist_element_instance_position"}


def _add_checklist(connection: Connection, checklist_id: uuid.UUID) -> None:
    """A site, a unit and an OASI 2.0.0 checklist on it, at the head revision (raw SQL for the site: its
    models' Python defaults belong to the models, not to the schema under test)."""
    connection.execute(sql("INSERT INTO site (id, code, name) VALUES (1, 'S1', 'Site')"))
    connection.execute(insert(Unit.__table__).values(id=1, site_id=1, code="ward", name="Ward"))
    connection.execute(
        insert(Checklist.__table__).values(
            id=checklist_id,
            care_bundle_id="oasi-care-bundle",
            care_bundle_version="2.0.0",
            unit_id=1,
            patient_identifier="1",
            patient_identifier_system="urn:local",
        )
    )


# -- 0003: checklist changes ------------------------------------------------------------------------------


def test_downgrade_refuses_to_drop_stored_checklist_changes(
    migration_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    upgrade()
    checklist_id = uuid.uuid4()
    with db.engine.begin() as connection:
        _add_checklist(connection, checklist_id)
        connection.execute(
            insert(ChecklistChange.__table__).values(
                checklist_id=checklist_id,
                version=2,
                based_on=1,
                operation="complete",
                payload_sha256="0" * 64,
                status="completed",
                snapshot={"resourceType": "QuestionnaireResponse"},
            )
        )

    with caplog.at_level(logging.ERROR, logger="flask_migrate"), pytest.raises(SystemExit):
        downgrade(revision="0002")

    assert "cannot downgrade to 0002: 1 checklist change(s)" in caplog.text
    assert "checklist_change" in _tables()
    with db.engine.begin() as connection:
        connection.execute(sql("DELETE FROM checklist_change"))
    downgrade(revision="0002")
    assert "checklist_change" not in _tables()


@pytest.mark.parametrize(
    ("values", "constraint"),
    [
        ({"operation": "amend", "reason": None}, "ck_checklist_change_reason_when_required"),
        ({"operation": "complete", "reason": "free text"}, "ck_checklist_change_reason_when_required"),
        ({"status": "completed", "snapshot": None}, "ck_checklist_change_snapshot_when_final"),
        (
            {"status": "in-progress", "snapshot": {"resourceType": "QuestionnaireResponse"}},
            "snapshot_when_final",
        ),
        ({"version": 1, "based_on": 1}, "ck_checklist_change_version_after_base"),
    ],
    ids=["amend-without-reason", "reason-on-complete", "final-without-snapshot", "draft-snapshot", "no-step"],
)
def test_checklist_change_constraints(migration_app: Flask, values: dict[str, Any], constraint: str) -> None:
    upgrade()
    checklist_id = uuid.uuid4()
    row = {
        "checklist_id": checklist_id,
        "version": 2,
        "based_on": 1,
        "operation": "complete",
        "payload_sha256": "0" * 64,
        "status": "completed",
        "snapshot": {"resourceType": "QuestionnaireResponse"},
        **values,
    }
    with db.engine.begin() as connection:
        _add_checklist(connection, checklist_id)
    with pytest.raises(IntegrityError, match=constraint), db.engine.begin() as connection:
        connection.execute(insert(ChecklistChange.__table__).values(**row))


# -- 0004: EHR settings, pinned versions, delivery leases ------------------------------------------------


def test_a_site_registered_for_smart_keeps_its_registration(migration_app: Flask) -> None:
    upgrade(revision="0003")
    with db.engine.begin() as connection:
        connection.execute(
            sql(
                "INSERT INTO site (id, code, name, fhir_base_url, fhir_client_id, fhir_token_url, "
                "fhir_credentials_ref) VALUES (1, 'S1', 'Site', 'https://ehr.example/fhir', 'careloop', "
                "'https://ehr.example/token', 'KEY'), (2, 'S2', 'Open', NULL, NULL, NULL, NULL)"
            )
        )
        connection.execute(insert(Unit.__table__).values(id=1, site_id=1, code="ward", name="Ward"))

    upgrade()

    with db.engine.connect() as connection:
        rows = connection.execute(
            sql("SELECT code, fhir_auth, fhir_signing_alg, fhir_enabled FROM site ORDER BY code")
        ).all()
        units = connection.execute(sql("SELECT count(*) FROM unit")).scalar()
    assert [tuple(row) for row in rows] == [("S1", "smart", "RS384", False), ("S2", "none", None, False)]
    assert units == 1  # the site table was rebuilt on SQLite; the unit pointing at it is still there


def test_downgrade_refuses_to_drop_superseded_deliveries(
    migration_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    upgrade()
    checklist_id = uuid.uuid4()
    with db.engine.begin() as connection:
        _add_checklist(connection, checklist_id)
        connection.execute(
            insert(Delivery.__table__).values(
                checklist_id=checklist_id, checklist_version=2, site_id=1, status="superseded"
            )
        )

    with caplog.at_level(logging.ERROR, logger="flask_migrate"), pytest.raises(SystemExit):
        downgrade(revision="0003")

    assert "cannot downgrade to 0003: 1 superseded delivery row(s)" in caplog.text
    with db.engine.begin() as connection:
        connection.execute(sql("UPDATE delivery SET status = 'dead'"))
    downgrade(revision="0003")
    assert "fhir_auth" not in {column["name"] for column in inspect(db.engine).get_columns("site")}


def test_only_one_version_of_a_checklist_is_in_flight_to_a_site(migration_app: Flask) -> None:
    upgrade()
    checklist_id = uuid.uuid4()
    with db.engine.begin() as connection:
        _add_checklist(connection, checklist_id)
        for version in (2, 3):
            connection.execute(
                insert(Delivery.__table__).values(
                    checklist_id=checklist_id, checklist_version=version, site_id=1, status="pending"
                )
            )
        connection.execute(sql("UPDATE delivery SET status = 'in-flight' WHERE checklist_version = 2"))
    with pytest.raises(IntegrityError), db.engine.begin() as connection:
        connection.execute(sql("UPDATE delivery SET status = 'in-flight' WHERE checklist_version = 3"))


# -- 0007: what compliance reports group and de-duplicate by ---------------------------------------------


def test_existing_checklists_get_their_anchor_date_and_episode_key(migration_app: Flask) -> None:
    upgrade(revision="0006")
    winter, summer = (
        dt.datetime(2026, 3, 28, 23, 30, tzinfo=dt.UTC),
        dt.datetime(2026, 6, 30, 23, 30, tzinfo=dt.UTC),
    )
    rows = [
        {"id": uuid.uuid4(), "anchor_time": winter, "encounter_reference": None},
        {"id": uuid.uuid4(), "anchor_time": summer, "encounter_reference": None},  # 1 July in London (BST)
        {"id": uuid.uuid4(), "anchor_time": summer, "encounter_reference": "Encounter/77"},
        {"id": uuid.uuid4(), "anchor_time": None, "encounter_reference": None},
    ]
    with db.engine.begin() as connection:
        connection.execute(sql("INSERT INTO site (id, code, name) VALUES (1, 'S1', 'Site')"))
        connection.execute(insert(Unit.__table__).values(id=1, site_id=1, code="ward", name="Ward"))
        for row in rows:
            connection.execute(
                insert(Checklist.__table__).values(
                    care_bundle_id="oasi-care-bundle",
                    care_bundle_version="2.0.0",
                    unit_id=1,
                    patient_identifier="9434765919",
                    patient_identifier_system="https://fhir.nhs.uk/Id/nhs-number",
                    **row,
                )
            )

    upgrade()

    with db.engine.connect() as connection:
        stored = {
            row.id: (row.anchor_date, row.episode_key)
            for row in connection.execute(sql("SELECT id, anchor_date, episode_key FROM checklist")).all()
        }
    expected = {}
    for row in rows:
        model = Checklist(
            care_bundle_id="oasi-care-bundle",
            patient_identifier="9434765919",
            patient_identifier_system="https://fhir.nhs.uk/Id/nhs-number",
            anchor_time=row["anchor_time"],
            encounter_reference=row["encounter_reference"],
        )
        model.index_for_reports()  # what the lifecycle's write path sets
        expected[row["id"]] = (model.anchor_date, model.episode_key)
    assert {
        uuid.UUID(str(key)): (dt.date.fromisoformat(str(day)) if day else None, key_)
        for key, (day, key_) in stored.items()
    } == expected
    assert [expected[row["id"]][0] for row in rows] == [
        dt.date(2026, 3, 28),
        dt.date(2026, 7, 1),
        dt.date(2026, 7, 1),
        None,
    ]
    keys = [expected[row["id"]][1] for row in rows]
    assert keys[0] != keys[1] != keys[2]  # another day, another encounter: other episodes
    assert keys[3] is None


# -- 0008: a user permission to see patient identifiers in the compliance drill-down ----------------------


def test_existing_users_do_not_get_the_identifier_permission(migration_app: Flask) -> None:
    upgrade(revision="0007")
    with db.engine.begin() as connection:
        connection.execute(
            sql(
                "INSERT INTO user_account (username, display_name, password_hash, role) "
                "VALUES ('lead', 'Lead', 'x', 'qi_lead'), ('admin', 'Admin', 'x', 'admin')"
            )
        )

    upgrade()

    with db.engine.connect() as connection:
        granted = connection.execute(
            sql("SELECT username, can_read_patient_identifiers FROM user_account ORDER BY username")
        ).all()
    assert [(name, bool(value)) for name, value in granted] == [("admin", False), ("lead", False)]
    downgrade(revision="0007")
    columns = {column["name"] for column in inspect(db.engine).get_columns("user_account")}
    assert "can_read_patient_identifiers" not in columns


def test_0008_can_be_written_out_as_postgresql_sql(capsys: pytest.CaptureFixture[str]) -> None:
    app = create_app(
        {"ENV": "testing", "SECRET_KEY": "test", "DATABASE_URL": "postgresql://nobody@127.0.0.1:9/none"}
    )
    with app.app_context():
        upgrade(sql=True, revision="0007:0008")
    sql_text = capsys.readouterr().out
    assert (
        "ALTER TABLE user_account ADD COLUMN can_read_patient_identifiers BOOLEAN DEFAULT false NOT NULL"
        in sql_text
    )
    assert (
        "UPDATE alembic_version SET version_num='0008' WHERE alembic_version.version_num = '0007'" in sql_text
    )


# -- 0009: compliance_day ---------------------------------------------------------------------------------


def test_compliance_day_is_filled_from_the_stored_outcomes(migration_app: Flask) -> None:
    from service.compliance.daily import rebuild
    from service.models import CompositeResult, ElementOutcome

    upgrade(revision="0008")
    day = dt.date(2026, 3, 2)
    completed = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)
    first, twin, other = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    with db.engine.begin() as connection:
        connection.execute(sql("INSERT INTO site (id, code, name) VALUES (1, 'S1', 'Site')"))
        connection.execute(insert(Unit.__table__).values(id=1, site_id=1, code="ward", name="Ward"))
        for checklist_id, patient, done, episode in (
            (first, "1", completed, "episode-a"),
            (twin, "1", completed + dt.timedelta(hours=1), "episode-a"),  # completed later: the one counted
            (other, "2", completed, "episode-b"),
        ):
            connection.execute(
                insert(Checklist.__table__).values(
                    id=checklist_id,
                    care_bundle_id="oasi-care-bundle",
                    care_bundle_version="2.0.0",
                    unit_id=1,
                    patient_identifier=patient,
                    patient_identifier_system="urn:local",
                    status="completed",
                    completed_at=done,
                    compliant=patient == "2",
                    anchor_time=completed,
                    anchor_date=day,
                    episode_key=episode,
                )
            )
            connection.execute(
                insert(CompositeResult.__table__).values(
                    checklist_id=checklist_id, composite_id="oasi-care-bundle", compliant=patient == "2"
                )
            )
            connection.execute(
                insert(ElementOutcome.__table__).values(
                    checklist_id=checklist_id,
                    element_id="mpp",
                    outcome="met" if patient == "2" else "not-met",
                )
            )

    upgrade()

    def cells() -> set[tuple[Any, ...]]:
        with db.engine.connect() as connection:
            rows = connection.execute(
                sql(
                    "SELECT measure_kind, measure_id, outcome, reason, counted, checklists "
                    "FROM compliance_day"
                )
            ).all()
        return {
            (kind, measure, outcome, reason, bool(counted), number)
            for kind, measure, outcome, reason, counted, number in rows
        }

    filled = cells()
    assert filled == {
        ("composite", "oasi-care-bundle", "not-met", "", True, 1),
        ("composite", "oasi-care-bundle", "not-met", "", False, 1),  # the first of episode a, set aside
        ("composite", "oasi-care-bundle", "met", "", True, 1),
        ("element", "mpp", "not-met", "", True, 1),
        ("element", "mpp", "not-met", "", False, 1),
        ("element", "mpp", "met", "", True, 1),
    }
    with migration_app.app_context():
        rebuild(db.session)  # what the service's own recount makes of the same rows
        db.session.commit()
    assert cells() == filled
