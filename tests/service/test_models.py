"""The tables: what they store, and the invariants the database itself enforces.

Runs on whichever database the ``session`` fixture uses (SQLite, or PostgreSQL under
``CARELOOP_TEST_DATABASE_URL``), inside a transaction rolled back after each test.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from service.models import (
    NHS_NUMBER_SYSTEM,
    Answer,
    AuditAction,
    AuditEvent,
    CheckFailure,
    Checklist,
    ChecklistStatus,
    CompositeResult,
    Delivery,
    DeliveryStatus,
    ElementOutcome,
    Outcome,
    Role,
    RuleResult,
    Site,
    TimingStatus,
    TZDateTime,
    Unit,
    User,
)

LONDON = ZoneInfo("Europe/London")
#: 12:30 British Summer Time is 11:30 UTC.
BIRTH_TIME = datetime(2024, 6, 1, 12, 30, tzinfo=LONDON)


def make_unit(session: Session, site_code: str = "T1", unit_code: str = "labour-ward") -> Unit:
    site = session.scalar(select(Site).where(Site.code == site_code))
    if site is None:
        site = Site(code=site_code, name=f"Test trust {site_code}")
        session.add(site)
    unit = Unit(site=site, code=unit_code, name="Labour ward")
    session.add(unit)
    session.flush()
    return unit


def make_user(session: Session, username: str = "midwife", role: str = Role.CLINICIAN) -> User:
    user = User(username=username, display_name="A Midwife", password_hash="x", role=role)
    session.add(user)
    session.flush()
    return user


def make_checklist(session: Session, **overrides: Any) -> Checklist:
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "care_bundle_id": "oasi-care-bundle",
        "care_bundle_version": "1.0.0",
        "unit": overrides.pop("unit", None) or make_unit(session),
        "patient_identifier": "9434765919",
        "patient_identifier_system": NHS_NUMBER_SYSTEM,
        "anchor_time": BIRTH_TIME,
    }
    values.update(overrides)
    checklist = Checklist(**values)
    session.add(checklist)
    session.flush()
    return checklist


def count(session: Session, model: type[Any]) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_checklist_with_answers_outcomes_and_delivery_round_trips(session: Session) -> None:
    user = make_user(session)
    unit = make_unit(session)
    checklist_id = uuid.uuid4()
    checklist = Checklist(
        id=checklist_id,
        care_bundle_id="oasi-care-bundle",
        care_bundle_version="1.0.0",
        unit=unit,
        patient_identifier="9434765919",
        patient_identifier_system=NHS_NUMBER_SYSTEM,
        encounter_reference="Encounter/abc",
        anchor_time=BIRTH_TIME,
        status=ChecklistStatus.COMPLETED,
        compliant=False,
        completed_at=BIRTH_TIME + timedelta(hours=2),
        created_by=user,
        updated_by=user,
        source="fhir",
    )
    checklist.answers = [
        Answer(
            element_id="antenatal-discussion", value_code="yes", value_system="urn:x", value_display="Yes"
        ),
        Answer(element_id="mpp", value_bool=True),
        Answer(element_id="episiotomy-angle", value_int=60),
        Answer(element_id="blood-loss-litres", value_decimal=Decimal("0.35")),
        Answer(element_id="note", value_text="free text"),
        Answer(element_id="leaflet-date", value_date=date(2024, 5, 1)),
        Answer(element_id="exam-time", value_datetime=BIRTH_TIME + timedelta(minutes=40)),
        Answer(element_id="tear", position=0, value_code="2nd"),
        Answer(element_id="tear", position=1, value_code="buttonhole"),
    ]
    checklist.outcomes = [
        ElementOutcome(element_id="mpp", outcome=Outcome.MET),
        ElementOutcome(element_id="episiotomy", outcome=Outcome.NOT_APPLICABLE, reason="not indicated"),
        ElementOutcome(
            element_id="exam",
            outcome=Outcome.NOT_MET,
            due_at=BIRTH_TIME + timedelta(hours=1),
            timing_status=TimingStatus.OVERDUE,
        ),
    ]
    checklist.rule_results = [
        RuleResult(
            rule_id="exam.timing[0]",
            element_id="exam",
            outcome=Outcome.NOT_MET,
            reason="later than 1 h after birth-time",
            due_at=BIRTH_TIME + timedelta(hours=1),
            timing_status=TimingStatus.NOT_MET,
        ),
        RuleResult(rule_id="episiotomy-within-1h", element_id="episiotomy", outcome=Outcome.NOT_APPLICABLE),
    ]
    checklist.composite_results = [
        CompositeResult(composite_id="all-or-none", compliant=False),
        CompositeResult(composite_id="caesarean-only", compliant=None),
    ]
    checklist.check_failures = [CheckFailure(check_id="tear-grade-agrees", severity="warning")]
    site = unit.site
    checklist.deliveries = [
        Delivery(checklist_version=1, site=site, operation_outcome={"resourceType": "OperationOutcome"})
    ]
    session.add(checklist)
    session.flush()
    session.expire_all()

    loaded = session.get(Checklist, checklist_id)
    assert loaded is not None
    assert loaded.version == 1
    assert loaded.status == "completed"
    assert loaded.compliant is False
    assert loaded.unit.code == "labour-ward"
    assert loaded.created_by is not None
    assert loaded.created_by.username == "midwife"
    assert loaded.anchor_time == BIRTH_TIME
    values = {(a.element_id, a.position): a for a in loaded.answers}
    assert [(a.element_id, a.position) for a in loaded.answers] == sorted(values)
    assert values["mpp", 0].value_bool is True
    assert values["episiotomy-angle", 0].value_int == 60
    assert values["blood-loss-litres", 0].value_decimal == Decimal("0.35")
    assert values["note", 0].value_text == "free text"
    assert values["leaflet-date", 0].value_date == date(2024, 5, 1)
    assert values["exam-time", 0].value_datetime == BIRTH_TIME + timedelta(minutes=40)
    coding = values["antenatal-discussion", 0]
    assert (coding.value_code, coding.value_system, coding.value_display) == ("yes", "urn:x", "Yes")
    assert [values["tear", 0].value_code, values["tear", 1].value_code] == ["2nd", "buttonhole"]
    outcomes = {o.element_id: o for o in loaded.outcomes}
    assert outcomes["episiotomy"].reason == "not indicated"
    assert outcomes["exam"].timing_status == "overdue"
    assert outcomes["exam"].due_at == BIRTH_TIME + timedelta(hours=1)
    assert {a.instance for a in loaded.answers} == {0}
    rules = {r.rule_id: r for r in loaded.rule_results}
    assert list(rules) == ["episiotomy-within-1h", "exam.timing[0]"]
    assert rules["exam.timing[0]"].due_at == BIRTH_TIME + timedelta(hours=1)
    assert (rules["exam.timing[0]"].outcome, rules["exam.timing[0]"].timing_status) == ("not-met", "not-met")
    assert rules["episiotomy-within-1h"].timing_status is None
    assert [(c.composite_id, c.compliant) for c in loaded.composite_results] == [
        ("all-or-none", False),
        ("caesarean-only", None),
    ]
    assert [(c.check_id, c.severity) for c in loaded.check_failures] == [("tear-grade-agrees", "warning")]
    (delivery,) = loaded.deliveries
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.attempts == 0
    assert delivery.operation_outcome == {"resourceType": "OperationOutcome"}
    assert delivery.next_attempt_at.tzinfo == UTC


def test_new_checklist_defaults(session: Session) -> None:
    before = datetime.now(UTC)
    checklist = make_checklist(session)
    session.expire(checklist)
    assert isinstance(checklist.id, uuid.UUID)
    assert checklist.status == "in-progress"
    assert checklist.source == "ward"
    assert checklist.version == 1
    assert checklist.compliant is None
    assert checklist.completed_at is None
    assert checklist.created_at.tzinfo == UTC
    assert before <= checklist.created_at <= datetime.now(UTC)


def test_server_defaults_fill_rows_inserted_with_plain_sql(session: Session) -> None:
    session.execute(insert(Site.__table__).values(code="RAW", name="Inserted without the ORM"))
    site = session.scalars(select(Site).where(Site.code == "RAW")).one()
    assert site.active is True
    assert site.created_at.tzinfo == UTC
    assert abs(site.created_at - datetime.now(UTC)) < timedelta(minutes=5)


def test_unit_offers_care_bundles_and_has_users(session: Session) -> None:
    unit = make_unit(session)
    unit.care_bundle_ids.append("oasi-care-bundle")
    user = make_user(session)
    user.units.append(unit)
    session.flush()
    session.expire_all()
    assert unit.care_bundle_ids == ["oasi-care-bundle"]
    assert [u.username for u in unit.users] == ["midwife"]
    assert [u.code for u in user.units] == ["labour-ward"]


# -- unique constraints ----------------------------------------------------------------------------------


def test_same_element_and_position_twice_is_refused(session: Session) -> None:
    checklist = make_checklist(session)
    checklist.answers.append(Answer(element_id="tear", position=0, value_code="2nd"))
    session.flush()
    with pytest.raises(IntegrityError), session.begin_nested():
        session.add(Answer(checklist_id=checklist.id, element_id="tear", position=0, value_code="3a"))
    session.add(Answer(checklist_id=checklist.id, element_id="tear", position=1, value_code="3a"))
    session.flush()


def test_each_repeating_group_instance_has_its_own_positions(session: Session) -> None:
    checklist = make_checklist(session)
    checklist.answers.append(Answer(element_id="goal", instance=0, value_text="Walk"))
    checklist.answers.append(Answer(element_id="goal", instance=1, value_text="Eat"))
    session.flush()
    with pytest.raises(IntegrityError), session.begin_nested():
        session.add(Answer(checklist_id=checklist.id, element_id="goal", instance=1, value_text="Again"))
    assert [(a.instance, a.position) for a in checklist.answers] == [(0, 0), (1, 0)]


def test_answers_inserted_with_plain_sql_are_in_instance_0(session: Session) -> None:
    checklist = make_checklist(session)
    session.execute(
        insert(Answer.__table__).values(checklist_id=checklist.id, element_id="mpp", value_bool=True)
    )
    assert session.scalars(select(Answer.instance)).all() == [0]


def test_a_negative_instance_is_refused(session: Session) -> None:
    checklist = make_checklist(session)
    with pytest.raises(IntegrityError), session.begin_nested():
        session.add(Answer(checklist_id=checklist.id, element_id="goal", instance=-1, value_text="x"))


@pytest.mark.parametrize(
    ("model", "values"),
    [
        (RuleResult, {"rule_id": "surgery-within-36h", "element_id": "surgery", "outcome": "met"}),
        (CompositeResult, {"composite_id": "all-or-none", "compliant": True}),
        (CheckFailure, {"check_id": "eligibility-agrees", "severity": "error"}),
    ],
)
def test_one_judgement_row_per_rule_composite_and_check(
    session: Session, model: type[Any], values: dict[str, Any]
) -> None:
    checklist = make_checklist(session)
    other = make_checklist(session, unit=checklist.unit)
    session.add_all([model(checklist_id=checklist.id, **values), model(checklist_id=other.id, **values)])
    session.flush()
    with pytest.raises(IntegrityError), session.begin_nested():
        session.add(model(checklist_id=checklist.id, **values))


def test_one_outcome_per_element(session: Session) -> None:
    checklist = make_checklist(session)
    session.add(ElementOutcome(checklist_id=checklist.id, element_id="mpp", outcome="met"))
    session.flush()
    with pytest.raises(IntegrityError), session.begin_nested():
        session.add(ElementOutcome(checklist_id=checklist.id, element_id="mpp", outcome="not-met"))


def test_one_delivery_per_checklist_version_and_site(session: Session) -> None:
    checklist = make_checklist(session)
    site_id = checklist.unit.site_id
    session.add(Delivery(checklist_id=checklist.id, checklist_version=1, site_id=site_id))
    session.flush()
    with pytest.raises(IntegrityError), session.begin_nested():
        session.add(Delivery(checklist_id=checklist.id, checklist_version=1, site_id=site_id))
    session.add(Delivery(checklist_id=checklist.id, checklist_version=2, site_id=site_id))
    session.flush()


def test_unit_codes_are_unique_within_a_site_only(session: Session) -> None:
    make_unit(session, "T1", "labour-ward")
    make_unit(session, "T2", "labour-ward")
    with pytest.raises(IntegrityError), session.begin_nested():
        make_unit(session, "T1", "labour-ward")


@pytest.mark.parametrize(
    ("model", "values"),
    [
        (Site, {"code": "T1", "name": "Again"}),
        (User, {"username": "midwife", "display_name": "Again", "password_hash": "x", "role": "admin"}),
    ],
)
def test_natural_keys_are_unique(session: Session, model: type[Any], values: dict[str, Any]) -> None:
    make_unit(session, "T1")
    make_user(session, "midwife")
    with pytest.raises(IntegrityError), session.begin_nested():
        session.add(model(**values))


# -- check constraints -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "field", "value"),
    [
        (Checklist, "status", "done"),
        (Checklist, "source", "email"),
        (ElementOutcome, "outcome", "passed"),
        (ElementOutcome, "timing_status", "late"),
        (RuleResult, "outcome", "passed"),
        (RuleResult, "timing_status", "late"),
        (CheckFailure, "severity", "info"),
        (Delivery, "status", "sent"),
        (User, "role", "superuser"),
        (AuditEvent, "action", "hack"),
        (AuditEvent, "outcome", "maybe"),
    ],
)
def test_unknown_codes_are_refused(session: Session, model: type[Any], field: str, value: str) -> None:
    checklist = make_checklist(session)
    valid: dict[type[Any], dict[str, Any]] = {
        Checklist: {
            "care_bundle_id": "oasi-care-bundle",
            "care_bundle_version": "1.0.0",
            "unit_id": checklist.unit_id,
            "patient_identifier": "1",
            "patient_identifier_system": "urn:local",
        },
        ElementOutcome: {"checklist_id": checklist.id, "element_id": "mpp", "outcome": "met"},
        RuleResult: {
            "checklist_id": checklist.id,
            "rule_id": "exam.timing[0]",
            "element_id": "exam",
            "outcome": "met",
            "timing_status": "met",
        },
        CheckFailure: {"checklist_id": checklist.id, "check_id": "agrees", "severity": "warning"},
        Delivery: {"checklist_id": checklist.id, "checklist_version": 1, "site_id": checklist.unit.site_id},
        User: {"username": "someone", "display_name": "Someone", "password_hash": "x", "role": "admin"},
        AuditEvent: {"action": "read", "entity_type": "checklist", "actor_client": "ehr"},
    }
    session.add(model(**valid[model]))
    session.flush()  # the valid row is accepted...
    with pytest.raises(IntegrityError), session.begin_nested():
        session.add(model(**{**valid[model], field: value, **_fresh_keys(model)}))


def _fresh_keys(model: type[Any]) -> dict[str, Any]:
    """Values that keep a second row clear of the unique constraints."""
    return {
        ElementOutcome: {"element_id": "other"},
        RuleResult: {"rule_id": "other"},
        CheckFailure: {"check_id": "other"},
        Delivery: {"checklist_version": 2},
        User: {"username": "b"},
    }.get(model, {})


@pytest.mark.parametrize(
    "values",
    [
        {},
        {"value_bool": True, "value_text": "and text"},
        {"value_system": "urn:x"},
        {"value_bool": True, "value_display": "Yes"},
    ],
    ids=["no-value", "two-values", "system-without-code", "display-without-code"],
)
def test_an_answer_holds_exactly_one_value(session: Session, values: dict[str, Any]) -> None:
    checklist = make_checklist(session)
    with pytest.raises(IntegrityError), session.begin_nested():
        session.add(Answer(checklist_id=checklist.id, element_id="x", **values))


def test_a_completed_checklist_needs_its_completion_time(session: Session) -> None:
    with pytest.raises(IntegrityError), session.begin_nested():
        make_checklist(session, status=ChecklistStatus.COMPLETED, compliant=True)


def test_an_in_progress_checklist_has_no_compliance_result(session: Session) -> None:
    with pytest.raises(IntegrityError), session.begin_nested():
        make_checklist(session, compliant=True)


# -- optimistic locking ----------------------------------------------------------------------------------


def test_each_update_bumps_the_version(session: Session) -> None:
    checklist = make_checklist(session)
    created_at = checklist.created_at
    assert checklist.version == 1
    checklist.encounter_reference = "Encounter/1"
    session.flush()
    assert checklist.version == 2
    checklist.status = ChecklistStatus.COMPLETED
    checklist.compliant = True
    checklist.completed_at = datetime.now(UTC)
    session.flush()
    session.expire_all()
    assert checklist.version == 3
    assert checklist.status == "completed"
    assert checklist.updated_at >= created_at


def test_a_stale_version_is_not_overwritten(session: Session) -> None:
    checklist = make_checklist(session)
    table = Checklist.__table__
    # Another request saves the checklist behind this session's back.
    session.execute(update(table).where(table.c.id == checklist.id).values(version=table.c.version + 1))
    with pytest.raises(StaleDataError), session.begin_nested():
        checklist.encounter_reference = "Encounter/mine"
    stored = session.execute(select(table.c.version, table.c.encounter_reference)).one()
    assert tuple(stored) == (2, None)


# -- time zones ------------------------------------------------------------------------------------------


def test_datetimes_come_back_aware_in_utc(session: Session) -> None:
    checklist = make_checklist(session, anchor_time=BIRTH_TIME)
    session.expire_all()
    assert checklist.anchor_time == BIRTH_TIME
    assert checklist.anchor_time is not None
    assert checklist.anchor_time.tzinfo == UTC
    assert checklist.anchor_time.hour == 11

    # Stored as UTC, so SQL comparisons work on both backends whatever zone the caller used.
    in_window = select(Checklist.id).where(
        Checklist.anchor_time >= datetime(2024, 6, 1, 11, 30, tzinfo=UTC),
        Checklist.anchor_time < datetime(2024, 6, 1, 7, 31, tzinfo=ZoneInfo("America/New_York")),
    )
    assert session.scalars(in_window).all() == [checklist.id]

    raw = session.execute(text("SELECT anchor_time FROM checklist")).scalar_one()
    if isinstance(raw, str):  # SQLite keeps text
        assert raw.startswith("2024-06-01 11:30:00")
    else:
        assert raw == BIRTH_TIME


def test_naive_datetimes_are_refused(session: Session) -> None:
    with pytest.raises(StatementError) as caught, session.begin_nested():
        make_checklist(session, anchor_time=datetime(2024, 6, 1, 12, 30))
    assert isinstance(caught.value.orig, ValueError)
    assert "naive datetime" in str(caught.value.orig)


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.dialect()], ids=["sqlite", "postgresql"])
def test_tz_datetime_type_on_each_backend(dialect: Any) -> None:
    column_type = TZDateTime()
    stored = column_type.process_bind_param(BIRTH_TIME, dialect)
    assert stored is not None
    if dialect.name == "sqlite":
        assert stored == datetime(2024, 6, 1, 11, 30)
        assert stored.tzinfo is None
    else:
        assert stored == BIRTH_TIME
        assert stored.tzinfo == UTC
    assert column_type.process_result_value(datetime(2024, 6, 1, 11, 30), dialect) == BIRTH_TIME
    from_postgres = datetime(2024, 6, 1, 12, 30, tzinfo=LONDON)  # psycopg uses the session's TimeZone
    result = column_type.process_result_value(from_postgres, dialect)
    assert result is not None
    assert result.tzinfo == UTC
    assert result == BIRTH_TIME
    assert column_type.process_bind_param(None, dialect) is None
    assert column_type.process_result_value(None, dialect) is None
    with pytest.raises(ValueError, match="naive datetime"):
        column_type.process_bind_param(datetime(2024, 6, 1, 12, 30), dialect)
    with pytest.raises(TypeError):
        column_type.process_bind_param(date(2024, 6, 1), dialect)  # type: ignore[arg-type]


# -- deletes ---------------------------------------------------------------------------------------------


_CHILDREN = (Answer, ElementOutcome, RuleResult, CompositeResult, CheckFailure, Delivery)


def _children(session: Session) -> list[int]:
    return [count(session, model) for model in _CHILDREN]


def _checklist_with_children(session: Session) -> Checklist:
    checklist = make_checklist(session)
    checklist.answers.append(Answer(element_id="mpp", value_bool=True))
    checklist.outcomes.append(ElementOutcome(element_id="mpp", outcome="met"))
    checklist.rule_results.append(RuleResult(rule_id="exam.timing[0]", element_id="exam", outcome="met"))
    checklist.composite_results.append(CompositeResult(composite_id="all-or-none", compliant=True))
    checklist.check_failures.append(CheckFailure(check_id="agrees", severity="warning"))
    checklist.deliveries.append(Delivery(checklist_version=1, site_id=checklist.unit.site_id))
    session.flush()
    assert _children(session) == [1] * len(_CHILDREN)
    return checklist


def test_deleting_a_checklist_deletes_its_answers_outcomes_and_deliveries(session: Session) -> None:
    session.delete(_checklist_with_children(session))
    session.flush()
    assert _children(session) == [0] * len(_CHILDREN)


def test_the_database_cascades_deletes_too(session: Session) -> None:
    checklist = _checklist_with_children(session)
    session.execute(delete(Checklist.__table__).where(Checklist.__table__.c.id == checklist.id))
    session.expunge_all()
    assert _children(session) == [0] * len(_CHILDREN)


def test_a_unit_with_checklists_cannot_be_deleted(session: Session) -> None:
    checklist = make_checklist(session)
    with pytest.raises(IntegrityError), session.begin_nested():
        session.execute(delete(Unit.__table__).where(Unit.__table__.c.id == checklist.unit_id))


# -- audit -----------------------------------------------------------------------------------------------


def test_audit_event_records_actor_and_detail(session: Session) -> None:
    user = make_user(session)
    checklist = make_checklist(session)
    event = AuditEvent(
        actor=user,
        action=AuditAction.READ,
        entity_type="checklist",
        entity_id=str(checklist.id),
        detail={"care_bundle_id": "oasi-care-bundle", "version": 1},
    )
    session.add(event)
    session.flush()
    session.expire_all()
    assert event.id is not None
    assert event.outcome == "success"
    assert event.actor is not None
    assert event.actor.username == "midwife"
    assert event.occurred_at.tzinfo == UTC
    assert event.detail == {"care_bundle_id": "oasi-care-bundle", "version": 1}


def test_re_evaluate_is_an_audit_action(session: Session) -> None:
    admin = make_user(session, "admin", Role.ADMIN)
    session.add(
        AuditEvent(
            actor=admin,
            action=AuditAction.REEVALUATE,
            entity_type="care-bundle",
            entity_id="oasi-care-bundle|1.0.0",
            detail={"checked": 3, "changed": 1},
        )
    )
    session.flush()
    assert session.scalars(select(AuditEvent.action)).all() == ["re-evaluate"]
