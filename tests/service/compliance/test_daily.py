"""``compliance_day`` stays equal to a full recount of the stored outcomes through every kind of lifecycle
change (decision 0014): starts, completions, amendments that move the anchor to another day, possible
duplicates appearing and being entered in error, and re-judging."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.care_bundles import CareBundleCatalogue
from service.checklists.lifecycle import Actor, amend, mark_entered_in_error
from service.compliance.counts import Measure, MeasureKind, Scope, count_measure
from service.compliance.daily import rebuild
from service.compliance.periods import Interval
from service.models import ComplianceDay, Unit
from tests.factories import oasi_answers
from tests.service.compliance.test_counts import MONDAY, OASI, TODAY, birth_on, record


def cells(session: Session) -> set[tuple[Any, ...]]:
    session.flush()
    return {
        (row.care_bundle_id, row.unit_id, row.anchor_date, row.care_bundle_version, row.measure_kind)
        + (row.measure_id, row.outcome, row.reason, row.counted, row.checklists)
        for row in session.scalars(select(ComplianceDay))
    }


def assert_in_step(session: Session) -> set[tuple[Any, ...]]:
    kept = cells(session)
    rebuild(session)
    assert cells(session) == kept, "the day counts kept by the lifecycle differ from a recount"
    return kept


def test_the_day_counts_follow_every_change(
    session: Session, catalogue: CareBundleCatalogue, nurse: Actor, unit: Unit
) -> None:
    first = record(session, catalogue, nurse, unit, birth_on(MONDAY), patient="A")
    record(
        session, catalogue, nurse, unit, birth_on(MONDAY + dt.timedelta(days=1)), patient="B", mpp="declined"
    )
    open_one = record(session, catalogue, nurse, unit, birth_on(MONDAY), patient="C", finish=False)
    kept = assert_in_step(session)
    assert {cell[2] for cell in kept} == {
        MONDAY,
        MONDAY + dt.timedelta(days=1),
    }  # the open one is not counted

    # A second checklist of A's birth: a possible duplicate, completed later, so it is the one counted.
    twin = record(
        session,
        catalogue,
        nurse,
        unit,
        birth_on(MONDAY, 11),
        patient="A",
        completed=birth_on(MONDAY, 23),
        mpp="no",
        mpp_not_used_reason="other",
    )
    assert_in_step(session)
    composite = Measure(MeasureKind.COMPOSITE, OASI)

    def week() -> Any:
        return count_measure(
            session,
            Scope(OASI, (unit.id,)),
            composite,
            first=MONDAY,
            last=MONDAY,
            interval=Interval.WEEK,
            today=TODAY,
        )[0]

    assert (week().numerator, week().denominator, week().duplicates) == (1, 2, 1)

    # The twin is entered in error: A's first checklist counts again.
    mark_entered_in_error(
        session,
        catalogue,
        nurse,
        twin.id,
        base_version=twin.version,
        reason="entered twice",
        now=birth_on(MONDAY, 23),
    )
    assert_in_step(session)
    assert (week().numerator, week().denominator, week().duplicates) == (2, 2, 0)

    # An amendment moves A's birth to the next week: both days are recounted.
    later = birth_on(MONDAY + dt.timedelta(days=8))
    amend(
        session,
        catalogue,
        nurse,
        first.id,
        base_version=first.version,
        answers=oasi_answers(birth_time=later),
        reason="wrong date of birth",
        now=later,
    )
    kept = assert_in_step(session)
    assert MONDAY + dt.timedelta(days=8) in {cell[2] for cell in kept}
    assert (week().numerator, week().denominator) == (1, 1)
    assert open_one.status == "in-progress"
