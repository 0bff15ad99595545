"""Fixtures of the ``/reports`` tests: the app's catalogue, a unit offering the OASI care bundle, its nurse,
and 14 weeks of OASI checklists recorded through the lifecycle."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from service.care_bundles import CareBundleCatalogue
from service.checklists.lifecycle import Actor
from service.models import Unit
from tests.factories import make_member, make_unit_offering
from tests.service.compliance.test_counts import MONDAY, birth_on, record

#: Weeks of checklists and how many of each week's five births met all four practices (week 6 is empty).
MET_PER_WEEK = (4, 5, 3, 4, 5, 4, None, 4, 2, 5, 4, 3, 5, 4)


@pytest.fixture
def unit(session: Session) -> Unit:
    return make_unit_offering(session, "oasi-care-bundle")


@pytest.fixture
def nurse(session: Session, unit: Unit) -> Actor:
    return Actor(user_id=make_member(session, "nurse", unit).id, unit_ids=frozenset({unit.id}))


@pytest.fixture
def checklists(session: Session, catalogue: CareBundleCatalogue, nurse: Actor, unit: Unit) -> None:
    """Five births a week from MONDAY (none in week 6), the first ``met`` of them meeting every practice."""
    for week, met in enumerate(MET_PER_WEEK):
        if met is None:
            continue
        for birth in range(5):
            day = MONDAY + dt.timedelta(weeks=week, days=birth)
            changes = {} if birth < met else {"mpp": "no", "mpp_not_used_reason": "other"}
            record(session, catalogue, nurse, unit, birth_on(day), patient=f"P{week}-{birth}", **changes)
    session.commit()
