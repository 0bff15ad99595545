"""``flask sites`` and ``flask units``: the same rules as the admin pages, problems named by option, exit 1
with nothing written, changes audited as ``flask-cli``; a secret reference is printed, never the secret."""

from __future__ import annotations

import pytest
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.models import AuditEvent, Site, Unit


def cli_events(session: Session) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent).where(AuditEvent.actor_client == "flask-cli").order_by(AuditEvent.id)
        )
    )


def test_add_and_list_sites(session: Session, runner: FlaskCliRunner, site: Site, unit: Unit) -> None:
    result = runner.invoke(args=["sites", "add", "RX7", "Seventh Trust"])
    assert result.exit_code == 0, result.output
    assert "added site RX7" in result.output
    assert session.scalars(select(Site).where(Site.code == "RX7")).one().name == "Seventh Trust"
    [event] = cli_events(session)
    assert (event.action, event.entity_type, event.actor_user_id) == ("create", "site", None)
    listing = runner.invoke(args=["sites", "list"])
    assert listing.exit_code == 0
    lines = listing.output.splitlines()
    assert lines[0].startswith("RX1")
    assert "[1 unit(s); no EHR]" in lines[0]
    assert lines[1].startswith("RX7")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sites", "add", "rx7", "Trust"], "CODE: give a site code of 1 to 16 upper-case letters"),
        (["sites", "add", "RX7", " "], "NAME: enter a name of 1 to 200 characters"),
        (["sites", "add", "RX1", "Again"], "CODE: a site with the code RX1 already exists"),
    ],
)
def test_a_refused_site_exits_1_with_nothing_written(
    session: Session, runner: FlaskCliRunner, site: Site, args: list[str], message: str
) -> None:
    result = runner.invoke(args=args)
    assert result.exit_code == 1
    assert message in result.output
    assert session.scalar(select(func.count()).select_from(Site)) == 1
    assert cli_events(session) == []


def test_set_ehr_smart_then_bearer_then_disable(
    session: Session, runner: FlaskCliRunner, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    smart = [
        "sites",
        "set-ehr",
        "RX1",
        "--base-url",
        "https://ehr.example/fhir/",
        "--auth",
        "smart",
        "--client-id",
        "careloop",
        "--token-url",
        "https://ehr.example/token",
        "--alg",
        "RS384",
        "--scope",
        "system/QuestionnaireResponse.c",
        "--connect-timeout",
        "3",
        "--read-timeout",
        "45",
        "--enable",
    ]
    result = runner.invoke(args=smart)
    assert result.exit_code == 0, result.output
    assert "RX1: enabled https://ehr.example/fhir auth smart (careloop, RS384)" in result.output
    session.refresh(site)
    assert (site.fhir_auth, site.fhir_connect_timeout, site.fhir_read_timeout, site.fhir_enabled) == (
        "smart",
        3.0,
        45.0,
        True,
    )

    monkeypatch.setenv("RX1_TOKEN", "bearer-secret-value-42")
    result = runner.invoke(
        args=["sites", "set-ehr", "RX1", "--auth", "bearer", "--token-ref", "env:RX1_TOKEN"]
    )
    assert result.exit_code == 0, result.output
    session.refresh(site)
    # Options not given keep their values; what bearer does not use is removed.
    assert (site.fhir_base_url, site.fhir_read_timeout, site.fhir_credentials_ref) == (
        "https://ehr.example/fhir",
        45.0,
        "env:RX1_TOKEN",
    )
    assert (site.fhir_client_id, site.fhir_token_url, site.fhir_signing_alg) == (None, None, None)

    result = runner.invoke(args=["sites", "set-ehr", "RX1", "--disable"])
    assert result.exit_code == 0, result.output
    assert "changed fhir_enabled" in result.output
    session.refresh(site)
    assert site.fhir_enabled is False
    listing = runner.invoke(args=["sites", "list"]).output
    assert "disabled https://ehr.example/fhir auth bearer (env:RX1_TOKEN)" in listing
    for output in (result.output, listing):
        assert "bearer-secret-value-42" not in output
    assert [event.detail for event in cli_events(session)][-1] == {"changed": ["fhir_enabled"]}


@pytest.mark.parametrize(
    ("args", "messages"),
    [
        (["--base-url", "ftp://x", "--enable"], ["--base-url: enter an absolute address"]),
        (["--enable"], ["--base-url: enter the EHR's FHIR base URL to enable write-back"]),
        (
            ["--base-url", "https://e.example", "--auth", "bearer"],
            ["--token-ref: enter where the bearer token is"],
        ),
        (
            ["--base-url", "https://e.example", "--auth", "bearer", "--token-ref", "s3cret"],
            ["--token-ref: give env:NAME"],
        ),
        (
            ["--base-url", "https://e.example", "--auth", "smart"],
            [
                "--client-id: enter the client id",
                "--token-url: enter the EHR's token URL",
                "--alg: choose RS384",
            ],
        ),
        (
            [
                "--base-url",
                "https://e.example",
                "--auth",
                "smart",
                "--client-id",
                "c",
                "--alg",
                "ES384",
                "--token-url",
                "http://e.example/token",
            ],
            ["--token-url: use https (http only on the loopback"],
        ),
        (
            ["--connect-timeout", "0", "--read-timeout", "301"],
            ["--connect-timeout: enter a number", "--read-timeout: enter"],
        ),
    ],
)
def test_refused_ehr_settings_exit_1_naming_each_option_with_nothing_written(
    session: Session, runner: FlaskCliRunner, site: Site, args: list[str], messages: list[str]
) -> None:
    result = runner.invoke(args=["sites", "set-ehr", "RX1", *args])
    assert result.exit_code == 1
    for message in messages:
        assert message in result.output
    session.refresh(site)
    assert (site.fhir_base_url, site.fhir_auth, site.fhir_enabled, site.fhir_connect_timeout) == (
        None,
        "none",
        False,
        5.0,
    )
    assert cli_events(session) == []


def test_click_refuses_an_unknown_auth_or_algorithm(runner: FlaskCliRunner, site: Site) -> None:
    assert runner.invoke(args=["sites", "set-ehr", "RX1", "--auth", "basic"]).exit_code == 2
    assert runner.invoke(args=["sites", "set-ehr", "RX1", "--alg", "HS256"]).exit_code == 2


def test_an_unknown_site_exits_1(runner: FlaskCliRunner) -> None:
    for args in (
        ["sites", "set-ehr", "NOPE", "--enable"],
        ["units", "list", "NOPE"],
        ["units", "add", "NOPE", "w", "W"],
    ):
        result = runner.invoke(args=args)
        assert result.exit_code == 1
        assert "no site 'NOPE'" in result.output


def test_add_list_and_deactivate_units(
    session: Session, runner: FlaskCliRunner, site: Site, unit: Unit
) -> None:
    other = Site(code="RX2", name="Other")
    other.units.append(Unit(code="icu", name="ICU"))
    session.add(other)
    session.commit()
    result = runner.invoke(args=["units", "add", "RX1", "ward-7", "Ward 7"])
    assert result.exit_code == 0, result.output
    assert "added unit RX1/ward-7" in result.output
    listing = runner.invoke(args=["units", "list", "RX1"]).output.splitlines()
    assert [line.split()[0] for line in listing] == ["RX1/labour-ward", "RX1/ward-7"]
    assert len(runner.invoke(args=["units", "list"]).output.splitlines()) == 3
    assert runner.invoke(args=["units", "deactivate", "RX1", "ward-7"]).exit_code == 0
    assert "RX1/ward-7" in runner.invoke(args=["units", "list", "RX1"]).output.splitlines()[1]
    assert " inactive " in runner.invoke(args=["units", "list", "RX1"]).output.splitlines()[1]
    assert runner.invoke(args=["units", "activate", "RX1", "ward-7"]).exit_code == 0
    session.expire_all()
    assert session.scalars(select(Unit).where(Unit.code == "ward-7")).one().active is True


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["units", "add", "RX1", "Ward 7", "Ward 7"], "CODE: give a unit code"),
        (
            ["units", "add", "RX1", "labour-ward", "Again"],
            "CODE: RX1 already has a unit with the code labour-ward",
        ),
        (
            ["units", "enable-care-bundle", "RX1", "nowhere", "oasi-care-bundle"],
            "no unit 'nowhere' at site 'RX1'",
        ),
        (
            ["units", "enable-care-bundle", "RX1", "labour-ward", "no-such"],
            "CARE_BUNDLE_ID: no care bundle 'no-such'",
        ),
        (
            ["units", "enable-care-bundle", "RX1", "labour-ward", "oasi-care-bundle", "--version", "3.0.0"],
            "--version: version '3.0.0' of oasi-care-bundle is not loaded: choose latest or one of 1.0.0,",
        ),
        (
            ["units", "disable-care-bundle", "RX1", "labour-ward", "oasi-care-bundle"],
            "CARE_BUNDLE_ID: this unit does not",
        ),
    ],
)
def test_refused_unit_commands_exit_1_with_nothing_written(
    session: Session, runner: FlaskCliRunner, unit: Unit, args: list[str], message: str
) -> None:
    result = runner.invoke(args=args)
    assert result.exit_code == 1
    assert message in result.output
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Unit)) == 1
    assert session.scalars(select(Unit)).one().care_bundle_ids == []
    assert cli_events(session) == []


def test_enable_pin_and_disable_a_care_bundle(session: Session, runner: FlaskCliRunner, unit: Unit) -> None:
    base = ["RX1", "labour-ward", "oasi-care-bundle"]
    result = runner.invoke(args=["units", "enable-care-bundle", *base])
    assert result.exit_code == 0, result.output
    assert "RX1/labour-ward offers oasi-care-bundle@latest" in result.output
    result = runner.invoke(args=["units", "enable-care-bundle", *base, "--version", "1.0.0"])
    assert "RX1/labour-ward offers oasi-care-bundle@1.0.0" in result.output
    assert "[oasi-care-bundle@1.0.0]" in runner.invoke(args=["units", "list", "RX1"]).output
    session.expire_all()
    assert session.get(Unit, unit.id).offered_version("oasi-care-bundle") == "1.0.0"  # type: ignore[union-attr]
    result = runner.invoke(args=["units", "disable-care-bundle", *base])
    assert result.exit_code == 0, result.output
    assert "[no care bundles]" in runner.invoke(args=["units", "list", "RX1"]).output
    assert [event.detail["offered"] for event in cli_events(session) if event.detail] == [
        "latest",
        "1.0.0",
        None,
    ]
