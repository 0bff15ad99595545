"""Sign-in and scope: local accounts, Flask-Login sessions, CSRF on every form, roles and unit membership.

For views:
- ``login_required``, ``require_role(*roles)``: guards (pages redirect to ``/sign-in``, APIs get 401; a
  signed-in user with another role gets 403);
- ``signed_in_user() -> User``: the signed-in user, typed (``flask_login.current_user`` is the same object);
- ``unit_ids_of(user) -> frozenset[int]`` and ``ensure_unit_access(user, unit_id)`` (404 for a unit the user
  may not see): filter every query of checklists by them.
"""

from __future__ import annotations

from flask import Blueprint, Flask, jsonify, render_template
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError, CSRFProtect

from service.auth import tokens
from service.auth.access import login_required, require_role, signed_in_user
from service.auth.login import init_login, is_api_request, login_manager
from service.auth.scope import ensure_unit_access, unit_ids_of
from service.auth.views import bp

__all__ = [
    "bp",
    "csrf",
    "ensure_unit_access",
    "init_auth",
    "is_api_request",
    "login_manager",
    "login_required",
    "require_role",
    "signed_in_user",
    "unit_ids_of",
]

#: Every POST, PUT, PATCH and DELETE needs the session's CSRF token, except those of exempt blueprints.
csrf = CSRFProtect()


def _csrf_failed(error: CSRFError) -> ResponseReturnValue:
    if is_api_request():
        # The tablet's replay queue: it fetches a fresh token (``/ward/session``) and sends again.
        return jsonify({"outcome": "csrf", "message": error.description}), 400
    return render_template("errors/csrf.html"), 400


def init_auth(app: Flask, *, csrf_exempt: tuple[Blueprint, ...] = ()) -> None:
    """Sessions, CSRF protection and the sign-in pages. ``csrf_exempt``: token-authenticated API
    blueprints (their clients send no cookies, so there is nothing to forge)."""
    csrf.init_app(app)
    for blueprint in csrf_exempt:
        csrf.exempt(blueprint)
    app.register_error_handler(CSRFError, _csrf_failed)
    init_login(app)
    tokens.init_app(app)  # the audit event of each use of a /fhir token, written with the answer
    app.register_blueprint(bp)
