"""The clinical review of the 1.0.0 care bundles: each defect, with the case that exposed it.

Every test judges the same answers under 1.0.0 (published, kept as it was: its checklists keep their
meaning) and under 2.0.0 (the fix), so the change of meaning is visible in one place.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from fhir_adapters.questionnaire_response import to_questionnaire_response
from fhir_adapters.sdc_validation import validate_questionnaire_response
from schemas.care_bundle import CareBundle, load_care_bundle
from service.checklists import Evaluation, Outcome, TimingStatus, evaluate
from service.checklists.compiled import compile_care_bundle

BUNDLES = Path(__file__).resolve().parents[2] / "bundles"
UTC = dt.UTC
BST = dt.timezone(dt.timedelta(hours=1))
LATER = dt.datetime(2026, 12, 1, tzinfo=UTC)


def _load(name: str) -> CareBundle:
    return load_care_bundle(BUNDLES / f"{name}.yaml")


OASI_1, OASI_2 = _load("oasi-care-bundle"), _load("oasi-care-bundle-2.0.0")
HIP_1, HIP_2 = _load("hip-fracture-pathway"), _load("hip-fracture-pathway-2.0.0")
FREED_1, FREED_2 = _load("freed-triage"), _load("freed-triage-2.0.0")


def judge(care_bundle: CareBundle, **answers: Any) -> Evaluation:
    values = {
        key.replace("_", "-"): value if isinstance(value, list) else [value] for key, value in answers.items()
    }
    return evaluate(care_bundle, values, LATER)


def sdc_errors(care_bundle: CareBundle, **answers: Any) -> list[str]:
    values = {
        key.replace("_", "-"): value if isinstance(value, list) else [value] for key, value in answers.items()
    }
    response = to_questionnaire_response(
        care_bundle,
        values,
        checklist_id="5d0c4c8e-8c1b-4d8e-b6f2-9f0e7e1b2a33",
        status="completed",
        authored=LATER,
    )
    issues = validate_questionnaire_response(compile_care_bundle(care_bundle).compiled, response)
    return [issue.diagnostics for issue in issues if issue.is_error]


BIRTH = dt.datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
VAGINAL_ALL_MET = {
    "birth_time": BIRTH,
    "birth_mode": "spontaneous-vaginal",
    "antenatal_discussion": "yes",
    "mpp": "yes",
    "episiotomy_indication": "not-indicated",
    "episiotomy_performed": "no",
    "perineal_examination": "yes",
    "perineal_trauma": "second-degree",
}


# --------------------------------------------------------------------------------------------------
# OASI
# --------------------------------------------------------------------------------------------------


def test_oasi_a_caesarean_birth_is_outside_every_denominator() -> None:
    """1.0.0: a caesarean with the antenatal discussion ticked counted as compliant."""
    old = judge(OASI_1, birth_time=BIRTH, antenatal_discussion="yes", birth_mode="caesarean")
    assert old.compliant is True  # the published meaning, kept for checklists recorded under 1.0.0
    new = judge(OASI_2, birth_time=BIRTH, birth_mode="caesarean", antenatal_discussion="yes")
    assert new.in_population is False
    assert new.compliant is None
    assert [c.compliant for c in new.composites] == [None]
    discussion = new.outcome("antenatal-discussion")
    assert discussion.outcome == Outcome.NOT_APPLICABLE
    assert "outside the population" in str(discussion.reason)


def test_oasi_a_vaginal_birth_with_every_practice_is_compliant() -> None:
    evaluation = judge(OASI_2, **VAGINAL_ALL_MET)
    assert evaluation.in_population is True
    assert evaluation.compliant is True
    assert evaluation.outcome("episiotomy-performed").outcome == Outcome.NOT_APPLICABLE
    assert "applies only when" in str(evaluation.outcome("episiotomy-performed").reason)


def test_oasi_an_episiotomy_without_an_indication_can_be_recorded_and_its_angle_is_judged() -> None:
    """1.0.0 hid "episiotomy performed" when not indicated: an episiotomy without indication was lost."""
    old = judge(OASI_1, birth_time=BIRTH, birth_mode="vaginal", episiotomy_indication="not-indicated")
    assert "episiotomy-performed" not in old.enabled
    answers = {**VAGINAL_ALL_MET, "episiotomy_performed": "yes", "episiotomy_mediolateral_60": "no"}
    new = judge(OASI_2, **answers)
    assert {"episiotomy-performed", "episiotomy-mediolateral-60", "episiotomy-angle"} <= new.enabled
    assert new.outcome("episiotomy-performed").outcome == Outcome.NOT_APPLICABLE  # not indicated: not judged
    assert new.outcome("episiotomy-mediolateral-60").outcome == Outcome.NOT_MET  # but the cut is
    assert new.compliant is False
    assert sdc_errors(OASI_2, **answers) == []


@pytest.mark.parametrize(
    ("reason", "outcome", "compliant"),
    [("clinical-reason", Outcome.NOT_APPLICABLE, True), ("no-reason", Outcome.NOT_MET, False)],
)
def test_oasi_an_operative_birth_without_episiotomy_is_an_exception_only_with_a_recorded_reason(
    reason: str, outcome: Outcome, compliant: bool
) -> None:
    answers = {
        **VAGINAL_ALL_MET,
        "birth_mode": "assisted-vaginal",
        "episiotomy_indication": "operative-vaginal-birth",
        "episiotomy_performed": "no",
        "episiotomy_not_performed_reason": reason,
    }
    evaluation = judge(OASI_2, **answers)
    assert evaluation.outcome("episiotomy-performed").outcome == outcome
    assert evaluation.compliant is compliant
    assert sdc_errors(OASI_2, **answers) == []


def test_oasi_an_operative_birth_in_1_0_0_made_no_episiotomy_non_compliant_whatever_the_reason() -> None:
    old = judge(
        OASI_1,
        birth_time=BIRTH,
        birth_mode="vaginal",
        antenatal_discussion="yes",
        mpp="yes",
        episiotomy_indication="operative-vaginal-birth",
        episiotomy_performed="no",
        episiotomy_not_performed_reason="Judged not needed",
        perineal_examination="yes",
        perineal_trauma="first-degree",
    )
    assert old.outcome("episiotomy-performed").outcome == Outcome.NOT_MET


def test_oasi_intact_perineum_excludes_tears() -> None:
    answers = {**VAGINAL_ALL_MET, "perineal_trauma": ["intact", "second-degree"]}
    old = {key: value for key, value in answers.items() if key != "episiotomy_performed"}
    assert sdc_errors(OASI_1, **{**old, "birth_mode": "vaginal"}) == []  # 1.0.0 accepted both
    errors = sdc_errors(OASI_2, **answers)
    assert any("exclusive option of 'perineal-trauma'" in error for error in errors), errors
    assert sdc_errors(OASI_2, **{**answers, "perineal_trauma": ["intact"]}) == []
    assert sdc_errors(OASI_2, **{**answers, "perineal_trauma": ["second-degree", "buttonhole"]}) == []


def test_oasi_the_angle_agrees_with_cut_at_60_degrees() -> None:
    """1.0.0 accepted "cut at 60 degrees: yes" with an angle of 30 degrees."""
    old_answers = {
        "birth_time": BIRTH,
        "birth_mode": "vaginal",
        "episiotomy_indication": "fetal-compromise",
        "episiotomy_performed": "yes",
        "episiotomy_mediolateral_60": "yes",
        "episiotomy_angle": 30,
    }
    assert not any("episiotomy-angle" in error for error in sdc_errors(OASI_1, **old_answers))
    cut = {**VAGINAL_ALL_MET, "episiotomy_indication": "fetal-compromise", "episiotomy_performed": "yes"}
    # 2.0.0: with "yes" the angle is not asked, so it cannot disagree...
    errors = sdc_errors(OASI_2, **cut, episiotomy_mediolateral_60="yes", episiotomy_angle=30)
    assert any("'episiotomy-angle' is disabled but answered" in error for error in errors), errors
    # ...and with "no" an angle of 60 is refused by a blocking check, while 45 is fine.
    refused = judge(OASI_2, **cut, episiotomy_mediolateral_60="no", episiotomy_angle=60)
    assert [result.check.id for result in refused.blocking_checks] == ["angle-agrees-with-60-degrees"]
    assert judge(OASI_2, **cut, episiotomy_mediolateral_60="no", episiotomy_angle=45).failed_checks == ()


# --------------------------------------------------------------------------------------------------
# Hip fracture
# --------------------------------------------------------------------------------------------------

ARRIVAL = dt.datetime(2026, 6, 1, 23, 0, tzinfo=BST)  # Monday 23:00
HIP_ALL_MET: dict[str, Any] = {
    "arrival_time": ARRIVAL,
    "fracture_type": "trochanteric-to-lesser",
    "operated": "yes",
    "joint_care": "yes",
    "assessment_protocol": "yes",
    "geriatrician_assessment": "done",
    "geriatrician_assessment_time": ARRIVAL + dt.timedelta(hours=20),
    "geriatrician_grade": "consultant",
    "orthogeriatric_assessment_pre_op": "yes",
    "amt_pre_op": "done",
    "amt_pre_op_score": 8,
    "planned_trauma_list": "yes",
    "anaesthesia_start": ARRIVAL + dt.timedelta(hours=14),
    "implant_trochanteric": "extramedullary",
    "amt_post_op": "done",
    "amt_post_op_score": 9,
    "post_op_mdt_rehabilitation": "yes",
    "mobilised_out_of_bed": "yes",
    "mobilised_date": dt.date(2026, 6, 3),
    "daily_rehabilitation": "yes",
    "falls_assessment": "yes",
    "bone_health_assessment": "yes",
}


def test_hip_all_met_is_compliant_in_both_composites() -> None:
    evaluation = judge(HIP_2, **HIP_ALL_MET)
    assert [(c.composite.id, c.compliant) for c in evaluation.composites] == [
        ("pathway", True),
        ("bpt", True),
    ]
    assert sdc_errors(HIP_2, **HIP_ALL_MET) == []


def test_hip_the_36_hour_and_the_day_after_rules_are_reported_separately() -> None:
    """Monday 23:00 to Wednesday 09:00 is 34 hours: BPT met, QS16 (day of or after admission) not met.

    1.0.0 fused both into one element outcome, so neither figure could be reported."""
    anaesthesia = dt.datetime(2026, 6, 3, 9, 0, tzinfo=BST)
    old = judge(HIP_1, arrival_time=ARRIVAL, operated="yes", anaesthesia_start=anaesthesia)
    assert old.outcome("anaesthesia-start").outcome == Outcome.NOT_MET
    new = judge(HIP_2, **{**HIP_ALL_MET, "anaesthesia_start": anaesthesia})
    assert new.rule("surgery-within-36h").outcome == Outcome.MET
    assert new.rule("surgery-day-of-or-after").outcome == Outcome.NOT_MET
    assert new.outcome("anaesthesia-start").outcome == Outcome.NOT_MET
    assert new.composite("bpt").compliant is True
    assert new.composite("pathway").compliant is False


def test_hip_36_hours_is_met_at_exactly_36_00() -> None:
    """1.0.0 documented "at most 36 hours" but judged with "<": 36:00:00 was not met."""
    evaluation = judge(HIP_2, **{**HIP_ALL_MET, "anaesthesia_start": ARRIVAL + dt.timedelta(hours=36)})
    assert evaluation.rule("surgery-within-36h").status == TimingStatus.MET
    late = judge(HIP_2, **{**HIP_ALL_MET, "anaesthesia_start": ARRIVAL + dt.timedelta(hours=36, seconds=1)})
    assert late.rule("surgery-within-36h").status == TimingStatus.NOT_MET


@pytest.mark.parametrize(
    ("fracture_type", "implant", "outcome"),
    [
        ("trochanteric-to-lesser", "extramedullary", Outcome.MET),
        ("trochanteric-to-lesser", "intramedullary-nail", Outcome.NOT_MET),
        ("trochanteric-below-lesser", "intramedullary-nail", Outcome.NOT_APPLICABLE),
        ("trochanteric-below-lesser", "extramedullary", Outcome.NOT_APPLICABLE),
    ],
)
def test_hip_the_extramedullary_rule_covers_fractures_above_and_including_the_lesser_trochanter_only(
    fracture_type: str, implant: str, outcome: Outcome
) -> None:
    evaluation = judge(
        HIP_2, **{**HIP_ALL_MET, "fracture_type": fracture_type, "implant_trochanteric": implant}
    )
    assert evaluation.outcome("implant-trochanteric").outcome == outcome


def test_hip_1_0_0_judged_every_trochanteric_fracture_by_the_extramedullary_rule() -> None:
    old = judge(
        HIP_1,
        arrival_time=ARRIVAL,
        fracture_type="trochanteric",
        operated="yes",
        implant_trochanteric="intramedullary-nail",
    )
    assert old.outcome("implant-trochanteric").outcome == Outcome.NOT_MET


def test_hip_a_geriatrician_assessment_not_done_is_recorded_without_inventing_a_time() -> None:
    answers = {**HIP_ALL_MET, "geriatrician_assessment": "not-done"}
    del answers["geriatrician_assessment_time"], answers["geriatrician_grade"]
    assert sdc_errors(HIP_2, **answers) == []
    evaluation = judge(HIP_2, **answers)
    assert evaluation.rule("geriatrician-within-72h").outcome == Outcome.NOT_MET
    assert evaluation.outcome("geriatrician-assessment").outcome == Outcome.NOT_MET
    assert evaluation.composite("bpt").compliant is False


@pytest.mark.parametrize(
    ("answer", "outcome"), [("not-done", Outcome.NOT_MET), ("unable-to-assess", Outcome.NOT_APPLICABLE)]
)
def test_hip_an_amt_not_done_or_unable_to_assess_needs_no_score(answer: str, outcome: Outcome) -> None:
    answers = {**HIP_ALL_MET, "amt_pre_op": answer}
    del answers["amt_pre_op_score"]
    assert sdc_errors(HIP_2, **answers) == []
    assert judge(HIP_2, **answers).outcome("amt-pre-op").outcome == outcome


def test_hip_never_mobilised_is_not_met_without_a_date() -> None:
    answers = {**HIP_ALL_MET, "mobilised_out_of_bed": "no"}
    del answers["mobilised_date"]
    assert sdc_errors(HIP_2, **answers) == []
    evaluation = judge(HIP_2, **answers)
    assert evaluation.rule("mobilised-by-day-after-surgery").outcome == Outcome.NOT_MET


# --------------------------------------------------------------------------------------------------
# FREED
# --------------------------------------------------------------------------------------------------

REFERRAL = dt.datetime(2026, 3, 2, 16, 0, tzinfo=UTC)
FREED_ELIGIBLE: dict[str, Any] = {
    "referral_received": REFERRAL,
    "date_of_birth": dt.date(2008, 3, 3),
    "onset_date": dt.date(2024, 1, 1),
    "previous_treatment": "no",
    "diagnosis": "osfed",
    "freed_eligible": "yes",
    "clinically_serious": "no",
    "engagement_call": "made",
    "engagement_call_time": REFERRAL + dt.timedelta(hours=30),
    "assessment": "done",
    "assessment_time": REFERRAL + dt.timedelta(days=10),
    "treatment_start": "started",
    "treatment_start_time": REFERRAL + dt.timedelta(days=20),
}


def test_freed_the_2_week_target_applies_to_clinically_serious_cases_only() -> None:
    """1.0.0 did not encode it: day 20 met the 4-week standard for every case."""
    old = judge(
        FREED_1,
        referral_received=REFERRAL,
        freed_eligible="yes",
        treatment_start=REFERRAL + dt.timedelta(days=20),
    )
    assert old.outcome("treatment-start").outcome == Outcome.MET
    not_serious = judge(FREED_2, **FREED_ELIGIBLE)
    assert not_serious.rule("treatment-within-4-weeks").outcome == Outcome.MET
    assert not_serious.rule("treatment-within-2-weeks-if-serious").outcome == Outcome.NOT_APPLICABLE
    assert not_serious.compliant is True
    serious = judge(FREED_2, **{**FREED_ELIGIBLE, "clinically_serious": "yes"})
    assert serious.rule("treatment-within-2-weeks-if-serious").outcome == Outcome.NOT_MET
    assert serious.outcome("treatment-start").outcome == Outcome.NOT_MET
    assert serious.compliant is False
    assert sdc_errors(FREED_2, **FREED_ELIGIBLE) == []


def test_freed_2_and_4_week_rules_count_elapsed_time_and_say_so() -> None:
    element = FREED_2.element("treatment-start")
    assert element is not None
    assert element.compliance is not None
    for rule in element.compliance.timing:
        assert rule.within_hours in (14 * 24, 28 * 24)
        assert any(note.startswith("[DESIGN]") and "elapsed hours" in note for note in rule.notes), rule.id
    exact = judge(FREED_2, **{**FREED_ELIGIBLE, "treatment_start_time": REFERRAL + dt.timedelta(days=28)})
    assert exact.rule("treatment-within-4-weeks").outcome == Outcome.MET


def test_freed_eligibility_is_derived_and_checked_against_the_clinicians_answer() -> None:
    """1.0.0 said age at referral and illness duration were derived; nothing derived them."""
    assert not any(element.calculated for element in FREED_1.walk())
    evaluation = judge(FREED_2, **FREED_ELIGIBLE)
    assert evaluation.calculated == {
        "age-at-referral": 17,  # the 18th birthday is the day after the referral
        "illness-duration-years": 2,
        "meets-freed-criteria": True,
        "dued-months": 26,
    }
    assert evaluation.failed_checks == ()
    too_old = judge(FREED_2, **{**FREED_ELIGIBLE, "date_of_birth": dt.date(2000, 3, 2)})
    assert too_old.calculated["age-at-referral"] == 26
    assert [r.check.id for r in too_old.failed_checks] == ["eligible-meets-criteria"]
    assert too_old.blocking_checks == ()  # a warning: the clinician may know more
    treated_before = judge(FREED_2, **{**FREED_ELIGIBLE, "previous_treatment": "yes", "freed_eligible": "no"})
    assert treated_before.failed_checks == ()
    assert treated_before.in_population is False
    missed = judge(FREED_2, **{**FREED_ELIGIBLE, "freed_eligible": "no"})
    assert [r.check.id for r in missed.failed_checks] == ["not-eligible-fails-criteria"]


@pytest.mark.parametrize(
    ("answer", "outcome"),
    [
        ("did-not-attend", Outcome.NOT_MET),
        ("not-offered", Outcome.NOT_MET),
        ("declined", Outcome.NOT_APPLICABLE),
    ],
)
def test_freed_an_assessment_not_done_has_an_honest_answer(answer: str, outcome: Outcome) -> None:
    answers = {**FREED_ELIGIBLE, "assessment": answer}
    del answers["assessment_time"]
    assert sdc_errors(FREED_2, **answers) == []
    evaluation = judge(FREED_2, **answers)
    assert evaluation.outcome("assessment").outcome == outcome


# --------------------------------------------------------------------------------------------------
# All three: care not given has an answer
# --------------------------------------------------------------------------------------------------

#: Required dates that always exist for the patient (the anchor is required by definition).
ALWAYS_KNOWN = {"date-of-birth", "onset-date"}


@pytest.mark.parametrize("care_bundle", [OASI_2, HIP_2, FREED_2], ids=lambda c: f"{c.id}-{c.version}")
def test_no_required_date_or_time_has_to_be_invented(care_bundle: CareBundle) -> None:
    """Every required date or date-time of an event is asked only once a choice says it happened."""
    for element in care_bundle.walk():
        if element.type in ("date", "dateTime") and element.required and element.id not in ALWAYS_KNOWN:
            assert element.enable_when, f"{element.id} is required whether or not the event happened"


@pytest.mark.parametrize("care_bundle", [OASI_2, HIP_2, FREED_2], ids=lambda c: f"{c.id}-{c.version}")
def test_every_required_compliance_choice_has_an_answer_that_is_not_met(care_bundle: CareBundle) -> None:
    for element in care_bundle.compliance_elements:
        assert element.compliance is not None
        if element.type == "choice" and element.required:
            judged = set(element.compliance.met) | set(element.compliance.exception)
            assert [option.code for option in element.options if option.code not in judged], element.id


@pytest.mark.parametrize(
    ("old", "new"), [(OASI_1, OASI_2), (HIP_1, HIP_2), (FREED_1, FREED_2)], ids=["oasi", "hip", "freed"]
)
def test_the_fixes_are_a_new_major_version_of_the_same_care_bundle(old: CareBundle, new: CareBundle) -> None:
    assert (old.id, old.version, old.status) == (new.id, "1.0.0", "active")
    assert new.version == "2.0.0"


NEW_VERSIONS = [OASI_2, HIP_2, FREED_2] + [
    _load(name) for name in ("sharehd", "i-thrive", "inspire", "three-dlc")
]


@pytest.mark.parametrize("care_bundle", NEW_VERSIONS, ids=lambda c: f"{c.id}-{c.version}")
def test_new_versions_give_every_unit_a_ucum_code(care_bundle: CareBundle) -> None:
    for element in care_bundle.walk():
        if element.unit is not None:
            assert element.unit.code, f"{element.id}: unit {element.unit.display!r} has no UCUM code"
