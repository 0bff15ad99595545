"""Guards for views: signed in, with a role. Unit scope is :mod:`service.auth.scope`."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

import flask_login
from flask import abort
from flask_login import current_user

from service.auth.login import login_manager
from service.models import Role, User

F = TypeVar("F", bound=Callable[..., Any])

_ROLES = frozenset(role.value for role in Role)


def signed_in_user() -> User:
    """The signed-in :class:`User`; aborts with 401 when nobody is (use behind a guard below)."""
    user = current_user._get_current_object()
    if not isinstance(user, User):
        abort(401)
    return user


def login_required(view: F) -> F:
    """Flask-Login's ``login_required``, typed: pages redirect to the sign-in page, API requests get 401."""
    return cast(F, flask_login.login_required(view))


def require_role(*roles: Role | str) -> Callable[[F], F]:
    """Let only signed-in users with one of ``roles`` into a view; nobody signed in is sent to sign in
    first (401 for API requests), a signed-in user with another role gets 403.

    ``@require_role(Role.CLINICIAN, Role.ADMIN)``. An unknown role name fails at import, not at request time.
    """
    if not roles:
        raise ValueError("require_role needs at least one role")
    allowed = frozenset(str(role) for role in roles)
    if unknown := allowed - _ROLES:
        raise ValueError(f"unknown role(s) {sorted(unknown)}; roles are {sorted(_ROLES)}")

    def decorator(view: F) -> F:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in allowed:
                abort(403)
            return view(*args, **kwargs)

        return cast(F, guarded)

    return decorator
