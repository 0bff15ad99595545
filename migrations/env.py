"""Alembic environment: runs migrations on the engine of the current Flask app (Flask-Migrate)."""

from __future__ import annotations

import logging
from logging.config import fileConfig
from typing import Any

from alembic import context
from alembic.autogenerate.api import AutogenContext
from alembic.operations.ops import MigrationScript
from alembic.runtime.migration import MigrationContext
from flask import current_app

from service.models.base import TZDateTime

config = context.config

# create_app has configured logging already; only a bare `alembic` run needs the ini file's.
if config.config_file_name is not None and not logging.getLogger().handlers:
    fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

migrate_extension = current_app.extensions["migrate"]
engine = migrate_extension.db.engine
target_metadata = migrate_extension.db.metadata
config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | bool:
    """Write our column types as plain SQLAlchemy ones, so migrations never import application code."""
    if type_ == "type" and isinstance(obj, TZDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def process_revision_directives(
    migration_context: MigrationContext, revision: Any, directives: list[MigrationScript]
) -> None:
    """Write no empty migration when autogenerate finds nothing to do."""
    if getattr(config.cmd_opts, "autogenerate", False):
        script = directives[0]
        if script.upgrade_ops is not None and script.upgrade_ops.is_empty():
            directives[:] = []
            logger.info("No changes in schema detected.")


def configure_args() -> dict[str, Any]:
    args: dict[str, Any] = {
        # Batch mode lets ALTERs run on SQLite (copy-and-move); on PostgreSQL it emits plain ALTERs, so
        # migrations written in batch mode run on both.
        "render_as_batch": True,
        "compare_type": True,
        "compare_server_default": True,
        "render_item": render_item,
        "process_revision_directives": process_revision_directives,
    }
    args.update({key: value for key, value in migrate_extension.configure_args.items() if value is not None})
    return args


def run_migrations_offline() -> None:
    """Write the SQL instead of running it (``flask db upgrade --sql``), for a DBA to review."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        **configure_args(),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    with engine.connect() as connection:
        if connection.dialect.name != "sqlite":
            context.configure(connection=connection, target_metadata=target_metadata, **configure_args())
            with context.begin_transaction():
                context.run_migrations()
            return
        # SQLite: batch mode copies a table, drops it and renames the copy; dropping a table that other
        # rows point at fails while foreign keys are enforced. As Alembic's batch documentation advises,
        # enforcement is off during the migration (the pragma only takes effect outside a transaction, so
        # it goes to the driver's connection, which is in autocommit mode). The whole upgrade is one
        # transaction (SQLite's DDL is transactional), and the database is checked before it commits.
        raw = connection.connection.driver_connection
        raw.execute("PRAGMA foreign_keys=OFF")
        try:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                transactional_ddl=True,
                **configure_args(),
            )
            with context.begin_transaction():
                context.run_migrations()
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"the migration left {len(broken)} row(s) with broken foreign keys")
        finally:
            if connection.in_transaction():
                connection.rollback()
            raw.execute("PRAGMA foreign_keys=ON")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
