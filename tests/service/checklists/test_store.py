"""record_evaluation() and answers_of(): a judgement into rows, answer rows back into the answers mapping."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from schemas.care_bundle import CareBundle, load_care_bundle, parse_care_bundle
from service.checklists import Evaluation, evaluate
from service.checklists.store import Judgement, answers_of, record_evaluation
from service.config import PROJECT_ROOT
from service.models import (
    Answer,
    CheckFailure,
    Checklist,
    ChecklistStatus,
    CompositeResult,
    ElementOutcome,
    RuleResult,
)
from tests.factories import ARRIVAL, COMPLETED, definition, hip_answers, make_checklist


@pytest.fixture(scope="module")
def hip() -> CareBundle:
    return load_care_bundle(PROJECT_ROOT / "bundles" / "hip-fracture-pathway.yaml")


#: A care bundle with a repeating group, every value type, two composites and a check.
TINY: dict[str, Any] = {
    **definition(
        id="tiny-pathway", title="Tiny pathway", anchor={"id": "referral", "text": "Referral received"}
    ),
    "elements": [
        {
            "id": "seen",
            "text": "Seen by the team",
            "type": "dateTime",
            "compliance": {"timing": [{"id": "seen-within-24h", "from": "anchor", "within_hours": 24}]},
        },
        {"id": "weight", "text": "Weight", "type": "decimal"},
        {"id": "review-date", "text": "Review date", "type": "date"},
        {"id": "visits", "text": "Visits", "type": "integer"},
        {"id": "consent", "text": "Consent recorded", "type": "boolean"},
        {
            "id": "goals",
            "text": "Goals",
            "type": "group",
            "repeats": True,
            "items": [
                {"id": "goal", "text": "Goal", "type": "string"},
                {
                    "id": "agreed",
                    "text": "Agreed with the patient",
                    "type": "choice",
                    "options": [{"code": "yes", "display": "Yes"}, {"code": "no", "display": "No"}],
                    "compliance": {"met": ["yes"]},
                },
                {
                    "id": "supports",
                    "text": "Support",
                    "type": "choice",
                    "repeats": True,
                    "options": [{"code": "family", "display": "Family"}, {"code": "gp", "display": "GP"}],
                },
            ],
        },
    ],
    "composites": [
        {"id": "pathway", "title": "Pathway", "members": ["seen-within-24h", "agreed"]},
        {"id": "goals-agreed", "title": "Goals agreed", "members": ["agreed"]},
    ],
    "checks": [
        {
            "id": "consent-recorded",
            "text": "Consent is not recorded.",
            "severity": "warning",
            "require": [{"element": "consent", "operator": "=", "answer": True}],
        }
    ],
}


@pytest.fixture(scope="module")
def tiny() -> CareBundle:
    return parse_care_bundle(TINY)


def tiny_answers(**changes: Any) -> dict[str, list[Any]]:
    answers: dict[str, list[Any]] = {
        "referral": [ARRIVAL],
        "seen": [dt.datetime(2025, 3, 10, 20, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))],
        "weight": [Decimal("61.5")],
        "review-date": [dt.date(2025, 4, 1)],
        "visits": [3],
        "consent": [True],
        "goals": [
            {"goal": ["Walk to the shop"], "agreed": ["yes"], "supports": ["family", "gp"]},
            {"goal": ["Eat breakfast"], "agreed": ["yes"]},
        ],
    }
    answers.update({key.replace("_", "-"): value for key, value in changes.items()})
    return answers


def count(session: Session, model: type[Any]) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def stored(session: Session, checklist: Checklist) -> Checklist:
    """``checklist`` read back from the database."""
    session.expire_all()
    loaded = session.get(Checklist, checklist.id)
    assert loaded is not None
    return loaded


def expected_rows(evaluation: Evaluation) -> dict[str, Any]:
    return {
        "elements": {
            o.element_id: (o.outcome, o.reason, o.due_at, o.timing_status)
            for o in evaluation.compliance_outcomes
        },
        "rules": {
            r.rule_id: (r.element_id, r.outcome, r.reason, r.due_at, r.status) for r in evaluation.rules
        },
        "composites": {c.composite.id: c.compliant for c in evaluation.composites},
        "checks": {c.check.id: c.check.severity for c in evaluation.failed_checks},
    }


def stored_rows(checklist: Checklist) -> dict[str, Any]:
    return {
        "elements": {
            o.element_id: (o.outcome, o.reason, o.due_at, o.timing_status) for o in checklist.outcomes
        },
        "rules": {
            r.rule_id: (r.element_id, r.outcome, r.reason, r.due_at, r.timing_status)
            for r in checklist.rule_results
        },
        "composites": {c.composite_id: c.compliant for c in checklist.composite_results},
        "checks": {c.check_id: c.severity for c in checklist.check_failures},
    }


# -- record_evaluation -----------------------------------------------------------------------------------


def test_record_evaluation_stores_the_judgement_of_a_real_care_bundle(
    session: Session, hip: CareBundle
) -> None:
    answers = hip_answers()
    checklist = make_checklist(session, hip, answers)
    evaluation = evaluate(hip, answers, COMPLETED)
    assert evaluation.compliant is True

    record_evaluation(session, checklist, evaluation)

    loaded = stored(session, checklist)
    assert loaded.compliant is True
    assert stored_rows(loaded) == expected_rows(evaluation)
    # One row per compliance element and per timing rule; elements without a rule are not stored.
    assert len(loaded.outcomes) == len(hip.compliance_elements) == 21
    assert "fracture-type" not in {o.element_id for o in loaded.outcomes}
    assert [r.rule_id for r in loaded.rule_results] == [
        "anaesthesia-start.timing[0]",
        "anaesthesia-start.timing[1]",
        "geriatrician-assessment-time.timing[0]",
        "mobilised-date.timing[0]",
    ]
    within_36h = loaded.rule_results[0]
    assert (within_36h.element_id, within_36h.outcome, within_36h.timing_status) == (
        "anaesthesia-start",
        "met",
        "met",
    )
    assert within_36h.due_at == ARRIVAL + dt.timedelta(hours=36)
    assert stored_rows(loaded)["composites"] == {"all-or-none": True}
    assert loaded.check_failures == []


def test_a_second_record_replaces_the_first_in_place(session: Session, hip: CareBundle) -> None:
    checklist = make_checklist(session, hip, hip_answers())
    record_evaluation(session, checklist, evaluate(hip, hip_answers(), COMPLETED))
    row_ids = {o.element_id: o.id for o in checklist.outcomes}
    counts = (count(session, ElementOutcome), count(session, RuleResult), count(session, CompositeResult))

    late = hip_answers(anaesthesia_start=ARRIVAL + dt.timedelta(hours=38), joint_care="no")
    evaluation = evaluate(hip, late, COMPLETED)
    record_evaluation(session, checklist, evaluation)

    loaded = stored(session, checklist)
    assert loaded.compliant is False
    assert stored_rows(loaded) == expected_rows(evaluation)
    rules = {r.rule_id: r for r in loaded.rule_results}
    assert (rules["anaesthesia-start.timing[0]"].outcome, rules["anaesthesia-start.timing[1]"].outcome) == (
        "not-met",
        "met",
    )
    assert {o.element_id: o.outcome for o in loaded.outcomes}["joint-care"] == "not-met"
    assert {o.element_id: o.id for o in loaded.outcomes} == row_ids  # updated, not deleted and re-added
    assert (
        count(session, ElementOutcome),
        count(session, RuleResult),
        count(session, CompositeResult),
    ) == counts


def test_rows_no_longer_produced_are_deleted(session: Session, hip: CareBundle) -> None:
    checklist = make_checklist(session, hip, hip_answers())
    checklist.outcomes.append(ElementOutcome(element_id="fracture-type", outcome="met"))
    checklist.rule_results.append(RuleResult(rule_id="old-rule", element_id="x", outcome="met"))
    checklist.composite_results.append(CompositeResult(composite_id="old-composite", compliant=True))
    checklist.check_failures.append(CheckFailure(check_id="old-check", severity="error"))
    session.flush()

    evaluation = evaluate(hip, hip_answers(), COMPLETED)
    record_evaluation(session, checklist, evaluation)

    assert stored_rows(stored(session, checklist)) == expected_rows(evaluation)
    assert count(session, CheckFailure) == 0


def test_in_progress_keeps_no_compliance_result_but_stores_what_is_due(
    session: Session, hip: CareBundle
) -> None:
    answers = hip_answers(anaesthesia_start=None, mobilised_out_of_bed=None, mobilised_date=None)
    checklist = make_checklist(session, hip, answers, status=ChecklistStatus.IN_PROGRESS)
    evaluation = evaluate(hip, answers, ARRIVAL + dt.timedelta(hours=12))
    assert evaluation.compliant is False

    record_evaluation(session, checklist, evaluation)

    loaded = stored(session, checklist)
    assert loaded.compliant is None
    assert stored_rows(loaded) == expected_rows(evaluation)
    anaesthesia = {o.element_id: o for o in loaded.outcomes}["anaesthesia-start"]
    assert (anaesthesia.outcome, anaesthesia.timing_status) == ("missing", "due")
    # The earliest open deadline: 36 h after arrival (the calendar rule allows until midnight after).
    assert anaesthesia.due_at == ARRIVAL + dt.timedelta(hours=36)
    assert stored_rows(loaded)["composites"] == {"all-or-none": False}


def test_composites_and_failed_checks_are_stored_and_cleared(session: Session, tiny: CareBundle) -> None:
    answers = tiny_answers(consent=[False])
    checklist = make_checklist(session, tiny, answers)
    evaluation = evaluate(tiny, answers, COMPLETED)

    record_evaluation(session, checklist, evaluation)

    loaded = stored(session, checklist)
    assert stored_rows(loaded)["composites"] == {"pathway": True, "goals-agreed": True}
    assert stored_rows(loaded)["checks"] == {"consent-recorded": "warning"}
    assert loaded.compliant is True

    fixed = tiny_answers(seen=[ARRIVAL + dt.timedelta(hours=25)])
    record_evaluation(session, loaded, evaluate(tiny, fixed, COMPLETED))

    loaded = stored(session, checklist)
    assert stored_rows(loaded)["composites"] == {"pathway": False, "goals-agreed": True}
    assert loaded.check_failures == []
    assert loaded.compliant is False


def test_the_stored_judgement_equals_the_evaluation(session: Session, tiny: CareBundle) -> None:
    checklist = make_checklist(session, tiny, tiny_answers())
    evaluation = evaluate(tiny, tiny_answers(), COMPLETED)
    assert Judgement.of_checklist(checklist) != Judgement.of_evaluation(evaluation, checklist.status)

    record_evaluation(session, checklist, evaluation)

    assert Judgement.of_checklist(stored(session, checklist)) == Judgement.of_evaluation(
        evaluation, checklist.status
    )


# -- answers_of ------------------------------------------------------------------------------------------


def test_answers_round_trip_with_a_repeating_group(session: Session, tiny: CareBundle) -> None:
    answers = tiny_answers()
    checklist = make_checklist(session, tiny, answers)

    loaded = answers_of(tiny, stored(session, checklist))

    assert loaded == answers
    assert isinstance(loaded["weight"][0], Decimal)
    assert loaded["seen"][0].tzinfo == dt.UTC
    assert loaded["goals"][0]["supports"] == ["family", "gp"]
    assert Judgement.of_evaluation(evaluate(tiny, loaded, COMPLETED), "completed") == Judgement.of_evaluation(
        evaluate(tiny, answers, COMPLETED), "completed"
    )


def test_answers_round_trip_for_a_real_care_bundle(session: Session, hip: CareBundle) -> None:
    answers = hip_answers()
    checklist = make_checklist(session, hip, answers)
    assert answers_of(hip, stored(session, checklist)) == answers


def test_instances_come_back_in_order_with_gaps_kept(session: Session, tiny: CareBundle) -> None:
    checklist = make_checklist(session, tiny, {"referral": [ARRIVAL]})
    # Stored out of order, and nothing answered in instance 1.
    checklist.answers.extend(
        [
            Answer(element_id="supports", instance=2, position=1, value_code="gp"),
            Answer(element_id="goal", instance=2, value_text="Third"),
            Answer(element_id="supports", instance=2, position=0, value_code="family"),
            Answer(element_id="goal", instance=0, value_text="First"),
        ]
    )
    session.flush()

    assert answers_of(tiny, stored(session, checklist)) == {
        "referral": [ARRIVAL],
        "goals": [{"goal": ["First"]}, {}, {"goal": ["Third"], "supports": ["family", "gp"]}],
    }


def test_the_anchor_time_stands_in_for_a_missing_anchor_answer(session: Session, tiny: CareBundle) -> None:
    checklist = make_checklist(session, tiny, {"visits": [2]}, anchor_time=ARRIVAL)
    assert answers_of(tiny, stored(session, checklist)) == {"visits": [2], "referral": [ARRIVAL]}
    without = make_checklist(session, tiny, {"visits": [2]}, anchor_time=None)
    assert answers_of(tiny, stored(session, without)) == {"visits": [2]}
