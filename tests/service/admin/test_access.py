"""Only active admins reach /admin: nobody signed in is sent to sign in, clinicians and QI leads get 403 and
change nothing, an admin deactivated mid-session is signed out; CSRF is checked on every admin form."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.models import AuditEvent, Role, Site, Unit, User

GET_PAGES = [
    "/admin/",
    "/admin/sites",
    "/admin/sites/new",
    "/admin/sites/RX1",
    "/admin/sites/RX1/units/new",
    "/admin/sites/RX1/units/labour-ward",
    "/admin/users",
    "/admin/users/new",
    "/admin/users/target",
]
#: Each form post with data that an admin's request would save.
POSTS: list[tuple[str, dict[str, Any]]] = [
    ("/admin/sites/new", {"code": "RX9", "name": "Another trust"}),
    (
        "/admin/sites/RX1/ehr",
        {
            "base_url": "https://ehr.example/fhir",
            "auth": "none",
            "enabled": "y",
            "connect_timeout": "5",
            "read_timeout": "30",
        },
    ),
    ("/admin/sites/RX1/units/new", {"code": "ward-9", "name": "Ward 9"}),
    (
        "/admin/sites/RX1/units/labour-ward/care-bundles",
        {"care_bundle_id": "oasi-care-bundle", "version": "latest"},
    ),
    ("/admin/sites/RX1/units/labour-ward/care-bundles/freed-triage/disable", {}),
    ("/admin/sites/RX1/units/labour-ward/active", {"active": "0"}),
    (
        "/admin/users/new",
        {
            "username": "newbie",
            "display_name": "New",
            "role": "admin",
            "password": "a long enough passphrase",
            "confirm_password": "a long enough passphrase",
        },
    ),
    ("/admin/users/target/units", {"units": []}),
    (
        "/admin/users/target/password",
        {"password": "a long enough passphrase", "confirm_password": "a long enough passphrase"},
    ),
    ("/admin/users/target/active", {"active": "0"}),
]


@pytest.fixture
def target(session: Session, unit: Unit, make_user: Callable[..., User]) -> User:
    """A clinician of the unit, whom the user pages are about."""
    unit.care_bundle_ids.append("freed-triage")
    user = make_user("target", role=Role.CLINICIAN, units=[unit])
    session.commit()
    return user


def snapshot(session: Session) -> tuple[Any, ...]:
    """Everything an admin post could change."""
    session.expire_all()
    unit = session.scalars(select(Unit).where(Unit.code == "labour-ward")).one()
    target = session.scalars(select(User).where(User.username == "target")).one()
    site = session.scalars(select(Site).where(Site.code == "RX1")).one()
    return (
        session.scalar(select(func.count()).select_from(Site)),
        session.scalar(select(func.count()).select_from(Unit)),
        session.scalar(select(func.count()).select_from(User)),
        site.fhir_base_url,
        unit.active,
        tuple(unit.care_bundle_ids),
        target.active,
        target.password_hash,
        tuple(u.id for u in target.units),
        session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action != "login")),
    )


@pytest.mark.parametrize("url", GET_PAGES)
def test_nobody_signed_in_is_sent_to_sign_in(client: FlaskClient, target: User, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in?next=")


@pytest.mark.parametrize(("url", "data"), POSTS)
def test_nobody_signed_in_changes_nothing(
    client: FlaskClient, session: Session, target: User, url: str, data: dict[str, Any]
) -> None:
    before = snapshot(session)
    response = client.post(url, data=data)
    assert response.status_code == 302
    assert "/sign-in" in response.headers["Location"]
    assert snapshot(session) == before


@pytest.mark.parametrize("role", [Role.CLINICIAN, Role.QI_LEAD])
def test_clinicians_and_qi_leads_are_refused_every_page_and_change_nothing(
    client: FlaskClient,
    session: Session,
    target: User,
    unit: Unit,
    make_user: Callable[..., User],
    sign_in: Callable[..., Any],
    role: Role,
) -> None:
    make_user("someone", role=role, units=[unit])
    assert sign_in("someone").status_code == 303
    for url in GET_PAGES:
        assert client.get(url).status_code == 403, url
    before = snapshot(session)
    for url, data in POSTS:
        assert client.post(url, data=data).status_code == 403, url
    assert snapshot(session) == before


def test_admins_reach_every_page(client: FlaskClient, admin: User, target: User) -> None:
    for url in GET_PAGES:
        response = client.get(url, follow_redirects=True)
        assert response.status_code == 200, url
        assert 'aria-label="Administration"' in response.get_data(as_text=True)


def test_the_navigation_links_sites_users_and_the_deliveries_page(client: FlaskClient, admin: User) -> None:
    page = client.get("/admin/users").get_data(as_text=True)
    assert '<a href="/admin/sites">Sites and units</a>' in page
    assert '<a href="/admin/users" aria-current="page">Users</a>' in page
    assert '<a href="/admin/deliveries">Deliveries</a>' in page


def test_the_home_page_links_admins_to_administration(
    client: FlaskClient, make_user: Callable[..., User], sign_in: Callable[..., Any], admin: User
) -> None:
    assert 'href="/admin/sites"' in client.get("/").get_data(as_text=True)
    client.post("/sign-out")
    make_user("nurse", role=Role.CLINICIAN)
    sign_in("nurse")
    assert 'href="/admin/sites"' not in client.get("/").get_data(as_text=True)


def test_an_admin_deactivated_mid_session_is_sent_to_sign_in(
    client: FlaskClient, session: Session, admin: User
) -> None:
    assert client.get("/admin/sites").status_code == 200
    admin.active = False
    session.flush()
    response = client.get("/admin/sites")
    assert response.status_code == 302
    assert "/sign-in" in response.headers["Location"]


@pytest.mark.parametrize(("url", "data"), POSTS)
def test_every_admin_form_needs_the_csrf_token(
    app: Flask,
    client: FlaskClient,
    session: Session,
    target: User,
    admin: User,
    monkeypatch: pytest.MonkeyPatch,
    url: str,
    data: dict[str, Any],
) -> None:
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)  # after signing in without a token
    before = snapshot(session)
    response = client.post(url, data=data)
    assert response.status_code == 400
    assert "Your form could not be sent" in response.get_data(as_text=True)
    assert snapshot(session) == before
