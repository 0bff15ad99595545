"""The SPC demo ward: 30 weeks of OASI checklists made through the lifecycle whose all-or-none chart is
Montgomery's orange-juice p-chart (qcc 2.7, github.com/cran/qcc commit
11b6ecef027c315ed547e4749949ee3a7eed502c: centre 0.2313, UCL 0.4102, LCL 0.0524, samples 15 and 23 beyond
the upper limit), shown as compliance: 1 - p."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.care_bundles import CareBundleCatalogue
from service.compliance.counts import Measure, MeasureKind
from service.compliance.report import ReportRequest, build_report
from service.demo import load_demo_data
from service.demo_spc import (
    CHECKLISTS_PER_WEEK,
    ORANGE_JUICE_NONCONFORMING,
    PUBLISHED_CENTRE,
    PUBLISHED_LCL,
    PUBLISHED_SIGNALS,
    PUBLISHED_UCL,
    SPC_CARE_BUNDLE,
    SPC_UNIT_CODE,
    WEEKS,
    load_spc_weeks,
    spc_checklists,
    spc_weeks,
)
from service.models import Checklist, ChecklistStatus, Delivery, Unit, User
from service.spc import Rule, SignalType
from tests.service.spc.test_published_pcharts import ORANGE_JUICE_TRIAL

#: A Wednesday in March, so the 30 weeks cross the end of British Summer Time (26 October 2025).
NOW = dt.datetime(2026, 3, 4, 9, 0, tzinfo=dt.UTC)


def test_the_weeks_are_the_published_table_and_end_before_this_week() -> None:
    assert list(ORANGE_JUICE_NONCONFORMING) == ORANGE_JUICE_TRIAL
    weeks = spc_weeks(dt.date(2026, 3, 4))
    assert len(weeks) == WEEKS == 30
    assert weeks[-1] == dt.date(2026, 2, 23)  # the week before the Monday of "today"
    assert all(monday.weekday() == 0 for monday in weeks)
    assert spc_weeks(dt.date(2026, 3, 2)) == weeks  # a Monday: its own week is not over yet


def test_each_week_has_its_nonconforming_count_and_distinct_patients() -> None:
    patients = set()
    for week, monday in enumerate(spc_weeks(dt.date(2026, 3, 4))):
        checklists = spc_checklists(week, monday)
        assert len(checklists) == CHECKLISTS_PER_WEEK
        local_days = {c.birth.astimezone(dt.UTC).date() for c in checklists}
        assert min(local_days) >= monday
        assert max(c.birth for c in checklists) + dt.timedelta(hours=6) < NOW
        patients |= {c.patient for c in checklists}
    assert len(patients) == WEEKS * CHECKLISTS_PER_WEEK


def test_the_demo_chart_of_the_spc_ward_gives_the_published_limits_and_signals(
    app: Flask, session: Session
) -> None:
    catalogue: CareBundleCatalogue = app.extensions["care_bundle_catalogue"]
    load_demo_data(session)
    assert load_spc_weeks(session, catalogue, NOW) == WEEKS * CHECKLISTS_PER_WEEK
    unit = session.scalars(select(Unit).where(Unit.code == SPC_UNIT_CODE)).one()
    assert unit.offered_version(SPC_CARE_BUNDLE) == "2.0.0"
    qilead = session.scalars(select(User).where(User.username == "qilead")).one()
    assert unit in qilead.units
    stored = session.scalars(select(Checklist).where(Checklist.unit_id == unit.id)).all()
    assert {checklist.status for checklist in stored} == {ChecklistStatus.COMPLETED}
    assert len({checklist.episode_key for checklist in stored}) == len(stored)  # no possible duplicates
    # Sent as by the unit's EHR form: nothing is queued for the demo EHR (no echo).
    assert session.scalar(select(func.count()).select_from(Delivery)) == 0

    weeks = spc_weeks(NOW.date())
    report = build_report(
        session,
        catalogue,
        ReportRequest(
            care_bundle_id=SPC_CARE_BUNDLE,
            measure=Measure(MeasureKind.COMPOSITE, SPC_CARE_BUNDLE),
            unit_ids=(unit.id,),
            first=weeks[0],
            last=weeks[-1] + dt.timedelta(days=6),
        ),
        NOW.date(),
    )

    assert [period.period.start for period in report.periods] == weeks
    assert [period.denominator for period in report.periods] == [CHECKLISTS_PER_WEEK] * WEEKS
    assert [CHECKLISTS_PER_WEEK - period.numerator for period in report.periods] == ORANGE_JUICE_TRIAL
    assert not any(period.incomplete or period.duplicates for period in report.periods)
    # Compliance is 1 - p: centre 1 - 0.2313, limits 1 - 0.4102 and 1 - 0.0524.
    for point in report.chart.points:
        assert point.centre == pytest.approx(1 - PUBLISHED_CENTRE, abs=5e-5)
        assert point.centre == pytest.approx(0.7687, abs=5e-5)
        assert point.lower_3sigma == pytest.approx(1 - PUBLISHED_UCL, abs=5e-5)
        assert point.lower_3sigma == pytest.approx(0.5898, abs=5e-5)
        assert point.upper_3sigma == pytest.approx(1 - PUBLISHED_LCL, abs=5e-5)
        assert point.upper_3sigma == pytest.approx(0.9476, abs=5e-5)
    beyond = [point.index + 1 for point in report.chart.points if point.rule is Rule.OUTSIDE_LIMITS]
    assert beyond == list(PUBLISHED_SIGNALS) == [15, 23]
    assert {report.chart.points[i - 1].signal for i in beyond} == {SignalType.CONCERN}

    # Idempotent, and a load weeks later keeps the weeks of the first (the table is never shifted).
    assert load_spc_weeks(session, catalogue, NOW) == 0
    assert load_spc_weeks(session, catalogue, NOW + dt.timedelta(weeks=9)) == 0
