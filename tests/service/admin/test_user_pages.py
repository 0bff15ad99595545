"""The users pages: list, add (role, units, password rules of service.auth.users), units, password reset,
deactivate and reactivate. Refusals are shown at their fields with nothing saved; every change is audited
without the password."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash

from service.models import AuditEvent, Role, Site, Unit, User
from tests.conftest import TEST_PASSWORD

PASSWORD = "a long enough passphrase"
NEW_USER = {
    "username": "sam.jones",
    "display_name": "Sam Jones",
    "role": "clinician",
    "password": PASSWORD,
    "confirm_password": PASSWORD,
}


def field_error(page: str, field: str) -> str | None:
    found = re.search(rf'id="{re.escape(field)}-error"[^>]*>\s*<span[^>]*>Error:\s*</span>([^<]+)', page)
    return html.unescape(found[1].strip()) if found else None


def user_events(session: Session) -> list[AuditEvent]:
    """The user administration events (not the sign-ins)."""
    query = select(AuditEvent).where(
        AuditEvent.entity_type == "user", AuditEvent.action.in_(["create", "update"])
    )
    return list(session.scalars(query.order_by(AuditEvent.id)))


@pytest.fixture
def second_unit(session: Session, site: Site) -> Unit:
    found = Unit(code="ward-2", name="Ward 2")
    site.units.append(found)
    session.commit()
    return found


@pytest.fixture
def nurse(session: Session, unit: Unit, make_user: Callable[..., User]) -> User:
    user = make_user("nurse", role=Role.CLINICIAN, units=[unit])
    session.commit()
    return user


def test_the_users_list(client: FlaskClient, admin: User, nurse: User) -> None:
    page = client.get("/admin/users").get_data(as_text=True)
    assert '<a href="/admin/users/nurse">nurse</a>' in page
    assert "RX1/labour-ward" in page
    assert "Administrator" in page
    assert "Clinician" in page


def test_add_a_user_who_can_then_sign_in(
    client: FlaskClient,
    session: Session,
    admin: User,
    unit: Unit,
    second_unit: Unit,
    sign_in: Callable[..., Any],
) -> None:
    page = client.get("/admin/users/new").get_data(as_text=True)
    assert f'value="{unit.id}"' in page
    assert "RX1/ward-2: Ward 2" in page
    response = client.post(
        "/admin/users/new", data={**NEW_USER, "units": [str(unit.id), str(second_unit.id)]}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/users/sam.jones"
    sam = session.scalars(select(User).where(User.username == "sam.jones")).one()
    assert (sam.display_name, sam.role, sam.active) == ("Sam Jones", "clinician", True)
    assert sorted(u.code for u in sam.units) == ["labour-ward", "ward-2"]
    assert check_password_hash(sam.password_hash, PASSWORD)
    [event] = user_events(session)
    assert (event.action, event.entity_id, event.actor_user_id) == ("create", str(sam.id), admin.id)
    assert event.detail == {"role": "clinician", "units": sorted([unit.id, second_unit.id])}
    assert PASSWORD not in str(event.detail)
    client.post("/sign-out")
    assert sign_in("sam.jones", PASSWORD).status_code == 303


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"username": "Sam Jones"}, "username", "Username 'Sam Jones' is not allowed"),
        ({"username": ""}, "username", "Username '' is not allowed"),
        ({"username": "ada"}, "username", "A user named 'ada' already exists"),
        ({"display_name": " "}, "display_name", "The display name must not be empty"),
        ({"role": ""}, "role", "Choose clinician, QI lead or administrator"),
        ({"role": "superuser"}, "role", "Choose clinician, QI lead or administrator"),
        (
            {"password": "too short", "confirm_password": "too short"},
            "password",
            "The password must be at least 12",
        ),
        (
            {"confirm_password": "something else entirely"},
            "confirm_password",
            "The two passwords are not the same",
        ),
        ({"units": ["999999"]}, "units", "Choose units from the list"),
        ({"units": ["ward-1"]}, "units", "Choose units from the list"),
    ],
)
def test_a_refused_user_is_shown_at_its_field_and_nothing_is_saved(
    client: FlaskClient,
    session: Session,
    admin: User,
    unit: Unit,
    changes: dict[str, Any],
    field: str,
    message: str,
) -> None:
    users_before = session.scalar(select(func.count()).select_from(User))
    response = client.post("/admin/users/new", data={**NEW_USER, **changes})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    shown = field_error(page, field)
    assert shown is not None
    assert shown.startswith(message), shown
    assert f'<a href="#{field}">' in page  # in the error summary, linking to the field
    assert 'value="Sam Jones"' in page or field == "display_name"  # what was typed is kept
    assert session.scalar(select(func.count()).select_from(User)) == users_before
    assert user_events(session) == []


def test_every_problem_of_a_new_user_is_shown_at_once(client: FlaskClient, admin: User) -> None:
    bad = {"username": "", "display_name": "", "role": "", "password": "x", "confirm_password": "y"}
    page = client.post("/admin/users/new", data=bad).get_data(as_text=True)
    for field in ("username", "display_name", "role", "password", "confirm_password"):
        assert field_error(page, field) is not None, field


def test_set_a_users_units(
    client: FlaskClient, session: Session, admin: User, nurse: User, unit: Unit, second_unit: Unit
) -> None:
    page = client.get("/admin/users/nurse").get_data(as_text=True)
    assert re.search(rf'value="{unit.id}" checked', page)
    assert not re.search(rf'value="{second_unit.id}" checked', page)
    assert client.post("/admin/users/nurse/units", data={"units": [str(second_unit.id)]}).status_code == 303
    session.refresh(nurse)
    assert [u.code for u in nurse.units] == ["ward-2"]
    assert client.post("/admin/users/nurse/units", data={}).status_code == 303  # none ticked: no units
    session.refresh(nurse)
    assert nurse.units == []
    assert [event.detail for event in user_events(session)] == [{"units": [second_unit.id]}, {"units": []}]


def test_unknown_units_are_refused_and_the_users_units_kept(
    client: FlaskClient, session: Session, admin: User, nurse: User, unit: Unit
) -> None:
    response = client.post("/admin/users/nurse/units", data={"units": [str(unit.id), "424242"]})
    assert response.status_code == 400
    assert field_error(response.get_data(as_text=True), "units") == "Choose units from the list"
    session.refresh(nurse)
    assert [u.code for u in nurse.units] == ["labour-ward"]
    assert user_events(session) == []


def test_reset_a_password(
    client: FlaskClient, session: Session, admin: User, nurse: User, sign_in: Callable[..., Any]
) -> None:
    data = {"password": "a brand new passphrase", "confirm_password": "a brand new passphrase"}
    response = client.post("/admin/users/nurse/password", data=data)
    assert response.status_code == 303
    session.refresh(nurse)
    assert check_password_hash(nurse.password_hash, "a brand new passphrase")
    assert [event.detail for event in user_events(session)] == [{"password": "reset"}]
    page = client.get("/admin/users/nurse").get_data(as_text=True)
    assert "a brand new passphrase" not in page
    client.post("/sign-out")
    assert sign_in("nurse", "a brand new passphrase").status_code == 303


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"password": "short", "confirm_password": "short"}, "password", "The password must be at least 12"),
        ({"password": PASSWORD, "confirm_password": PASSWORD + "!"}, "confirm_password", "The two passwords"),
    ],
)
def test_a_refused_password_is_shown_and_the_old_one_kept(
    client: FlaskClient,
    session: Session,
    admin: User,
    nurse: User,
    data: dict[str, str],
    field: str,
    message: str,
) -> None:
    before = nurse.password_hash
    response = client.post("/admin/users/nurse/password", data=data)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert (field_error(page, field) or "").startswith(message)
    assert f'value="{data["password"]}"' not in page  # a password typed is never sent back
    session.refresh(nurse)
    assert nurse.password_hash == before
    assert user_events(session) == []


def test_deactivate_and_reactivate_a_user(
    client: FlaskClient,
    session: Session,
    admin: User,
    nurse: User,
    sign_in: Callable[..., Any],
) -> None:
    assert client.post("/admin/users/nurse/active", data={"active": "0"}).status_code == 303
    session.refresh(nurse)
    assert nurse.active is False
    page = client.get("/admin/users/nurse").get_data(as_text=True)
    assert "Reactivate user" in page
    assert "Deactivated" in page
    assert client.post("/admin/users/nurse/active", data={"active": "1"}).status_code == 303
    session.refresh(nurse)
    assert nurse.active is True
    assert [event.detail for event in user_events(session)] == [{"active": False}, {"active": True}]


def test_a_deactivated_users_session_ends(
    app: Any, session: Session, admin: User, nurse: User, sign_in: Callable[..., Any], client: FlaskClient
) -> None:
    nurse_client = app.test_client()
    signed_in = nurse_client.post("/sign-in", data={"username": "nurse", "password": TEST_PASSWORD})
    assert signed_in.status_code == 303
    assert nurse_client.get("/ward/").status_code == 200
    assert client.post("/admin/users/nurse/active", data={"active": "0"}).status_code == 303
    assert nurse_client.get("/ward/").status_code == 302


def test_an_admin_cannot_deactivate_themselves(client: FlaskClient, session: Session, admin: User) -> None:
    response = client.post("/admin/users/ada/active", data={"active": "0"})
    assert response.status_code == 409
    assert "You cannot deactivate your own account" in response.get_data(as_text=True)
    session.refresh(admin)
    assert admin.active is True
    assert client.get("/admin/users").status_code == 200


def test_an_unknown_user_is_a_404_page(client: FlaskClient, admin: User) -> None:
    assert client.get("/admin/users/nobody").status_code == 404
    assert client.post("/admin/users/nobody/password", data={"password": PASSWORD}).status_code == 404
