"""Fixtures of the compliance tests: the app's catalogue, a unit offering the OASI care bundle, its nurse."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from service.checklists.lifecycle import Actor
from service.models import Unit
from tests.factories import make_member, make_unit_offering


@pytest.fixture
def unit(session: Session) -> Unit:
    return make_unit_offering(session, "oasi-care-bundle")


@pytest.fixture
def nurse(session: Session, unit: Unit) -> Actor:
    return Actor(user_id=make_member(session, "nurse", unit).id, unit_ids=frozenset({unit.id}))
