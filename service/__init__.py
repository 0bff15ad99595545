"""Careloop: the Flask application factory."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from jinja2 import ChainableUndefined, ChoiceLoader, PackageLoader

from service import models  # noqa: F401  (registers the tables with the metadata)
from service.admin import admin_bp, register_admin_cli
from service.auth import init_auth
from service.care_bundles import init_care_bundles
from service.cli import register_cli
from service.compliance.api import init_compliance_api
from service.config import PROJECT_ROOT, configure
from service.delivery.views import bp as deliveries_bp
from service.extensions import db, init_read_only_requests, migrate
from service.fhir_api import bp as fhir_bp
from service.fhir_api import register_error_handlers
from service.home import bp as home_bp
from service.home.frontend import init_frontend
from service.home.security import init_security_headers
from service.reports import bp as reports_bp
from service.server_timing import init_server_timing
from service.ward import bp as ward_bp
from service.ward.offline import init_offline


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app. Raises ``ConfigError`` or ``InvalidCareBundle`` rather than start unsafe."""
    app = Flask(__name__, instance_relative_config=True)
    configure(app, test_config)
    logging.basicConfig(level=app.config["LOG_LEVEL"])
    # The NHS.UK frontend macros (nhsuk-frontend-jinja) come after our own templates; they need
    # ChainableUndefined for their optional nested parameters, and escaping on for their .jinja files.
    app.jinja_options = {
        **app.jinja_options,
        "loader": ChoiceLoader([app.create_global_jinja_loader(), PackageLoader("nhsuk_frontend_jinja")]),
        "undefined": ChainableUndefined,
        "autoescape": True,
        # The macros indent generously: without this a checklist page is mostly whitespace.
        "trim_blocks": True,
        "lstrip_blocks": True,
    }

    init_server_timing(app)  # first: its timer wraps every other request hook
    db.init_app(app)
    init_read_only_requests(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"))
    init_care_bundles(app)
    init_frontend(app)
    init_security_headers(app)

    app.register_blueprint(home_bp)
    app.register_blueprint(fhir_bp)
    app.register_blueprint(ward_bp)
    init_offline(app)
    app.register_blueprint(deliveries_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(reports_bp)
    init_compliance_api(app)
    # /fhir is a token-authenticated API: its clients send no cookies, so there is no request to forge.
    init_auth(app, csrf_exempt=(fhir_bp,))
    register_error_handlers(app)
    register_cli(app)
    register_admin_cli(app)
    return app
