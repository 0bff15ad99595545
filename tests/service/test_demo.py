"""Demo data: loads once, reloads as a no-op, and its printed logins work."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash

from service.demo import (
    DEMO_CHECKLISTS,
    DEMO_LOGINS,
    DEMO_SCOTTISH_SITE_CODE,
    DEMO_SITE_CODE,
    DEMO_UNITS,
    DemoSummary,
    connect_demo_ehr,
    load_demo_checklists,
    load_demo_data,
)
from service.models import Role, Site, Unit, UnitCareBundle, User, user_unit


def row_counts(session: Session) -> dict[str, int]:
    tables: list[Any] = [Site, Unit, UnitCareBundle, User, user_unit]
    return {str(table): session.scalar(select(func.count()).select_from(table)) or 0 for table in tables}


def test_loading_twice_creates_nothing_new(session: Session) -> None:
    first = load_demo_data(session)
    counts = row_counts(session)
    second = load_demo_data(session)

    assert (first.sites_created, first.units_created, first.users_created) == (2, 8, 7)
    assert first.links_created > 0
    assert second == DemoSummary()
    assert second.created == 0
    assert str(second) == "already loaded, nothing created"
    assert "created 2 site(s), 8 unit(s), 7 user(s)" in str(first)
    assert row_counts(session) == counts


def test_loading_fills_in_what_is_missing(session: Session) -> None:
    load_demo_data(session)
    session.delete(session.scalars(select(User).where(User.username == "nurse")).one())
    session.flush()
    again = load_demo_data(session)
    assert (again.sites_created, again.units_created, again.users_created) == (0, 0, 1)


def test_every_demo_login_works_with_its_role_and_units(session: Session) -> None:
    load_demo_data(session)
    for login in DEMO_LOGINS:
        user = session.scalars(select(User).where(User.username == login.username)).one()
        assert check_password_hash(user.password_hash, login.password), login.username
        assert not check_password_hash(user.password_hash, login.password + "x")
        assert user.password_hash != login.password
        assert user.role == login.role
        assert user.active
        assert user.units, f"{login.username} works in no unit"
        assert {unit.site.code for unit in user.units} <= {DEMO_SITE_CODE, DEMO_SCOTTISH_SITE_CODE}
    roles = {login.role for login in DEMO_LOGINS}
    assert roles == {role.value for role in Role}


def test_every_demo_user_can_sign_in_on_the_sign_in_page(session: Session, client: FlaskClient) -> None:
    load_demo_data(session)
    for login in DEMO_LOGINS:
        response = client.post("/sign-in", data={"username": login.username, "password": login.password})
        assert (response.status_code, response.location) == (303, "/"), login.username
        display_name = session.scalars(select(User.display_name).where(User.username == login.username)).one()
        assert display_name in client.get("/").get_data(as_text=True)
        assert client.post("/sign-out").status_code == 303


def test_demo_passwords_are_hashed_with_scrypt(session: Session) -> None:
    load_demo_data(session)
    for user in session.scalars(select(User)):
        assert user.password_hash.startswith("scrypt:"), user.username


def test_logins_are_printable_tuples() -> None:
    for username, password, role, description in DEMO_LOGINS:
        assert username
        assert password
        assert role in {role.value for role in Role}
        assert description


def test_demo_units_offer_care_bundles_that_exist(app: Flask, session: Session) -> None:
    load_demo_data(session)
    registry = app.extensions["care_bundles"]
    units = [unit for site in session.scalars(select(Site)) for unit in site.units]
    assert sorted(unit.code for unit in units) == sorted(unit.code for unit in DEMO_UNITS)
    for unit in units:
        assert unit.site.code == next(spec.site_code for spec in DEMO_UNITS if spec.code == unit.code)
        assert unit.care_bundle_ids
        for care_bundle_id in unit.care_bundle_ids:
            assert registry.get(care_bundle_id) is not None, f"{unit.code} offers unknown {care_bundle_id}"


def test_demo_checklists_are_open_on_their_units_once(app: Flask, session: Session) -> None:
    import datetime as dt

    from service.care_bundles import current_catalogue
    from service.models import Checklist, ChecklistStatus

    load_demo_data(session)
    now = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)
    assert load_demo_checklists(session, current_catalogue(), now) == len(DEMO_CHECKLISTS)
    assert load_demo_checklists(session, current_catalogue(), now) == 0
    checklists = session.scalars(select(Checklist)).all()
    assert {checklist.patient_identifier for checklist in checklists} == {
        spec.nhs_number for spec in DEMO_CHECKLISTS
    }
    assert all(checklist.patient_identifier.startswith("999") for checklist in checklists)
    assert all(checklist.status == ChecklistStatus.IN_PROGRESS for checklist in checklists)
    assert all(checklist.version == 2 for checklist in checklists)


def test_the_demo_sites_write_back_to_the_local_ehr_unless_an_admin_set_theirs(session: Session) -> None:
    load_demo_data(session)
    scottish = session.scalar(select(Site).where(Site.code == "DEMO2"))
    assert scottish is not None
    scottish.fhir_base_url = "https://ehr.example.scot/fhir"  # set up by an admin before

    assert connect_demo_ehr(session, "http://127.0.0.1:8090/fhir") == 1

    english = session.scalar(select(Site).where(Site.code == "DEMO1"))
    assert english is not None
    assert (english.fhir_base_url, english.fhir_auth, english.fhir_enabled) == (
        "http://127.0.0.1:8090/fhir",
        "none",
        True,
    )
    assert (scottish.fhir_base_url, scottish.fhir_enabled) == ("https://ehr.example.scot/fhir", False)
    assert connect_demo_ehr(session, "http://127.0.0.1:9999/fhir") == 0  # idempotent
