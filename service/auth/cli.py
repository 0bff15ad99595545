"""``flask users``: local accounts from the command line (the admin pages, /admin/users, use the same rules).

Passwords are read from a hidden prompt with confirmation, or from standard input with ``--password-stdin``
(one line, for scripts); never from an argument, which would end up in shell history and ``ps``.
"""

from __future__ import annotations

import sys
from typing import NoReturn

import click
from flask.cli import AppGroup

from service.admin import audit
from service.auth import users
from service.errors import CareloopError
from service.extensions import db
from service.models import AuditAction, Role

users_cli = AppGroup("users", help="Local accounts: create, passwords, units, deactivation.")

_password_stdin = click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of standard input."
)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise click.ClickException("no password on standard input")
    else:
        password = str(click.prompt("Password", hide_input=True, confirmation_prompt=True))
    try:
        users.check_new_password(password)
    except CareloopError as error:
        raise click.ClickException(error.message) from error
    return password


def _fail(error: CareloopError) -> NoReturn:
    db.session.rollback()
    raise click.ClickException(error.message) from error


@users_cli.command("create")
@click.argument("username")
@click.option("--name", "display_name", required=True, help="Name shown on the pages, e.g. 'Sam Jones'.")
@click.option("--role", required=True, type=click.Choice([role.value for role in Role]), help="What they do.")
@_password_stdin
def create_command(username: str, display_name: str, role: str, password_stdin: bool) -> None:
    """Create an active user (no units yet: add them with add-unit)."""
    try:
        users.check_new_username(db.session, username)  # before asking for a password
        user = users.create_user(
            db.session,
            username,
            display_name=display_name,
            role=role,
            password=_read_password(password_stdin),
        )
    except CareloopError as error:
        _fail(error)
    db.session.commit()
    click.echo(
        f"created {user.username} ({user.role}); add units with: flask users add-unit {user.username} ..."
    )


@users_cli.command("set-password")
@click.argument("username")
@_password_stdin
def set_password_command(username: str, password_stdin: bool) -> None:
    """Set a user's password."""
    try:
        user = users.find_user(db.session, username)
        users.set_password(db.session, user, _read_password(password_stdin))
    except CareloopError as error:
        _fail(error)
    db.session.commit()
    click.echo(f"password of {user.username} changed")


@users_cli.command("add-unit")
@click.argument("username")
@click.argument("site_code")
@click.argument("unit_code")
def add_unit_command(username: str, site_code: str, unit_code: str) -> None:
    """Make a user a member of a unit (they see and change its checklists)."""
    try:
        user = users.find_user(db.session, username)
        unit = users.find_unit(db.session, site_code, unit_code)
        added = users.add_unit(db.session, user, unit)
    except CareloopError as error:
        _fail(error)
    db.session.commit()
    where = f"{site_code}/{unit_code}"
    click.echo(
        f"{user.username} now works in {where}" if added else f"{user.username} already works in {where}"
    )


@users_cli.command("deactivate")
@click.argument("username")
def deactivate_command(username: str) -> None:
    """Stop a user signing in (their current sessions end too). Users are never deleted: the audit trail
    and their checklists refer to them."""
    _set_active(username, active=False)


@users_cli.command("activate")
@click.argument("username")
def activate_command(username: str) -> None:
    """Let a deactivated user sign in again."""
    _set_active(username, active=True)


def _set_active(username: str, *, active: bool) -> None:
    try:
        user = users.find_user(db.session, username)
        users.set_active(db.session, user, active)
    except CareloopError as error:
        _fail(error)
    db.session.commit()
    click.echo(f"{user.username} {'activated' if active else 'deactivated'}")


@users_cli.command("list")
def list_command() -> None:
    """Every user: username, role, active or not, name and units (SITE/unit)."""
    for user in users.all_users(db.session):
        units = ", ".join(f"{unit.site.code}/{unit.code}" for unit in user.units) or "no units"
        state = "active" if user.active else "inactive"
        click.echo(f"{user.username:<20} {user.role:<10} {state:<8} {user.display_name}  [{units}]")


@users_cli.command("grant-identifiers")
@click.argument("username")
def grant_identifiers_command(username: str) -> None:
    """Let a QI lead or admin see patient identifiers in the compliance drill-down (each read audited).
    Nobody has this by default, whatever their role."""
    _set_identifier_permission(username, granted=True)


@users_cli.command("revoke-identifiers")
@click.argument("username")
def revoke_identifiers_command(username: str) -> None:
    """Stop a user seeing patient identifiers in the compliance drill-down."""
    _set_identifier_permission(username, granted=False)


def _set_identifier_permission(username: str, *, granted: bool) -> None:
    try:
        user = users.find_user(db.session, username)
    except CareloopError as error:
        _fail(error)
    if user.can_read_patient_identifiers != granted:
        user.can_read_patient_identifiers = granted
        # Who may see identifiers is itself audited, as other admin changes are.
        audit.record(
            db.session,
            audit.CLI_ACTOR,
            AuditAction.UPDATE,
            "user",
            user.id,
            can_read_patient_identifiers=granted,
        )
    db.session.commit()
    if granted and user.role not in (Role.QI_LEAD.value, Role.ADMIN.value):
        click.echo(f"note: {user.username} is a {user.role}; only QI leads and admins use the compliance API")
    click.echo(
        f"{user.username} {'may now see' if granted else 'no longer sees'} patient identifiers "
        "in the compliance drill-down"
    )
