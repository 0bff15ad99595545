"""Follow-up measures in reports (issue 11, "across-checklist measure"): each patient judged over their
checklists by ``judge_follow_up``, counted in the period of their baseline; through the report builder, the
API and its drill-down."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from service.care_bundles import CareBundleCatalogue
from service.checklists.lifecycle import Actor, complete, start
from service.compliance.counts import Measure, MeasureKind, Scope
from service.compliance.periods import Interval
from service.compliance.report import ReportRequest, build_report, count_any, measures_of
from service.errors import InvalidInput
from service.models import Role, Unit
from tests.factories import make_member, make_unit_offering

SHAREHD = "sharehd"
REACHED = Measure(MeasureKind.FOLLOW_UP, "reached-five-tasks")
MONDAY = dt.date(2025, 9, 1)
TODAY = dt.date(2026, 6, 1)


@pytest.fixture
def renal(session: Session) -> Unit:
    return make_unit_offering(session, SHAREHD, code="renal")


@pytest.fixture
def renal_nurse(session: Session, renal: Unit) -> Actor:
    return Actor(user_id=make_member(session, "renal-nurse", renal).id, unit_ids=frozenset({renal.id}))


def review(
    session: Session,
    catalogue: CareBundleCatalogue,
    nurse: Actor,
    unit: Unit,
    when: dt.datetime,
    patient: str,
    tasks: int,
) -> None:
    """A completed SHAREHD review of ``patient`` at ``when`` recording ``tasks`` tasks performed."""
    checklist = start(
        session,
        catalogue,
        nurse,
        checklist_id=uuid.uuid4(),
        care_bundle_id=SHAREHD,
        version=None,
        unit=unit,
        patient_kind="local",
        patient_value=patient,
        patient_system="https://trust.example/Id/mrn",
        encounter=None,
        anchor_time=when,
        now=when,
    )
    answers: dict[str, list[Any]] = {
        "review-time": [when],
        "in-centre-hd-adult": ["yes"],
        "shc-offered": ["offered-taken-up"],
        "first-shc-review": ["yes"],
        "learning-preference": ["Watching a nurse, then practising"],
        "tasks": [{"task-name": ["Self-cannulation"], "task-status": ["training"]}],
        "tasks-performed-recorded": ["recorded"],
        "tasks-performed": [tasks],
        "home-hd-started": ["no"],
        "questionnaires-due": ["no"],
    }
    complete(
        session, catalogue, nurse, checklist.id, base_version=checklist.version, answers=answers, now=when
    )


def at(day: dt.date, weeks: int = 0) -> dt.datetime:
    return dt.datetime.combine(day + dt.timedelta(weeks=weeks), dt.time(10), tzinfo=dt.UTC)


@pytest.fixture
def patients(session: Session, catalogue: CareBundleCatalogue, renal_nurse: Actor, renal: Unit) -> Unit:
    """Week 1 baselines: A 3 -> 6 tasks (met), B 2 -> 4 (not met), C 7 (outside: 5 or more already),
    D 1 and no review since (missing). Week 2 baseline: E 4 -> 5 (met)."""
    for patient, counts in {"A": [3, 6], "B": [2, 4], "C": [7, 9], "D": [1]}.items():
        for number, tasks in enumerate(counts):
            review(session, catalogue, renal_nurse, renal, at(MONDAY, 8 * number), patient, tasks)
    review(session, catalogue, renal_nurse, renal, at(MONDAY, 1), "E", 4)
    review(session, catalogue, renal_nurse, renal, at(MONDAY, 20), "E", 5)
    session.commit()
    return renal


def test_each_patient_counts_in_the_period_of_their_baseline(
    session: Session, catalogue: CareBundleCatalogue, patients: Unit
) -> None:
    assert REACHED in {info.measure for info in measures_of(catalogue, SHAREHD)}
    week1, week2, *later = count_any(
        session,
        catalogue,
        Scope(SHAREHD, (patients.id,)),
        REACHED,
        first=MONDAY,
        last=MONDAY + dt.timedelta(weeks=9),
        interval=Interval.WEEK,
        today=TODAY,
    )
    assert (week1.met, week1.not_met, week1.missing, week1.denominator) == (1, 1, 1, 3)
    assert week1.not_applicable == {"baseline outside the measure's population": 1}
    assert week1.incomplete  # D's follow-up may still come
    assert (week2.numerator, week2.denominator, week2.incomplete) == (1, 1, False)
    assert all(period.denominator == 0 for period in later)  # follow-ups count in the baseline's week


def test_a_follow_up_report_charts_and_drills_down_through_the_api(
    client: FlaskClient,
    session: Session,
    catalogue: CareBundleCatalogue,
    patients: Unit,
    make_user: Callable[..., Any],
    sign_in: Callable[..., Any],
) -> None:
    report = build_report(
        session,
        catalogue,
        ReportRequest(SHAREHD, REACHED, (patients.id,), MONDAY, MONDAY + dt.timedelta(days=13)),
        TODAY,
    )
    assert [point.numerator for point in report.chart.points] == [1, 1]
    make_user("quinn", role=Role.QI_LEAD, units=[patients])
    session.commit()
    sign_in("quinn")
    query = {
        "care_bundle": SHAREHD,
        "measure": "follow-up:reached-five-tasks",
        "unit": f"{patients.site.code}/{patients.code}",
        "from": MONDAY.isoformat(),
        "to": (MONDAY + dt.timedelta(days=13)).isoformat(),
    }
    answer = client.get("/api/compliance/report", query_string=query)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert [(p["numerator"], p["denominator"]) for p in answer.get_json()["periods"]] == [(1, 3), (1, 1)]
    behind = client.get("/api/compliance/checklists", query_string={**query, "period": MONDAY.isoformat()})
    assert behind.status_code == 200, behind.get_data(as_text=True)
    outcomes = sorted(row["outcome"] for row in behind.get_json()["checklists"])
    assert outcomes == ["met", "missing", "not-applicable", "not-met"]  # one baseline per patient


def test_an_unknown_follow_up_measure_is_refused(
    session: Session, catalogue: CareBundleCatalogue, renal: Unit
) -> None:
    with pytest.raises(InvalidInput):
        count_any(
            session,
            catalogue,
            Scope(SHAREHD, (renal.id,)),
            Measure(MeasureKind.FOLLOW_UP, "no-such-measure"),
            first=MONDAY,
            last=MONDAY,
            interval=Interval.WEEK,
            today=TODAY,
        )
