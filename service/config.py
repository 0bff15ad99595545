"""Settings: code defaults, then ``CARELOOP_*`` environment variables, then a test mapping.

Every setting is documented in the README's "Settings" table; keep the two in step.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask

PROJECT_ROOT = Path(__file__).resolve().parent.parent

#: Environments in which a missing secret key is tolerated (a throwaway key is generated).
_SECRETLESS_ENVS = frozenset({"development", "testing"})
_ENVS = frozenset({"production", "development", "testing"})

DEFAULTS: dict[str, Any] = {
    "ENV": "production",
    "SECRET_KEY": None,
    "DATABASE_URL": None,
    "BUNDLES_DIR": str(PROJECT_ROOT / "bundles"),
    "LOG_LEVEL": "INFO",
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
}


class ConfigError(RuntimeError):
    """The settings cannot run a safe service; the message says which and why."""


def configure(app: Flask, test_config: dict[str, Any] | None) -> None:
    """Fill ``app.config`` and check it, raising :class:`ConfigError` on an unsafe combination."""
    app.config.from_mapping(DEFAULTS)
    app.config.from_prefixed_env("CARELOOP")
    if test_config:
        app.config.update(test_config)

    env = app.config["ENV"]
    if env not in _ENVS:
        raise ConfigError(f"CARELOOP_ENV must be one of {sorted(_ENVS)}, not {env!r}")
    if not app.config["SECRET_KEY"]:
        if env not in _SECRETLESS_ENVS:
            raise ConfigError(
                "CARELOOP_SECRET_KEY is not set. Set it to a long random value "
                "(python -c 'import secrets; print(secrets.token_hex(32))'); "
                "only CARELOOP_ENV=development or testing may run without one."
            )
        app.config["SECRET_KEY"] = os.urandom(32).hex()

    database_url = app.config["DATABASE_URL"]
    if not database_url:
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        database_url = f"sqlite:///{Path(app.instance_path) / 'careloop.db'}"
    if database_url.startswith("postgresql://"):
        # psycopg 3 is the driver we ship; plain postgresql:// would ask SQLAlchemy for psycopg2.
        database_url = "postgresql+psycopg://" + database_url.removeprefix("postgresql://")
    app.config["SQLALCHEMY_DATABASE_URI"] = database_url
    if database_url.startswith("sqlite"):
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {}
