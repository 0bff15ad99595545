"""Fixtures of the checklist lifecycle tests: the app's catalogue and a member of the module's ``unit``."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from service.checklists.lifecycle import Actor
from service.models import Unit
from tests.factories import make_member


@pytest.fixture
def nurse(session: Session, unit: Unit) -> Actor:
    """A nurse of ``unit``: each test module says which care bundles its unit offers."""
    user = make_member(session, "nurse", unit)
    return Actor(user_id=user.id, unit_ids=frozenset({unit.id}))
