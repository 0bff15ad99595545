"""``flask sites`` and ``flask units``: the admin pages' changes from the command line, through the same
functions (:mod:`service.admin.sites`), audited with the actor ``flask-cli``.

Errors print each problem by its option and exit 1, with nothing written. A credentials reference is
printed as it is (``env:NAME``): it names where the secret lives and is never resolved here.
"""

from __future__ import annotations

from typing import NoReturn

import click
from flask import Flask
from flask.cli import AppGroup

from service.admin import sites
from service.admin.audit import CLI_ACTOR
from service.care_bundles import current_catalogue
from service.errors import CareloopError
from service.extensions import db
from service.models import EhrAuth, Site

sites_cli = AppGroup("sites", help="Sites (hospital trusts) and their EHR write-back settings.")
units_cli = AppGroup("units", help="Units (wards, services) and the care bundles they offer.")

#: The option (or argument) each field issue of the service is about.
_OPTIONS = {
    "base_url": "--base-url",
    "enabled": "--enable",
    "auth": "--auth",
    "credentials_ref": "--token-ref",
    "client_id": "--client-id",
    "token_url": "--token-url",
    "scope": "--scope",
    "signing_alg": "--alg",
    "connect_timeout": "--connect-timeout",
    "read_timeout": "--read-timeout",
    "code": "CODE",
    "name": "NAME",
    "care_bundle_id": "CARE_BUNDLE_ID",
    "version": "--version",
}


def _fail(error: CareloopError) -> NoReturn:
    db.session.rollback()
    lines = []
    for issue in error.issues:
        field = getattr(issue, "field", None)
        lines.append(f"{_OPTIONS.get(field, field)}: {issue.diagnostics}" if field else issue.diagnostics)
    raise click.ClickException("\n".join(lines) if lines else error.message) from error


def _site(code: str) -> Site:
    try:
        return sites.find_site(db.session, code)
    except CareloopError as error:
        _fail(error)


def _ehr_summary(site: Site) -> str:
    if site.fhir_base_url is None:
        return "no EHR"
    state = "enabled" if site.fhir_enabled else "disabled"
    auth = site.fhir_auth
    if site.fhir_auth == EhrAuth.BEARER:
        auth += f" ({site.fhir_credentials_ref})"
    elif site.fhir_auth == EhrAuth.SMART:
        auth += f" ({site.fhir_client_id}, {site.fhir_signing_alg})"
    return f"{state} {site.fhir_base_url} auth {auth}"


@sites_cli.command("list")
def list_sites() -> None:
    """Every site: code, name, number of units, EHR write-back."""
    for site in sites.all_sites(db.session):
        click.echo(f"{site.code:<16} {site.name}  [{len(site.units)} unit(s); {_ehr_summary(site)}]")


@sites_cli.command("add")
@click.argument("code")
@click.argument("name")
def add_site(code: str, name: str) -> None:
    """Add a site (write-back off until set-ehr --enable)."""
    try:
        site = sites.create_site(db.session, CLI_ACTOR, code=code, name=name)
    except CareloopError as error:
        _fail(error)
    db.session.commit()
    click.echo(f"added site {site.code}; set up its EHR with: flask sites set-ehr {site.code} ...")


@sites_cli.command("set-ehr")
@click.argument("code")
@click.option("--base-url", help="The EHR's FHIR R4 base URL (an empty value removes it).")
@click.option("--auth", type=click.Choice([member.value for member in EhrAuth]), help="How to authenticate.")
@click.option("--token-ref", help="bearer: where the token is, env:NAME or file:/path (never the token).")
@click.option("--client-id", help="smart: the client id the EHR registered.")
@click.option("--token-url", help="smart: the EHR's token endpoint (https).")
@click.option("--scope", help="smart: the scopes to ask for, separated by spaces.")
@click.option(
    "--alg", type=click.Choice(list(sites.SIGNING_ALGORITHMS)), help="smart: which Careloop key signs."
)
@click.option("--connect-timeout", type=float, help="Seconds to wait for a connection (0 < t <= 300).")
@click.option("--read-timeout", type=float, help="Seconds to wait for an answer (0 < t <= 300).")
@click.option("--enable/--disable", "enabled", default=None, help="Turn write-back on or off.")
def set_ehr(
    code: str,
    base_url: str | None,
    auth: str | None,
    token_ref: str | None,
    client_id: str | None,
    token_url: str | None,
    scope: str | None,
    alg: str | None,
    connect_timeout: float | None,
    read_timeout: float | None,
    enabled: bool | None,
) -> None:
    """Change a site's EHR settings: options not given keep their current values; settings the chosen
    --auth does not use are removed."""
    site = _site(code)
    current = sites.EhrSettings.of(site)
    settings = sites.EhrSettings(
        base_url=current.base_url if base_url is None else base_url,
        enabled=current.enabled if enabled is None else enabled,
        auth=current.auth if auth is None else auth,
        credentials_ref=current.credentials_ref if token_ref is None else token_ref,
        client_id=current.client_id if client_id is None else client_id,
        token_url=current.token_url if token_url is None else token_url,
        scope=current.scope if scope is None else scope,
        signing_alg=current.signing_alg if alg is None else alg,
        connect_timeout=current.connect_timeout if connect_timeout is None else connect_timeout,
        read_timeout=current.read_timeout if read_timeout is None else read_timeout,
    )
    try:
        changed = sites.update_ehr_settings(db.session, CLI_ACTOR, site, settings)
    except CareloopError as error:
        _fail(error)
    db.session.commit()
    click.echo(f"{site.code}: {'changed ' + ', '.join(changed) if changed else 'nothing changed'}")
    click.echo(f"{site.code}: {_ehr_summary(site)}")


@units_cli.command("list")
@click.argument("site_code", required=False)
def list_units(site_code: str | None) -> None:
    """Every unit (of SITE_CODE): SITE/unit, active or not, name, care bundles (id@version or id@latest)."""
    site = _site(site_code) if site_code is not None else None
    for unit in sites.units_of(db.session, site):
        offered = ", ".join(
            f"{link.care_bundle_id}@{link.pinned_version or sites.LATEST}" for link in unit.care_bundle_links
        )
        state = "active" if unit.active else "inactive"
        where = f"{unit.site.code}/{unit.code}"
        click.echo(f"{where:<32} {state:<8} {unit.name}  [{offered or 'no care bundles'}]")


@units_cli.command("add")
@click.argument("site_code")
@click.argument("code")
@click.argument("name")
def add_unit(site_code: str, code: str, name: str) -> None:
    """Add a unit to a site (no care bundles yet: add them with enable-care-bundle)."""
    site = _site(site_code)
    try:
        unit = sites.create_unit(db.session, CLI_ACTOR, site, code=code, name=name)
    except CareloopError as error:
        _fail(error)
    db.session.commit()
    click.echo(f"added unit {site.code}/{unit.code}")


@units_cli.command("enable-care-bundle")
@click.argument("site_code")
@click.argument("unit_code")
@click.argument("care_bundle_id")
@click.option("--version", help="Pin this loaded version (default: always the latest loaded version).")
def enable_care_bundle(site_code: str, unit_code: str, care_bundle_id: str, version: str | None) -> None:
    """Offer a care bundle on a unit, at its latest version or pinned to --version (or change the pin)."""
    try:
        unit = sites.find_unit(db.session, site_code, unit_code)
        link = sites.enable_care_bundle(
            db.session, CLI_ACTOR, current_catalogue(), unit, care_bundle_id, version
        )
    except CareloopError as error:
        _fail(error)
    db.session.commit()
    click.echo(f"{site_code}/{unit_code} offers {care_bundle_id}@{link.pinned_version or sites.LATEST}")


@units_cli.command("disable-care-bundle")
@click.argument("site_code")
@click.argument("unit_code")
@click.argument("care_bundle_id")
def disable_care_bundle(site_code: str, unit_code: str, care_bundle_id: str) -> None:
    """Stop offering a care bundle on a unit (its checklists are kept)."""
    try:
        unit = sites.find_unit(db.session, site_code, unit_code)
        sites.disable_care_bundle(db.session, CLI_ACTOR, unit, care_bundle_id)
    except CareloopError as error:
        _fail(error)
    db.session.commit()
    click.echo(f"{site_code}/{unit_code} no longer offers {care_bundle_id}")


@units_cli.command("deactivate")
@click.argument("site_code")
@click.argument("unit_code")
def deactivate_unit(site_code: str, unit_code: str) -> None:
    """Stop new checklists on a unit (its records stay)."""
    _set_active(site_code, unit_code, active=False)


@units_cli.command("activate")
@click.argument("site_code")
@click.argument("unit_code")
def activate_unit(site_code: str, unit_code: str) -> None:
    """Let a deactivated unit start checklists again."""
    _set_active(site_code, unit_code, active=True)


def _set_active(site_code: str, unit_code: str, *, active: bool) -> None:
    try:
        unit = sites.find_unit(db.session, site_code, unit_code)
        sites.set_unit_active(db.session, CLI_ACTOR, unit, active)
    except CareloopError as error:
        _fail(error)
    db.session.commit()
    click.echo(f"{site_code}/{unit_code} {'activated' if active else 'deactivated'}")


def register_admin_cli(app: Flask) -> None:
    """Add ``flask sites`` and ``flask units`` to the app's commands."""
    app.cli.add_command(sites_cli)
    app.cli.add_command(units_cli)
