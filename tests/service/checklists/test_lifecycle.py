"""The checklist lifecycle on real care bundle files: start, drafts, completion, amendment, entry in error.

Replays, conflicts and unit scope: test_lifecycle_conflicts.py.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import pytest
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fhir_adapters.vocabulary import NHS_NUMBER_SYSTEM
from service.care_bundles import CareBundleCatalogue
from service.checklists.lifecycle import (
    Actor,
    amend,
    complete,
    history,
    mark_entered_in_error,
    save_draft,
    snapshot,
    start,
)
from service.errors import Conflict, InvalidInput, NotFound, Unprocessable
from service.models import (
    Answer,
    AuditEvent,
    Checklist,
    ChecklistChange,
    Delivery,
    Unit,
)
from tests.factories import (
    BIRTH,
    INVALID_NHS_NUMBER,
    REFERRAL,
    VALID_NHS_NUMBER,
    freed_answers,
    make_unit_offering,
    oasi_answers,
)

UTC = dt.UTC
NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LATER = NOW + dt.timedelta(hours=2)
OASI = "oasi-care-bundle"


@pytest.fixture
def unit(session: Session) -> Unit:
    return make_unit_offering(session, OASI, "freed-triage", "i-thrive")


def begin(
    session: Session,
    catalogue: CareBundleCatalogue,
    actor: Actor,
    unit: Unit,
    *,
    care_bundle_id: str = OASI,
    version: str | None = "2.0.0",
    anchor_time: dt.datetime = BIRTH,
    **fields: Any,
) -> Checklist:
    values: dict[str, Any] = {
        "checklist_id": uuid.uuid4(),
        "patient_kind": "nhs-number",
        "patient_value": VALID_NHS_NUMBER,
        "patient_system": None,
        "encounter": "Encounter/123",
        **fields,
    }
    return start(
        session,
        catalogue,
        actor,
        care_bundle_id=care_bundle_id,
        version=version,
        unit=unit,
        anchor_time=anchor_time,
        now=NOW,
        **values,
    )


def answer_rows(session: Session, checklist: Checklist) -> dict[tuple[str, int], list[Any]]:
    rows = session.scalars(
        select(Answer).where(Answer.checklist_id == checklist.id).order_by(Answer.position)
    ).all()
    found: dict[tuple[str, int], list[Any]] = {}
    for row in rows:
        value = next(
            getattr(row, column)
            for column in (
                "value_code",
                "value_int",
                "value_bool",
                "value_date",
                "value_datetime",
                "value_text",
            )
            if getattr(row, column) is not None
        )
        found.setdefault((row.element_id, row.instance), []).append(value)
    return found


def audit_details(session: Session, checklist: Checklist) -> list[dict[str, Any]]:
    events = session.scalars(
        select(AuditEvent).where(AuditEvent.entity_id == str(checklist.id)).order_by(AuditEvent.id)
    ).all()
    return [event.detail or {} for event in events]


def count(session: Session, model: type[Any], checklist: Checklist) -> int:
    return (
        session.scalar(select(func.count()).select_from(model).where(model.checklist_id == checklist.id)) or 0
    )


# -- start ----------------------------------------------------------------------------------------------


def test_start_stores_an_in_progress_checklist_with_its_anchor(
    session: Session, catalogue: CareBundleCatalogue, nurse: Actor, unit: Unit
) -> None:
    checklist = begin(session, catalogue, nurse, unit, patient_value="943 476 5919")

    assert (checklist.status, checklist.version, checklist.care_bundle_version) == ("in-progress", 1, "2.0.0")
    assert checklist.patient_identifier == VALID_NHS_NUMBER  # stored without spaces
    assert checklist.patient_identifier_system == NHS_NUMBER_SYSTEM
    assert checklist.anchor_time == BIRTH
    assert checklist.created_by_id == nurse.user_id
    assert answer_rows(session, checklist) == {("birth-time", 0): [BIRTH]}
    assert {row.element_id: row.outcome for row in checklist.outcomes}["mpp"] == "not-applicable"
    (change,) = history(session, nurse, checklist.id)
    assert (change.operation, change.based_on, change.version, change.status) == (
        "start",
        0,
        1,
        "in-progress",
    )
    assert change.snapshot is None
    assert audit_details(session, checklist) == [
        {
            "operation": "start",
            "version": 1,
            "based_on": 0,
            "status": "in-progress",
            "care_bundle_id": OASI,
            "care_bundle_version": "2.0.0",
        }
    ]
    assert count(session, Delivery, checklist) == 0


def test_every_change_keeps_the_reporting_keys_in_step_with_the_anchor(
    session: Session, catalogue: CareBundleCatalogue, nurse: Actor, unit: Unit
) -> None:
    """A checklist falls in the week or month of its anchor's London date, and checklists of one patient,
    care bundle and episode share an episode key (decision 0012): set on start, moved with the anchor."""
    late_evening = dt.datetime(2026, 6, 30, 23, 30, tzinfo=UTC)  # 1 July in London (BST)
    checklist = begin(session, catalogue, nurse, unit, anchor_time=late_evening, encounter=None)
    assert checklist.anchor_date == dt.date(2026, 7, 1)
    first_key = checklist.episode_key
    twin = begin(
        session, catalogue, nurse, unit, anchor_time=late_evening + dt.timedelta(minutes=5), encounter=None
    )
    assert twin.episode_key == first_key  # the same patient, care bundle and day: a possible duplicate

    moved = save_draft(
        session,
        catalogue,
        nurse,
        checklist.id,
        base_version=checklist.version,
        answers={"birth-time": [late_evening - dt.timedelta(days=1)]},
        now=LATER,
    )
    assert moved.anchor_date == dt.date(2026, 6, 30)
    assert moved.episode_key != first_key
    with_encounter = begin(session, catalogue, nurse, unit, anchor_time=late_evening)
    assert with_encounter.episode_key not in (first_key, moved.episode_key)  # Encounter/123: its own episode


def test_start_takes_the_latest_published_version_unless_one_is_named(
    session: Session, catalogue: CareBundleCatalogue, nurse: Actor, unit: Unit
) -> None:
    assert begin(session, catalogue, nurse, unit, version=None).care_bundle_version == "2.0.0"
    assert begin(session, catalogue, nurse, unit, version="1.0.0").care_bundle_version == "1.0.0"
    with pytest.raises(NotFound, match="version 9.9.9 is not loaded"):
        begin(session, catalogue, nurse, unit, version="9.9.9")


def test_a_local_hospital_number_keeps_the_hospitals_system(
    session: Session, catalogue: CareBundleCatalogue, nurse: Actor, unit: Unit
) -> None:
    checklist = begin(
        session,
        catalogue,
        nurse,
        unit,
        patient_kind="local",
        patient_value=" H123 ",
        patient_system="urn:oid:1.2.3",
    )

    assert (checklist.patient_identifier, checklist.patient_identifier_system) == ("H123", "urn:oid:1.2.3")


@pytest.mark.parametrize(
    ("fields", "field", "expression"),
    [
        (
            {"patient_value": INVALID_NHS_NUMBER},
            "patient_value",
            "QuestionnaireResponse.subject.identifier.value",
        ),
        ({"patient_value": "12345"}, "patient_value", "QuestionnaireResponse.subject.identifier.value"),
        ({"patient_kind": "chi-number"}, "patient_kind", "QuestionnaireResponse.subject.identifier.system"),
        (
            {"patient_kind": "local", "patient_value": "H123", "patient_system": None},
            "patient_system",
            "QuestionnaireResponse.subject.identifier.system",
        ),
        (
            {"patient_system": "urn:other"},
            "patient_system",
            "QuestionnaireResponse.subject.identifier.system",
        ),
        (
            {"anchor_time": dt.datetime(2026, 3, 2, 4, 30)},
            "anchor_time",
            "QuestionnaireResponse.item[0].answer[0]",
        ),  # noqa: DTZ001 - naive on purpose
        ({"care_bundle_id": "hip-fracture-pathway"}, "care_bundle_id", "QuestionnaireResponse.questionnaire"),
        ({"encounter": "x" * 256}, "encounter", "QuestionnaireResponse.encounter.reference"),
    ],
    ids=[
        "bad-check-digit",
        "not-10-digits",
        "kind-not-accepted",
        "local-without-system",
        "wrong-system",
        "naive-anchor",
        "not-offered-on-unit",
        "long-encounter",
    ],
)
def test_start_refuses_bad_input_by_field_without_echoing_it(
    session: Session,
    catalogue: CareBundleCatalogue,
    nurse: Actor,
    unit: Unit,
    fields: dict[str, Any],
    field: str,
    expression: str,
) -> None:
    with pytest.raises(InvalidInput) as raised:
        begin(session, catalogue, nurse, unit, **fields)

    (issue,) = raised.value.issues
    assert (getattr(issue, "field", None), issue.expression) == (field, expression)
    assert issue.is_error
    value = fields.get("patient_value", "")
    if value:
        assert value not in raised.value.message
        assert value not in issue.diagnostics
    assert session.scalar(select(func.count()).select_from(Checklist)) == 0


def test_start_on_a_unit_outside_the_actors_units_is_not_found(
    session: Session, catalogue: CareBundleCatalogue, nurse: Actor
) -> None:
    elsewhere = make_unit_offering(session, OASI, code="ward-2")

    with pytest.raises(NotFound):
        begin(session, catalogue, nurse, elsewhere)


def test_an_actor_is_a_user_or_a_client() -> None:
    with pytest.raises(ValueError, match="user or a system client"):
        Actor(user_id=None)
    assert Actor(user_id=None, client="ehr", unit_ids=None).may_see(12345)
    assert not Actor(user_id=1).may_see(1)  # no units given: sees none


# -- drafts ---------------------------------------------------------------------------------------------


def test_every_draft_bumps_the_version_even_when_only_answers_change(
    session: Session, catalogue: CareBundleCatalogue, nurse: Actor, unit: Unit
) -> None:
    checklist = begin(session, catalogue, nurse, unit)
    partial = oasi_answers(mpp=None, perineal_examination=None, perineal_trauma=None)

    save_draft(session, catalogue, nurse, checklist.id, base_version=1, answers=partial, now=NOW)
    assert checklist.version == 2
    save_draft(
        session, catalogue, nurse, checklist.id, base_version=2, answers=partial, now=NOW
    )  # same answers
    assert checklist.version == 3
    save_draft(session, catalogue, nurse, checklist.id, base_version=3, answers=oasi_answers(), now=NOW)

    session.expire_all()
    stored = session.get(Checklist, checklist.id)
    assert stored is not None
    assert (stored.version, stored.status, stored.compliant) == (4, "in-progress", None)
    assert answer_rows(session, stored)[("perineal-trauma", 0)] == ["first-degree", "buttonhole"]
    assert [change.version for change in history(session, nurse, checklist.id)] == [1, 2, 3, 4]
    assert {change.snapshot is None for change in history(session, nurse, checklist.id)} == {True}
    assert count(session, Delivery, checklist) == 0
    assert {row.element_id: row.outcome for row in stored.outcomes}["mpp"] == "met"


def test_a_draft_keeps_the_anchor_unless_it_is_given(
    session: Session, catalogue: CareBundleCatalogue, nurse: Actor, unit: Unit
) -> None:
    checklist = begin(session, catalogue, nurse, unit)
    save_draft(session, catalogue, nurse, checklist.id, base_version=1, answers={"mpp": ["yes"]}, now=NOW)
    assert checklist.anchor_time == BIRTH

    corrected = BIRTH - dt.timedelta(minutes=5)
    save_draft(
        session, catalogue, nurse, checklist.id, base_version=2, answers={"birth-time": [corrected]}, now=NOW
    )
    assert checklist.anchor_time == corrected
    assert answer_rows(session, checklist)[("birth-time", 0)] == [corrected]


def test_answers_to_disabled_elements_are_not_stored(
    session: Session, catalogue: CareBundleCatalogue, nurse: Actor, unit: Unit
) -> None:
    checklist = begin(session, catalogue, nurse, unit)
    answers = oasi_answers(
        birth_mode="caesarean", mpp_not_used_reason="other"
    )  # mpp etc. need a vaginal birth

    save_draft(session, catalogue, nurse, checklist.id, base_version=1, answers=answers, now=NOW)

    assert set(answer_rows(session, checklist)) == {
        ("birth-time", 0),
        ("birth-mode", 0),
        ("antenatal-discussion", 0),
    }


def test_calculated_values_are_stored_as_answers_and_callers_values_ignored(
    session: Session, catalogue: CareBundleCatalogue, nurse: Actor, unit: Unit
) -> None:
    checklist = begin(session, catalogue, nurse, unit, care_bundle_id="freed-triage", anchor_time=REFERRAL)

    answers = {**freed_answers(), "age-at-referral": [99]}
    save_draft(session, catalogue, nurse, checklist.id, base_version=1, answers=answers, now=NOW)

    stored = answer_rows(session, checklist)
    assert stored[("age-at-referral", 0)] == [19]
    assert stored[("illness-duration-years", 0)] == [1]
    assert stored[("meets-freed-criteria", 0)] == [True]


def test_repeating_group_instances_are_stored_without_empty_ones(
    session: Session, catalogue: CareBundleCatalogue, nurse: Actor, unit: Unit
) -> None:
    checklist = begin(
        session, catalogue, nurse, unit, care_bundle_id="i-thrive", version=None, anchor_time=REFERRAL
    )
    answers = {
        "assessed": ["yes"],
        "assessment-time": [REFERRAL + dt.timedelta(days=3)],
        "grouping": ["getting-help"],
        "goals": [{"goal": ["Go to school"], "goal-score-start": [3]}, {}, {"goal": ["Sleep"]}],
    }

    save_draft(session, catalogue, nurse, checklist.id, base_version=1, answers=answers, now=NOW)

    stored = answer_rows(session, checklist)
    assert stored[("goal", 0)] == ["Go to school"]
    assert stored[("goal-score-start", 0)] == [3]
    assert stored[("goal", 1)] == ["Sleep"]
    assert stored[("goals-set", 0)] == [2]


@pytest.mark.parametrize(
    ("answers", "element"),
    [
        ({"no-such-element": ["yes"]}, "no-such-element"),
        ({"mpp": ["maybe"]}, "mpp"),
        ({"mpp": "yes"}, "mpp"),
        ({"birth-time": [dt.datetime(2026, 3, 2, 4, 0)]}, "birth-time"),  # noqa: DTZ001 - naive on purpose
        ({"birth-time": [BIRTH, BIRTH]}, "birth-time"),
        ({"episiotomy-angle": [True]}, "episiotomy-angle"),
    ],
    ids=[
        "unknown-element",
        "unknown-option",
        "not-a-list",
        "naive-datetime",
        "two-anchors",
        "bool-for-integer",
    ],
)
def test_answers_that_do_not_fit_their_elements_are_invalid_input(
    session: Session,
    catalogue: CareBundleCatalogue,
    nurse: Actor,
    unit: Unit,
    answers: dict[str, Any],
    element: str,
) -> None:
    checklist = begin(session, catalogue, nurse, unit)

    with pytest.raises(InvalidInput) as raised:
        save_draft(session, catalogue, nurse, checklist.id, base_version=1, answers=answers, now=NOW)

    assert [getattr(issue, "element_id", None) for issue in raised.value.issues] == [element]
    assert "maybe" not in raised.value.issues[0].diagnostics


def test_a_draft_the_questionnaire_refuses_is_unprocessable_naming_the_element(
    session: Session, catalogue: CareBundleCatalogue, nurse: Actor, unit: Unit
) -> None:
    checklist = begin(session, catalogue, nurse, unit)
    answers = oasi_answers(episiotomy_performed="yes", episiotomy_mediolateral_60="no", episiotomy_angle=120)

    with pytest.raises(Unprocessable) as raised:
        save_draft(session, catalogue, nurse, checklist.id, base_version=1, answers=answers, now=NOW)

    (issue,) = raised.value.issues
    assert getattr(issue, "element_id", None) == "episiotomy-angle"
    assert issue.expression is not None
    assert issue.expression.startswith("QuestionnaireResponse.item[")


# -- complete -------------------------------------------------------------------------------------------


def completed(session: Session, catalogue: CareBundleCatalogue, actor: Actor, unit: Unit) -> Checklist:
    checklist = begin(session, catalogue, actor, unit)
    save_draft(
        session, catalogue, actor, checklist.id, base_version=1, answers=oasi_answers(mpp=None), now=NOW
    )
    return complete(
        session, catalogue, actor, checklist.id, base_version=2, answers=oasi_answers(), now=LATER
    )


def test_complete_judges_stores_a_snapshot_and_queues_delivery(
    session: Session, catalogue: CareBundleCatalogue, nurse: Actor, unit: Unit
) -> None:
    checklist = completed(session, catalogue, nurse, unit)

    assert (checklist.status, checklist.version, checklist.completed_at) == ("completed", 3, LATER)
    assert checklist.compliant is True
    assert {row.composite_id: row.compliant for row in checklist.composite_results} == {OASI: True}
    (delivery,) = session.scalars(select(Delivery).where(Delivery.checklist_id == checklist.id)).all()
    assert (delivery.checklist_version, delivery.status, delivery.site_id) == (3, "pending", unit.site_id)

    response = snapshot(session, nurse, checklist.id, 3)
    assert response["resourceType"] == "QuestionnaireResponse"
    assert response["id"] == str(checklist.id)
    assert response["meta"] == {"versionId": "3", "lastUpdated": "2026-03-02T11:00:00Z"}
    assert response["status"] == "completed"
    assert response["questionnaire"] == "https://careloop.example/fhir/Questionnaire/oasi-care-bundle|2.0.0"
    assert response["subject"] == {"identifier": {"system": NHS_NUMBER_SYSTEM, "value": VALID_NHS_NUMBER}}
    assert response["encounter"] == {"reference": "Encounter/123"}
    assert response["item"][0]["linkId"] == "birth-time"
    assert [item["linkId"] for item in response["item"]][-1] == "perineal-trauma"
    assert history(session, nurse, checklist.id)[-1].snapshot == response
    assert QuestionnaireResponse.model_validate(response).meta.versionId == "3"
    with pytest.raises(NotFound):
        snapshot(session, nurse, checklist.id, 2)  # a draft keeps no snapshot


def test_complete_refuses_a_missing_required_answer_naming_the_element(
    session: Session, catalogue: CareBundleCatalogue, nurse: Actor, unit: Unit
) -> None:
    checklist = begin(session, catalogue, nurse, unit)

    with pytest.raises(Unprocessable) as raised:
        complete(
            session, catalogue, nurse, checklist.id, base_version=1, answers=oasi_answers(mpp=None), now=NOW
        )

    (issue,) = raised.value.issues
    assert (issue.code, getattr(issue, "element_id", None)) == ("required", "mpp")
    assert "mpp" in issue.diagnostics
    assert not session.new
    assert not session.dirty
    assert checklist.version == 1
    assert count(session, ChecklistChange, checklist) == 1


def test_complete_refuses_a_failed_blocking_check(
    session: Session, catalogue: CareBundleCatalogue, nurse: Actor, unit: Unit
) -> None:
    checklist = begin(session, catalogue, nurse, unit)
    answers = oasi_answers(episiotomy_performed="yes", episiotomy_mediolateral_60="no", episiotomy_angle=60)
    save_draft(
        session, catalogue, nurse, checklist.id, base_version=1, answers=answers, now=NOW
    )  # drafts may

    with pytest.raises(Unprocessable) as raised:
        complete(session, catalogue, nurse, checklist.id, base_version=2, answers=answers, now=NOW)

    (issue,) = raised.value.issues
    assert getattr(issue, "check_id", None) == "angle-agrees-with-60-degrees"
    assert getattr(issue, "element_id", None) == "episiotomy-angle"
    assert "60 degrees" in issue.diagnostics
    assert checklist.status == "in-progress"


# -- amend and entered in error ---------------------------------------------------------------------------


def test_amend_keeps_the_reason_on_the_change_and_every_version_immutable(
    session: Session, catalogue: CareBundleCatalogue, nurse: Actor, unit: Unit
) -> None:
    checklist = completed(session, catalogue, nurse, unit)
    first = snapshot(session, nurse, checklist.id, 3)
    first["status"] = "changed by a caller"  # a copy: the stored one is untouched
    reason = "Wrong tear recorded, Mrs Smith's notes say second degree"
    answers = oasi_answers(perineal_trauma=["second-degree"])

    amend(
        session,
        catalogue,
        nurse,
        checklist.id,
        base_version=3,
        answers=answers,
        reason=f"  {reason} ",
        now=LATER,
    )
    amend(
        session,
        catalogue,
        nurse,
        checklist.id,
        base_version=4,
        answers=oasi_answers(),
        reason="Back",
        now=LATER,
    )

    assert (checklist.status, checklist.version, checklist.completed_at) == ("amended", 5, LATER)
    changes = history(session, nurse, checklist.id)
    assert [(change.operation, change.reason) for change in changes[-2:]] == [
        ("amend", reason),
        ("amend", "Back"),
    ]
    assert snapshot(session, nurse, checklist.id, 3)["status"] == "completed"
    assert snapshot(session, nurse, checklist.id, 4)["item"][-1]["answer"] == [
        {
            "valueCoding": {
                "system": "https://careloop.example/fhir/CodeSystem/oasi-care-bundle",
                "code": "second-degree",
                "display": "Second-degree tear",
            }
        }
    ]
    assert snapshot(session, nurse, checklist.id, 5)["status"] == "amended"
    deliveries = session.scalars(
        select(Delivery.checklist_version).where(Delivery.checklist_id == checklist.id)
    )
    assert sorted(deliveries) == [3, 4, 5]


@pytest.mark.parametrize("reason", ["", "   ", "x" * 501])
def test_amend_needs_a_reason_of_1_to_500_characters(
    session: Session, catalogue: CareBundleCatalogue, nurse: Actor, unit: Unit, reason: str
) -> None:
    checklist = completed(session, catalogue, nurse, unit)

    with pytest.raises(InvalidInput) as raised:
        amend(
            session,
            catalogue,
            nurse,
            checklist.id,
            base_version=3,
            answers=oasi_answers(),
            reason=reason,
            now=NOW,
        )

    assert getattr(raised.value.issues[0], "field", None) == "reason"


def test_entered_in_error_after_completion_is_delivered(
    session: Session, catalogue: CareBundleCatalogue, nurse: Actor, unit: Unit
) -> None:
    checklist = completed(session, catalogue, nurse, unit)

    mark_entered_in_error(
        session, catalogue, nurse, checklist.id, base_version=3, reason="Wrong patient", now=LATER
    )

    assert (checklist.status, checklist.version) == ("entered-in-error", 4)
    response = snapshot(session, nurse, checklist.id, 4)
    assert (response["status"], response["meta"]["versionId"]) == ("entered-in-error", "4")
    assert response["item"] == snapshot(session, nurse, checklist.id, 3)["item"]
    deliveries = session.scalars(
        select(Delivery.checklist_version).where(Delivery.checklist_id == checklist.id)
    )
    assert sorted(deliveries) == [3, 4]
    with pytest.raises(Conflict, match="is entered-in-error: it cannot be marked entered in error"):
        mark_entered_in_error(
            session, catalogue, nurse, checklist.id, base_version=4, reason="Again", now=LATER
        )


def test_entered_in_error_while_in_progress_is_not_delivered(
    session: Session, catalogue: CareBundleCatalogue, nurse: Actor, unit: Unit
) -> None:
    checklist = begin(session, catalogue, nurse, unit)

    mark_entered_in_error(
        session, catalogue, nurse, checklist.id, base_version=1, reason="Duplicate", now=NOW
    )

    assert (checklist.status, checklist.version) == ("entered-in-error", 2)
    assert snapshot(session, nurse, checklist.id, 2)["status"] == "entered-in-error"
    assert count(session, Delivery, checklist) == 0


@pytest.mark.parametrize(
    ("status_after", "operation"),
    [
        ("completed", "save_draft"),
        ("completed", "complete"),
        ("in-progress", "amend"),
        ("entered-in-error", "amend"),
        ("entered-in-error", "save_draft"),
    ],
)
def test_a_wrong_transition_is_a_conflict(
    session: Session,
    catalogue: CareBundleCatalogue,
    nurse: Actor,
    unit: Unit,
    status_after: str,
    operation: str,
) -> None:
    checklist = begin(session, catalogue, nurse, unit)
    if status_after == "completed":
        complete(session, catalogue, nurse, checklist.id, base_version=1, answers=oasi_answers(), now=NOW)
    elif status_after == "entered-in-error":
        mark_entered_in_error(session, catalogue, nurse, checklist.id, base_version=1, reason="x", now=NOW)
    version = checklist.version
    reasons = {"reason": "Because"} if operation == "amend" else {}
    change = {"save_draft": save_draft, "complete": complete, "amend": amend}[operation]

    with pytest.raises(Conflict, match=f"is {status_after}: it cannot be") as raised:
        change(
            session,
            catalogue,
            nurse,
            checklist.id,
            base_version=version,
            answers=oasi_answers(),
            now=NOW,
            **reasons,
        )

    assert type(raised.value) is Conflict
    assert checklist.version == version


def test_the_audit_log_holds_no_patient_identifier_and_no_free_text(
    session: Session, catalogue: CareBundleCatalogue, nurse: Actor, unit: Unit
) -> None:
    checklist = begin(session, catalogue, nurse, unit)
    detail = "Baby's heart rate dropped, Dr Jones decided not to cut"
    answers = oasi_answers(
        birth_mode="assisted-vaginal",
        episiotomy_indication="fetal-compromise",
        episiotomy_performed="no",
        episiotomy_not_performed_reason="clinical-reason",
        episiotomy_not_performed_detail=detail,
    )
    complete(session, catalogue, nurse, checklist.id, base_version=1, answers=answers, now=NOW)
    amend(
        session,
        catalogue,
        nurse,
        checklist.id,
        base_version=2,
        answers=answers,
        reason="Typo in Mrs Smith",
        now=NOW,
    )
    mark_entered_in_error(
        session, catalogue, nurse, checklist.id, base_version=3, reason="Not Mrs Smith", now=NOW
    )

    assert answer_rows(session, checklist)[("episiotomy-not-performed-detail", 0)] == [detail]
    logged = json.dumps(audit_details(session, checklist))
    assert [event["operation"] for event in audit_details(session, checklist)] == [
        "start",
        "complete",
        "amend",
        "entered-in-error",
    ]
    for secret in (VALID_NHS_NUMBER, "Dr Jones", "Mrs Smith", "Encounter/123"):
        assert secret not in logged
