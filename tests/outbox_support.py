"""Shared by the delivery tests (mocked EHR) and the integration tests (the real FHIR peer): a site whose EHR
is switched on, completed and amended OASI checklists made through the lifecycle, a clock tests move on."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.care_bundles import CareBundleCatalogue
from service.checklists.lifecycle import Actor, amend, complete, mark_entered_in_error, start
from service.models import ChecklistSource, Delivery, EhrAuth, Site, Unit
from tests.factories import BIRTH, VALID_NHS_NUMBER, make_member, oasi_answers

OASI = "oasi-care-bundle"
START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


class Clock:
    """``now()`` for the worker; tests move it on with ``advance`` instead of sleeping."""

    def __init__(self, start: dt.datetime = START) -> None:
        self.now_value = start

    def __call__(self) -> dt.datetime:
        return self.now_value

    def advance(self, **delta: float) -> dt.datetime:
        self.now_value += dt.timedelta(**delta)
        return self.now_value

    def timestamp(self) -> float:
        return self.now_value.timestamp()


def make_ehr_unit(
    session: Session, base_url: str, *, auth: str = EhrAuth.NONE, enabled: bool = True, **site: Any
) -> Unit:
    """A unit offering the OASI care bundle at a new site whose EHR is ``base_url``."""
    settings: dict[str, Any] = {"fhir_connect_timeout": 2.0, "fhir_read_timeout": 2.0, **site}
    unit = Unit(
        site=Site(
            code=f"S{uuid.uuid4().hex[:6]}",
            name="Test trust",
            fhir_base_url=base_url,
            fhir_enabled=enabled,
            fhir_auth=str(auth),
            **settings,
        ),
        code="labour-ward",
        name="Labour ward",
    )
    unit.care_bundle_ids.append(OASI)
    session.add(unit)
    session.flush()
    return unit


def make_nurse(session: Session, unit: Unit, username: str | None = None) -> Actor:
    user = make_member(session, username or f"nurse-{uuid.uuid4().hex[:6]}", unit)
    return Actor(user_id=user.id, unit_ids=frozenset({unit.id}))


def complete_oasi(
    session: Session,
    catalogue: CareBundleCatalogue,
    actor: Actor,
    unit: Unit,
    now: dt.datetime = START,
    source: ChecklistSource = ChecklistSource.WARD,
) -> uuid.UUID:
    """Start and complete an OASI 2.0.0 checklist (version 2, one pending delivery row unless it came in
    from the EHR over /fhir); committed."""
    checklist_id = uuid.uuid4()
    start(
        session,
        catalogue,
        actor,
        checklist_id=checklist_id,
        care_bundle_id=OASI,
        version="2.0.0",
        unit=unit,
        patient_kind="nhs-number",
        patient_value=VALID_NHS_NUMBER,
        patient_system=None,
        encounter=None,
        anchor_time=BIRTH,
        now=now,
        source=source,
    )
    complete(session, catalogue, actor, checklist_id, base_version=1, answers=oasi_answers(), now=now)
    session.commit()
    return checklist_id


def amend_oasi(
    session: Session,
    catalogue: CareBundleCatalogue,
    actor: Actor,
    checklist_id: uuid.UUID,
    base_version: int,
    now: dt.datetime = START,
    **changes: Any,
) -> None:
    answers = oasi_answers(**(changes or {"perineal_trauma": ["second-degree"]}))
    amend(
        session,
        catalogue,
        actor,
        checklist_id,
        base_version=base_version,
        answers=answers,
        reason="Recorded on the wrong form",
        now=now,
    )
    session.commit()


def enter_in_error(
    session: Session,
    catalogue: CareBundleCatalogue,
    actor: Actor,
    checklist_id: uuid.UUID,
    base_version: int,
    now: dt.datetime = START,
) -> None:
    mark_entered_in_error(
        session, catalogue, actor, checklist_id, base_version=base_version, reason="Wrong patient", now=now
    )
    session.commit()


def deliveries(session: Session, checklist_id: uuid.UUID) -> list[Delivery]:
    session.expire_all()
    return list(
        session.scalars(
            select(Delivery).where(Delivery.checklist_id == checklist_id).order_by(Delivery.checklist_version)
        )
    )


def states(session: Session, checklist_id: uuid.UUID) -> list[tuple[int, str]]:
    return [(row.checklist_version, row.status) for row in deliveries(session, checklist_id)]
