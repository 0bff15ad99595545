"""Which units a user may see: a clinician sees and changes only the checklists of their units.

Plain domain code (no Flask): a unit someone may not see is answered as if it did not exist (404), so its
existence does not leak. Admins see every unit.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import object_session

from service.errors import NotFound
from service.models import Role, Unit, User


def unit_ids_of(user: User) -> frozenset[int]:
    """The ids of the units whose checklists ``user`` may see and change.

    Members (clinicians and QI leads) see their units, ``user.units``; admins see every unit; a deactivated
    user sees none. Reads through the session ``user`` was loaded in.
    """
    if not user.active:
        return frozenset()
    if user.role == Role.ADMIN.value:
        session = object_session(user)
        if session is None:
            raise ValueError(f"{user!r} is not attached to a session")
        return frozenset(session.scalars(select(Unit.id)))
    return frozenset(unit.id for unit in user.units)


def ensure_unit_access(user: User, unit_id: int) -> None:
    """Raise :class:`~service.errors.NotFound` (404) unless ``user`` may see unit ``unit_id``."""
    if unit_id not in unit_ids_of(user):
        raise NotFound("Page not found")
