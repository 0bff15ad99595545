"""Settings: code defaults, then ``CARELOOP_*`` environment variables, then a test mapping.

Every setting is documented in the README's "Settings" table; keep the two in step.
"""

from __future__ import annotations

import os
from datetime import timedelta
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
    # hide_parameters: a database error's message carries no bound values (patient identifiers, answers,
    # snapshots) into tracebacks and logs.
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "hide_parameters": True},
    #: SQLite only: how long a connection waits for another's write lock before "database is locked".
    "SQLITE_BUSY_TIMEOUT_MS": 15000,
    #: The built NHS.UK frontend (``npm ci`` puts it here); served under ``/assets/nhsuk/``.
    "NHSUK_FRONTEND_DIR": str(PROJECT_ROOT / "node_modules" / "nhsuk-frontend" / "dist" / "nhsuk"),
    #: The largest body ``/fhir`` reads (bytes); a larger one is refused with 413 before it is parsed.
    "FHIR_MAX_BODY_BYTES": 2_000_000,
    #: The ``idb`` package (npm), which the tablet writes its drafts and replay queue with; served under
    #: ``/assets/idb/``.
    "IDB_DIR": str(PROJECT_ROOT / "node_modules" / "idb" / "build"),
    #: Hours a tablet keeps the ward pages it cached and the drafts it has sent (patient data on a shared
    #: device); work not yet sent is kept until it is sent or its user discards it.
    "OFFLINE_KEEP_HOURS": 12,
    #: Seconds a browser reuses a file of ``/static`` or ``/assets/nhsuk`` without asking (``Cache-Control:
    #: public, max-age``); then it revalidates with the ETag (304 if unchanged). Flask's own setting: it
    #: applies to every file the app sends, and those two folders are all it sends.
    "SEND_FILE_MAX_AGE_DEFAULT": 3600,
    # The session cookie: never readable by scripts, not sent on cross-site sub-requests or POSTs, and only
    # over HTTPS outside development and testing (None: decided by ENV in ``configure``).
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_SECURE": None,
    #: Seconds a sign-in lasts (a shift: 12 hours), counted from the sign-in, not the last request.
    "PERMANENT_SESSION_LIFETIME": 12 * 60 * 60,
    # A CSRF token lives as long as the session: a form opened at the start of a shift must still post at its
    # end (Flask-WTF's default of one hour would throw away a checklist typed over a long interruption). The
    # token stays bound to the session, which ends at PERMANENT_SESSION_LIFETIME or at sign-out.
    "WTF_CSRF_TIME_LIMIT": None,
    #: Careloop's private SMART Backend Services keys (``flask keys``); None: ``instance/smart-keys.json``.
    "SMART_KEYS_PATH": None,
    #: ``flask deliver``: rows claimed per batch, and seconds between looks when nothing is due.
    "DELIVERY_BATCH": 50,
    #: ``flask deliver``: writes in flight at once (each to a different checklist).
    "DELIVERY_CONCURRENCY": 2,
    "DELIVERY_POLL_SECONDS": 2.0,
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

    if app.config["SESSION_COOKIE_SECURE"] is None:
        app.config["SESSION_COOKIE_SECURE"] = env not in _SECRETLESS_ENVS
    lifetime = app.config["PERMANENT_SESSION_LIFETIME"]
    seconds = lifetime.total_seconds() if isinstance(lifetime, timedelta) else lifetime
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0:
        raise ConfigError(
            f"CARELOOP_PERMANENT_SESSION_LIFETIME must be a positive number of seconds, not {lifetime!r}"
        )

    keep = app.config["OFFLINE_KEEP_HOURS"]
    if isinstance(keep, bool) or not isinstance(keep, int | float) or not 0 < keep <= 7 * 24:
        raise ConfigError(f"CARELOOP_OFFLINE_KEEP_HOURS must be hours, above 0 and at most 168, not {keep!r}")

    if not app.config["SMART_KEYS_PATH"]:
        app.config["SMART_KEYS_PATH"] = str(Path(app.instance_path) / "smart-keys.json")

    database_url = app.config["DATABASE_URL"]
    if not database_url:
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        database_url = f"sqlite:///{Path(app.instance_path) / 'careloop.db'}"
    if database_url.startswith("postgresql://"):
        # psycopg 3 is the driver we ship; plain postgresql:// would ask SQLAlchemy for psycopg2.
        database_url = "postgresql+psycopg://" + database_url.removeprefix("postgresql://")
    app.config["SQLALCHEMY_DATABASE_URI"] = database_url
    if database_url.startswith("sqlite"):
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
            "connect_args": {"timeout": _busy_timeout(app) / 1000},
            "hide_parameters": True,
        }


def _busy_timeout(app: Flask) -> int:
    """``SQLITE_BUSY_TIMEOUT_MS``, checked. pysqlite's ``timeout`` (seconds) is SQLite's busy timeout: it
    calls ``sqlite3_busy_timeout``, which is what ``PRAGMA busy_timeout`` sets (decision 0008)."""
    milliseconds = app.config["SQLITE_BUSY_TIMEOUT_MS"]
    if isinstance(milliseconds, bool) or not isinstance(milliseconds, int) or milliseconds < 0:
        raise ConfigError(
            f"CARELOOP_SQLITE_BUSY_TIMEOUT_MS must be a whole number of milliseconds, not {milliseconds!r}"
        )
    return milliseconds
