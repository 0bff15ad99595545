"""Fixtures of the admin tests: a signed-in admin, a site with a unit, and the app's care bundle catalogue.

Fixtures commit (a savepoint of the test's transaction, rolled back after the test), as a request that
saved them would: a refused request rolls back whatever is only flushed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.orm import Session

from service.models import Role, Site, Unit, User


@pytest.fixture
def admin(make_user: Callable[..., User], sign_in: Callable[..., Any]) -> User:
    """An admin, signed in with ``client``."""
    user = make_user("ada", role=Role.ADMIN)
    assert sign_in("ada").status_code == 303
    return user


@pytest.fixture
def site(session: Session) -> Site:
    found = Site(code="RX1", name="Test Hospitals NHS Trust")
    session.add(found)
    session.commit()
    return found


@pytest.fixture
def unit(session: Session, site: Site) -> Unit:
    found = Unit(code="labour-ward", name="Labour Ward")
    site.units.append(found)
    session.commit()
    return found
