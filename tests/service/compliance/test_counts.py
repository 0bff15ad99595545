"""Compliance counts per period from stored outcomes (decision 0012), on checklists made through the
lifecycle: all-or-none, element and timing rule measures; weeks and months of London dates; duplicates
counted once; entered-in-error and in-progress checklists left out; open periods flagged."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from sqlalchemy.orm import Session

from service.care_bundles import CareBundleCatalogue
from service.checklists.lifecycle import Actor, complete, mark_entered_in_error, start
from service.compliance.counts import Measure, MeasureKind, Scope, checklists_behind, count_measure
from service.compliance.periods import Interval, Period, periods_covering
from service.errors import InvalidInput
from service.models import Checklist, Unit
from tests.factories import make_unit_offering, oasi_answers

UTC = dt.UTC
OASI = "oasi-care-bundle"
MRN = "https://trust.example/Id/mrn"
#: Monday 2 March 2026 (GMT) and the weeks after it.
MONDAY = dt.date(2026, 3, 2)
TODAY = dt.date(2026, 6, 1)
ALL_OR_NONE = Measure(MeasureKind.COMPOSITE, OASI)
MPP = Measure(MeasureKind.ELEMENT, "mpp")


def birth_on(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=UTC)


def record(
    session: Session,
    catalogue: CareBundleCatalogue,
    nurse: Actor,
    unit: Unit,
    birth: dt.datetime,
    *,
    patient: str,
    finish: bool = True,
    completed: dt.datetime | None = None,
    encounter: str | None = None,
    **changes: Any,
) -> Checklist:
    """An OASI 2.0.0 checklist of ``birth``, started and (``finish``) completed through the lifecycle."""
    now = completed or birth + dt.timedelta(hours=6)
    checklist = start(
        session,
        catalogue,
        nurse,
        checklist_id=uuid.uuid4(),
        care_bundle_id=OASI,
        version="2.0.0",
        unit=unit,
        patient_kind="local",
        patient_value=patient,
        patient_system=MRN,
        encounter=encounter,
        anchor_time=birth,
        now=now,
    )
    if finish:
        checklist = complete(
            session,
            catalogue,
            nurse,
            checklist.id,
            base_version=checklist.version,
            answers=oasi_answers(birth_time=birth, **changes),
            now=now,
        )
    session.flush()
    return checklist


def counts(
    session: Session, unit: Unit, measure: Measure, interval: Interval = Interval.WEEK, **scope: Any
) -> list[Any]:
    return count_measure(
        session,
        Scope(OASI, (unit.id,), **scope),
        measure,
        first=MONDAY,
        last=MONDAY + dt.timedelta(days=20),
        interval=interval,
        today=TODAY,
    )


def test_all_or_none_per_week_with_duplicates_errors_and_open_checklists(
    session: Session, catalogue: CareBundleCatalogue, nurse: Actor, unit: Unit
) -> None:
    week1, week2 = MONDAY, MONDAY + dt.timedelta(days=7)
    record(session, catalogue, nurse, unit, birth_on(week1), patient="A")
    record(
        session,
        catalogue,
        nurse,
        unit,
        birth_on(week1 + dt.timedelta(days=1)),
        patient="B",
        mpp="no",
        mpp_not_used_reason="other",
    )
    record(
        session,
        catalogue,
        nurse,
        unit,
        birth_on(week1 + dt.timedelta(days=2)),
        patient="C",
        birth_mode="caesarean",
    )
    # The same patient and day entered twice (no encounter): counted once, the one completed last.
    record(
        session,
        catalogue,
        nurse,
        unit,
        birth_on(week1 + dt.timedelta(days=6), 8),
        patient="D",
        mpp="no",
        mpp_not_used_reason="other",
    )
    record(
        session,
        catalogue,
        nurse,
        unit,
        birth_on(week1 + dt.timedelta(days=6), 9),
        patient="D",
        completed=birth_on(week1 + dt.timedelta(days=6), 20),
    )
    wrong = record(session, catalogue, nurse, unit, birth_on(week2), patient="E")
    mark_entered_in_error(
        session,
        catalogue,
        nurse,
        wrong.id,
        base_version=wrong.version,
        reason="wrong patient",
        now=birth_on(week2, 18),
    )
    record(session, catalogue, nurse, unit, birth_on(week2 + dt.timedelta(days=1)), patient="F", finish=False)
    other_unit = make_unit_offering(session, OASI, code="ward-2")
    other = Actor(user_id=nurse.user_id, unit_ids=frozenset({other_unit.id}))
    record(
        session,
        catalogue,
        other,
        other_unit,
        birth_on(week1),
        patient="G",
        mpp="no",
        mpp_not_used_reason="other",
    )

    first, second, third = counts(session, unit, ALL_OR_NONE)

    assert [period.period.start for period in (first, second, third)] == [
        week1,
        week2,
        week2 + dt.timedelta(days=7),
    ]
    assert (first.numerator, first.denominator, first.outside, first.duplicates) == (2, 3, 1, 1)
    assert first.proportion == pytest.approx(2 / 3)
    assert not first.incomplete
    assert (second.numerator, second.denominator, second.open, second.incomplete) == (0, 0, 1, True)
    assert (third.denominator, third.incomplete) == (0, False)

    behind = checklists_behind(session, Scope(OASI, (unit.id,)), ALL_OR_NONE, first.period)
    assert [(row.outcome, row.duplicate) for row in behind] == [
        ("met", False),
        ("not-met", False),
        ("outside", False),
        ("not-met", True),  # D's first entry, set aside
        ("met", False),
    ]


def test_an_element_counts_met_not_met_missing_and_not_applicable_by_reason(
    session: Session, catalogue: CareBundleCatalogue, nurse: Actor, unit: Unit
) -> None:
    record(session, catalogue, nurse, unit, birth_on(MONDAY), patient="A")
    record(
        session, catalogue, nurse, unit, birth_on(MONDAY), patient="B", mpp="no", mpp_not_used_reason="other"
    )
    record(session, catalogue, nurse, unit, birth_on(MONDAY), patient="C", mpp="declined")
    record(session, catalogue, nurse, unit, birth_on(MONDAY), patient="D", birth_mode="caesarean")

    (week, *_) = counts(session, unit, MPP)

    assert (week.met, week.not_met, week.missing, week.numerator, week.denominator) == (1, 1, 0, 1, 2)
    assert sum(week.not_applicable.values()) == 2
    assert len(week.not_applicable) == 2  # a documented exception and a disabled element: two reasons


def test_months_fold_the_days_of_london_dates(
    session: Session, catalogue: CareBundleCatalogue, nurse: Actor, unit: Unit
) -> None:
    # 23:30 UTC on 31 March 2026 is 00:30 on 1 April in London (BST): April's.
    record(session, catalogue, nurse, unit, dt.datetime(2026, 3, 31, 23, 30, tzinfo=UTC), patient="A")
    record(session, catalogue, nurse, unit, dt.datetime(2026, 3, 3, 12, 0, tzinfo=UTC), patient="B")

    march, april = count_measure(
        session,
        Scope(OASI, (unit.id,)),
        ALL_OR_NONE,
        first=dt.date(2026, 3, 1),
        last=dt.date(2026, 4, 30),
        interval=Interval.MONTH,
        today=TODAY,
    )
    assert (march.period.label, march.denominator) == ("2026-03", 1)
    assert (april.period.label, april.denominator) == ("2026-04", 1)


def test_a_version_filter_and_an_empty_scope(
    session: Session, catalogue: CareBundleCatalogue, nurse: Actor, unit: Unit
) -> None:
    record(session, catalogue, nurse, unit, birth_on(MONDAY), patient="A")
    assert counts(session, unit, ALL_OR_NONE, versions=("1.0.0",))[0].denominator == 0
    assert counts(session, unit, ALL_OR_NONE, versions=("2.0.0",))[0].denominator == 1
    empty = count_measure(
        session, Scope(OASI, ()), ALL_OR_NONE, first=MONDAY, last=MONDAY, interval=Interval.WEEK, today=MONDAY
    )
    assert [(period.denominator, period.incomplete) for period in empty] == [(0, True)]


def test_periods_are_whole_weeks_from_monday_or_months() -> None:
    weeks = periods_covering(dt.date(2026, 3, 4), dt.date(2026, 3, 16), Interval.WEEK)
    assert [(period.start, period.end) for period in weeks] == [
        (dt.date(2026, 3, 2), dt.date(2026, 3, 9)),
        (dt.date(2026, 3, 9), dt.date(2026, 3, 16)),
        (dt.date(2026, 3, 16), dt.date(2026, 3, 23)),
    ]
    months = periods_covering(dt.date(2025, 12, 31), dt.date(2026, 2, 1), Interval.MONTH)
    assert [period.label for period in months] == ["2025-12", "2026-01", "2026-02"]
    assert months[1] == Period(dt.date(2026, 1, 1), dt.date(2026, 2, 1), Interval.MONTH)
    with pytest.raises(InvalidInput):
        periods_covering(dt.date(2026, 3, 4), dt.date(2026, 3, 3), Interval.WEEK)
    with pytest.raises(InvalidInput):
        periods_covering(dt.date(2000, 1, 1), dt.date(2026, 1, 1), Interval.WEEK)
