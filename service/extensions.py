"""Extension objects, bound to an app in :func:`service.create_app`."""

from __future__ import annotations

import sqlite3
from contextvars import ContextVar
from typing import Any

from flask import Flask, request
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Connection, Engine, MetaData, event
from sqlalchemy.orm import DeclarativeBase, Session, scoped_session

# Named constraints so that Alembic can alter and drop them on every backend (SQLite batch mode included).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
#: A plain session (scripts, workers, tests) or Flask-SQLAlchemy's request-scoped ``db.session``.
AnySession = Session | scoped_session[Any]
migrate = Migrate()


@event.listens_for(Engine, "connect")
def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    """SQLite: enforce foreign keys, write-ahead logging, and let SQLAlchemy decide when transactions begin.

    pysqlite's own transaction handling breaks SAVEPOINT (SQLAlchemy docs, "Serializable isolation /
    Savepoints / Transactional DDL"); the recipe is to turn it off here and emit BEGIN ourselves below.
    WAL lets readers go on while one connection writes (it is stored in the database file, so setting it
    again is a no-op; an in-memory database stays ``memory``). The busy timeout comes with the connection:
    pysqlite's ``timeout`` argument, set from ``SQLITE_BUSY_TIMEOUT_MS`` (``service.config``). See
    docs/decisions/0008-sqlite-embedded-default.md.
    """
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()


#: True while the current request only reads: SQLite transactions then begin deferred (see below).
_READS_ONLY: ContextVar[bool] = ContextVar("careloop_sqlite_reads_only", default=False)


@event.listens_for(Engine, "begin")
def _sqlite_on_begin(connection: Connection) -> None:
    """SQLite: take the write lock when the transaction begins, not at its first write.

    A deferred transaction that reads and then writes cannot wait for the lock if another connection
    committed in between (SQLite answers "database is locked" at once, whatever the busy timeout); an
    immediate one waits for the lock up to the busy timeout, before it has read anything, so it never
    works on a stale snapshot. In WAL mode readers outside a write transaction are not blocked. A request
    that only reads (:func:`init_read_only_requests`) begins deferred, so rendering a page never holds
    the write lock that another worker's completion waits for.
    """
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN" if _READS_ONLY.get() else "BEGIN IMMEDIATE")


def writes_follow() -> None:
    """A read-only request is about to write (an audit event): end its reading transaction first, so the
    write begins immediate on a fresh snapshot."""
    db.session.commit()
    _READS_ONLY.set(False)


def init_read_only_requests(app: Flask) -> None:
    """GET and HEAD requests read: their SQLite transactions begin deferred, until :func:`writes_follow`."""

    @app.before_request
    def _reads_only() -> None:
        _READS_ONLY.set(request.method in ("GET", "HEAD"))

    @app.teardown_request
    def _reset(_error: BaseException | None) -> None:
        _READS_ONLY.set(False)
