"""The sites and units pages: add a site, its EHR settings, add a unit, the care bundles a unit offers,
deactivation. Each refusal shows the error summary and the field's error, keeps what was typed, saves
nothing and is never a 500; no page ever shows a secret, only the reference to it."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.models import AuditEvent, Site, Unit, User

SMART = {
    "base_url": "https://ehr.example.nhs.uk/fhir/R4/",
    "auth": "smart",
    "client_id": "careloop-rx1",
    "token_url": "https://ehr.example.nhs.uk/oauth/token",
    "scope": "system/QuestionnaireResponse.c  system/Patient.r",
    "signing_alg": "ES384",
    "connect_timeout": "4.5",
    "read_timeout": "60",
    "enabled": "y",
}


def field_error(page: str, field: str) -> str | None:
    """The error message shown at a field (``id="<field>-error"``), or None."""
    found = re.search(rf'id="{re.escape(field)}-error"[^>]*>\s*<span[^>]*>Error:\s*</span>([^<]+)', page)
    return html.unescape(found[1].strip()) if found else None


def summary(page: str) -> list[tuple[str, str]]:
    """The error summary's (link target, text) pairs."""
    box = re.search(r'class="nhsuk-error-summary".*?</ul>', page, re.S)
    assert box is not None, "no error summary"
    return [
        (href, html.unescape(text.strip()))
        for href, text in re.findall(r'<a href="#([^"]+)">([^<]+)</a>', box[0])
    ]


def audit_count(session: Session, entity_type: str) -> int:
    return (
        session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.entity_type == entity_type)
        )
        or 0
    )


# -- sites ------------------------------------------------------------------------------------------------


def test_the_sites_list_shows_each_site_and_its_write_back(
    client: FlaskClient, session: Session, admin: User, site: Site, unit: Unit
) -> None:
    session.add(
        Site(code="RX2", name="Second trust", fhir_base_url="https://x.example/fhir", fhir_enabled=True)
    )
    session.commit()
    page = client.get("/admin/sites").get_data(as_text=True)
    assert '<a href="/admin/sites/RX1">Test Hospitals NHS Trust</a>' in page
    assert "Not set up" in page  # RX1
    assert re.search(r'href="/admin/sites/RX2".*?On', page, re.S)


def test_add_a_site(client: FlaskClient, session: Session, admin: User) -> None:
    response = client.post("/admin/sites/new", data={"code": "RX7", "name": "  New   Trust "})
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/sites/RX7"
    site = session.scalars(select(Site).where(Site.code == "RX7")).one()
    assert (site.name, site.fhir_enabled, site.fhir_base_url) == ("New Trust", False, None)
    event = session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "site")).one()
    assert (event.action, event.entity_id, event.actor_user_id) == ("create", str(site.id), admin.id)
    assert "Site RX7 added" in client.get("/admin/sites/RX7").get_data(as_text=True)


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"code": "rx7", "name": "Trust"}, "code", "Give a site code of 1 to 16 upper-case letters"),
        ({"code": "", "name": "Trust"}, "code", "Give a site code"),
        ({"code": "RX7", "name": "  "}, "name", "Enter a name of 1 to 200 characters"),
        ({"code": "RX7", "name": "x" * 201}, "name", "Enter a name of 1 to 200 characters"),
        ({"code": "RX1", "name": "Trust"}, "code", "A site with the code RX1 already exists"),
    ],
)
def test_a_refused_site_is_shown_at_its_field_and_nothing_is_saved(
    client: FlaskClient,
    session: Session,
    admin: User,
    site: Site,
    data: dict[str, str],
    field: str,
    message: str,
) -> None:
    sites_before = session.scalar(select(func.count()).select_from(Site))
    response = client.post("/admin/sites/new", data=data)
    assert response.status_code == (409 if "already" in message else 400)
    page = response.get_data(as_text=True)
    assert (field, field_error(page, field)) in [(href, text) for href, text in summary(page)]
    assert (field_error(page, field) or "").startswith(message)
    assert f'value="{data["code"]}"' in page  # what was typed is kept
    assert session.scalar(select(func.count()).select_from(Site)) == sites_before
    assert audit_count(session, "site") == 0


# -- EHR settings -----------------------------------------------------------------------------------------


def test_save_smart_settings(client: FlaskClient, session: Session, admin: User, site: Site) -> None:
    response = client.post("/admin/sites/RX1/ehr", data=SMART)
    assert response.status_code == 303
    session.refresh(site)
    assert (
        site.fhir_base_url,
        site.fhir_auth,
        site.fhir_client_id,
        site.fhir_token_url,
        site.fhir_scope,
        site.fhir_signing_alg,
        site.fhir_connect_timeout,
        site.fhir_read_timeout,
        site.fhir_enabled,
        site.fhir_credentials_ref,
    ) == (
        "https://ehr.example.nhs.uk/fhir/R4",
        "smart",
        "careloop-rx1",
        "https://ehr.example.nhs.uk/oauth/token",
        "system/QuestionnaireResponse.c system/Patient.r",
        "ES384",
        4.5,
        60.0,
        True,
        None,
    )
    event = session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "site")).one()
    assert event.action == "update"
    assert event.detail is not None
    assert "fhir_client_id" in event.detail["changed"]
    page = client.get("/admin/sites/RX1").get_data(as_text=True)
    assert "EHR settings saved." in page
    assert 'value="careloop-rx1"' in page
    assert re.search(r'value="smart"\s+checked', page)
    assert '<option value="ES384" selected>' in page
    assert "<code>http://localhost/.well-known/jwks.json</code>" in page  # what the EHR registers


def test_switching_to_bearer_keeps_only_what_bearer_uses(
    client: FlaskClient, session: Session, admin: User, site: Site
) -> None:
    assert client.post("/admin/sites/RX1/ehr", data=SMART).status_code == 303
    bearer = {**SMART, "auth": "bearer", "credentials_ref": "env:RX1_EHR_TOKEN"}
    assert client.post("/admin/sites/RX1/ehr", data=bearer).status_code == 303
    session.refresh(site)
    assert (site.fhir_auth, site.fhir_credentials_ref) == ("bearer", "env:RX1_EHR_TOKEN")
    assert (site.fhir_client_id, site.fhir_token_url, site.fhir_scope, site.fhir_signing_alg) == (None,) * 4


def test_saving_the_same_settings_again_changes_and_audits_nothing(
    client: FlaskClient, session: Session, admin: User, site: Site
) -> None:
    client.post("/admin/sites/RX1/ehr", data=SMART)
    client.post("/admin/sites/RX1/ehr", data=SMART)
    assert audit_count(session, "site") == 1
    assert "Nothing changed." in client.get("/admin/sites/RX1").get_data(as_text=True)


def test_write_back_can_be_turned_off_keeping_the_settings(
    client: FlaskClient, session: Session, admin: User, site: Site
) -> None:
    client.post("/admin/sites/RX1/ehr", data=SMART)
    off = {key: value for key, value in SMART.items() if key != "enabled"}  # an unticked box is not posted
    assert client.post("/admin/sites/RX1/ehr", data=off).status_code == 303
    session.refresh(site)
    assert (site.fhir_enabled, site.fhir_client_id) == (False, "careloop-rx1")


EHR_REFUSALS = [
    (
        {"base_url": "ftp://ehr.example/fhir"},
        "base_url",
        "Enter an absolute address starting http:// or https://",
    ),
    ({"base_url": "ehr.example/fhir"}, "base_url", "Enter an absolute address"),
    ({"base_url": "https://ehr.example/fhir?x=1"}, "base_url", "A base URL has no query (?) or fragment (#)"),
    ({"base_url": "https://ehr.example/fhir#top"}, "base_url", "A base URL has no query (?) or fragment (#)"),
    (
        {"base_url": "https://me:pw@ehr.example/fhir"},
        "base_url",
        "A URL must not hold a user name or password",
    ),
    ({"base_url": "http://ehr.example/fhir"}, "base_url", "Use https: credentials are sent to this address"),
    ({"base_url": "", "enabled": "y"}, "base_url", "Enter the EHR's FHIR base URL to enable write-back"),
    ({"connect_timeout": "0"}, "connect_timeout", "Enter a number of seconds more than 0 and at most 300"),
    ({"connect_timeout": "five"}, "connect_timeout", "Enter a number of seconds"),
    ({"read_timeout": "300.5"}, "read_timeout", "Enter a number of seconds more than 0 and at most 300"),
    ({"read_timeout": "nan"}, "read_timeout", "Enter a number of seconds"),
    ({"read_timeout": ""}, "read_timeout", "Enter a number of seconds"),
    ({"auth": "basic"}, "auth", "Choose none, bearer or smart"),
    ({"client_id": ""}, "client_id", "Enter the client id the EHR registered"),
    ({"client_id": "has spaces"}, "client_id", "A client id is 1 to 200 characters without spaces"),
    ({"token_url": ""}, "token_url", "Enter the EHR's token URL"),
    ({"token_url": "http://ehr.example/token"}, "token_url", "Use https (http only on the loopback"),
    ({"token_url": "/oauth/token"}, "token_url", "Enter an absolute address starting https://"),
    ({"scope": "x" * 501}, "scope", "A scope is at most 500 characters"),
    ({"scope": 'system/"bad"'}, "scope", "Give scopes separated by spaces"),
    ({"signing_alg": "HS256"}, "signing_alg", "Choose RS384 or ES384"),
    ({"auth": "bearer", "credentials_ref": ""}, "credentials_ref", "Enter where the bearer token is"),
    ({"auth": "bearer", "credentials_ref": "Bearer abc123"}, "credentials_ref", "Give env:NAME"),
    ({"auth": "bearer", "credentials_ref": "file:relative/path"}, "credentials_ref", "Give env:NAME"),
    (
        {"auth": "bearer", "credentials_ref": "file:/" + "x" * 250},
        "credentials_ref",
        "A reference is at most 200",
    ),
]


@pytest.mark.parametrize(("changes", "field", "message"), EHR_REFUSALS)
def test_a_refused_ehr_setting_is_shown_at_its_field_and_nothing_is_saved(
    client: FlaskClient,
    session: Session,
    admin: User,
    site: Site,
    changes: dict[str, str],
    field: str,
    message: str,
) -> None:
    response = client.post("/admin/sites/RX1/ehr", data={**SMART, **changes})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    shown = field_error(page, field)
    assert shown is not None
    assert shown.startswith(message), shown
    assert (field, shown) in summary(page)
    session.refresh(site)
    assert (site.fhir_base_url, site.fhir_auth, site.fhir_enabled) == (None, "none", False)
    assert audit_count(session, "site") == 0
    for name, value in changes.items():  # what was typed is still there
        if value and name not in ("auth", "signing_alg", "enabled"):
            assert f'value="{value}"'.replace('"bad"', "&#34;bad&#34;") in page


def test_http_is_fine_for_an_open_endpoint_and_for_credentials_on_the_loopback(
    client: FlaskClient, session: Session, admin: User, site: Site
) -> None:
    open_http = {
        "base_url": "http://ehr.internal/fhir",
        "auth": "none",
        "connect_timeout": "5",
        "read_timeout": "30",
    }
    assert client.post("/admin/sites/RX1/ehr", data=open_http).status_code == 303
    loopback = {**SMART, "base_url": "http://127.0.0.1:8103/fhir", "token_url": "http://localhost:8103/token"}
    assert client.post("/admin/sites/RX1/ehr", data=loopback).status_code == 303
    session.refresh(site)
    assert (site.fhir_base_url, site.fhir_token_url) == (
        "http://127.0.0.1:8103/fhir",
        "http://localhost:8103/token",
    )


def test_an_unknown_site_is_a_404_page(client: FlaskClient, admin: User) -> None:
    assert client.get("/admin/sites/NOPE").status_code == 404
    assert client.post("/admin/sites/NOPE/ehr", data=SMART).status_code == 404
    assert client.get("/admin/sites/NOPE/units/new").status_code == 404


def test_no_page_shows_a_secret_only_its_reference(
    client: FlaskClient,
    session: Session,
    admin: User,
    site: Site,
    unit: Unit,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = "s3cret-bearer-token-0f9e8d"
    monkeypatch.setenv("RX1_EHR_TOKEN", token)
    key_file = tmp_path / "token"
    key_file.write_text("file-secret-7a6b5c\n")
    session.add(Site(code="RX2", name="File trust"))
    session.commit()
    bearer = {**SMART, "auth": "bearer", "credentials_ref": "env:RX1_EHR_TOKEN"}
    assert client.post("/admin/sites/RX1/ehr", data=bearer).status_code == 303
    from_file = {**bearer, "credentials_ref": f"file:{key_file}"}
    assert client.post("/admin/sites/RX2/ehr", data=from_file).status_code == 303
    refused = client.post("/admin/sites/RX1/ehr", data={**bearer, "read_timeout": "0"})
    assert refused.status_code == 400
    pages = [refused.get_data(as_text=True)]
    for url in (
        "/admin/sites",
        "/admin/sites/RX1",
        "/admin/sites/RX2",
        "/admin/sites/RX1/units/labour-ward",
        "/admin/deliveries",
        "/admin/users",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        pages.append(response.get_data(as_text=True))
    assert 'value="env:RX1_EHR_TOKEN"' in pages[2]  # the reference is shown ...
    assert f'value="file:{key_file}"' in pages[3]
    for page in pages:
        assert token not in page  # ... never what it names
        assert "file-secret-7a6b5c" not in page
    events = session.scalars(select(AuditEvent)).all()
    assert all(
        token not in str(event.detail) and "RX1_EHR_TOKEN" not in str(event.detail) for event in events
    )


def test_the_forms_carry_a_working_csrf_token(
    app: Flask,
    client: FlaskClient,
    session: Session,
    admin: User,
    site: Site,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    page = client.get("/admin/sites/RX1").get_data(as_text=True)
    form = re.search(r'action="/admin/sites/RX1/ehr".*?name="csrf_token" value="([^"]+)"', page, re.S)
    assert form is not None
    assert client.post("/admin/sites/RX1/ehr", data={**SMART, "csrf_token": form[1]}).status_code == 303
    new = client.get("/admin/sites/new").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', new)
    assert token is not None
    assert (
        client.post("/admin/sites/new", data={"code": "RX8", "name": "T", "csrf_token": token[1]}).status_code
        == 303
    )


# -- units ------------------------------------------------------------------------------------------------


def test_add_a_unit(client: FlaskClient, session: Session, admin: User, site: Site) -> None:
    response = client.post("/admin/sites/RX1/units/new", data={"code": "ward-7", "name": "Ward 7"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/sites/RX1/units/ward-7"
    unit = session.scalars(select(Unit).where(Unit.code == "ward-7")).one()
    assert (unit.site_id, unit.name, unit.active, unit.care_bundle_ids) == (site.id, "Ward 7", True, [])
    assert audit_count(session, "unit") == 1
    assert '<a href="/admin/sites/RX1/units/ward-7">Ward 7</a>' in client.get("/admin/sites/RX1").get_data(
        as_text=True
    )


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"code": "Ward 7", "name": "Ward 7"}, "code", "Give a unit code of 1 to 32 lower-case letters"),
        ({"code": "ward-7", "name": ""}, "name", "Enter a name"),
        (
            {"code": "labour-ward", "name": "Again"},
            "code",
            "RX1 already has a unit with the code labour-ward",
        ),
    ],
)
def test_a_refused_unit_is_shown_at_its_field_and_nothing_is_saved(
    client: FlaskClient,
    session: Session,
    admin: User,
    unit: Unit,
    data: dict[str, str],
    field: str,
    message: str,
) -> None:
    response = client.post("/admin/sites/RX1/units/new", data=data)
    assert response.status_code == (409 if "already" in message else 400)
    page = response.get_data(as_text=True)
    assert (field_error(page, field) or "").startswith(message)
    assert (field, field_error(page, field)) in summary(page)
    assert session.scalar(select(func.count()).select_from(Unit)) == 1
    assert audit_count(session, "unit") == 0


def offer(client: FlaskClient, care_bundle_id: str, version: str) -> Any:
    return client.post(
        "/admin/sites/RX1/units/labour-ward/care-bundles",
        data={"care_bundle_id": care_bundle_id, "version": version},
    )


def test_offer_a_care_bundle_at_its_latest_version_then_pin_it_then_stop(
    client: FlaskClient, session: Session, admin: User, unit: Unit
) -> None:
    page = client.get("/admin/sites/RX1/units/labour-ward").get_data(as_text=True)
    assert '<option value="1.0.0">Version 1.0.0 only</option>' in page
    assert re.search(r'<option value="latest" selected>Latest \(now 2\.0\.0\)</option>', page)
    assert offer(client, "oasi-care-bundle", "latest").status_code == 303
    session.refresh(unit)
    assert [(link.care_bundle_id, link.pinned_version) for link in unit.care_bundle_links] == [
        ("oasi-care-bundle", None)
    ]
    assert "Latest (2.0.0)" in client.get("/admin/sites/RX1/units/labour-ward").get_data(as_text=True)

    assert offer(client, "oasi-care-bundle", "1.0.0").status_code == 303
    session.refresh(unit)
    assert unit.offered_version("oasi-care-bundle") == "1.0.0"
    page = client.get("/admin/sites/RX1/units/labour-ward").get_data(as_text=True)
    assert "Pinned to 1.0.0" in page
    assert '<option value="1.0.0" selected>' in page

    response = client.post("/admin/sites/RX1/units/labour-ward/care-bundles/oasi-care-bundle/disable")
    assert response.status_code == 303
    session.refresh(unit)
    assert unit.care_bundle_ids == []
    details = [
        event.detail for event in session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "unit"))
    ]
    assert details == [
        {"care_bundle_id": "oasi-care-bundle", "offered": "latest", "previously": None},
        {"care_bundle_id": "oasi-care-bundle", "offered": "1.0.0", "previously": "latest"},
        {"care_bundle_id": "oasi-care-bundle", "offered": None},
    ]


@pytest.mark.parametrize(
    ("care_bundle_id", "version", "message"),
    [
        (
            "oasi-care-bundle",
            "9.9.9",
            "Version '9.9.9' of oasi-care-bundle is not loaded: choose latest or one of",
        ),
        ("no-such-bundle", "latest", "No care bundle 'no-such-bundle' is loaded"),
    ],
)
def test_a_care_bundle_or_version_that_is_not_loaded_is_refused(
    client: FlaskClient,
    session: Session,
    admin: User,
    unit: Unit,
    care_bundle_id: str,
    version: str,
    message: str,
) -> None:
    response = offer(client, care_bundle_id, version)
    assert response.status_code == 400
    page = response.get_data(as_text=True).replace("&#39;", "'")
    assert message in page
    session.refresh(unit)
    assert unit.care_bundle_ids == []
    assert audit_count(session, "unit") == 0


def test_a_refused_version_is_shown_at_its_care_bundles_select(
    client: FlaskClient, admin: User, unit: Unit
) -> None:
    page = offer(client, "oasi-care-bundle", "9.9.9").get_data(as_text=True)
    assert summary(page)[0][0] == "version-oasi-care-bundle"
    assert field_error(page, "version-oasi-care-bundle") is not None
    assert field_error(page, "version-freed-triage") is None


def test_stopping_a_care_bundle_the_unit_does_not_offer_is_a_404_with_the_page(
    client: FlaskClient, admin: User, unit: Unit
) -> None:
    response = client.post("/admin/sites/RX1/units/labour-ward/care-bundles/freed-triage/disable")
    assert response.status_code == 404
    assert "This unit does not offer the care bundle freed-triage" in response.get_data(as_text=True)


def test_deactivate_and_reactivate_a_unit(
    client: FlaskClient, session: Session, admin: User, unit: Unit
) -> None:
    url = "/admin/sites/RX1/units/labour-ward/active"
    assert client.post(url, data={"active": "0"}).status_code == 303
    session.refresh(unit)
    assert unit.active is False
    assert "Reactivate unit" in client.get("/admin/sites/RX1/units/labour-ward").get_data(as_text=True)
    assert client.post(url, data={"active": "0"}).status_code == 303  # again: no change, no event
    assert client.post(url, data={"active": "1"}).status_code == 303
    session.refresh(unit)
    assert unit.active is True
    assert [
        e.detail for e in session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "unit"))
    ] == [
        {"active": False},
        {"active": True},
    ]
    assert client.post(url, data={"active": "maybe"}).status_code == 400
