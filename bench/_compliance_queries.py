"""What ``bench.compliance`` measures: a report by ``build_report``, and the bare SQL that gives its counts.

The bare query is what a hand-written chart would run: one ``GROUP BY`` of the week and the stored
all-or-none result over the raw rows of ``checklist`` and ``composite_outcome``, counting each possible
duplicate once (the one completed last, as decision 0012 says: ``DISTINCT ON`` on PostgreSQL). It needs no
Python beyond reading the rows; ``build_report`` adds the duplicates, the open checklists, the versions in
use and the SPC chart.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, event, text
from sqlalchemy.engine import Connection, Engine

from service.compliance.counts import AnySession, Measure, MeasureKind
from service.compliance.report import Report, ReportRequest

OASI = "oasi-care-bundle"
ALL_OR_NONE = Measure(MeasureKind.COMPOSITE, OASI)

_POSTGRESQL = """
SELECT date_trunc('week', k.anchor_date)::date AS week, o.compliant, count(*)
FROM (
    SELECT DISTINCT ON (c.episode_key) c.id, c.anchor_date
    FROM checklist c
    WHERE c.care_bundle_id = :care_bundle AND c.unit_id IN :units
      AND c.anchor_date BETWEEN :first AND :last AND c.status IN ('completed', 'amended')
    ORDER BY c.episode_key, c.completed_at DESC, c.id DESC
) k
JOIN composite_outcome o ON o.checklist_id = k.id AND o.composite_id = :composite
GROUP BY 1, 2
"""
# SQLite (the smoke test): the same counts with a window function; weeks from Monday.
_SQLITE = """
SELECT date(k.anchor_date, '-' || ((CAST(strftime('%w', k.anchor_date) AS INTEGER) + 6) % 7) || ' days'),
       o.compliant, count(*)
FROM (
    SELECT c.id, c.anchor_date, row_number() OVER (
        PARTITION BY c.episode_key ORDER BY c.completed_at DESC, c.id DESC) AS rank
    FROM checklist c
    WHERE c.care_bundle_id = :care_bundle AND c.unit_id IN :units
      AND c.anchor_date BETWEEN :first AND :last AND c.status IN ('completed', 'amended')
) k
JOIN composite_outcome o ON o.checklist_id = k.id AND o.composite_id = :composite
WHERE k.rank = 1
GROUP BY 1, 2
"""


def bare_sql(dialect: str) -> Any:
    statement = text(_POSTGRESQL if dialect == "postgresql" else _SQLITE)
    return statement.bindparams(bindparam("units", expanding=True))


def request(unit_ids: tuple[int, ...], today: dt.date, years: int = 2) -> ReportRequest:
    """A weekly all-or-none chart of the ``years`` up to ``today``."""
    return ReportRequest(
        care_bundle_id=OASI,
        measure=ALL_OR_NONE,
        unit_ids=unit_ids,
        first=today - dt.timedelta(days=365 * years),
        last=today,
    )


Counts = dict[dt.date, tuple[int, int]]


def bare_counts(session: AnySession, wanted: ReportRequest, first: dt.date, last: dt.date) -> Counts:
    """Per week (its Monday): numerator (compliant) and denominator (compliant + not compliant)."""
    bind = session.get_bind()
    rows = session.execute(
        bare_sql(bind.dialect.name),
        {
            "care_bundle": wanted.care_bundle_id,
            "units": list(wanted.unit_ids),
            "first": first,
            "last": last,
            "composite": wanted.measure.id,
        },
    )
    found: dict[dt.date, list[int]] = {}
    for week, compliant, number in rows:
        day = week if isinstance(week, dt.date) else dt.date.fromisoformat(week)
        tally = found.setdefault(day, [0, 0])
        if compliant is not None:
            tally[1] += number
            tally[0] += number if compliant else 0
    return {day: (tally[0], tally[1]) for day, tally in found.items() if tally[1]}


def report_counts(result: Report) -> Counts:
    return {
        period.period.start: (period.numerator, period.denominator)
        for period in result.periods
        if period.denominator
    }


def report_range(result: Report) -> tuple[dt.date, dt.date]:
    """The local dates the report counted (whole weeks)."""
    return result.periods[0].period.start, result.periods[-1].period.end - dt.timedelta(days=1)


@dataclass
class Statements:
    """The SQL statements run while capturing, with their parameters and milliseconds."""

    seen: list[tuple[str, Any, float]] = field(default_factory=list)

    def slowest(self) -> tuple[str, Any, float]:
        return max(self.seen, key=lambda item: item[2])


@contextmanager
def captured(engine: Engine) -> Iterator[Statements]:
    """Record every statement ``engine`` runs inside the block."""
    found = Statements()
    started: dict[int, float] = {}

    def before(
        conn: Connection, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        started[id(cursor)] = time.perf_counter()

    def after(
        conn: Connection, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        elapsed = (time.perf_counter() - started.pop(id(cursor), time.perf_counter())) * 1000
        found.seen.append((statement, parameters, elapsed))

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield found
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


def explain(connection: Connection, statement: str, parameters: Any) -> list[str]:
    """EXPLAIN (ANALYZE, BUFFERS) of a statement as the driver ran it (PostgreSQL)."""
    rows = connection.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", parameters)
    return [row[0] for row in rows]
