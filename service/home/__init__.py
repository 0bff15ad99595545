"""The landing page and a health check; beside them, what every page stands on.

``layout.html`` (templates) is the NHS.UK page every page extends; :mod:`service.home.frontend` serves the
NHS.UK frontend from this origin; :mod:`service.home.security` sets the response headers.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, render_template
from sqlalchemy import text

from service.care_bundles import current_catalogue
from service.extensions import db

bp = Blueprint("home", __name__)


@bp.get("/")
def index() -> str:
    care_bundles = [(entry.care_bundle, entry.resource_id) for entry in current_catalogue()]
    return render_template("home/index.html", care_bundles=care_bundles)


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """Liveness and database reachability, for load balancers; no patient data."""
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any failure means "not ready"
        db.session.rollback()
        return jsonify(status="error", database="unreachable"), 503
    return jsonify(status="ok", care_bundles=len(current_catalogue())), 200
