"""service.admin.sites directly: the URL, timeout and credential rules at their edges, and what a change
writes (nothing on a refusal, one audit event on a change)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.admin import sites
from service.admin.audit import CLI_ACTOR
from service.admin.sites import EhrSettings, update_ehr_settings
from service.care_bundles import CareBundleCatalogue
from service.errors import InvalidInput
from service.models import AuditEvent, Site, Unit


def refused_fields(session: Session, site: Site, **settings: Any) -> dict[str, str]:
    with pytest.raises(InvalidInput) as refused:
        update_ehr_settings(session, CLI_ACTOR, site, EhrSettings(**settings))
    return {getattr(issue, "field", ""): issue.diagnostics for issue in refused.value.issues}


@pytest.mark.parametrize(
    "base_url",
    [
        "https://ehr.example:99999/fhir",  # port out of range
        "https://ehr example/fhir",
        "https://ehr.example/fh ir",
        "https://ehr.example/fhir\x00",
        "https:///fhir",
        "mailto:ehr@example.org",
        "https://ehr.example/fhir?",
        "https://" + "e" * 500 + ".example",
    ],
)
def test_base_urls_refused(session: Session, site: Site, base_url: str) -> None:
    assert set(refused_fields(session, site, base_url=base_url)) == {"base_url"}


@pytest.mark.parametrize(
    ("base_url", "stored"),
    [
        ("  https://ehr.example/fhir/R4/  ", "https://ehr.example/fhir/R4"),
        ("https://ehr.example:8443/fhir", "https://ehr.example:8443/fhir"),
        ("http://[::1]:8080/fhir", "http://[::1]:8080/fhir"),
    ],
)
def test_base_urls_stored_without_trailing_slashes(
    session: Session, site: Site, base_url: str, stored: str
) -> None:
    update_ehr_settings(
        session, CLI_ACTOR, site, EhrSettings(base_url=base_url, auth="bearer", credentials_ref="env:TOKEN")
    )
    assert site.fhir_base_url == stored


def smart(token_url: str) -> EhrSettings:
    return EhrSettings(
        base_url="https://ehr.example", auth="smart", client_id="c", token_url=token_url, signing_alg="RS384"
    )


@pytest.mark.parametrize(
    "token_url", ["http://localhost/token", "http://127.0.0.2:9/token", "http://[::1]/token"]
)
def test_http_token_urls_on_the_loopback(session: Session, site: Site, token_url: str) -> None:
    update_ehr_settings(session, CLI_ACTOR, site, smart(token_url))
    assert site.fhir_token_url == token_url


@pytest.mark.parametrize(
    "token_url", ["http://localhost.evil.example/token", "http://10.0.0.1/token", "http://ehr.example/token"]
)
def test_http_token_urls_elsewhere_are_refused(session: Session, site: Site, token_url: str) -> None:
    assert set(refused_fields(session, site, **vars(smart(token_url)))) == {"token_url"}


@pytest.mark.parametrize("timeout", [0, -1, 300.01, float("inf"), float("nan"), True, "", "1e400"])
def test_timeouts_out_of_range(session: Session, site: Site, timeout: Any) -> None:
    assert set(refused_fields(session, site, connect_timeout=timeout)) == {"connect_timeout"}


@pytest.mark.parametrize("timeout", [0.001, 300, "12.5", " 7 "])
def test_timeouts_in_range(session: Session, site: Site, timeout: Any) -> None:
    update_ehr_settings(session, CLI_ACTOR, site, EhrSettings(read_timeout=timeout))
    assert site.fhir_read_timeout == float(timeout)


def test_a_refusal_names_every_bad_field_and_writes_nothing(session: Session, site: Site) -> None:
    fields = refused_fields(
        session, site, base_url="nope", auth="smart", connect_timeout="x", read_timeout=0, enabled=True
    )
    assert set(fields) == {
        "base_url",
        "connect_timeout",
        "read_timeout",
        "client_id",
        "token_url",
        "signing_alg",
    }
    assert (site.fhir_base_url, site.fhir_auth) == (None, "none")
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == 0


def test_settings_round_trip_and_an_unchanged_save_writes_nothing(session: Session, site: Site) -> None:
    settings = EhrSettings(
        base_url="https://ehr.example/fhir",
        enabled=True,
        auth="smart",
        client_id="careloop",
        token_url="https://ehr.example/token",
        scope="system/QuestionnaireResponse.c",
        signing_alg="ES384",
        connect_timeout=2,
        read_timeout=20,
    )
    changed = update_ehr_settings(session, CLI_ACTOR, site, settings)
    assert "fhir_signing_alg" in changed
    assert "fhir_credentials_ref" not in changed
    assert update_ehr_settings(session, CLI_ACTOR, site, EhrSettings.of(site)) == []
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == 1


def test_care_bundle_options_list_every_loaded_version_newest_first(catalogue: CareBundleCatalogue) -> None:
    options = {option.care_bundle_id: option for option in sites.care_bundle_options(catalogue)}
    assert options["oasi-care-bundle"].versions == ("2.0.0", "1.0.0")
    assert options["oasi-care-bundle"].latest_version == "2.0.0"
    assert options["sharehd"].versions == ("1.0.0",)
    assert set(options) == {entry.care_bundle.id for entry in catalogue}


def test_re_offering_the_same_way_writes_nothing(
    session: Session, catalogue: CareBundleCatalogue, unit: Unit
) -> None:
    sites.enable_care_bundle(session, CLI_ACTOR, catalogue, unit, "sharehd", None)
    sites.enable_care_bundle(session, CLI_ACTOR, catalogue, unit, "sharehd", "latest")
    sites.enable_care_bundle(session, CLI_ACTOR, catalogue, unit, "sharehd", " ")
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == 1
    assert sites.set_unit_active(session, CLI_ACTOR, unit, True) is False
