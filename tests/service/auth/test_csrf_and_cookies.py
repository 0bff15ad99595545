"""CSRF on every form (not on /fhir), and the session cookie's flags in production."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from service import create_app
from service.models import User
from tests.conftest import TEST_PASSWORD

CSRF_FIELD = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def csrf_token(page: str) -> str:
    match = CSRF_FIELD.search(page)
    assert match, "no CSRF token in the page"
    return match.group(1)


def set_cookie_header(response: TestResponse, name: str = "session") -> str:
    (header,) = [value for value in response.headers.getlist("Set-Cookie") if value.startswith(f"{name}=")]
    return header


@pytest.fixture
def production_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Flask:
    """An app with production defaults (CSRF on, Secure cookies); pages that need no database only."""
    for name in ("CARELOOP_ENV", "CARELOOP_SESSION_COOKIE_SECURE", "CARELOOP_WTF_CSRF_ENABLED"):
        monkeypatch.delenv(name, raising=False)
    return create_app(
        {"SECRET_KEY": "production-test-secret", "DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}"}
    )


def test_production_defaults(production_app: Flask) -> None:
    config = production_app.config
    assert config["ENV"] == "production"
    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["SESSION_COOKIE_HTTPONLY"] is True
    assert config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert config["WTF_CSRF_ENABLED"] is True
    assert config["WTF_CSRF_TIME_LIMIT"] is None


def test_production_session_cookie_is_secure_httponly_lax(production_app: Flask) -> None:
    client = production_app.test_client()
    response = client.get("/sign-in", base_url="https://careloop.example")
    header = set_cookie_header(response)
    assert "; Secure" in header
    assert "; HttpOnly" in header
    assert "; SameSite=Lax" in header
    assert "Expires=" not in header  # a browser-session cookie: gone when the browser closes
    assert csrf_token(response.get_data(as_text=True))


def test_production_post_without_csrf_token_is_400(production_app: Flask) -> None:
    client = production_app.test_client()
    client.get("/sign-in", base_url="https://careloop.example")
    response = client.post(
        "/sign-in",
        base_url="https://careloop.example",
        data={"username": "x", "password": "y"},
        headers={"Referer": "https://careloop.example/sign-in"},
    )
    assert response.status_code == 400
    assert "Your form could not be sent" in response.get_data(as_text=True)


def test_production_form_with_token_and_same_origin_referer_passes(production_app: Flask) -> None:
    # Over HTTPS Flask-WTF also wants a same-origin Referer: Referrer-Policy same-origin keeps sending it.
    client = production_app.test_client()
    page = client.get("/sign-in", base_url="https://careloop.example")
    assert page.headers["Referrer-Policy"] == "same-origin"
    form = {"username": "", "password": "", "csrf_token": csrf_token(page.get_data(as_text=True))}
    response = client.post("/sign-in", base_url="https://careloop.example", data=form)
    assert response.status_code == 400  # no Referer at all
    response = client.post(
        "/sign-in",
        base_url="https://careloop.example",
        data=form,
        headers={"Referer": "https://evil.example/"},
    )
    assert response.status_code == 400
    response = client.post(
        "/sign-in",
        base_url="https://careloop.example",
        data=form,
        headers={"Referer": "https://careloop.example/sign-in"},
    )
    assert response.status_code == 200  # past CSRF protection, into the form's own checks
    assert "Enter your username" in response.get_data(as_text=True)


def test_testing_cookie_is_not_secure_but_httponly_lax(
    app: Flask, session: Session, make_user: Callable[..., User], sign_in: Callable[..., TestResponse]
) -> None:
    assert app.config["ENV"] == "testing"
    make_user("sam")
    header = set_cookie_header(sign_in("sam"))
    assert "; Secure" not in header
    assert "; HttpOnly" in header
    assert "; SameSite=Lax" in header


def test_secure_cookie_can_be_turned_off_for_a_plain_http_trial(tmp_path: Path) -> None:
    app = create_app(
        {"SECRET_KEY": "x", "DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}", "SESSION_COOKIE_SECURE": False}
    )
    assert app.config["SESSION_COOKIE_SECURE"] is False


@pytest.mark.usefixtures("csrf_enabled")
def test_post_without_csrf_token_is_400(
    session: Session, client: FlaskClient, make_user: Callable[..., User]
) -> None:
    make_user("sam")
    response = client.post("/sign-in", data={"username": "sam", "password": TEST_PASSWORD})
    assert response.status_code == 400
    assert "Your form could not be sent" in response.get_data(as_text=True)
    assert "Content-Security-Policy" in response.headers


@pytest.mark.usefixtures("csrf_enabled")
def test_post_with_a_wrong_csrf_token_is_400(session: Session, client: FlaskClient) -> None:
    client.get("/sign-in")
    response = client.post("/sign-in", data={"username": "x", "password": "y", "csrf_token": "forged"})
    assert response.status_code == 400


@pytest.mark.usefixtures("csrf_enabled")
def test_sign_in_and_sign_out_with_csrf_tokens(
    session: Session, client: FlaskClient, make_user: Callable[..., User]
) -> None:
    make_user("sam", display_name="Sam Jones")
    token = csrf_token(client.get("/sign-in").get_data(as_text=True))
    response = client.post(
        "/sign-in", data={"username": "sam", "password": TEST_PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 303

    page = client.get("/").get_data(as_text=True)
    assert "Sam Jones" in page
    sign_out_form = re.search(
        r'<form class="nhsuk-header__account-form" action="/sign-out" method="post".*?</form>', page, re.S
    )
    assert sign_out_form, "no sign-out form in the header"
    token = csrf_token(sign_out_form.group())

    assert client.post("/sign-out").status_code == 400  # no token: still signed in
    assert "Sam Jones" in client.get("/").get_data(as_text=True)
    response = client.post("/sign-out", data={"csrf_token": token})
    assert (response.status_code, response.location) == (303, "/sign-in")
    assert "Sam Jones" not in client.get("/").get_data(as_text=True)


@pytest.mark.usefixtures("csrf_enabled")
def test_fhir_api_takes_posts_without_csrf_token_and_sets_no_cookie(client: FlaskClient) -> None:
    response = client.post(
        "/fhir/QuestionnaireResponse/$validate",
        data=b'{"resourceType": "Patient"}',
        headers={"Content-Type": "application/fhir+json"},
    )
    # Judged by the FHIR API (wrong resource type), not refused by CSRF protection.
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("application/fhir+json")
    outcome = response.get_json(force=True)
    assert outcome["issue"][0]["diagnostics"] == "expected a QuestionnaireResponse"
    assert "Set-Cookie" not in response.headers
    metadata = client.get("/fhir/metadata")
    assert metadata.status_code == 200
    assert "Set-Cookie" not in metadata.headers
