"""``/sign-in`` and ``/sign-out``: one generic failure message, audited both ways, no open redirects."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash
from werkzeug.test import TestResponse

from service.auth.login import SIGNED_IN_AT
from service.auth.views import SIGN_IN_FAILED, safe_next_url
from service.models import AuditAction, AuditEvent, AuditOutcome, User
from tests.conftest import TEST_PASSWORD

SignIn = Callable[..., TestResponse]
MakeUser = Callable[..., User]


def login_events(session: Session) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == AuditAction.LOGIN.value)))


def signed_in_as(client: FlaskClient) -> str | None:
    """The display name in the header, or None when the header offers to sign in."""
    page = client.get("/").get_data(as_text=True)
    if 'href="/sign-in"' in page:
        return None
    match = re.search(
        r'<li class="nhsuk-header__account-item">\s*<svg.*?</svg>\s*([^<]+?)\s*</li>', page, re.S
    )
    assert match, "header shows neither a user nor a sign-in link"
    return match.group(1)


def test_sign_in_page_uses_the_nhsuk_form(client: FlaskClient) -> None:
    response = client.get("/sign-in")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<h1>Sign in to Careloop</h1>" in page
    assert 'id="username" name="username" type="text"' in page
    assert 'type="password"' in page
    assert 'autocomplete="current-password"' in page
    assert 'class="nhsuk-button"' in page
    assert "nhsuk-error-summary" not in page
    assert "nhsuk-header__account" not in page  # no "Sign in" link on the sign-in page itself


def test_sign_in_success_redirects_home_and_shows_the_user(
    session: Session, client: FlaskClient, make_user: MakeUser, sign_in: SignIn
) -> None:
    make_user("sam", display_name="Sam Jones")
    response = sign_in("sam")
    assert response.status_code == 303
    assert response.location == "/"
    assert signed_in_as(client) == "Sam Jones"
    with client.session_transaction() as cookie_session:
        assert isinstance(cookie_session[SIGNED_IN_AT], int)
        assert not cookie_session.permanent  # the cookie goes when the browser closes


def test_username_is_not_case_sensitive(
    session: Session, client: FlaskClient, make_user: MakeUser, sign_in: SignIn
) -> None:
    make_user("sam")
    assert sign_in("  Sam ").status_code == 303


@pytest.mark.parametrize(
    ("username", "password"),
    [("sam", "not the password"), ("nobody", TEST_PASSWORD), ("nobody", "not the password")],
    ids=["wrong-password", "unknown-user", "both-wrong"],
)
def test_failure_says_the_same_whatever_was_wrong(
    session: Session, client: FlaskClient, make_user: MakeUser, sign_in: SignIn, username: str, password: str
) -> None:
    make_user("sam")
    response = sign_in(username, password)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<title>Error: Sign in – Careloop</title>" in page
    assert 'class="nhsuk-error-summary"' in page
    assert page.count(SIGN_IN_FAILED) == 2  # the summary and the field
    assert '<a href="#username"' in page
    assert password not in page
    assert signed_in_as(client) is None


def test_missing_fields_are_named(session: Session, client: FlaskClient) -> None:
    page = client.post("/sign-in", data={"username": "", "password": ""}).get_data(as_text=True)
    assert "Enter your username" in page
    assert "Enter your password" in page
    assert SIGN_IN_FAILED not in page


def test_typed_username_comes_back_escaped_and_the_password_never(session: Session, sign_in: SignIn) -> None:
    page = sign_in("<script>x</script>", "secret-typed-here").get_data(as_text=True)
    assert 'value="&lt;script&gt;x&lt;/script&gt;"' in page
    assert "<script>x" not in page
    assert "secret-typed-here" not in page


def test_an_older_password_hash_is_upgraded_to_scrypt_at_sign_in(
    session: Session, make_user: MakeUser, sign_in: SignIn
) -> None:
    sam = make_user("sam")
    sam.password_hash = generate_password_hash(TEST_PASSWORD, method="pbkdf2:sha256")
    session.flush()
    assert sign_in("sam").status_code == 303
    assert sam.password_hash.startswith("scrypt:")
    assert check_password_hash(sam.password_hash, TEST_PASSWORD)


def test_inactive_user_is_refused_with_the_same_message(
    session: Session, client: FlaskClient, make_user: MakeUser, sign_in: SignIn
) -> None:
    make_user("gone", active=False)
    response = sign_in("gone")
    assert response.status_code == 200
    assert SIGN_IN_FAILED in response.get_data(as_text=True)
    assert signed_in_as(client) is None
    (event,) = login_events(session)
    assert event.outcome == AuditOutcome.FAILURE.value
    assert event.detail == {"reason": "inactive"}


def test_sign_in_success_and_failure_are_audited_without_the_password(
    session: Session, make_user: MakeUser, sign_in: SignIn
) -> None:
    sam = make_user("sam")
    sign_in("sam", "wrong password typed")
    sign_in("nobody-here", "another secret typed")
    sign_in("sam")

    wrong, unknown, success = login_events(session)
    assert (wrong.actor_user_id, wrong.entity_type, wrong.entity_id) == (sam.id, "user", str(sam.id))
    assert (wrong.outcome, wrong.detail) == (AuditOutcome.FAILURE.value, {"reason": "wrong-password"})
    # An unknown username identifies nobody: no actor, no entity, and the name typed is not kept.
    assert (unknown.actor_user_id, unknown.actor_client, unknown.entity_id) == (None, None, None)
    assert (unknown.outcome, unknown.detail) == (AuditOutcome.FAILURE.value, {"reason": "unknown-username"})
    assert (success.actor_user_id, success.outcome, success.detail) == (
        sam.id,
        AuditOutcome.SUCCESS.value,
        None,
    )
    for event in (wrong, unknown, success):
        stored = repr((event.entity_id, event.actor_client, event.detail))
        for secret in ("wrong password typed", "another secret typed", TEST_PASSWORD, "nobody-here"):
            assert secret not in stored


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "\\\\evil.example",
        "javascript:alert(1)",
        "evil.example",
        "/ward\r\nSet-Cookie: x=1",
        "",
    ],
)
def test_next_url_must_be_a_path_on_this_site(
    session: Session, make_user: MakeUser, sign_in: SignIn, target: str
) -> None:
    assert safe_next_url(target) is None
    make_user("sam")
    response = sign_in("sam", next_url=target)
    assert response.status_code == 303
    assert response.location == "/"


def test_next_url_on_this_site_is_followed(session: Session, make_user: MakeUser, sign_in: SignIn) -> None:
    assert safe_next_url("/ward/units/3?status=due") == "/ward/units/3?status=due"
    make_user("sam")
    assert sign_in("sam", next_url="/ward/units/3?status=due").location == "/ward/units/3?status=due"


def test_signed_in_user_visiting_sign_in_goes_on(
    session: Session, client: FlaskClient, make_user: MakeUser, sign_in: SignIn
) -> None:
    make_user("sam")
    sign_in("sam")
    assert client.get("/sign-in?next=/healthz").location == "/healthz"
    assert client.get("/sign-in?next=https://evil.example").location == "/"


def test_sign_out_is_post_only(
    session: Session, client: FlaskClient, make_user: MakeUser, sign_in: SignIn
) -> None:
    make_user("sam", display_name="Sam Jones")
    sign_in("sam")
    assert client.get("/sign-out").status_code == 405
    assert signed_in_as(client) == "Sam Jones"


def test_sign_out_ends_the_session_and_is_audited(
    session: Session, client: FlaskClient, make_user: MakeUser, sign_in: SignIn
) -> None:
    sam = make_user("sam")
    sign_in("sam")
    response = client.post("/sign-out")
    assert (response.status_code, response.location) == (303, "/sign-in")
    page = client.get(response.location).get_data(as_text=True)
    assert "You have signed out." in page
    assert signed_in_as(client) is None
    (event,) = session.scalars(select(AuditEvent).where(AuditEvent.action == AuditAction.LOGOUT.value))
    assert (event.actor_user_id, event.entity_id, event.outcome) == (sam.id, str(sam.id), "success")


def test_sign_out_without_a_session_just_goes_to_sign_in(session: Session, client: FlaskClient) -> None:
    assert client.post("/sign-out").location == "/sign-in"
    assert session.scalar(select(AuditEvent).where(AuditEvent.action == AuditAction.LOGOUT.value)) is None


def test_a_sign_in_ends_after_the_session_lifetime(
    app: Flask, session: Session, client: FlaskClient, make_user: MakeUser, sign_in: SignIn
) -> None:
    make_user("sam", display_name="Sam Jones")
    sign_in("sam")
    lifetime = int(app.permanent_session_lifetime.total_seconds())
    assert lifetime == 12 * 60 * 60
    with client.session_transaction() as cookie_session:
        cookie_session[SIGNED_IN_AT] -= lifetime - 60
    assert signed_in_as(client) == "Sam Jones"
    with client.session_transaction() as cookie_session:
        cookie_session[SIGNED_IN_AT] -= 120
    assert signed_in_as(client) is None


def test_deactivating_a_user_ends_their_session(
    session: Session, client: FlaskClient, make_user: MakeUser, sign_in: SignIn
) -> None:
    sam = make_user("sam", display_name="Sam Jones")
    sign_in("sam")
    sam.active = False
    session.flush()
    assert signed_in_as(client) is None


def test_session_moved_to_another_browser_is_dropped(
    session: Session, client: FlaskClient, make_user: MakeUser, sign_in: SignIn
) -> None:
    # Session protection "strong": a cookie replayed from another address or browser signs nobody in.
    make_user("sam", display_name="Sam Jones")
    sign_in("sam")
    page = client.get("/", headers={"User-Agent": "another browser"}).get_data(as_text=True)
    assert 'href="/sign-in"' in page
    assert signed_in_as(client) is None
