"""evaluate(): outcomes, exceptions, timing windows and all-or-none, with the clock changes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from schemas.care_bundle import AnswerValue, CareBundle, parse_care_bundle
from service.checklists import evaluate
from tests.factories import definition

UTC = dt.UTC
BST = dt.timezone(dt.timedelta(hours=1))


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


NOON = at("2025-06-01T12:00:00+00:00")

DEFINITION: dict[str, Any] = {
    **definition(),
    "elements": [
        {
            "id": "mode",
            "text": "Mode",
            "type": "choice",
            "options": [
                {"code": "vaginal", "display": "Vaginal"},
                {"code": "caesarean", "display": "Caesarean"},
            ],
        },
        {
            "id": "mpp",
            "text": "Manual perineal protection",
            "type": "choice",
            "options": [
                {"code": "yes", "display": "Yes"},
                {"code": "no", "display": "No"},
                {"code": "declined", "display": "Woman declined"},
            ],
            "enable_when": [{"element": "mode", "operator": "=", "answer": "vaginal"}],
            "compliance": {"met": ["yes"], "exception": ["declined"]},
        },
        {
            "id": "mpp-reason",
            "text": "Why not",
            "type": "choice",
            "options": [
                {"code": "water-birth", "display": "Water birth"},
                {"code": "other", "display": "Other"},
            ],
            "enable_when": [{"element": "mpp", "operator": "=", "answer": "no"}],
        },
        {
            "id": "exam",
            "text": "Examination done",
            "type": "boolean",
            "enable_when": [{"element": "mode", "operator": "=", "answer": "vaginal"}],
            "compliance": {
                "met": [True],
                "exception_when": [{"element": "mode", "operator": "=", "answer": "caesarean"}],
            },
        },
        {
            "id": "surgery",
            "text": "Start of anaesthesia",
            "type": "dateTime",
            "enable_when": [{"element": "mode", "operator": "exists", "answer": True}],
            "compliance": {
                "timing": [{"from": "anchor", "within_hours": 36}, {"from": "anchor", "by_end_of_day": 1}]
            },
        },
        {
            "id": "mobilised",
            "text": "Mobilised on",
            "type": "date",
            "enable_when": [{"element": "surgery", "operator": "exists", "answer": True}],
            "compliance": {"timing": [{"from": "surgery", "by_end_of_day": 1}]},
        },
        {"id": "score", "text": "Score", "type": "integer", "compliance": {"recorded": True}},
        {
            "id": "follow-up",
            "text": "Follow-up",
            "type": "boolean",
            "enable_when": [
                {"element": "score", "operator": "<", "answer": 8},
                {"element": "score", "operator": "exists", "answer": False},
            ],
            "enable_behavior": "any",
        },
    ],
}


@pytest.fixture(scope="module")
def pathway() -> CareBundle:
    return parse_care_bundle(DEFINITION)


def run(care_bundle: CareBundle, now: dt.datetime = NOON, **answers: Any) -> Any:
    values: dict[str, list[AnswerValue]] = {
        key.replace("_", "-"): value if isinstance(value, list) else [value] for key, value in answers.items()
    }
    return evaluate(care_bundle, values, now)


def test_all_met_is_compliant(pathway: CareBundle) -> None:
    result = run(
        pathway,
        arrival=at("2025-06-01T08:00:00+01:00"),
        mode="vaginal",
        mpp="yes",
        exam=True,
        surgery=at("2025-06-02T09:00:00+01:00"),
        mobilised=dt.date(2025, 6, 3),
        score=9,
    )
    assert {o.element_id: o.outcome for o in result.outcomes} == {
        "mode": "met",
        "mpp": "met",
        "mpp-reason": "not-applicable",
        "exam": "met",
        "surgery": "met",
        "mobilised": "met",
        "score": "met",
        "follow-up": "not-applicable",
    }
    assert [o.element_id for o in result.compliance_outcomes] == [
        "mpp",
        "exam",
        "surgery",
        "mobilised",
        "score",
    ]
    assert result.compliant is True
    assert "follow-up" not in result.enabled
    assert result.outcome("follow-up").reason == "applies only when score < 8 or score is not answered"


def test_one_not_met_breaks_all_or_none(pathway: CareBundle) -> None:
    result = run(
        pathway,
        arrival=at("2025-06-01T08:00:00+00:00"),
        mode="vaginal",
        mpp="no",
        exam=True,
        surgery=at("2025-06-01T10:00:00+00:00"),
        mobilised=dt.date(2025, 6, 1),
        score=3,
    )
    mpp = result.outcome("mpp")
    assert mpp.outcome == "not-met"
    assert mpp.reason == "answer 'No' is not a met answer"
    assert result.compliant is False


def test_documented_exception_is_not_applicable_and_keeps_compliance(pathway: CareBundle) -> None:
    result = run(
        pathway,
        arrival=at("2025-06-01T08:00:00+00:00"),
        mode="vaginal",
        mpp="declined",
        exam=True,
        surgery=at("2025-06-01T10:00:00+00:00"),
        mobilised=dt.date(2025, 6, 2),
        score=3,
    )
    mpp = result.outcome("mpp")
    assert (mpp.outcome, mpp.reason) == ("not-applicable", "documented exception: 'Woman declined'")
    assert result.compliant is True


def test_missing_answer_is_not_compliant(pathway: CareBundle) -> None:
    result = run(
        pathway,
        arrival=at("2025-06-01T08:00:00+00:00"),
        mode="vaginal",
        mpp="yes",
        surgery=at("2025-06-01T10:00:00+00:00"),
        mobilised=dt.date(2025, 6, 2),
        score=3,
    )
    assert result.outcome("exam").outcome == "missing"
    assert result.compliant is False


def test_nothing_applicable_is_outside_the_denominator() -> None:
    only_conditional = parse_care_bundle({**DEFINITION, "elements": DEFINITION["elements"][:4]})
    result = run(only_conditional, arrival=at("2025-06-01T08:00:00+00:00"), mode="caesarean")
    assert [o.outcome for o in result.compliance_outcomes] == ["not-applicable", "not-applicable"]
    assert result.compliant is None


def test_answers_to_disabled_elements_are_ignored(pathway: CareBundle) -> None:
    result = run(
        pathway, arrival=at("2025-06-01T08:00:00+00:00"), mode="caesarean", mpp="no", mpp_reason="other"
    )
    assert result.outcome("mpp").outcome == "not-applicable"
    assert result.outcome("mpp-reason").reason == "applies only when mpp = no"
    assert "mpp-reason" not in result.enabled


def test_timing_due_then_overdue_then_late(pathway: CareBundle) -> None:
    arrival = at("2025-06-01T08:00:00+00:00")
    due = run(pathway, now=at("2025-06-02T08:00:00+00:00"), arrival=arrival, mode="caesarean")
    surgery = due.outcome("surgery")
    assert surgery.outcome == "missing"
    assert surgery.timing_status == "due"
    # 36 h after 08:00 UTC on 1 June is 20:00 UTC on 2 June; end of the next local day is 23:00 UTC.
    assert [r.due_at for r in surgery.timing] == [
        at("2025-06-02T20:00:00+00:00"),
        at("2025-06-02T23:00:00+00:00"),
    ]
    assert surgery.due_at == at("2025-06-02T20:00:00+00:00")
    assert due.next_due_at == at("2025-06-02T20:00:00+00:00")

    overdue = run(pathway, now=at("2025-06-02T21:00:00+00:00"), arrival=arrival, mode="caesarean")
    assert [r.status for r in overdue.outcome("surgery").timing] == ["overdue", "due"]
    assert overdue.outcome("surgery").timing_status == "overdue"

    late = run(pathway, arrival=arrival, mode="caesarean", surgery=at("2025-06-02T21:00:00+00:00"))
    assert late.outcome("surgery").outcome == "not-met"
    assert late.outcome("surgery").reason == "later than 36 h after arrival: due by 2025-06-02T20:00:00+00:00"
    assert [r.status for r in late.outcome("surgery").timing] == ["not-met", "met"]


def test_timing_without_its_start_cannot_be_judged(pathway: CareBundle) -> None:
    result = run(pathway, mode="caesarean", surgery=at("2025-06-02T21:00:00+00:00"))
    surgery = result.outcome("surgery")
    assert surgery.outcome == "missing"
    assert surgery.timing_status == "unknown"
    assert surgery.reason is not None
    assert "arrival is not recorded" in surgery.reason


def test_event_before_its_start_is_flagged(pathway: CareBundle) -> None:
    result = run(
        pathway,
        arrival=at("2025-06-01T08:00:00+00:00"),
        mode="caesarean",
        surgery=at("2025-06-01T07:00:00+00:00"),
    )
    assert result.outcome("surgery").outcome == "not-met"
    assert "recorded before arrival" in str(result.outcome("surgery").reason)


def test_date_on_the_same_day_as_a_date_time_start_is_not_before_it(pathway: CareBundle) -> None:
    result = run(
        pathway,
        arrival=at("2025-06-01T08:00:00+00:00"),
        mode="caesarean",
        surgery=at("2025-06-01T22:30:00+00:00"),
        mobilised=dt.date(2025, 6, 1),
    )
    # 22:30 UTC is 23:30 BST, still 1 June in London: mobilised the same day.
    assert result.outcome("mobilised").outcome == "met"


def test_date_element_by_end_of_next_day(pathway: CareBundle) -> None:
    common: dict[str, Any] = {"arrival": at("2025-06-01T08:00:00+00:00"), "mode": "caesarean"}
    # 23:30 UTC on 1 June is 00:30 on 2 June in London: the day after is 3 June.
    surgery = at("2025-06-01T23:30:00+00:00")
    assert (
        run(pathway, **common, surgery=surgery, mobilised=dt.date(2025, 6, 3)).outcome("mobilised").outcome
        == "met"
    )
    late = run(pathway, **common, surgery=surgery, mobilised=dt.date(2025, 6, 4)).outcome("mobilised")
    assert late.outcome == "not-met"
    assert late.timing[0].due_at == at("2025-06-03T23:00:00+00:00")


def test_recorded_is_met_by_any_answer(pathway: CareBundle) -> None:
    assert run(pathway, score=0).outcome("score").outcome == "met"
    assert run(pathway).outcome("score").outcome == "missing"


def test_naive_now_is_refused(pathway: CareBundle) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        evaluate(pathway, {}, dt.datetime(2025, 1, 1))  # noqa: DTZ001


# ---------------------------------------------------------------------------------------------
# Clock changes in Europe/London: 30 March 2025 01:00 GMT -> 02:00 BST; 26 October 2025 02:00 BST -> 01:00 GMT
# ---------------------------------------------------------------------------------------------


def test_spring_forward_end_of_next_day_is_local_midnight_bst(pathway: CareBundle) -> None:
    # Arrival 23:30 GMT on Saturday 29 March; "by the end of the next day" = before 00:00 BST on 31 March,
    # which is 23:00 UTC on 30 March (a UTC calendar would wrongly allow until 00:00 UTC on 31 March).
    arrival = at("2025-03-29T23:30:00+00:00")
    timing = run(pathway, now=arrival, arrival=arrival, mode="caesarean").outcome("surgery").timing
    assert timing[1].due_at == at("2025-03-30T23:00:00+00:00")
    in_time = run(pathway, arrival=arrival, mode="caesarean", surgery=at("2025-03-30T22:59:00+00:00"))
    assert [r.status for r in in_time.outcome("surgery").timing] == ["met", "met"]
    too_late = run(pathway, arrival=arrival, mode="caesarean", surgery=at("2025-03-30T23:30:00+00:00"))
    assert [r.status for r in too_late.outcome("surgery").timing] == ["met", "not-met"]


def test_spring_forward_elapsed_hours_ignore_the_lost_hour(pathway: CareBundle) -> None:
    # 12:00 GMT on 29 March + 36 h = 00:00 UTC on 31 March = 01:00 BST: 37 wall-clock hours, 36 real ones.
    arrival = at("2025-03-29T12:00:00+00:00")
    result = run(pathway, arrival=arrival, mode="caesarean", surgery=at("2025-03-31T00:30:00+01:00"))
    assert result.outcome("surgery").timing[0].status == "met"
    assert result.outcome("surgery").timing[0].due_at == at("2025-03-31T00:00:00+00:00")


def test_autumn_back_local_date_differs_from_utc_date(pathway: CareBundle) -> None:
    # 23:30 UTC on 25 October is 00:30 BST on 26 October: day 0 in London is 26 October, which ends at
    # 00:00 GMT on 27 October (26 October is a 25-hour day).
    arrival = at("2025-10-25T23:30:00+00:00")
    result = run(pathway, now=arrival, arrival=arrival, mode="caesarean")
    assert result.outcome("surgery").timing[1].due_at == at("2025-10-28T00:00:00+00:00")
    zero_day = parse_care_bundle(
        {
            **DEFINITION,
            "elements": [
                {
                    "id": "seen",
                    "text": "Seen",
                    "type": "dateTime",
                    "compliance": {"timing": [{"from": "anchor", "by_end_of_day": 0}]},
                }
            ],
        }
    )
    seen = run(zero_day, arrival=arrival, seen=at("2025-10-26T23:59:00+00:00")).outcome("seen")
    assert seen.outcome == "met"
    assert seen.timing[0].due_at == at("2025-10-27T00:00:00+00:00")


def test_autumn_back_elapsed_hours_count_the_repeated_hour(pathway: CareBundle) -> None:
    # 00:30 BST on 26 October + 36 h = 11:30 GMT on 27 October (37 wall-clock hours).
    arrival = at("2025-10-26T00:30:00+01:00")
    due_at = run(pathway, now=arrival, arrival=arrival, mode="caesarean").outcome("surgery").timing[0].due_at
    assert due_at == at("2025-10-27T11:30:00+00:00")


def test_decimal_and_integer_conditions_compare_by_value() -> None:
    care_bundle = parse_care_bundle(
        {
            **DEFINITION,
            "elements": [
                {"id": "weight", "text": "Weight", "type": "decimal"},
                {
                    "id": "heavy",
                    "text": "Heavy?",
                    "type": "boolean",
                    "enable_when": [{"element": "weight", "operator": ">=", "answer": 2.5}],
                    "compliance": {"met": [True]},
                },
            ],
        }
    )
    assert "heavy" in run(care_bundle, weight=Decimal("2.50")).enabled
    assert "heavy" not in run(care_bundle, weight=Decimal("2.49")).enabled


def test_exception_may_depend_on_a_reason_asked_below() -> None:
    care_bundle = parse_care_bundle(
        {
            **DEFINITION,
            "elements": [
                {
                    "id": "mpp",
                    "text": "MPP",
                    "type": "boolean",
                    "compliance": {
                        "met": [True],
                        "exception_when": [{"element": "mpp-reason", "operator": "=", "answer": "declined"}],
                    },
                },
                {
                    "id": "mpp-reason",
                    "text": "Why not",
                    "type": "choice",
                    "options": [
                        {"code": "declined", "display": "Woman declined"},
                        {"code": "other", "display": "Other"},
                    ],
                    "enable_when": [{"element": "mpp", "operator": "=", "answer": False}],
                },
            ],
        }
    )
    declined = run(care_bundle, mpp=False, mpp_reason="declined")
    assert declined.outcome("mpp").outcome == "not-applicable"
    assert declined.outcome("mpp").reason == "documented exception: mpp-reason = declined"
    assert declined.compliant is None  # its only compliance element is excepted: outside the denominator
    assert run(care_bundle, mpp=False, mpp_reason="other").compliant is False
    # a reason left over from an earlier "no" is ignored once the answer is "yes" (the reason is disabled)
    assert run(care_bundle, mpp=True, mpp_reason="declined").outcome("mpp").outcome == "met"


def test_element_outside_all_or_none_is_reported_but_not_counted() -> None:
    care_bundle = parse_care_bundle(
        {
            **DEFINITION,
            "elements": [
                {"id": "core", "text": "Core", "type": "boolean", "compliance": {"met": [True]}},
                {
                    "id": "local",
                    "text": "Local",
                    "type": "boolean",
                    "compliance": {"met": [True], "all_or_none": False},
                },
            ],
        }
    )
    result = run(care_bundle, core=True, local=False)
    assert result.outcome("local").outcome == "not-met"
    assert [o.element_id for o in result.compliance_outcomes] == ["core", "local"]
    assert result.compliant is True
    only_local = run(care_bundle, local=True)
    assert only_local.compliant is False  # core is missing


def test_not_equals_holds_when_no_answer_equals_as_in_r4() -> None:
    care_bundle = parse_care_bundle(
        {
            **DEFINITION,
            "elements": [
                {
                    "id": "mode",
                    "text": "Mode",
                    "type": "choice",
                    "options": [{"code": "a", "display": "A"}, {"code": "b", "display": "B"}],
                },
                {
                    "id": "other",
                    "text": "Other",
                    "type": "boolean",
                    "enable_when": [{"element": "mode", "operator": "!=", "answer": "a"}],
                },
            ],
        }
    )
    assert "other" in run(care_bundle, mode="b").enabled
    assert "other" in run(care_bundle).enabled  # unanswered: no answer equals "a"
    assert "other" not in run(care_bundle, mode="a").enabled
