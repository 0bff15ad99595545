"""User administration from the admin pages: the rules of :mod:`service.auth.users` (the one path, which
``flask users`` uses too), with every problem named by its form field and every change audited.

Plain domain code: explicit session and actor, ``flush()`` never ``commit()``, :class:`InvalidInput` with
one field issue per bad field. Passwords are never audited, shown or logged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import select

from service.admin.audit import record
from service.auth import users
from service.checklists import Actor
from service.checklists.lifecycle_input import ChecklistIssue, field_issue
from service.errors import CareloopError, Conflict, InvalidInput
from service.extensions import AnySession
from service.models import AuditAction, Unit, User

_CHOOSE_UNITS = "choose units from the list"


def _check(
    issues: list[ChecklistIssue],
    field: str,
    check: Callable[..., Any],
    *args: Any,
    message: str | None = None,
) -> None:
    """Run one rule of :mod:`service.auth.users`; its refusal becomes an issue of ``field`` (in the
    rule's words, or ``message`` where a form says it better)."""
    try:
        check(*args)
    except CareloopError as error:
        issues.append(field_issue(field, message or error.message))


def _passwords(issues: list[ChecklistIssue], password: str, confirmation: str | None) -> None:
    _check(issues, "password", users.check_new_password, password)
    if confirmation is not None and confirmation != password:
        issues.append(field_issue("confirm_password", "the two passwords are not the same"))


def units_by_id(session: AnySession, unit_ids: Iterable[str | int]) -> list[Unit]:
    """The units of ``unit_ids`` (form values); InvalidInput (field ``units``) if any is unknown."""
    wanted: set[int] = set()
    for raw in unit_ids:
        text = str(raw).strip()
        if not text.isdigit() or len(text) > 12:
            raise InvalidInput(_CHOOSE_UNITS, issues=[field_issue("units", _CHOOSE_UNITS)])
        wanted.add(int(text))
    found = list(session.scalars(select(Unit).where(Unit.id.in_(wanted)))) if wanted else []
    if len(found) != len(wanted):
        raise InvalidInput(_CHOOSE_UNITS, issues=[field_issue("units", _CHOOSE_UNITS)])
    return found


def create_account(
    session: AnySession,
    actor: Actor,
    *,
    username: str,
    display_name: str,
    role: str,
    password: str,
    confirm_password: str | None,
    unit_ids: Iterable[str | int] = (),
) -> User:
    """A new active user in ``unit_ids``: every field is checked (all problems at once) before anything
    is written. Usernames are taken as typed: lower-case letters, digits, ``.``, ``_``, ``-``."""
    username = username.strip()
    issues: list[ChecklistIssue] = []
    _check(issues, "username", users.check_new_username, session, username)
    _check(issues, "display_name", users.check_display_name, display_name)
    _check(issues, "role", users.check_role, role, message="choose clinician, QI lead or administrator")
    _passwords(issues, password, confirm_password)
    units: list[Unit] = []
    try:
        units = units_by_id(session, unit_ids)
    except InvalidInput:
        issues.append(field_issue("units", _CHOOSE_UNITS))
    if issues:
        raise InvalidInput(f"the user cannot be added: {len(issues)} problem(s)", issues=issues)
    user = users.create_user(session, username, display_name=display_name, role=role, password=password)
    users.set_units(session, user, units)
    record(
        session, actor, AuditAction.CREATE, "user", user.id, role=user.role, units=sorted(u.id for u in units)
    )
    session.flush()
    return user


def set_account_units(session: AnySession, actor: Actor, user: User, unit_ids: Iterable[str | int]) -> bool:
    """Make ``user`` a member of exactly these units; False (nothing written) when they already were."""
    units = units_by_id(session, unit_ids)
    if not users.set_units(session, user, units):
        return False
    record(session, actor, AuditAction.UPDATE, "user", user.id, units=sorted(unit.id for unit in units))
    session.flush()
    return True


def reset_password(
    session: AnySession, actor: Actor, user: User, password: str, confirm_password: str | None
) -> None:
    """Set a new password (the password rules of :mod:`service.auth.users`); the audit says only that."""
    issues: list[ChecklistIssue] = []
    _passwords(issues, password, confirm_password)
    if issues:
        raise InvalidInput("the password cannot be set", issues=issues)
    users.set_password(session, user, password)
    record(session, actor, AuditAction.UPDATE, "user", user.id, password="reset")
    session.flush()


def set_account_active(session: AnySession, actor: Actor, user: User, active: bool) -> bool:
    """Deactivate (their sessions end at their next request) or reactivate a user; False when they
    already were so. An admin cannot deactivate themselves: someone must be left to undo it."""
    if user.active == active:
        return False
    if not active and actor.user_id == user.id:
        raise Conflict("you cannot deactivate your own account: ask another administrator")
    users.set_active(session, user, active)
    record(session, actor, AuditAction.UPDATE, "user", user.id, active=active)
    session.flush()
    return True
