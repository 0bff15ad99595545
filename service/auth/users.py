"""Local accounts: password hashing, sign-in checks and the user administration behind ``flask users``.

Plain domain code: explicit session and arguments, ``flush()`` but never ``commit()``, domain exceptions from
:mod:`service.errors`. Passwords are hashed with Werkzeug's scrypt and never stored, logged or audited.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Final

from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from service.errors import Conflict, InvalidInput, NotFound
from service.extensions import AnySession
from service.models import AuditAction, AuditEvent, AuditOutcome, Role, Site, Unit, User

#: Shortest password ``flask users`` accepts (NCSC: length beats complexity rules).
MIN_PASSWORD_LENGTH: Final = 12
PASSWORD_METHOD: Final = "scrypt"
#: Lower-case so that a tablet keyboard's automatic capital cannot lock anyone out (sign-in lower-cases).
USERNAME_PATTERN: Final = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


def hash_password(password: str) -> str:
    """A salted scrypt hash (``scrypt:N:r:p$salt$hash``) to store in ``User.password_hash``."""
    return generate_password_hash(password, method=PASSWORD_METHOD)


@cache
def _decoy_hash() -> str:
    return hash_password("decoy: checked when the username is unknown")


@dataclass(frozen=True)
class SignInResult:
    """The outcome of :func:`authenticate`: the user when the sign-in may go ahead, else why not.

    ``reason`` is for the audit trail only; people are told the same thing whatever it is.
    """

    user: User | None
    reason: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.user is not None and self.reason is None


def normalise_username(username: str) -> str:
    return username.strip().lower()


def authenticate(session: AnySession, username: str, password: str) -> SignInResult:
    """Check a sign-in and audit it (action ``login``), whatever the outcome. Flushes; the caller commits.

    An unknown username still costs one password check, so response times do not tell which usernames
    exist, and its audit event names nobody (no actor, no entity id, not the username typed).
    """
    user = session.scalar(select(User).where(User.username == normalise_username(username)))
    if user is None:
        check_password_hash(_decoy_hash(), password)
        result = SignInResult(None, "unknown-username")
    elif not check_password_hash(user.password_hash, password):
        result = SignInResult(None, "wrong-password")
    elif not user.active:
        result = SignInResult(None, "inactive")
    else:
        result = SignInResult(user)
        if not user.password_hash.startswith(f"{PASSWORD_METHOD}:"):
            user.password_hash = hash_password(password)  # upgrade an older hash while we have the password
    session.add(
        AuditEvent(
            actor=user,
            action=AuditAction.LOGIN.value,
            entity_type="user",
            entity_id=str(user.id) if user is not None else None,
            outcome=AuditOutcome.SUCCESS.value if result.succeeded else AuditOutcome.FAILURE.value,
            detail={"reason": result.reason} if result.reason else None,
        )
    )
    session.flush()
    return result


def record_sign_out(session: AnySession, user: User) -> None:
    """Audit a sign-out (action ``logout``). Flushes; the caller commits."""
    session.add(
        AuditEvent(
            actor=user,
            action=AuditAction.LOGOUT.value,
            entity_type="user",
            entity_id=str(user.id),
            outcome=AuditOutcome.SUCCESS.value,
        )
    )
    session.flush()


def check_new_password(password: str) -> None:
    """Refuse a password too short to set; raises :class:`InvalidInput`."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"the password must be at least {MIN_PASSWORD_LENGTH} characters long")


def find_user(session: AnySession, username: str) -> User:
    user = session.scalar(select(User).where(User.username == normalise_username(username)))
    if user is None:
        raise NotFound(f"no user named {username!r}")
    return user


def check_new_username(session: AnySession, username: str) -> None:
    """Refuse a username that is malformed or taken; raises :class:`InvalidInput` or :class:`Conflict`."""
    if not USERNAME_PATTERN.fullmatch(username):
        raise InvalidInput(
            f"username {username!r} is not allowed: use 1 to 64 lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"a user named {username!r} already exists")


def check_role(role: str | Role) -> None:
    """Refuse a role that is not one of :class:`Role`; raises :class:`InvalidInput`."""
    if role not in {member.value for member in Role}:
        raise InvalidInput(f"role must be one of {', '.join(member.value for member in Role)}, not {role!r}")


def check_display_name(display_name: str) -> None:
    """Refuse an empty display name; raises :class:`InvalidInput`."""
    if not display_name.strip():
        raise InvalidInput("the display name must not be empty")


def create_user(
    session: AnySession, username: str, *, display_name: str, role: str | Role, password: str
) -> User:
    """A new active user with no units yet. Raises :class:`InvalidInput` or :class:`Conflict`."""
    check_new_username(session, username)
    check_role(role)
    check_display_name(display_name)
    check_new_password(password)
    user = User(
        username=username,
        display_name=display_name.strip(),
        password_hash=hash_password(password),
        role=str(role),
    )
    session.add(user)
    session.flush()
    return user


def set_password(session: AnySession, user: User, password: str) -> None:
    check_new_password(password)
    user.password_hash = hash_password(password)
    session.flush()


def set_active(session: AnySession, user: User, active: bool) -> None:
    """Deactivate (or reactivate) a user: deactivated users cannot sign in and their sessions end."""
    user.active = active
    session.flush()


def find_unit(session: AnySession, site_code: str, unit_code: str) -> Unit:
    unit = session.scalar(select(Unit).join(Unit.site).where(Site.code == site_code, Unit.code == unit_code))
    if unit is None:
        raise NotFound(f"no unit {unit_code!r} at site {site_code!r}")
    return unit


def add_unit(session: AnySession, user: User, unit: Unit) -> bool:
    """Make ``user`` a member of ``unit``; False when they already were."""
    if unit in user.units:
        return False
    user.units.append(unit)
    session.flush()
    return True


def set_units(session: AnySession, user: User, units: list[Unit]) -> bool:
    """Make ``user`` a member of exactly ``units``; False when they already were."""
    if {unit.id for unit in user.units} == {unit.id for unit in units}:
        return False
    user.units = sorted(units, key=lambda unit: unit.code)
    session.flush()
    return True


def all_users(session: AnySession) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))
