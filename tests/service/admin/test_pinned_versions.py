"""A unit's pinned care bundle version is the one new checklists use, on the ward's start page and in the
lifecycle's ``start`` (one answer: ``Unit.offered_version``); a different explicit version is refused."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.admin.audit import CLI_ACTOR
from service.admin.sites import enable_care_bundle, set_unit_active
from service.care_bundles import CareBundleCatalogue
from service.checklists import Actor, start
from service.errors import InvalidInput, NotFound
from service.models import Checklist, Role, Unit, UnitCareBundle, User
from tests.factories import BIRTH, VALID_NHS_NUMBER, make_unit_offering

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
OASI = "oasi-care-bundle"


@pytest.fixture
def ward(session: Session) -> Unit:
    found = make_unit_offering(session, OASI)
    session.commit()
    return found


@pytest.fixture
def member(session: Session, ward: Unit) -> Actor:
    user = User(username="nurse", display_name="Nurse", password_hash="x", role="clinician", units=[ward])
    session.add(user)
    session.flush()
    return Actor(user_id=user.id, unit_ids=frozenset({ward.id}))


def pin(session: Session, catalogue: CareBundleCatalogue, unit: Unit, version: str | None) -> None:
    enable_care_bundle(session, CLI_ACTOR, catalogue, unit, OASI, version)
    session.commit()


def begin(
    session: Session, catalogue: CareBundleCatalogue, actor: Actor, unit: Unit, version: str | None
) -> Checklist:
    return start(
        session,
        catalogue,
        actor,
        checklist_id=uuid.uuid4(),
        care_bundle_id=OASI,
        version=version,
        unit=unit,
        patient_kind="nhs-number",
        patient_value=VALID_NHS_NUMBER,
        patient_system=None,
        encounter=None,
        anchor_time=BIRTH,
        now=NOW,
    )


def test_offered_version_is_the_pin_or_none_for_the_latest(
    session: Session, catalogue: CareBundleCatalogue, ward: Unit
) -> None:
    assert ward.offered_version(OASI) is None
    pin(session, catalogue, ward, "1.0.0")
    assert ward.offered_version(OASI) == "1.0.0"
    assert ward.offered_version("freed-triage") is None  # not offered at all
    assert ward.care_bundle_link("freed-triage") is None


def test_lifecycle_start_uses_the_pinned_version_when_none_is_named(
    session: Session, catalogue: CareBundleCatalogue, ward: Unit, member: Actor
) -> None:
    assert begin(session, catalogue, member, ward, None).care_bundle_version == "2.0.0"
    pin(session, catalogue, ward, "1.0.0")
    assert begin(session, catalogue, member, ward, None).care_bundle_version == "1.0.0"
    assert begin(session, catalogue, member, ward, "1.0.0").care_bundle_version == "1.0.0"


def test_lifecycle_start_refuses_a_version_other_than_the_pin(
    session: Session, catalogue: CareBundleCatalogue, ward: Unit, member: Actor
) -> None:
    pin(session, catalogue, ward, "1.0.0")
    with pytest.raises(InvalidInput) as refused:
        begin(session, catalogue, member, ward, "2.0.0")
    [issue] = refused.value.issues
    assert (getattr(issue, "field", None), issue.diagnostics) == (
        "version",
        "this unit uses version 1.0.0 of the care bundle oasi-care-bundle",
    )
    assert issue.expression == "QuestionnaireResponse.questionnaire"
    assert session.scalars(select(Checklist)).all() == []


def test_no_checklist_starts_on_a_closed_unit(
    session: Session, catalogue: CareBundleCatalogue, ward: Unit, member: Actor
) -> None:
    set_unit_active(session, CLI_ACTOR, ward, active=False)
    session.commit()

    with pytest.raises(InvalidInput) as refused:
        begin(session, catalogue, member, ward, None)

    [issue] = refused.value.issues
    assert (getattr(issue, "field", None), issue.diagnostics) == (
        "unit",
        "the unit ward-1 is closed: no new checklists start there",
    )
    assert session.scalars(select(Checklist)).all() == []


def test_without_a_pin_an_older_version_may_still_be_named(
    session: Session, catalogue: CareBundleCatalogue, ward: Unit, member: Actor
) -> None:
    assert begin(session, catalogue, member, ward, "1.0.0").care_bundle_version == "1.0.0"


def test_a_pinned_version_that_is_no_longer_loaded_is_not_found_never_the_latest(
    session: Session, catalogue: CareBundleCatalogue, ward: Unit, member: Actor
) -> None:
    link = session.get(UnitCareBundle, (ward.id, OASI))
    assert link is not None
    link.pinned_version = "0.9.0"  # as if its file had been removed from bundles/
    session.flush()
    with pytest.raises(NotFound, match="version 0.9.0 is not loaded"):
        begin(session, catalogue, member, ward, None)


@pytest.fixture
def midwife(
    app: Flask,
    session: Session,
    ward: Unit,
    make_user: Callable[..., User],
    sign_in: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> User:
    monkeypatch.setitem(app.config, "WARD_NOW", NOW)
    user = make_user("midwife", role=Role.CLINICIAN, units=[ward])
    assert sign_in("midwife").status_code == 303
    return user


def ward_start(client: FlaskClient, unit: Unit) -> Any:
    form = {
        "choice": f"{unit.id}:{OASI}",
        "patient_kind": "nhs-number",
        "patient_value": "943 476 5919",
        "anchor-day": "2",
        "anchor-month": "3",
        "anchor-year": "2026",
        "anchor-time": "04:30",
    }
    confirm = client.post("/ward/start", data=form)
    assert confirm.status_code == 200, confirm.get_data(as_text=True)
    checklist_id = re.search(r'name="checklist_id" value="([0-9a-f-]+)"', confirm.get_data(as_text=True))
    assert checklist_id is not None
    return client.post("/ward/start", data={**form, "action": "start", "checklist_id": checklist_id[1]})


def test_the_ward_start_page_starts_the_pinned_version(
    client: FlaskClient, session: Session, catalogue: CareBundleCatalogue, ward: Unit, midwife: User
) -> None:
    pin(session, catalogue, ward, "1.0.0")
    assert ward_start(client, ward).status_code == 303
    assert session.scalars(select(Checklist)).one().care_bundle_version == "1.0.0"


def test_the_ward_start_page_follows_the_latest_version_without_a_pin(
    client: FlaskClient, session: Session, catalogue: CareBundleCatalogue, ward: Unit, midwife: User
) -> None:
    pin(session, catalogue, ward, "1.0.0")
    pin(session, catalogue, ward, "latest")
    assert ward_start(client, ward).status_code == 303
    assert session.scalars(select(Checklist)).one().care_bundle_version == "2.0.0"


def test_the_ward_start_page_leaves_out_a_pinned_version_that_is_not_loaded(
    client: FlaskClient, session: Session, ward: Unit, midwife: User
) -> None:
    link = session.get(UnitCareBundle, (ward.id, OASI))
    assert link is not None
    link.pinned_version = "0.9.0"
    session.commit()
    page = client.get("/ward/start").get_data(as_text=True)
    assert "Your units offer no care bundles yet" in page
