"""Follow-up measures across one patient's checklists: baseline, follow-up window, population, change."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from service.checklists import Outcome, evaluate
from service.checklists.follow_up import SeriesPoint, judge_follow_up, point_of
from tests.factories import build, element

CARE_BUNDLE = build(
    element("tasks", "integer", min_value=0, max_value=14),
    element("index", "decimal"),
    follow_up=[
        {
            "id": "reached-five",
            "title": "Below 5 at baseline, 5 or more at the latest review",
            "element": "tasks",
            "population": {"operator": "<", "answer": 5},
            "met": {"operator": ">=", "answer": 5},
        },
        {
            "id": "index-improved",
            "title": "Index up by 0.08 or more, 300 to 430 days after baseline",
            "element": "index",
            "change": {"operator": ">=", "answer": 0.08},
            "after_days": 300,
            "within_days": 430,
        },
    ],
)
REACHED_FIVE, INDEX_IMPROVED = CARE_BUNDLE.follow_up


def at(day: str, value: str | None) -> SeriesPoint:
    return SeriesPoint(dt.datetime.fromisoformat(day), Decimal(value) if value is not None else None)


def test_the_latest_review_decides_and_the_first_is_the_baseline_whatever_the_order_given() -> None:
    points = [
        at("2025-09-01T10:00+01:00", "5"),
        at("2025-03-01T10:00+00:00", "3"),
        at("2025-06-01T10:00+01:00", "4"),
    ]
    result = judge_follow_up(CARE_BUNDLE, REACHED_FIVE, points)
    assert result.outcome == Outcome.MET
    assert result.baseline == points[1]
    assert result.follow_up == points[0]
    assert result.change == 2


def test_still_below_five_is_not_met() -> None:
    result = judge_follow_up(
        CARE_BUNDLE, REACHED_FIVE, [at("2025-03-01T10:00+00:00", "3"), at("2025-09-01T10:00+01:00", "4")]
    )
    assert result.outcome == Outcome.NOT_MET


def test_five_or_more_at_baseline_is_outside_the_population() -> None:
    result = judge_follow_up(
        CARE_BUNDLE, REACHED_FIVE, [at("2025-03-01T10:00+00:00", "5"), at("2025-09-01T10:00+01:00", "9")]
    )
    assert result.outcome == Outcome.NOT_APPLICABLE
    assert "baseline 5 is not < 5" in str(result.reason)


@pytest.mark.parametrize(
    ("points", "outcome", "reason"),
    [
        ([], Outcome.NOT_APPLICABLE, "no checklist"),
        ([at("2025-03-01T10:00+00:00", "3")], Outcome.MISSING, "no follow-up checklist yet"),
        (
            [at("2025-03-01T10:00+00:00", None), at("2025-09-01T10:00+01:00", "6")],
            Outcome.MISSING,
            "no value at baseline",
        ),
        (
            [at("2025-03-01T10:00+00:00", "2"), at("2025-09-01T10:00+01:00", None)],
            Outcome.MISSING,
            "no value at follow-up",
        ),
    ],
)
def test_what_cannot_be_judged_says_why(points: list[SeriesPoint], outcome: Outcome, reason: str) -> None:
    result = judge_follow_up(CARE_BUNDLE, REACHED_FIVE, points)
    assert result.outcome == outcome
    assert reason in str(result.reason)


@pytest.mark.parametrize(
    ("follow_up_day", "value", "outcome"),
    [
        ("2025-12-26", "0.69", Outcome.MET),  # day 300, change exactly 0.08
        ("2025-12-25", "0.69", Outcome.MISSING),  # day 299: outside the window
        ("2026-05-05", "0.68", Outcome.NOT_MET),  # day 430, change 0.07
        ("2026-05-06", "0.90", Outcome.MISSING),  # day 431: outside the window
    ],
)
def test_a_change_inside_a_window_of_whole_days(follow_up_day: str, value: str, outcome: Outcome) -> None:
    baseline = SeriesPoint(dt.date(2025, 3, 1), Decimal("0.61"))
    result = judge_follow_up(
        CARE_BUNDLE,
        INDEX_IMPROVED,
        [baseline, SeriesPoint(dt.date.fromisoformat(follow_up_day), Decimal(value))],
    )
    assert result.outcome == outcome


def test_the_value_comes_from_an_evaluated_checklist() -> None:
    anchor = dt.datetime(2025, 3, 1, 10, tzinfo=dt.UTC)
    answers: dict[str, list[object]] = {"arrival": [anchor], "tasks": [4]}
    evaluation = evaluate(CARE_BUNDLE, answers, anchor)
    assert point_of(REACHED_FIVE, anchor, answers, evaluation) == SeriesPoint(anchor, Decimal(4))
    assert point_of(INDEX_IMPROVED, anchor, answers, evaluation).value is None
