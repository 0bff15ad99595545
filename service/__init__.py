"""Careloop: the Flask application factory."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask

from service import models  # noqa: F401  (registers the tables with the metadata)
from service.care_bundles import init_care_bundles
from service.cli import register_cli
from service.config import PROJECT_ROOT, configure
from service.extensions import db, migrate
from service.fhir_api import bp as fhir_bp
from service.fhir_api import register_error_handlers
from service.home import bp as home_bp


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app. Raises ``ConfigError`` or ``InvalidCareBundle`` rather than start unsafe."""
    app = Flask(__name__, instance_relative_config=True)
    configure(app, test_config)
    logging.basicConfig(level=app.config["LOG_LEVEL"])

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"))
    init_care_bundles(app)

    app.register_blueprint(home_bp)
    app.register_blueprint(fhir_bp)
    register_error_handlers(app)
    register_cli(app)
    return app
