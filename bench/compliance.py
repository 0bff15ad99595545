"""Compliance reports at scale (issue 11, item 5): ``python -m bench.compliance [--checklists 1000000]``.

A new PostgreSQL database (created and dropped; ``--keep`` keeps it, ``--reuse URL`` measures a kept one
again) is migrated and filled by ``flask demo generate``'s generator, then VACUUM ANALYZE. In the same run,
interleaved, it times a two-year weekly all-or-none chart of the OASI care bundle (``build_report``: counts,
duplicates, open checklists, versions in use and the p-chart) for the largest unit and for its whole trust
(4 units), and the bare SQL ``GROUP BY`` over the raw stored outcomes that gives the same weekly counts
(checked equal). Prints p50/p95, the ratios and the goals (p95 at most 200 ms, ratio at most 1.5), each
statement the report runs, and EXPLAIN (ANALYZE, BUFFERS) of the slowest. Exit 0 either way.
"""

from __future__ import annotations

import argparse
import datetime as dt
import secrets
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from flask_migrate import upgrade
from sqlalchemy import select

from bench._compliance_queries import (
    bare_counts,
    captured,
    explain,
    report_counts,
    report_range,
    request,
)
from bench.ward import percentile
from service import create_app
from service.care_bundles import CareBundleCatalogue
from service.compliance.report import build_report
from service.demo_generate import generate, site_code
from service.extensions import db
from service.models import Site, Unit

GOAL_P95_MS = 200.0
GOAL_RATIO = 1.5


@contextmanager
def database(server_url: str, keep: bool) -> Iterator[str]:
    """A new database on the server of ``server_url``; dropped on the way out unless ``keep``."""
    name = f"careloop_bench_compliance_{secrets.token_hex(4)}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
    try:
        yield url
    finally:
        if keep:
            print(f"kept the database: --reuse {url}")
        else:
            with psycopg.connect(server_url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fill(catalogue: CareBundleCatalogue, count: int, seed: int) -> float:
    """Migrate and generate ``count`` checklists (a line of progress per 10 %); seconds taken."""
    upgrade()
    started = time.perf_counter()
    written = 0

    def batch_done(rows: int) -> None:
        nonlocal written
        db.session.commit()
        before, written = written, written + rows
        if written * 10 // count > before * 10 // count:
            print(f"  {written:>9,} checklists, {time.perf_counter() - started:5.0f} s", flush=True)

    generate(db.session, catalogue, count, seed=seed, end=dt.datetime.now(dt.UTC), batch_done=batch_done)
    db.session.commit()
    return time.perf_counter() - started


def vacuum_analyze(url: str) -> None:
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def time_ms(work: Callable[[], Any]) -> float:
    started = time.perf_counter()
    work()
    return (time.perf_counter() - started) * 1000


def measure(
    catalogue: CareBundleCatalogue, scopes: dict[str, tuple[int, ...]], today: dt.date, repeat: int
) -> dict[str, list[float]]:
    """Each scope's report and bare query, interleaved, ``repeat`` times after a warm-up; milliseconds.
    Checks first that both give the same weekly counts."""
    work: dict[str, Callable[[], Any]] = {}
    for label, unit_ids in scopes.items():
        wanted = request(unit_ids, today)
        result = build_report(db.session, catalogue, wanted, today)
        first, last = report_range(result)
        bare = bare_counts(db.session, wanted, first, last)
        if bare != report_counts(result):
            raise SystemExit(f"{label}: the bare query's counts differ from the report's")
        weeks = len(result.periods)
        checklists = sum(period.denominator for period in result.periods)
        print(f"{label}: {weeks} weeks, {checklists:,} counted checklists; counts equal to the bare query's")
        work[f"{label}: build_report"] = partial(build_report, db.session, catalogue, wanted, today)
        work[f"{label}: bare GROUP BY"] = partial(bare_counts, db.session, wanted, first, last)
    times: dict[str, list[float]] = {name: [] for name in work}
    for _ in range(3):
        for run in work.values():
            run()
    for _ in range(repeat):
        for name, run in work.items():
            times[name].append(time_ms(run))
            db.session.rollback()  # no long-lived snapshot: each run reads as a request would
    return times


def report(times: dict[str, list[float]], scopes: Sequence[str]) -> None:
    print(f"\n{'':<34}{'p50 ms':>9}{'p95 ms':>9}")
    for name, values in times.items():
        print(f"{name:<34}{percentile(values, 50):>9.1f}{percentile(values, 95):>9.1f}")
    print()
    for label in scopes:
        built = times[f"{label}: build_report"]
        bare = times[f"{label}: bare GROUP BY"]
        p95 = percentile(built, 95)
        ratio = p95 / percentile(bare, 95)
        ratio50 = percentile(built, 50) / percentile(bare, 50)
        verdict = "met" if p95 <= GOAL_P95_MS else "MISSED"
        print(
            f"{label}: p95 {p95:.1f} ms (goal <= {GOAL_P95_MS:.0f}): {verdict}; "
            f"ratio to the bare query p95 {ratio:.2f} (p50 {ratio50:.2f}; goal <= {GOAL_RATIO}): "
            f"{'met' if ratio <= GOAL_RATIO else 'MISSED'}"
        )


def show_statements(catalogue: CareBundleCatalogue, unit_ids: tuple[int, ...], today: dt.date) -> None:
    """Each statement one report runs, with its time, then the plan of the slowest."""
    engine = db.engine
    wanted = request(unit_ids, today)
    with captured(engine) as statements:
        build_report(db.session, catalogue, wanted, today)
    print("\nstatements of one build_report (site):")
    for statement, _, elapsed in statements.seen:
        print(f"  {elapsed:7.1f} ms  {' '.join(statement.split())[:110]}")
    slowest, parameters, _ = statements.slowest()
    print("\nEXPLAIN (ANALYZE, BUFFERS) of the slowest:")
    for line in explain(db.session.connection(), slowest, parameters):
        print(f"  {line}")
    first, last = report_range(build_report(db.session, catalogue, wanted, today))
    with captured(engine) as statements:
        bare_counts(db.session, wanted, first, last)
    statement, parameters, _ = statements.seen[-1]
    print("\nEXPLAIN (ANALYZE, BUFFERS) of the bare GROUP BY (site):")
    for line in explain(db.session.connection(), statement, parameters):
        print(f"  {line}")
    db.session.rollback()


def scopes_of_largest_site() -> dict[str, tuple[int, ...]]:
    site = db.session.scalars(select(Site).where(Site.code == site_code(1))).one()
    units = sorted(site.units, key=lambda unit: unit.id)
    labour_ward = next(unit for unit in units if unit.code == "labour-ward")
    return {
        f"unit ({site.code} {labour_ward.name})": (labour_ward.id,),
        f"site ({site.code}, {len(units)} units)": tuple(unit.id for unit in units),
    }


def run(url: str, options: argparse.Namespace, generate_data: bool) -> None:
    settings = {"ENV": "testing", "SECRET_KEY": "bench", "DATABASE_URL": url}
    app = create_app(settings)
    with app.app_context():
        catalogue: CareBundleCatalogue = app.extensions["care_bundle_catalogue"]
        try:
            if generate_data:
                print(f"generating {options.checklists:,} checklists (flask demo generate's generator)")
                seconds = fill(catalogue, options.checklists, options.seed)
                print(f"generated in {seconds:.0f} s ({options.checklists / seconds:,.0f} checklists/s)")
            started = time.perf_counter()
            vacuum_analyze(url)
            print(f"VACUUM ANALYZE in {time.perf_counter() - started:.0f} s")
            stored = db.session.scalar(select(db.func.count()).select_from(Unit))
            print(f"{stored} units")
            scopes = scopes_of_largest_site()
            today = dt.datetime.now(dt.UTC).date()
            times = measure(catalogue, scopes, today, options.repeat)
            report(times, list(scopes))
            show_statements(catalogue, list(scopes.values())[1], today)
        finally:
            db.session.remove()
            db.engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--checklists", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=50, help="timed runs of each query (default 50)")
    parser.add_argument(
        "--postgres",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="a maintenance database URL of the server to create the throwaway database on",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database (prints its URL)")
    parser.add_argument("--reuse", metavar="URL", help="measure a database kept by --keep; no generation")
    options = parser.parse_args(argv)
    if options.reuse:
        run(options.reuse, options, generate_data=False)
        return 0
    with database(options.postgres, options.keep) as url:
        run(url, options, generate_data=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
