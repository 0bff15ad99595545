"""The compliance API for QI leads and their tools (issue 11): flask-smorest; OpenAPI at
``/api/openapi.json``. Errors are JSON: ``{"code", "status", "message", "errors"}`` (as flask-smorest's).

- ``GET /api/compliance/measures?care_bundle=<id>``: the measures a care bundle reports (public: care bundle
  definitions are published);
- ``GET /api/compliance/report`` and ``/report.csv``: one measure per period of a unit or site, with its SPC
  chart (:mod:`service.compliance.api.reports`);
- ``GET /api/compliance/checklists``: the checklists behind one point (patient identifiers only for users
  granted ``can_read_patient_identifiers``, each such read audited).

Who may count checklists: :mod:`service.compliance.api.access`.
"""

from __future__ import annotations

from flask import Flask

from service.compliance.api import measures, reports  # noqa: F401  (add their routes to the blueprint)
from service.compliance.api.blueprint import api, bp

__all__ = ["api", "bp", "init_compliance_api"]


def init_compliance_api(app: Flask) -> None:
    app.config.setdefault("API_TITLE", "Careloop compliance API")
    app.config.setdefault("API_VERSION", "1")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", "/api")
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    api.init_app(app)
    api.spec.components.security_scheme(
        "bearerToken",
        {
            "type": "http",
            "scheme": "bearer",
            "description": "A token from `flask tokens create` with the scope system/MeasureReport.rs (or "
            ".read), bound to a site (all its units) or one unit",
        },
    )
    api.spec.components.security_scheme(
        "session",
        {
            "type": "apiKey",
            "in": "cookie",
            "name": "session",
            "description": "A signed-in QI lead (their units) or admin (every unit)",
        },
    )
    api.register_blueprint(bp)
