"""The checklist lifecycle's idempotency, lost-update refusal and unit scope."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import event, func, insert, select, update
from sqlalchemy.orm import Session

from service.care_bundles import CareBundleCatalogue
from service.checklists.lifecycle import (
    Actor,
    amend,
    complete,
    get_checklist,
    history,
    mark_entered_in_error,
    save_draft,
    snapshot,
    start,
)
from service.errors import Conflict, InvalidInput, NotFound, StaleVersion
from service.models import AuditEvent, Checklist, ChecklistChange, Delivery, Unit
from tests.factories import BIRTH, VALID_NHS_NUMBER, make_member, make_unit_offering, oasi_answers

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
OASI = "oasi-care-bundle"


@pytest.fixture
def unit(session: Session) -> Unit:
    return make_unit_offering(session, OASI)


def begin(
    session: Session,
    catalogue: CareBundleCatalogue,
    actor: Actor,
    unit: Unit,
    checklist_id: uuid.UUID,
    **changes: Any,
) -> Checklist:
    fields: dict[str, Any] = {
        "care_bundle_id": OASI,
        "version": "2.0.0",
        "unit": unit,
        "patient_kind": "nhs-number",
        "patient_value": VALID_NHS_NUMBER,
        "patient_system": None,
        "encounter": None,
        "anchor_time": BIRTH,
        **changes,
    }
    return start(session, catalogue, actor, checklist_id=checklist_id, now=NOW, **fields)


def rows(session: Session, model: type[Any], checklist_id: uuid.UUID) -> int:
    column = model.entity_id if model is AuditEvent else model.checklist_id
    key = str(checklist_id) if model is AuditEvent else checklist_id
    return session.scalar(select(func.count()).select_from(model).where(column == key)) or 0


# -- idempotency ------------------------------------------------------------------------------------------


def test_starting_the_same_checklist_twice_returns_the_stored_one(
    session: Session, catalogue: CareBundleCatalogue, nurse: Actor, unit: Unit
) -> None:
    checklist_id = uuid.uuid4()
    first = begin(session, catalogue, nurse, unit, checklist_id)
    save_draft(session, catalogue, nurse, checklist_id, base_version=1, answers=oasi_answers(), now=NOW)

    again = begin(session, catalogue, nurse, unit, checklist_id, patient_value="943 476 5919")

    assert again is first
    assert again.version == 2
    assert rows(session, ChecklistChange, checklist_id) == 2
    assert rows(session, AuditEvent, checklist_id) == 2


@pytest.mark.parametrize(
    "changes",
    [{"anchor_time": BIRTH + dt.timedelta(minutes=1)}, {"version": None}, {"encounter": "Encounter/9"}],
    ids=["other-anchor", "other-version-request", "other-encounter"],
)
def test_starting_the_same_id_with_another_payload_is_a_conflict(
    session: Session, catalogue: CareBundleCatalogue, nurse: Actor, unit: Unit, changes: dict[str, Any]
) -> None:
    checklist_id = uuid.uuid4()
    begin(session, catalogue, nurse, unit, checklist_id)

    with pytest.raises(Conflict, match="already exists"):
        begin(session, catalogue, nurse, unit, checklist_id, **changes)


def test_starting_an_id_taken_on_another_unit_is_a_conflict_that_reveals_nothing(
    session: Session, catalogue: CareBundleCatalogue, nurse: Actor, unit: Unit
) -> None:
    elsewhere = make_unit_offering(session, OASI, code="ward-2")
    stranger = Actor(
        user_id=make_member(session, "stranger", elsewhere).id, unit_ids=frozenset({elsewhere.id})
    )
    checklist_id = uuid.uuid4()
    begin(session, catalogue, stranger, elsewhere, checklist_id)

    with pytest.raises(Conflict) as raised:
        begin(session, catalogue, nurse, unit, checklist_id)

    assert (
        raised.value.message
        == f"checklist {checklist_id} already exists: start a new checklist with a new id"
    )


@pytest.mark.parametrize("operation", ["save_draft", "complete", "amend", "mark_entered_in_error"])
def test_a_repeated_request_is_applied_once(
    session: Session, catalogue: CareBundleCatalogue, nurse: Actor, unit: Unit, operation: str
) -> None:
    checklist_id = uuid.uuid4()
    begin(session, catalogue, nurse, unit, checklist_id)
    base = 1
    if operation in ("amend", "mark_entered_in_error"):
        complete(session, catalogue, nurse, checklist_id, base_version=1, answers=oasi_answers(), now=NOW)
        base = 2
    request = _request(operation, base)
    before = {model: rows(session, model, checklist_id) for model in (ChecklistChange, AuditEvent, Delivery)}

    first = request(session, catalogue, nurse, checklist_id)
    after_first = {model: rows(session, model, checklist_id) for model in before}
    replayed = request(session, catalogue, nurse, checklist_id)

    assert replayed is first
    assert replayed.version == base + 1
    assert {model: rows(session, model, checklist_id) for model in before} == after_first
    assert after_first[ChecklistChange] == before[ChecklistChange] + 1


def _request(operation: str, base: int) -> Callable[..., Checklist]:
    def send(
        session: Session, catalogue: CareBundleCatalogue, actor: Actor, checklist_id: uuid.UUID
    ) -> Checklist:
        if operation == "save_draft":
            return save_draft(
                session, catalogue, actor, checklist_id, base_version=base, answers=oasi_answers(), now=NOW
            )
        if operation == "complete":
            return complete(
                session, catalogue, actor, checklist_id, base_version=base, answers=oasi_answers(), now=NOW
            )
        if operation == "amend":
            answers = oasi_answers(mpp="no", mpp_not_used_reason="precipitate-birth")
            return amend(
                session,
                catalogue,
                actor,
                checklist_id,
                base_version=base,
                answers=answers,
                reason="Fix",
                now=NOW,
            )
        return mark_entered_in_error(
            session, catalogue, actor, checklist_id, base_version=base, reason="Dup", now=NOW
        )

    return send


# -- lost updates ---------------------------------------------------------------------------------------


def test_another_change_on_a_stale_version_is_refused_with_the_current_version(
    session: Session, catalogue: CareBundleCatalogue, nurse: Actor, unit: Unit
) -> None:
    checklist_id = uuid.uuid4()
    begin(session, catalogue, nurse, unit, checklist_id)
    save_draft(
        session, catalogue, nurse, checklist_id, base_version=1, answers=oasi_answers(mpp="yes"), now=NOW
    )
    save_draft(
        session, catalogue, nurse, checklist_id, base_version=2, answers=oasi_answers(mpp="no"), now=NOW
    )

    with pytest.raises(StaleVersion) as raised:  # another tablet, still on version 1
        save_draft(
            session,
            catalogue,
            nurse,
            checklist_id,
            base_version=1,
            answers=oasi_answers(mpp="declined"),
            now=NOW,
        )

    assert raised.value.current_version == 3
    assert raised.value.status == 409
    assert "at version 3, not 1" in raised.value.message
    stored = get_checklist(session, nurse, checklist_id)
    assert [row.value_code for row in stored.answers if row.element_id == "mpp"] == ["no"]


@pytest.mark.parametrize(
    ("base_version", "operation"),
    [(5, "save_draft"), (1, "complete"), (0, "save_draft"), (-1, "save_draft")],
    ids=["ahead-of-current", "same-payload-other-operation", "the-start", "negative"],
)
def test_any_base_version_but_the_current_one_is_stale_unless_replayed(
    session: Session,
    catalogue: CareBundleCatalogue,
    nurse: Actor,
    unit: Unit,
    base_version: int,
    operation: str,
) -> None:
    checklist_id = uuid.uuid4()
    begin(session, catalogue, nurse, unit, checklist_id)
    save_draft(session, catalogue, nurse, checklist_id, base_version=1, answers=oasi_answers(), now=NOW)
    change = save_draft if operation == "save_draft" else complete

    with pytest.raises(StaleVersion) as raised:
        change(
            session,
            catalogue,
            nurse,
            checklist_id,
            base_version=base_version,
            answers=oasi_answers(),
            now=NOW,
        )

    assert raised.value.current_version == 2


def test_base_version_must_be_a_whole_number(
    session: Session, catalogue: CareBundleCatalogue, nurse: Actor, unit: Unit
) -> None:
    checklist_id = uuid.uuid4()
    begin(session, catalogue, nurse, unit, checklist_id)

    with pytest.raises(InvalidInput, match="base_version"):
        save_draft(session, catalogue, nurse, checklist_id, base_version="1", answers={}, now=NOW)  # type: ignore[arg-type]


@pytest.fixture
def on_next_flush(session: Session) -> Iterator[Callable[[Callable[[Session], None]], None]]:
    """Run SQL of another writer just before the next flush writes (a race lost at write time)."""
    target = session()  # the Session behind the scoped session
    hooks: list[Callable[[Session], None]] = []

    def before_flush(flushing: Session, *_: Any) -> None:
        while hooks:
            hooks.pop()(flushing)

    event.listen(target, "before_flush", before_flush)
    yield hooks.append
    event.remove(target, "before_flush", before_flush)


def test_a_change_that_loses_a_race_at_write_time_is_a_stale_version(
    session: Session,
    catalogue: CareBundleCatalogue,
    nurse: Actor,
    unit: Unit,
    on_next_flush: Callable[[Callable[[Session], None]], None],
) -> None:
    checklist_id = uuid.uuid4()
    begin(session, catalogue, nurse, unit, checklist_id)
    on_next_flush(
        lambda flushing: flushing.connection().execute(
            update(Checklist).where(Checklist.id == checklist_id).values(version=Checklist.version + 1)
        )
    )

    with pytest.raises(StaleVersion, match="changed by another request meanwhile") as raised:
        save_draft(session, catalogue, nurse, checklist_id, base_version=1, answers=oasi_answers(), now=NOW)

    assert raised.value.current_version is None
    session.rollback()


def test_a_start_that_loses_a_race_at_write_time_is_a_conflict(
    session: Session,
    catalogue: CareBundleCatalogue,
    nurse: Actor,
    unit: Unit,
    on_next_flush: Callable[[Callable[[Session], None]], None],
) -> None:
    checklist_id = uuid.uuid4()
    on_next_flush(
        lambda flushing: flushing.connection().execute(
            insert(Checklist).values(
                id=checklist_id,
                care_bundle_id=OASI,
                care_bundle_version="2.0.0",
                unit_id=unit.id,
                patient_identifier=VALID_NHS_NUMBER,
                patient_identifier_system="urn:x",
            )
        )
    )

    with pytest.raises(Conflict, match="written by another request meanwhile"):
        begin(session, catalogue, nurse, unit, checklist_id)
    session.rollback()


# -- unit scope -----------------------------------------------------------------------------------------


def test_a_checklist_outside_the_actors_units_is_not_found(
    session: Session, catalogue: CareBundleCatalogue, nurse: Actor, unit: Unit
) -> None:
    checklist_id = uuid.uuid4()
    begin(session, catalogue, nurse, unit, checklist_id)
    complete(session, catalogue, nurse, checklist_id, base_version=1, answers=oasi_answers(), now=NOW)
    elsewhere = make_unit_offering(session, OASI, code="ward-2")
    stranger = Actor(
        user_id=make_member(session, "stranger", elsewhere).id, unit_ids=frozenset({elsewhere.id})
    )
    message = f"checklist {checklist_id} not found"

    for read in (get_checklist, history):
        with pytest.raises(NotFound, match=message):
            read(session, stranger, checklist_id)
    with pytest.raises(NotFound, match=message):
        snapshot(session, stranger, checklist_id, 2)
    with pytest.raises(NotFound, match=message):
        amend(
            session,
            catalogue,
            stranger,
            checklist_id,
            base_version=2,
            answers=oasi_answers(),
            reason="x",
            now=NOW,
        )
    with pytest.raises(NotFound, match=message):
        mark_entered_in_error(session, catalogue, stranger, checklist_id, base_version=2, reason="x", now=NOW)
    with pytest.raises(NotFound, match=f"checklist {uuid.UUID(int=1)} not found"):
        get_checklist(session, nurse, uuid.UUID(int=1))


def test_a_system_client_sees_every_unit_and_is_named_on_its_changes(
    session: Session, catalogue: CareBundleCatalogue, nurse: Actor, unit: Unit
) -> None:
    checklist_id = uuid.uuid4()
    begin(session, catalogue, nurse, unit, checklist_id)
    ehr = Actor(user_id=None, client="ehr-integration", unit_ids=None)

    checklist = complete(
        session, catalogue, ehr, checklist_id, base_version=1, answers=oasi_answers(), now=NOW
    )

    assert checklist.updated_by_id is None
    change = history(session, ehr, checklist_id)[-1]
    assert (change.actor_user_id, change.actor_client) == (None, "ehr-integration")
    event = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert event is not None
    assert (event.actor_client, event.action, event.entity_id) == (
        "ehr-integration",
        "update",
        str(checklist_id),
    )
