"""The four Scaling Up Improvement programme bundles (SHAREHD, i-THRIVE, InS:PIRE, 3DLC).

They must say what ``shared/clinical/README.md`` §6 says and nothing more: no codes (none was sourced), the
[UNVERIFIED] / [DESIGN] markers on the items the notes mark, an honest answer for care not given, and rules
that behave as the sources describe (checked with ``evaluate``).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from schemas.care_bundle import CareBundle, Element, ValueTest, load_care_bundle
from service.checklists import evaluate
from service.checklists.follow_up import judge_follow_up, point_of
from service.checklists.outcomes import Evaluation, Outcome

BUNDLES_DIR = Path(__file__).resolve().parents[2] / "bundles"
PROGRAMMES = {"sharehd": "6.1", "i-thrive": "6.2", "inspire": "6.3", "three-dlc": "6.4"}
UTC = dt.UTC
NOW = dt.datetime(2026, 1, 15, 12, 0, tzinfo=UTC)

# Markers §6 puts on specific items: (marker, what the note must name) per element or timing rule id.
REQUIRED_MARKERS: dict[str, dict[str, list[tuple[str, str]]]] = {
    "sharehd": {
        "tasks": [("[UNVERIFIED]", "14 tasks")],
        "task-name": [("[UNVERIFIED]", "14 tasks")],
        "tasks-performed": [
            ("[UNVERIFIED]", "14 tasks"),
            ("[UNVERIFIED]", "signed competency or self-report"),
        ],
        "task-status": [("[DESIGN]", "not started / training / competent")],
        "shc-offered": [("[DESIGN]", "each review")],
        "activation-score": [("[UNVERIFIED]", "PAM"), ("[UNVERIFIED]", "range")],
        "activation-questionnaire": [("[UNVERIFIED]", "PAM")],
        "learning-preference": [("[DESIGN]", "at start")],
    },
    "i-thrive": {
        "grouping": [("[DESIGN]", "at assessment (referral)"), ("[UNVERIFIED]", "four groupings or five")],
        "grouping-shared-decision": [("[UNVERIFIED]", "SDM measure")],
        "goals": [("[DESIGN]", "Getting Help and Getting More Help")],
        "goals-set": [("[DESIGN]", "Getting Help and Getting More Help")],
        "multi-agency-plan": [("[UNVERIFIED]", "window")],
        "ending-discussed": [("[DESIGN]", "before discharge")],
    },
    "inspire": {
        "eligible": [("[UNVERIFIED]", "eligibility criteria")],
        "referral-date": [("[UNVERIFIED]", "a few months")],
        "invitation-date": [("[UNVERIFIED]", "a few months")],
        "physio-sessions": [("[DESIGN]", "5 sessions")],
        "personal-goals-set": [("[DESIGN]", "week 1")],
        "eq5d-start": [("[DESIGN]", "decimal")],
        "eq5d-end": [("[DESIGN]", "decimal")],
        "self-efficacy-start": [("[UNVERIFIED]", "self-efficacy scale")],
        "self-efficacy-mcid-reached": [("[UNVERIFIED]", "self-efficacy scale")],
        "hads-anxiety-start": [("[UNVERIFIED]", "HADS")],
        "hads-depression-end": [("[UNVERIFIED]", "HADS")],
    },
    "three-dlc": {
        "phq9-score": [("[UNVERIFIED]", "PHQ version")],
        "gad7-score": [("[UNVERIFIED]", "GAD version")],
        "screen-result": [("[UNVERIFIED]", "cut-off")],
        "pathway": [("[UNVERIFIED]", "cut-off"), ("[DESIGN]", "same visit")],
        "assessment-offered": [("[UNVERIFIED]", "window")],
        "social-needs": [("[UNVERIFIED]", "social-needs tool")],
    },
}

# Timing rules whose windows are product choices: (rule id, what the [DESIGN] note must name).
RULE_MARKERS: dict[str, list[tuple[str, str]]] = {
    "i-thrive": [("ending-before-discharge", "before discharge")],
    "inspire": [
        ("consultant-nurse-review-within-5-weeks", "day 34"),
        ("pharmacist-review-within-programme", "day 34"),
        ("psychology-within-programme", "day 34"),
        ("third-sector-offer-within-programme", "day 34"),
        ("personal-goals-in-week-1", "week 1"),
    ],
}

# The open questions of each §6 subsection (d), as the top-level [UNVERIFIED] notes must name them.
OPEN_QUESTIONS = {
    "sharehd": ["14-task list", "signed competency or self-report", "PAM licence", "each dialysis session"],
    "i-thrive": ["four groupings or five", "re-assigns the grouping", "SDM", "outcome tools"],
    "inspire": ["eligibility", "12-month follow-up", "instruments", "4-week Ayrshire variant"],
    "three-dlc": [
        "cut-offs",
        "PHQ and GAD versions",
        "biomedical outcome per condition",
        "social-needs tool",
        "referral-to-assessment wait",
    ],
}

# Answers that record care not given: never a documented exception (only "declined" may be one).
NOT_GIVEN = {"no", "not-done", "not-offered", "did-not-attend", "not-recorded", "unable-to-assess", "not-set"}


def _load(care_bundle_id: str) -> CareBundle:
    return load_care_bundle(BUNDLES_DIR / f"{care_bundle_id}.yaml")


def _element(care_bundle: CareBundle, element_id: str) -> Element:
    element = care_bundle.element(element_id)
    assert element is not None, f"{care_bundle.id} has no element {element_id!r}"
    return element


def _outcome(evaluation: Evaluation, element_id: str) -> Outcome:
    return evaluation.outcome(element_id).outcome


def _keys(node: Any, path: str = "") -> list[tuple[str, str]]:
    """(path, key) for every mapping key in a YAML document."""
    found: list[tuple[str, str]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            found.append((path, str(key)))
            found += _keys(value, f"{path}.{key}")
    elif isinstance(node, list):
        for value in node:
            found += _keys(value, f"{path}[]")
    return found


# ----------------------------------------------------------------------------------------------------------
# The files
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("care_bundle_id", PROGRAMMES)
def test_each_programme_loads_as_an_active_careloop_bundle(care_bundle_id: str) -> None:
    care_bundle = _load(care_bundle_id)
    assert care_bundle.id == care_bundle_id
    assert (care_bundle.version, care_bundle.status) == ("1.0.0", "active")
    assert (care_bundle.publisher, care_bundle.timezone) == ("Careloop", "Europe/London")
    assert care_bundle.description
    assert care_bundle.compliance_elements
    assert care_bundle.anchor.type == "dateTime"


@pytest.mark.parametrize(("care_bundle_id", "section"), PROGRAMMES.items())
def test_header_comment_names_its_section_of_the_clinical_notes(care_bundle_id: str, section: str) -> None:
    header = (BUNDLES_DIR / f"{care_bundle_id}.yaml").read_text(encoding="utf-8").split("\nid:", 1)[0]
    assert f"shared/clinical/README.md §{section}" in header
    assert all(line.startswith("#") for line in header.splitlines())


@pytest.mark.parametrize("care_bundle_id", PROGRAMMES)
def test_no_code_anywhere(care_bundle_id: str) -> None:
    care_bundle = _load(care_bundle_id)
    assert care_bundle.codes == ()
    for element in care_bundle.walk():
        assert element.codes == (), element.id
        assert all(option.system is None for option in element.options), element.id
    # In the file itself: no code system at all, and "code" only as an option's code or a UCUM unit.
    document = yaml.safe_load((BUNDLES_DIR / f"{care_bundle_id}.yaml").read_text(encoding="utf-8"))
    keys = _keys(document)
    assert not [path for path, key in keys if key == "system"]
    misplaced = [path for path, key in keys if key == "code" and not path.endswith((".options[]", ".unit"))]
    assert misplaced == []


@pytest.mark.parametrize("care_bundle_id", PROGRAMMES)
def test_sources_are_the_section_6_references_and_each_is_used(care_bundle_id: str) -> None:
    care_bundle = _load(care_bundle_id)
    cited = {source for element in care_bundle.walk() for source in element.sources}
    for source in care_bundle.sources:
        assert source.id in cited, f"source {source.id} is cited by no element"
        assert source.url is None or source.url.startswith("https://doi.org/10."), source.id
        if source.url is not None:
            assert source.url.removeprefix("https://doi.org/") in source.citation, source.id
    for element in care_bundle.walk():
        if element.type != "display":
            assert element.sources, f"{element.id} cites no source"


def test_dois_are_the_ones_section_6_gives() -> None:
    urls = {source.url for care_bundle_id in PROGRAMMES for source in _load(care_bundle_id).sources}
    assert urls - {None} == {
        "https://doi.org/10.1186/s12882-017-0748-6",
        "https://doi.org/10.1371/journal.pone.0253966",
        "https://doi.org/10.1371/journal.pone.0265782",
        "https://doi.org/10.1371/journal.pone.0188028",
        "https://doi.org/10.1136/thoraxjnl-2021-218428",
        "https://doi.org/10.1111/dme.13918",
    }


# ----------------------------------------------------------------------------------------------------------
# Markers
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("care_bundle_id", "element_id", "marker", "about"),
    [
        (care_bundle_id, element_id, marker, about)
        for care_bundle_id, elements in REQUIRED_MARKERS.items()
        for element_id, markers in elements.items()
        for marker, about in markers
    ],
)
def test_section_6_markers_open_a_note_of_their_element(
    care_bundle_id: str, element_id: str, marker: str, about: str
) -> None:
    notes = _element(_load(care_bundle_id), element_id).notes
    assert any(note.startswith(marker) and about in note for note in notes), (
        f"{care_bundle_id}/{element_id}: no note starting {marker} about {about!r} in {notes}"
    )


@pytest.mark.parametrize(
    ("care_bundle_id", "rule_id", "about"),
    [
        (care_bundle_id, rule_id, about)
        for care_bundle_id, rules in RULE_MARKERS.items()
        for rule_id, about in rules
    ],
)
def test_chosen_windows_are_marked_design_on_their_rule(
    care_bundle_id: str, rule_id: str, about: str
) -> None:
    rules = {identifier: rule for identifier, _, rule in _load(care_bundle_id).timing_rules}
    assert rule_id in rules
    assert any(note.startswith("[DESIGN]") and about in note for note in rules[rule_id].notes)


@pytest.mark.parametrize("care_bundle_id", PROGRAMMES)
def test_top_level_notes_list_the_open_questions_and_what_is_not_expressed(care_bundle_id: str) -> None:
    notes = _load(care_bundle_id).notes
    unverified = " ".join(note for note in notes if note.startswith("[UNVERIFIED]"))
    for question in OPEN_QUESTIONS[care_bundle_id]:
        assert question in unverified, (
            f"{care_bundle_id}: open question {question!r} not in [UNVERIFIED] notes"
        )
    assert any(note.startswith("[DESIGN]") for note in notes)
    assert any(note.startswith("Not expressed:") for note in notes)
    assert any(note.startswith("No codes:") for note in notes)


# ----------------------------------------------------------------------------------------------------------
# Honest answers for care not given
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("care_bundle_id", PROGRAMMES)
def test_required_questions_can_record_care_not_given(care_bundle_id: str) -> None:
    care_bundle = _load(care_bundle_id)
    for element in care_bundle.walk():
        compliance = element.compliance
        if element.required and element.type == "choice" and compliance is not None and compliance.met:
            assert {option.code for option in element.options} - set(compliance.met), (
                f"{element.id}: every answer meets it"
            )
        if element.required and element.type in ("date", "dateTime"):
            assert element.enable_when, f"{element.id}: a required date must follow a 'done' answer"
        if element.required and element.type in ("integer", "decimal"):
            assert element.enable_when or element.min_value == 0, element.id


@pytest.mark.parametrize("care_bundle_id", PROGRAMMES)
def test_only_declined_is_a_documented_exception(care_bundle_id: str) -> None:
    for element in _load(care_bundle_id).walk():
        if element.compliance is None:
            continue
        assert set(element.compliance.exception) <= {"declined"}, element.id
        assert not NOT_GIVEN & set(map(str, element.compliance.exception)), element.id
        if element.option("declined") is not None:
            assert element.compliance.exception == ("declined",), element.id


@pytest.mark.parametrize("care_bundle_id", PROGRAMMES)
def test_licensed_scores_are_totals_with_only_the_sourced_ranges(care_bundle_id: str) -> None:
    ranges = {
        (element.id, element.min_value, element.max_value)
        for element in _load(care_bundle_id).walk()
        if element.type in ("integer", "decimal") and element.calculated is None
    }
    expected = {
        "sharehd": {("tasks-performed", 0, 14), ("activation-score", None, None)},
        "i-thrive": {("goal-score-start", 0, 10), ("goal-score-review", 0, 10)},
        "inspire": {
            ("physio-sessions", 0, 5),
            ("pharmacy-problems-found", 0, None),
            ("eq5d-start", None, None),
            ("eq5d-end", None, None),
            ("self-efficacy-start", None, None),
            ("self-efficacy-end", None, None),
            ("hads-anxiety-start", 0, 21),
            ("hads-depression-start", 0, 21),
            ("hads-anxiety-end", 0, 21),
            ("hads-depression-end", 0, 21),
        },
        "three-dlc": {("phq9-score", 0, 27), ("gad7-score", 0, 21), ("hba1c", None, None)},
    }[care_bundle_id]
    assert ranges == expected


# ----------------------------------------------------------------------------------------------------------
# SHAREHD (§6.1)
# ----------------------------------------------------------------------------------------------------------


def _sharehd(**changes: Any) -> dict[str, list[Any]]:
    answers: dict[str, list[Any]] = {
        "review-time": [dt.datetime(2025, 9, 1, 10, 0, tzinfo=UTC)],
        "in-centre-hd-adult": ["yes"],
        "shc-offered": ["offered-taken-up"],
        "first-shc-review": ["yes"],
        "learning-preference": ["Watching a nurse, then practising"],
        "tasks": [
            {
                "task-name": ["Self-cannulation"],
                "task-status": ["competent"],
                "retraining": ["date-set"],
                "retraining-date": [dt.date(2026, 3, 1)],
            },
            {"task-name": ["Weight and blood pressure"], "task-status": ["training"]},
        ],
        "tasks-performed-recorded": ["recorded"],
        "tasks-performed": [5],
        "home-hd-started": ["no"],
        "questionnaires-due": ["yes"],
        "activation-questionnaire": ["completed"],
        "activation-score": [60],
    }
    answers.update(changes)
    return answers


@pytest.mark.parametrize(("tasks", "met"), [(5, Outcome.MET), (14, Outcome.MET), (4, Outcome.NOT_MET)])
def test_sharehd_five_or_more_tasks_flag(tasks: int, met: Outcome) -> None:
    evaluation = evaluate(_load("sharehd"), _sharehd(**{"tasks-performed": [tasks]}), NOW)
    assert evaluation.calculated["five-or-more-tasks"] is (tasks >= 5)
    assert _outcome(evaluation, "five-or-more-tasks") is met
    assert _outcome(evaluation, "five-or-more-or-home-hd") is met
    # An outcome flag, not a care process: the review composite does not depend on it.
    assert evaluation.composite("sharehd-review").compliant is True


def test_sharehd_home_haemodialysis_meets_the_primary_outcome_with_fewer_than_5_tasks() -> None:
    answers = _sharehd(
        **{"tasks-performed": [2], "home-hd-started": ["yes"], "home-hd-start-date": [dt.date(2025, 8, 1)]}
    )
    evaluation = evaluate(_load("sharehd"), answers, NOW)
    assert _outcome(evaluation, "five-or-more-tasks") is Outcome.NOT_MET
    assert _outcome(evaluation, "five-or-more-or-home-hd") is Outcome.MET


def test_sharehd_tasks_not_recorded_is_not_met_and_the_flags_do_not_apply() -> None:
    answers = _sharehd(**{"tasks-performed-recorded": ["not-recorded"]})
    answers.pop("tasks-performed")
    evaluation = evaluate(_load("sharehd"), answers, NOW)
    assert _outcome(evaluation, "tasks-performed-recorded") is Outcome.NOT_MET
    assert _outcome(evaluation, "five-or-more-tasks") is Outcome.NOT_APPLICABLE
    assert _outcome(evaluation, "five-or-more-or-home-hd") is Outcome.NOT_APPLICABLE
    assert evaluation.composite("sharehd-review").compliant is False


def test_sharehd_task_list_is_a_repeating_group_counted_per_task() -> None:
    care_bundle = _load("sharehd")
    tasks = _element(care_bundle, "tasks")
    assert (tasks.is_repeating_group, tasks.max_repeats) == (True, 14)
    evaluation = evaluate(care_bundle, _sharehd(), NOW)
    assert evaluation.calculated["task-statuses-recorded"] == 2
    assert evaluation.calculated["tasks-competent"] == 1
    assert _outcome(evaluation, "retraining") is Outcome.MET
    # The retraining questions are asked only for the task signed competent.
    assert ("retraining-date", 0) in evaluation.enabled_instances
    assert ("retraining-date", 1) not in evaluation.enabled_instances


def test_sharehd_competent_task_without_a_retraining_date_is_not_met() -> None:
    answers = _sharehd(
        tasks=[{"task-name": ["Self-cannulation"], "task-status": ["competent"], "retraining": ["not-set"]}]
    )
    evaluation = evaluate(_load("sharehd"), answers, NOW)
    assert _outcome(evaluation, "retraining") is Outcome.NOT_MET
    assert evaluation.composite("sharehd-training").compliant is False


def test_sharehd_not_offered_is_not_met_and_declined_questionnaire_is_an_exception() -> None:
    care_bundle = _load("sharehd")
    not_offered = evaluate(care_bundle, _sharehd(**{"shc-offered": ["not-offered"]}), NOW)
    assert _outcome(not_offered, "shc-offered") is Outcome.NOT_MET
    assert not_offered.compliant is False
    offer_not_taken_up = evaluate(care_bundle, _sharehd(**{"shc-offered": ["offered-not-taken-up"]}), NOW)
    assert _outcome(offer_not_taken_up, "shc-offered") is Outcome.MET
    assert _outcome(offer_not_taken_up, "task-status") is Outcome.NOT_APPLICABLE
    declined = _sharehd(**{"activation-questionnaire": ["declined"]})
    declined.pop("activation-score")
    evaluation = evaluate(care_bundle, declined, NOW)
    assert _outcome(evaluation, "activation-questionnaire") is Outcome.NOT_APPLICABLE
    assert evaluation.composite("sharehd-review").compliant is True
    not_done = evaluate(care_bundle, {**declined, "activation-questionnaire": ["not-done"]}, NOW)
    assert _outcome(not_done, "activation-questionnaire") is Outcome.NOT_MET


def test_sharehd_outside_the_population_is_outside_every_denominator() -> None:
    evaluation = evaluate(_load("sharehd"), _sharehd(**{"in-centre-hd-adult": ["no"]}), NOW)
    assert evaluation.in_population is False
    assert [composite.compliant for composite in evaluation.composites] == [None, None]


def test_sharehd_follow_up_measures() -> None:
    measures = {measure.id: measure for measure in _load("sharehd").follow_up}
    reached = measures["reached-five-tasks"]
    assert reached.element == "tasks-performed"
    assert reached.title == "Below 5 tasks at baseline, 5 or more at the latest review"
    assert reached.population == ValueTest("<", Decimal(5))
    assert reached.met == ValueTest(">=", Decimal(5))
    assert reached.change is None
    activation = measures["activation-increased"]
    assert activation.element == "activation-score"
    assert activation.change is not None
    assert any(note.startswith("[DESIGN]") for note in activation.notes)


def _series(care_bundle: CareBundle, measure_id: str, checklists: list[dict[str, list[Any]]]) -> Any:
    """Judge a follow-up measure over one patient's checklists."""
    measure = next(measure for measure in care_bundle.follow_up if measure.id == measure_id)
    anchor = care_bundle.anchor.id
    points = [
        point_of(measure, answers[anchor][0], answers, evaluate(care_bundle, answers, NOW))
        for answers in checklists
    ]
    return judge_follow_up(care_bundle, measure, points)


@pytest.mark.parametrize(
    ("baseline", "latest", "expected"),
    [(3, 5, Outcome.MET), (3, 4, Outcome.NOT_MET), (6, 9, Outcome.NOT_APPLICABLE)],
)
def test_sharehd_below_five_at_baseline_five_or_more_at_the_latest_review(
    baseline: int, latest: int, expected: Outcome
) -> None:
    care_bundle = _load("sharehd")
    reviews = [
        _sharehd(
            **{"review-time": [dt.datetime(2025, 3, 3, 10, 0, tzinfo=UTC)], "tasks-performed": [baseline]}
        ),
        _sharehd(**{"review-time": [dt.datetime(2025, 6, 2, 10, 0, tzinfo=UTC)], "tasks-performed": [2]}),
        _sharehd(
            **{"review-time": [dt.datetime(2025, 9, 1, 10, 0, tzinfo=UTC)], "tasks-performed": [latest]}
        ),
    ]
    assert _series(care_bundle, "reached-five-tasks", reviews).outcome is expected


# ----------------------------------------------------------------------------------------------------------
# i-THRIVE (§6.2)
# ----------------------------------------------------------------------------------------------------------


def _thrive(**changes: Any) -> dict[str, list[Any]]:
    answers: dict[str, list[Any]] = {
        "referral-received": [dt.datetime(2025, 3, 3, 9, 0, tzinfo=UTC)],
        "assessed": ["yes"],
        "assessment-time": [dt.datetime(2025, 3, 20, 14, 0, tzinfo=UTC)],
        "grouping": ["getting-help"],
        "grouping-shared-decision": ["yes"],
        "goals": [
            {"goal": ["Go back to school"], "goal-score-start": [2], "goal-score-review": [7]},
            {"goal": ["Sleep through the night"], "goal-score-start": [3], "goal-score-review": [6]},
        ],
        "picture-of-success": ["Attending school every day"],
        "discharge-date": [dt.date(2025, 7, 1)],
        "ending-discussed": ["yes"],
        "ending-discussed-date": [dt.date(2025, 6, 20)],
    }
    answers.update(changes)
    return answers


def test_thrive_goals_are_a_repeating_group_of_up_to_3() -> None:
    care_bundle = _load("i-thrive")
    goals = _element(care_bundle, "goals")
    assert (goals.is_repeating_group, goals.max_repeats) == (True, 3)
    evaluation = evaluate(care_bundle, _thrive(), NOW)
    assert evaluation.calculated["goals-set"] == 2
    assert _outcome(evaluation, "goals-set") is Outcome.MET
    assert evaluation.composite("goal-based-outcomes").compliant is True
    assert evaluation.compliant is True


def test_thrive_a_goal_not_rated_at_review_fails_goal_based_outcomes() -> None:
    goals = [
        {"goal": ["Go back to school"], "goal-score-start": [2], "goal-score-review": [7]},
        {"goal": ["Sleep through the night"], "goal-score-start": [3]},
    ]
    evaluation = evaluate(_load("i-thrive"), _thrive(goals=goals), NOW)
    assert _outcome(evaluation, "goal-score-start") is Outcome.MET
    assert _outcome(evaluation, "goal-score-review") is Outcome.MISSING
    assert evaluation.composite("goal-based-outcomes").compliant is False
    assert evaluation.composite("needs-based-grouping").compliant is True


def test_thrive_getting_help_without_goals_is_not_met() -> None:
    answers = _thrive()
    answers.pop("goals")
    evaluation = evaluate(_load("i-thrive"), answers, NOW)
    assert evaluation.calculated["goals-set"] == 0
    assert _outcome(evaluation, "goals-set") is Outcome.NOT_MET


def test_thrive_goals_and_picture_of_success_only_where_the_grouping_asks_for_them() -> None:
    answers = _thrive(grouping=["getting-advice"])
    for element_id in ("goals", "picture-of-success"):
        answers.pop(element_id)
    evaluation = evaluate(_load("i-thrive"), answers, NOW)
    for element_id in ("goals-set", "goal-score-start", "picture-of-success", "multi-agency-plan"):
        assert _outcome(evaluation, element_id) is Outcome.NOT_APPLICABLE, element_id
    assert _outcome(evaluation, "ending-discussed") is Outcome.MET
    risk = _thrive(grouping=["getting-risk-support"], **{"multi-agency-plan": ["no"]})
    for element_id in ("goals", "picture-of-success"):
        risk.pop(element_id)
    evaluation = evaluate(_load("i-thrive"), risk, NOW)
    assert _outcome(evaluation, "multi-agency-plan") is Outcome.NOT_MET


def test_thrive_ending_must_be_discussed_before_discharge() -> None:
    care_bundle = _load("i-thrive")
    late = evaluate(care_bundle, _thrive(**{"ending-discussed-date": [dt.date(2025, 7, 2)]}), NOW)
    assert late.rule("ending-before-discharge").outcome is Outcome.NOT_MET
    assert _outcome(late, "ending-discussed") is Outcome.NOT_MET
    same_day = evaluate(care_bundle, _thrive(**{"ending-discussed-date": [dt.date(2025, 7, 1)]}), NOW)
    assert _outcome(same_day, "ending-discussed") is Outcome.MET
    open_referral = _thrive()
    open_referral.pop("discharge-date")
    still_open = evaluate(care_bundle, open_referral, NOW)
    assert still_open.rule("ending-before-discharge").outcome is Outcome.NOT_APPLICABLE


def test_thrive_declined_is_an_exception_did_not_attend_is_not() -> None:
    care_bundle = _load("i-thrive")
    base = {"referral-received": [dt.datetime(2025, 3, 3, 9, 0, tzinfo=UTC)]}
    declined = evaluate(care_bundle, {**base, "assessed": ["declined"]}, NOW)
    assert _outcome(declined, "assessed") is Outcome.NOT_APPLICABLE
    assert declined.compliant is None  # nothing applies: outside the denominator
    did_not_attend = evaluate(care_bundle, {**base, "assessed": ["did-not-attend"]}, NOW)
    assert _outcome(did_not_attend, "assessed") is Outcome.NOT_MET
    assert did_not_attend.compliant is False


# ----------------------------------------------------------------------------------------------------------
# InS:PIRE (§6.3)
# ----------------------------------------------------------------------------------------------------------

WEEK_1 = dt.datetime(2025, 6, 2, 13, 0, tzinfo=UTC)  # a Monday; day 34 is Sunday 6 July 2025


def _inspire(**changes: Any) -> dict[str, list[Any]]:
    answers: dict[str, list[Any]] = {
        "programme-start": [WEEK_1],
        "eligible": ["yes"],
        "hospital-discharge-date": [dt.date(2025, 2, 10)],
        "referral-date": [dt.date(2025, 3, 1)],
        "invitation-date": [dt.date(2025, 4, 14)],
        "enrolled": ["yes"],
        "physio-sessions": [5],
        "consultant-nurse-review": ["yes"],
        "consultant-nurse-review-date": [dt.date(2025, 6, 16)],
        "pharmacist-review": ["yes"],
        "pharmacist-review-date": [dt.date(2025, 6, 9)],
        "pharmacy-problems-found": [2],
        "psychology": ["yes"],
        "psychology-date": [dt.date(2025, 6, 23)],
        "third-sector-referral": ["referred"],
        "third-sector-offer-date": [dt.date(2025, 6, 30)],
        "third-sector-organisations": ["Citizens Advice"],
        "personal-goals-set": ["yes"],
        "personal-goals-date": [dt.date(2025, 6, 2)],
        "personal-goals": [{"personal-goal": ["Walk to the shops"]}],
        "has-caregiver": ["yes"],
        "caregiver-attended": ["yes"],
        "questionnaires-start": ["completed"],
        "eq5d-start": [Decimal("0.60")],
        "self-efficacy-start": [Decimal(20)],
        "questionnaires-end": ["completed"],
        "eq5d-end": [Decimal("0.68")],
        "self-efficacy-end": [Decimal("22.4")],
    }
    answers.update(changes)
    return answers


def test_inspire_runs_in_scotland() -> None:
    care_bundle = _load("inspire")
    assert care_bundle.calendar == "scotland"
    assert care_bundle.patient_identifiers == ("chi-number", "local")
    assert any("CHI" in note and note.startswith("[DESIGN]") for note in care_bundle.notes)


@pytest.mark.parametrize(
    ("sessions", "expected"), [(5, Outcome.MET), (4, Outcome.NOT_MET), (0, Outcome.NOT_MET)]
)
def test_inspire_group_physiotherapy_needs_all_5_sessions(sessions: int, expected: Outcome) -> None:
    evaluation = evaluate(_load("inspire"), _inspire(**{"physio-sessions": [sessions]}), NOW)
    assert _outcome(evaluation, "physio-sessions") is expected
    assert evaluation.composite("inspire-components").compliant is (expected is Outcome.MET)


def test_inspire_full_programme_is_compliant() -> None:
    evaluation = evaluate(_load("inspire"), _inspire(), NOW)
    assert [(composite.composite.id, composite.compliant) for composite in evaluation.composites] == [
        ("inspire-programme", True),
        ("inspire-components", True),
        ("inspire-questionnaires", True),
    ]
    assert evaluation.calculated["personal-goal-count"] == 1


@pytest.mark.parametrize(
    ("review_date", "expected"),
    [
        (dt.date(2025, 7, 6), Outcome.MET),
        (dt.date(2025, 7, 7), Outcome.NOT_MET),
        (dt.date(2025, 6, 1), Outcome.NOT_MET),
    ],
)
def test_inspire_consultant_and_nurse_review_within_the_5_weeks(
    review_date: dt.date, expected: Outcome
) -> None:
    evaluation = evaluate(_load("inspire"), _inspire(**{"consultant-nurse-review-date": [review_date]}), NOW)
    assert evaluation.rule("consultant-nurse-review-within-5-weeks").outcome is expected
    assert _outcome(evaluation, "consultant-nurse-review") is expected


@pytest.mark.parametrize(
    ("goals_date", "expected"), [(dt.date(2025, 6, 8), Outcome.MET), (dt.date(2025, 6, 9), Outcome.NOT_MET)]
)
def test_inspire_personal_goals_in_week_1(goals_date: dt.date, expected: Outcome) -> None:
    evaluation = evaluate(_load("inspire"), _inspire(**{"personal-goals-date": [goals_date]}), NOW)
    assert evaluation.rule("personal-goals-in-week-1").outcome is expected


def test_inspire_declined_components_are_exceptions_not_offered_is_not_met() -> None:
    care_bundle = _load("inspire")
    answers = _inspire(psychology=["declined"], **{"third-sector-referral": ["not-offered"]})
    for element_id in ("psychology-date", "third-sector-offer-date", "third-sector-organisations"):
        answers.pop(element_id)
    evaluation = evaluate(care_bundle, answers, NOW)
    assert _outcome(evaluation, "psychology") is Outcome.NOT_APPLICABLE
    assert _outcome(evaluation, "third-sector-referral") is Outcome.NOT_MET
    no_psychology = evaluate(care_bundle, {**answers, "psychology": ["no"]}, NOW)
    assert _outcome(no_psychology, "psychology") is Outcome.NOT_MET
    offered = _inspire(**{"third-sector-referral": ["offered-not-taken-up"]})
    offered.pop("third-sector-organisations")
    assert _outcome(evaluate(care_bundle, offered, NOW), "third-sector-referral") is Outcome.MET


@pytest.mark.parametrize(
    ("end", "expected"), [(Decimal("0.68"), Outcome.MET), (Decimal("0.67"), Outcome.NOT_MET)]
)
def test_inspire_eq5d_change_against_the_mcid(end: Decimal, expected: Outcome) -> None:
    evaluation = evaluate(_load("inspire"), _inspire(**{"eq5d-end": [end]}), NOW)
    assert evaluation.calculated["eq5d-change"] == end - Decimal("0.60")
    assert _outcome(evaluation, "eq5d-mcid-reached") is expected
    assert evaluation.compliant is True  # an outcome, kept out of the composites


def test_inspire_self_efficacy_change_against_the_mcid() -> None:
    care_bundle = _load("inspire")
    reached = evaluate(care_bundle, _inspire(), NOW)
    assert _outcome(reached, "self-efficacy-mcid-reached") is Outcome.MET
    short = evaluate(care_bundle, _inspire(**{"self-efficacy-end": [Decimal("22.3")]}), NOW)
    assert _outcome(short, "self-efficacy-mcid-reached") is Outcome.NOT_MET
    answers = _inspire()
    answers.pop("self-efficacy-end")
    unknown = evaluate(care_bundle, answers, NOW)
    assert _outcome(unknown, "self-efficacy-mcid-reached") is Outcome.NOT_APPLICABLE


def test_inspire_not_enrolled_leaves_only_the_referral_and_invitation() -> None:
    evaluation = evaluate(
        _load("inspire"),
        {
            key: value
            for key, value in _inspire(enrolled=["declined"]).items()
            if key in ("programme-start", "eligible", "referral-date", "invitation-date", "enrolled")
        },
        NOW,
    )
    assert evaluation.composite("inspire-programme").compliant is True
    assert evaluation.composite("inspire-components").compliant is None
    outside = evaluate(_load("inspire"), _inspire(eligible=["no"]), NOW)
    assert outside.in_population is False
    assert outside.compliant is None


# ----------------------------------------------------------------------------------------------------------
# 3DLC (§6.4)
# ----------------------------------------------------------------------------------------------------------


def _three_dlc(**changes: Any) -> dict[str, list[Any]]:
    answers: dict[str, list[Any]] = {
        "clinic-visit": [dt.datetime(2025, 5, 12, 10, 30, tzinfo=UTC)],
        "condition": ["heart-failure"],
        "depression-screen": ["done"],
        "phq9-score": [14],
        "anxiety-screen": ["done"],
        "gad7-score": [11],
        "screen-result": ["positive"],
        "pathway": ["three-dlc-team"],
        "assessment-offered": ["yes"],
        "assessment-offered-date": [dt.date(2025, 6, 2)],
        "social-needs-assessed": ["yes"],
        "social-needs": ["housing", "debt"],
    }
    answers.update(changes)
    return answers


def test_three_dlc_pathway_is_required_only_after_a_positive_screen() -> None:
    care_bundle = _load("three-dlc")
    assert _element(care_bundle, "pathway").required
    positive = _three_dlc()
    positive.pop("pathway")
    evaluation = evaluate(care_bundle, positive, NOW)
    assert "pathway" in evaluation.enabled
    assert _outcome(evaluation, "pathway") is Outcome.MISSING
    negative = {
        key: value
        for key, value in _three_dlc(**{"screen-result": ["negative"]}).items()
        if key
        not in (
            "pathway",
            "assessment-offered",
            "assessment-offered-date",
            "social-needs-assessed",
            "social-needs",
        )
    }
    evaluation = evaluate(care_bundle, negative, NOW)
    assert "pathway" not in evaluation.enabled
    assert _outcome(evaluation, "pathway") is Outcome.NOT_APPLICABLE
    assert evaluation.compliant is True


def test_three_dlc_no_cut_off_is_applied_to_the_scores() -> None:
    care_bundle = _load("three-dlc")
    # The highest possible scores with a negative result: the clinician's result decides, not a cut-off.
    answers = {
        key: value
        for key, value in _three_dlc(
            **{"phq9-score": [27], "gad7-score": [21], "screen-result": ["negative"]}
        ).items()
        if key
        not in (
            "pathway",
            "assessment-offered",
            "assessment-offered-date",
            "social-needs-assessed",
            "social-needs",
        )
    }
    assert "pathway" not in evaluate(care_bundle, answers, NOW).enabled
    low = _three_dlc(**{"phq9-score": [0], "gad7-score": [0]})
    assert "pathway" in evaluate(care_bundle, low, NOW).enabled
    screen_result = _element(care_bundle, "screen-result")
    assert all(condition.element != "phq9-score" for condition in screen_result.enable_when)
    assert not any(element.calculated for element in care_bundle.walk())


def test_three_dlc_pathway_and_screen_answers() -> None:
    care_bundle = _load("three-dlc")
    full = evaluate(care_bundle, _three_dlc(), NOW)
    assert full.compliant is True
    none_agreed = evaluate(care_bundle, _three_dlc(pathway=["not-done"]), NOW)
    assert _outcome(none_agreed, "pathway") is Outcome.NOT_MET
    assert none_agreed.compliant is False
    declined = _three_dlc(**{"depression-screen": ["declined"]})
    declined.pop("phq9-score")
    evaluation = evaluate(care_bundle, declined, NOW)
    assert _outcome(evaluation, "depression-screen") is Outcome.NOT_APPLICABLE
    assert evaluation.composite("imparts-screening").compliant is True
    not_done = evaluate(care_bundle, {**declined, "depression-screen": ["not-done"]}, NOW)
    assert _outcome(not_done, "depression-screen") is Outcome.NOT_MET


def test_three_dlc_social_needs_only_for_patients_referred_to_the_3dlc_team() -> None:
    care_bundle = _load("three-dlc")
    iapt = {
        key: value
        for key, value in _three_dlc(pathway=["iapt"]).items()
        if key
        not in ("assessment-offered", "assessment-offered-date", "social-needs-assessed", "social-needs")
    }
    evaluation = evaluate(care_bundle, iapt, NOW)
    assert _outcome(evaluation, "social-needs-assessed") is Outcome.NOT_APPLICABLE
    assert _outcome(evaluation, "assessment-offered") is Outcome.NOT_APPLICABLE
    waiting = {
        key: value
        for key, value in _three_dlc().items()
        if key not in ("social-needs-assessed", "social-needs")
    }
    assert _outcome(evaluate(care_bundle, waiting, NOW), "social-needs-assessed") is Outcome.MISSING
    none_option = _element(care_bundle, "social-needs").option("none")
    assert none_option is not None
    assert none_option.exclusive


def test_three_dlc_follow_up_measures() -> None:
    care_bundle = _load("three-dlc")
    measures = {measure.id: measure for measure in care_bundle.follow_up}
    assert {measures[key].element for key in ("phq9-fell", "gad7-fell")} == {"phq9-score", "gad7-score"}
    fell = measures["hba1c-fell-12-months"]
    assert fell.element == "hba1c"
    assert fell.population == ValueTest(">=", Decimal(75))
    assert fell.change == ValueTest("<", Decimal(0))
    assert (fell.after_days, fell.within_days) == (335, 395)
    hba1c = _element(care_bundle, "hba1c")
    assert hba1c.unit is not None
    assert hba1c.unit.code == "mmol/mol"
    assert [(c.element, c.answer) for c in hba1c.enable_when] == [("condition", "diabetes-3dfd")]


@pytest.mark.parametrize(
    ("baseline", "later", "days", "measure_id", "expected"),
    [
        (Decimal(80), Decimal(70), 365, "hba1c-fell-12-months", Outcome.MET),
        (Decimal(80), Decimal(82), 365, "hba1c-fell-12-months", Outcome.NOT_MET),
        (Decimal(70), Decimal(60), 365, "hba1c-fell-12-months", Outcome.NOT_APPLICABLE),  # 3DFD: 75 or more
        (Decimal(80), Decimal(70), 200, "hba1c-fell-12-months", Outcome.MISSING),  # no 12-month value yet
        (Decimal(70), Decimal(60), 365, "hba1c-recorded-12-months", Outcome.MET),
        (Decimal(70), Decimal(60), 300, "hba1c-recorded-12-months", Outcome.MISSING),
    ],
)
def test_three_dlc_hba1c_at_baseline_and_12_months(
    baseline: Decimal, later: Decimal, days: int, measure_id: str, expected: Outcome
) -> None:
    care_bundle = _load("three-dlc")
    first = dt.datetime(2025, 1, 13, 10, 0, tzinfo=UTC)
    visits = [
        _three_dlc(**{"clinic-visit": [first], "condition": ["diabetes-3dfd"], "hba1c": [baseline]}),
        _three_dlc(
            **{
                "clinic-visit": [first + dt.timedelta(days=days)],
                "condition": ["diabetes-3dfd"],
                "hba1c": [later],
            }
        ),
    ]
    assert _series(care_bundle, measure_id, visits).outcome is expected
