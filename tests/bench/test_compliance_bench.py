"""The parts of ``bench.compliance`` and ``flask demo generate`` that need no big database: a few thousand
generated checklists in the test database, the report and the bare query giving the same weekly counts,
the generated rows matching what the lifecycle stores, statement capture. No timing assertions."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bench import _compliance_queries as queries
from bench.compliance import scopes_of_largest_site
from service.care_bundles import CareBundleCatalogue
from service.compliance.report import build_report
from service.demo_generate import DAYS, SHIFTS, UNITS, generate, weekly_logits
from service.demo_templates import HIP_FRACTURE, OASI, judged_templates
from service.models import Checklist, ChecklistStatus, CompositeResult, ElementOutcome, RuleResult

END = dt.datetime(2026, 3, 4, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def catalogue(app: Flask) -> CareBundleCatalogue:
    found: CareBundleCatalogue = app.extensions["care_bundle_catalogue"]
    return found


def test_generated_checklists_give_the_bare_querys_counts(
    session: Session, catalogue: CareBundleCatalogue
) -> None:
    batches: list[int] = []
    units = generate(session, catalogue, 3000, seed=7, end=END, batch_size=1000, batch_done=batches.append)

    assert batches == [1000, 1000, 1000]
    assert len(units) == 20
    assert len({unit.site for unit in units}) == 5
    assert session.scalar(select(func.count()).select_from(Checklist)) == 3000
    statuses = dict(session.execute(select(Checklist.status, func.count()).group_by(Checklist.status)).all())
    assert statuses[ChecklistStatus.COMPLETED] > 2700
    earliest = session.scalar(select(func.min(Checklist.anchor_date)))
    assert earliest is not None
    assert earliest >= (END - dt.timedelta(days=DAYS)).date()
    assert session.scalar(select(func.count()).where(Checklist.episode_key.is_(None))) == 0
    hip = session.scalar(select(func.count()).select_from(RuleResult))
    assert hip
    assert session.scalar(select(func.count()).select_from(ElementOutcome))
    assert (session.scalar(select(func.count()).select_from(CompositeResult)) or 0) >= 3000

    for label, unit_ids in scopes_of_largest_site().items():
        wanted = queries.request(unit_ids, END.date())
        result = build_report(session, catalogue, wanted, END.date())
        first, last = queries.report_range(result)
        bare = queries.bare_counts(session, wanted, first, last)
        assert bare == queries.report_counts(result), label
        assert sum(denominator for _, denominator in bare.values()) > 100, label


def test_templates_are_judged_where_they_are_filed(catalogue: CareBundleCatalogue) -> None:
    oasi = judged_templates(catalogue, OASI)
    assert {t.compliant for t in oasi.compliant} == {True}
    assert {t.compliant for t in oasi.not_compliant} == {False}
    assert {t.compliant for t in oasi.outside} == {None}
    assert oasi.started.status == ChecklistStatus.IN_PROGRESS
    assert oasi.started.compliant is None
    hip = judged_templates(catalogue, HIP_FRACTURE)
    assert all(t.rules for t in hip.compliant)  # the timing rules, due times as offsets from the anchor
    assert all(due is not None for t in hip.compliant for *_, due, _status in t.rules)


def test_drift_shifts_the_units_named_and_no_other() -> None:
    import random

    start = (END - dt.timedelta(days=DAYS)).date()
    shifted = {(shift.site, shift.unit) for shift in SHIFTS}
    assert shifted <= {(site, code) for site in range(1, 6) for code, *_ in UNITS}
    logits = weekly_logits(random.Random(1), 1, "labour-ward", start, 160)
    before, after = logits[60:70], logits[-10:]
    assert sum(after) / 10 > sum(before) / 10  # GEN1's labour ward improved 18 months before the end


def test_statements_are_captured(app: Flask, session: Session) -> None:
    from service.extensions import db

    with queries.captured(db.engine) as statements:
        session.execute(select(func.count()).select_from(Checklist))
    assert statements.seen
    assert statements.slowest()[0].lower().startswith("select")


def test_demo_generate_refuses_production_and_a_second_run(
    app: Flask, runner: FlaskCliRunner, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "ENV", "production")
    refused = runner.invoke(args=["demo", "generate", "--checklists", "10"])
    assert refused.exit_code == 1
    assert "CARELOOP_ENV=development" in refused.output
    monkeypatch.setitem(app.config, "ENV", "testing")
    assert runner.invoke(args=["demo", "generate", "--checklists", "50"]).exit_code == 0
    again = runner.invoke(args=["demo", "generate", "--checklists", "10"])
    assert again.exit_code == 1
    assert "GEN1 exists" in again.output
