"""``flask tokens``: bearer tokens of system clients on ``/fhir`` (``service.auth.tokens``).

The token is printed once, by ``create``; only its SHA-256 is stored, so a lost token is revoked and a new
one made.
"""

from __future__ import annotations

import datetime as dt

import click
from flask.cli import AppGroup

from service.auth import tokens, users
from service.errors import CareloopError
from service.extensions import db
from service.models import Site

tokens_cli = AppGroup("tokens", help="Bearer tokens of system clients (EHRs, integration engines) on /fhir.")


@tokens_cli.command("create")
@click.option("--name", required=True, help="Who the client is, e.g. 'Trust EPR interface engine'.")
@click.option("--site", "site_code", required=True, help="The site the client belongs to.")
@click.option("--unit", "unit_code", default=None, help="The one unit its writes land in (none: read only).")
@click.option("--scope", "scopes", required=True, multiple=True, help="e.g. system/QuestionnaireResponse.rs")
@click.option("--expires-days", type=click.IntRange(1, 3650), default=None, help="Days until it expires.")
def create_command(
    name: str, site_code: str, unit_code: str | None, scopes: tuple[str, ...], expires_days: int | None
) -> None:
    """Make a token; print it once."""
    try:
        site = db.session.query(Site).filter_by(code=site_code).one_or_none()
        if site is None:
            raise click.ClickException(f"no site {site_code}")
        unit = users.find_unit(db.session, site_code, unit_code) if unit_code else None
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=expires_days) if expires_days else None
        row, secret = tokens.create_token(
            db.session, name=name, site=site, unit=unit, scopes=" ".join(scopes), expires_at=expires
        )
        db.session.commit()
    except CareloopError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from error
    click.echo(f"token {row.id} for {row.name}: keep it now, it is not shown again")
    click.echo(secret)


@tokens_cli.command("list")
def list_command() -> None:
    """Every token: id, client, site/unit, scopes, state (never the token)."""
    now = dt.datetime.now(dt.UTC)
    for row in tokens.all_tokens(db.session):
        state = (
            "revoked"
            if row.revoked_at
            else "expired"
            if row.expires_at and row.expires_at <= now
            else "active"
        )
        where = row.site.code + (f"/{row.unit.code}" if row.unit else "")
        used = row.last_used_at.isoformat(timespec="seconds") if row.last_used_at else "never"
        click.echo(f"{row.id}\t{state}\t{where}\t{row.name}\t{row.scopes}\tlast used {used}")


@tokens_cli.command("revoke")
@click.argument("token_id", type=int)
def revoke_command(token_id: int) -> None:
    """Revoke a token at once."""
    try:
        row = tokens.revoke_token(db.session, token_id, dt.datetime.now(dt.UTC))
        db.session.commit()
    except CareloopError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from error
    click.echo(f"token {row.id} ({row.name}) revoked")
