"""reevaluate() and ``flask checklists reevaluate``: re-judging recorded checklists, dry run or applied."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from schemas.care_bundle import CareBundle
from service.care_bundles import CareBundleRegistry
from service.checklists import evaluate
from service.checklists.reevaluation import (
    CompliantCounts,
    CompositeCounts,
    ReevaluationSummary,
    reevaluate,
)
from service.checklists.store import Judgement, record_evaluation
from service.errors import Forbidden, NotFound
from service.models import (
    AuditEvent,
    Checklist,
    ChecklistStatus,
    Role,
    User,
)
from tests.factories import ARRIVAL, COMPLETED, PATIENT, hip_answers, make_checklist, make_user

UTC = dt.UTC
NOW = dt.datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
WITHIN_36H = "anaesthesia-start.timing[0]"


@pytest.fixture
def hip(app: Flask) -> CareBundle:
    care_bundle = app.extensions["care_bundles"].get("hip-fracture-pathway", "1.0.0")
    assert care_bundle is not None
    return care_bundle


@pytest.fixture
def registry(hip: CareBundle) -> CareBundleRegistry:
    """Version 1.0.0 and a 2.0.0 with the same rules: each checklist must keep its own version."""
    return CareBundleRegistry((hip, dataclasses.replace(hip, version="2.0.0")))


def make_judged_checklist(
    session: Session,
    care_bundle: CareBundle,
    anaesthesia_after: dt.timedelta,
    *,
    status: str = ChecklistStatus.COMPLETED,
    version: str | None = None,
) -> Checklist:
    """A checklist with its answers and the judgement the engine gives them today."""
    answers = hip_answers(anaesthesia_start=ARRIVAL + anaesthesia_after)
    checklist = make_checklist(
        session, care_bundle, answers, status=status, care_bundle_version=version or care_bundle.version
    )
    record_evaluation(session, checklist, evaluate(care_bundle, answers, COMPLETED))
    return checklist


def judge_36h_exclusive(session: Session, checklist: Checklist) -> None:
    """Store what the engine said before bounds became inclusive: exactly 36:00 was 'not met'."""
    reason = "later than 36 h after arrival-time: due by 2025-03-11T20:00:00+00:00"
    rule = next(row for row in checklist.rule_results if row.rule_id == WITHIN_36H)
    rule.outcome, rule.timing_status, rule.reason = "not-met", "not-met", reason
    element = next(row for row in checklist.outcomes if row.element_id == "anaesthesia-start")
    element.outcome, element.timing_status, element.reason = "not-met", "not-met", reason
    (composite,) = checklist.composite_results
    composite.compliant = False
    if checklist.status != ChecklistStatus.IN_PROGRESS:
        checklist.compliant = False
    session.flush()


def stale_checklist(session: Session, care_bundle: CareBundle, **options: Any) -> Checklist:
    checklist = make_judged_checklist(session, care_bundle, dt.timedelta(hours=36), **options)
    judge_36h_exclusive(session, checklist)
    return checklist


def audit_events(session: Session) -> list[AuditEvent]:
    return list(
        session.scalars(select(AuditEvent).where(AuditEvent.action == "re-evaluate").order_by(AuditEvent.id))
    )


def judgement(session: Session, checklist: Checklist) -> tuple[Judgement, int]:
    session.expire_all()
    loaded = session.get(Checklist, checklist.id)
    assert loaded is not None
    return Judgement.of_checklist(loaded), loaded.version


def rule_outcome(session: Session, checklist: Checklist) -> str:
    return judgement(session, checklist)[0].rules[WITHIN_36H].outcome


# -- reevaluate ------------------------------------------------------------------------------------------


def test_a_dry_run_reports_the_change_and_writes_nothing(
    session: Session, hip: CareBundle, registry: CareBundleRegistry
) -> None:
    admin = make_user(session, "admin")
    stale = stale_checklist(session, hip)
    current = make_judged_checklist(session, hip, dt.timedelta(hours=30), status=ChecklistStatus.AMENDED)
    before = judgement(session, stale)

    summary = reevaluate(session, registry, hip.id, "1.0.0", actor=admin, now=NOW, apply=False)

    assert summary == ReevaluationSummary(
        care_bundle_id="hip-fracture-pathway",
        version="1.0.0",
        applied=False,
        checked=2,
        changed_ids=(stale.id,),
        composites=(
            CompositeCounts(
                "all-or-none",
                before=CompliantCounts(compliant=1, not_compliant=1),
                after=CompliantCounts(compliant=2),
            ),
        ),
    )
    assert summary.changed == 1
    session.flush()
    assert judgement(session, stale) == before
    assert rule_outcome(session, stale) == "not-met"
    assert rule_outcome(session, current) == "met"
    assert audit_events(session) == []


def test_applying_rewrites_the_changed_checklists_and_audits_them(
    session: Session, hip: CareBundle, registry: CareBundleRegistry
) -> None:
    admin = make_user(session, "admin")
    stale = stale_checklist(session, hip)
    current = make_judged_checklist(session, hip, dt.timedelta(hours=30))
    untouched_current = judgement(session, current)

    summary = reevaluate(session, registry, hip.id, "1.0.0", actor=admin, now=NOW, apply=True)

    assert summary.applied
    assert summary.changed_ids == (stale.id,)
    rewritten, _ = judgement(session, stale)
    assert rewritten.compliant is True
    assert rewritten.rules[WITHIN_36H].outcome == "met"
    assert rewritten.elements["anaesthesia-start"].outcome == "met"
    assert rewritten.composites == {"all-or-none": True}
    assert judgement(session, current) == untouched_current

    checklist_event, run_event = audit_events(session)
    assert (checklist_event.entity_type, checklist_event.entity_id) == ("checklist", str(stale.id))
    assert checklist_event.actor_user_id == admin.id
    assert checklist_event.occurred_at == NOW
    assert checklist_event.detail == {
        "care_bundle_id": "hip-fracture-pathway",
        "care_bundle_version": "1.0.0",
        "compliant_before": False,
        "compliant_after": True,
        "element_outcomes_changed": 1,
        "rule_outcomes_changed": 1,
        "composite_outcomes_changed": 1,
        "failed_checks_changed": 0,
    }
    assert (run_event.entity_type, run_event.entity_id) == ("care-bundle", "hip-fracture-pathway")
    assert run_event.detail == {
        "care_bundle_id": "hip-fracture-pathway",
        "care_bundle_version": "1.0.0",
        "checked": 2,
        "changed": 1,
        "composites": {
            "all-or-none": {
                "before": {"compliant": 1, "not_compliant": 1, "outside": 0, "not_recorded": 0},
                "after": {"compliant": 2, "not_compliant": 0, "outside": 0, "not_recorded": 0},
            }
        },
    }
    for event in (checklist_event, run_event):
        assert PATIENT not in json.dumps(event.detail)

    again = reevaluate(session, registry, hip.id, "1.0.0", actor=admin, now=NOW, apply=False)
    assert (again.checked, again.changed) == (2, 0)


def test_other_versions_and_unfinished_checklists_are_left_alone(
    session: Session, hip: CareBundle, registry: CareBundleRegistry
) -> None:
    admin = make_user(session, "admin")
    other_version = stale_checklist(session, hip, version="2.0.0")
    unknown_version = stale_checklist(session, hip, version="0.9.0")
    in_progress = stale_checklist(session, hip, status=ChecklistStatus.IN_PROGRESS)
    in_error = stale_checklist(session, hip, status=ChecklistStatus.ENTERED_IN_ERROR)
    left_alone = [other_version, unknown_version, in_progress, in_error]
    before = [judgement(session, checklist) for checklist in left_alone]

    summary = reevaluate(session, registry, hip.id, "1.0.0", actor=admin, now=NOW, apply=True)

    assert (summary.checked, summary.changed) == (0, 0)
    assert [judgement(session, checklist) for checklist in left_alone] == before
    (run_event,) = audit_events(session)
    assert run_event.entity_type == "care-bundle"

    # Version 2.0.0 is judged under 2.0.0, on its own.
    summary = reevaluate(session, registry, hip.id, "2.0.0", actor=admin, now=NOW, apply=True)
    assert summary.changed_ids == (other_version.id,)
    assert rule_outcome(session, other_version) == "met"
    assert rule_outcome(session, unknown_version) == "not-met"


def test_a_checklist_without_stored_composites_counts_as_not_recorded(
    session: Session, hip: CareBundle, registry: CareBundleRegistry
) -> None:
    admin = make_user(session, "admin")
    checklist = make_judged_checklist(session, hip, dt.timedelta(hours=30))
    checklist.composite_results.clear()
    session.flush()

    summary = reevaluate(session, registry, hip.id, "1.0.0", actor=admin, now=NOW, apply=False)

    assert summary.changed_ids == (checklist.id,)
    assert summary.composites[0].before == CompliantCounts(not_recorded=1)
    assert summary.composites[0].after == CompliantCounts(compliant=1)


@pytest.mark.parametrize("who", ["clinician", "qi-lead", "inactive-admin", "unsaved-admin"])
def test_only_an_active_admin_may_reevaluate(
    session: Session, hip: CareBundle, registry: CareBundleRegistry, who: str
) -> None:
    actor = {
        "clinician": lambda: make_user(session, "midwife", Role.CLINICIAN),
        "qi-lead": lambda: make_user(session, "qi", Role.QI_LEAD),
        "inactive-admin": lambda: make_user(session, "former", Role.ADMIN, active=False),
        "unsaved-admin": lambda: User(username="ghost", display_name="G", password_hash="x", role=Role.ADMIN),
    }[who]()
    stale = stale_checklist(session, hip)

    with pytest.raises(Forbidden) as refused:
        reevaluate(session, registry, hip.id, "1.0.0", actor=actor, now=NOW, apply=True)

    assert refused.value.status == 403
    assert rule_outcome(session, stale) == "not-met"
    assert audit_events(session) == []


def test_an_unknown_care_bundle_version_is_not_found(
    session: Session, hip: CareBundle, registry: CareBundleRegistry
) -> None:
    admin = make_user(session, "admin")
    with pytest.raises(NotFound, match="care bundle hip-fracture-pathway version 9.9.9 is not loaded"):
        reevaluate(session, registry, hip.id, "9.9.9", actor=admin, now=NOW, apply=False)


# -- flask checklists reevaluate -------------------------------------------------------------------------


def test_cli_dry_run_then_apply(session: Session, runner: FlaskCliRunner, hip: CareBundle) -> None:
    make_user(session, "site-admin")
    stale = stale_checklist(session, hip)
    session.commit()  # the dry run rolls its own transaction back
    command = ["checklists", "reevaluate", "hip-fracture-pathway", "1.0.0", "--admin", "site-admin"]

    dry = runner.invoke(args=command)

    assert dry.exit_code == 0, dry.output
    assert dry.output.splitlines() == [
        "dry run: nothing written; add --apply to write the new outcomes",
        "hip-fracture-pathway 1.0.0: 1 completed or amended checklist(s) judged again, 1 changed",
        "  all-or-none: compliant 0 -> 1, not compliant 1 -> 0, outside the denominator 0 -> 0",
        "changed checklists:",
        f"  {stale.id}",
    ]
    assert rule_outcome(session, stale) == "not-met"
    assert audit_events(session) == []

    applied = runner.invoke(args=[*command, "--apply"])

    assert applied.exit_code == 0, applied.output
    assert applied.output.splitlines()[0] == "applied: changed checklists rewritten, each with an audit event"
    assert rule_outcome(session, stale) == "met"
    assert [event.entity_type for event in audit_events(session)] == ["checklist", "care-bundle"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["9.9.9", "--admin", "site-admin"],
            "Error: care bundle hip-fracture-pathway version 9.9.9 is not loaded",
        ),
        (["1.0.0", "--admin", "nobody"], "Error: no user named 'nobody'"),
        (["1.0.0", "--admin", "midwife"], "Error: re-evaluating checklists needs an active admin user"),
    ],
    ids=["unknown-version", "unknown-user", "not-an-admin"],
)
def test_cli_refusals_exit_1(
    session: Session, runner: FlaskCliRunner, arguments: list[str], message: str
) -> None:
    make_user(session, "site-admin")
    make_user(session, "midwife", Role.CLINICIAN)
    session.commit()

    result = runner.invoke(args=["checklists", "reevaluate", "hip-fracture-pathway", *arguments, "--apply"])

    assert result.exit_code == 1
    assert message in result.output
    assert audit_events(session) == []
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == 0
