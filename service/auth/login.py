"""Flask-Login wiring: who is signed in, for how long, and what happens when nobody is.

``current_user`` is a :class:`~service.models.User` when someone is signed in. Sessions are not permanent:
the cookie goes when the browser closes, Flask refuses one signed longer ago than
``PERMANENT_SESSION_LIFETIME``, and a sign-in older than that ends even if the cookie was refreshed since.
"""

from __future__ import annotations

import time
from typing import Final

from flask import Flask, abort, current_app, g, redirect, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import LoginManager

from service.extensions import db
from service.models import User

login_manager = LoginManager()
#: Session key holding the time of the sign-in (seconds since the epoch).
SIGNED_IN_AT: Final = "signed_in_at"


def _load_user(user_id: str) -> User | None:
    """The user of a session; None (nobody signed in) once the sign-in is older than
    ``PERMANENT_SESSION_LIFETIME``, for a deactivated or deleted user, or a malformed id."""
    signed_in_at = session.get(SIGNED_IN_AT)
    limit = current_app.permanent_session_lifetime.total_seconds()
    if not isinstance(signed_in_at, int | float) or time.time() - signed_in_at > limit:
        session.clear()
        return None
    try:
        user = db.session.get(User, int(user_id))
    except ValueError:
        return None
    return user if user is not None and user.active else None


def is_api_request() -> bool:
    """Machine clients get status codes, not sign-in pages: ``/fhir``, ``/api``, callers preferring JSON."""
    path = request.path
    if path in ("/fhir", "/api") or path.startswith(("/fhir/", "/api/")):
        return True
    return request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json"


def _unauthorized() -> ResponseReturnValue:
    if is_api_request():
        abort(401)
    target = request.full_path if request.query_string else request.path
    return redirect(url_for("auth.sign_in", next=target))


def _forget_request_state(_error: BaseException | None) -> None:
    """Flask-Login and Flask-WTF cache the user and the CSRF token on ``g``, which lives as long as the app
    context; one pushed around several requests (the test suite, a script) would carry them over."""
    g.pop("_login_user", None)
    g.pop(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)


def init_login(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.session_protection = "strong"
    login_manager.login_view = "auth.sign_in"
    login_manager.user_loader(_load_user)
    login_manager.unauthorized_handler(_unauthorized)
    app.teardown_request(_forget_request_state)
