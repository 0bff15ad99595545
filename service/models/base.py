"""The declarative base for type checkers, and column types and helpers shared by the tables."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, BigInteger, DateTime, Dialect, Integer
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator

from service.extensions import db

__all__ = ["BigIntId", "JSONDocument", "Model", "TZDateTime", "one_of", "utcnow", "values_of"]

if TYPE_CHECKING:
    # Flask-SQLAlchemy builds ``db.Model`` at run time, which type checkers cannot follow; it is a
    # DeclarativeBase on the same metadata as ``Base``, so let them see that.
    from service.extensions import Base as Model
else:
    Model = db.Model


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC (Python-side default of every timestamp)."""
    return datetime.now(UTC)


class TZDateTime(TypeDecorator[datetime]):
    """A point in time, stored in UTC and always returned timezone-aware in UTC.

    SQLite has no time zones: its DATETIME drops ``tzinfo`` silently, so an aware local time would come back
    as a different instant. Converting to UTC on the way in and labelling UTC on the way out makes both
    backends behave the same. A naive datetime is ambiguous (local? UTC?) and is refused outright.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, not {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} refused: give it a time zone (UTC)")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


#: Surrogate keys of the high-volume tables. SQLite only autoincrements an INTEGER PRIMARY KEY (the rowid),
#: which is 64-bit there anyway.
BigIntId = BigInteger().with_variant(Integer(), "sqlite")

#: JSON documents; JSONB on PostgreSQL (comparable, compact), JSON text elsewhere.
JSONDocument = JSON().with_variant(JSONB(), "postgresql")


def one_of(column: str, values: Iterable[str]) -> str:
    """SQL for a CHECK that ``column`` holds one of ``values`` (NULL passes, as for every CHECK)."""
    quoted = ", ".join("'" + value.replace("'", "''") + "'" for value in values)
    return f"{column} IN ({quoted})"


def values_of(enum: Iterable[Any]) -> list[str]:
    """The stored values of a ``StrEnum``, in definition order."""
    return [str(member) for member in enum]
