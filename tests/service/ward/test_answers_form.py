"""The checklist form's fields <-> answers: every element type, repeating groups, clock changes, bad input."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from werkzeug.datastructures import MultiDict

from service.ward.answers_form import form_values, parse_answers
from tests.factories import build, choice, element, yes_no

LONDON = ZoneInfo("Europe/London")
CARE_BUNDLE = build(
    yes_no("done"),
    element("happened", "boolean"),
    element("score", "integer", min_value=0, max_value=10),
    element("index", "decimal"),
    element("day", "date"),
    element("when", "dateTime"),
    element("note", "string", max_length=20),
    element("story", "text"),
    choice("findings", "intact", "tear", "buttonhole", repeats=True),
    element("age", "integer", calculated={"count": ["findings"]}),
    element(
        "goals",
        "group",
        repeats=True,
        max_repeats=3,
        items=[element("goal", "string"), element("goal-score", "integer")],
    ),
)


def form(**fields: str | list[str]) -> MultiDict[str, str]:
    data: MultiDict[str, str] = MultiDict()
    for key, value in fields.items():
        for item in value if isinstance(value, list) else [value]:
            data.add(key.replace("__", "-"), item)
    return data


def test_every_type_is_read() -> None:
    parsed = parse_answers(
        CARE_BUNDLE,
        form(
            **{
                "e-arrival-day": "30",
                "e-arrival-month": "3",
                "e-arrival-year": "2025",
                "e-arrival-time": "02:30",
                "e-done": "yes",
                "e-happened": "false",
                "e-score": "7",
                "e-index": "0.61",
                "e-day-day": "1",
                "e-day-month": "4",
                "e-day-year": "2025",
                "e-when-day": "26",
                "e-when-month": "10",
                "e-when-year": "2025",
                "e-when-time": "01:30",
                "e-note": "  A line ",
                "e-story": "Two\nlines",
                "e-findings": ["tear", "buttonhole", "tear"],
                "e-age": "99",
                "g-goals-count": "2",
                "g-goals-0-goal": "Walk",
                "g-goals-0-goal-score": "3",
                "g-goals-1-goal": "Sleep",
            }
        ),
    )
    assert parsed.errors == {}
    answers = parsed.answers
    assert answers["arrival"] == [dt.datetime(2025, 3, 30, 2, 30, tzinfo=LONDON)]
    assert answers["arrival"][0].utcoffset() == dt.timedelta(hours=1)
    assert answers["done"] == ["yes"]
    assert answers["happened"] == [False]
    assert answers["score"] == [7]
    assert answers["index"] == [Decimal("0.61")]
    assert answers["day"] == [dt.date(2025, 4, 1)]
    assert answers["when"][0].utcoffset() == dt.timedelta(hours=1)  # 01:30 on the autumn change: the first
    assert answers["note"] == ["A line"]
    assert answers["story"] == ["Two\nlines"]
    assert answers["findings"] == ["tear", "buttonhole"]
    assert "age" not in answers  # calculated: worked out, never read from the form
    assert answers["goals"] == [{"goal": ["Walk"], "goal-score": [3]}, {"goal": ["Sleep"]}]


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"e-score": "7.5"}, "e-score", "whole number"),
        ({"e-score": "9" * 12}, "e-score", "whole number"),
        ({"e-index": "NaN"}, "e-index", "Enter a number"),
        ({"e-index": "1e999999"}, "e-index", "Enter a number"),
        ({"e-done": "maybe"}, "e-done", "Select one of the options"),
        ({"e-happened": "perhaps"}, "e-happened", "yes or no"),
        ({"e-day-day": "31", "e-day-month": "2", "e-day-year": "2025"}, "e-day", "real date"),
        ({"e-day-day": "1", "e-day-month": "2", "e-day-year": "25"}, "e-day", "real date"),
        ({"e-when-time": "10:00"}, "e-when", "date as well"),
        (
            {"e-when-day": "1", "e-when-month": "2", "e-when-year": "2025", "e-when-time": "25:00"},
            "e-when",
            "time",
        ),
        (
            {"e-when-day": "30", "e-when-month": "3", "e-when-year": "2025", "e-when-time": "01:30"},
            "e-when",
            "clocks went forward",
        ),
        ({"e-note": "x" * 21}, "e-note", "20 characters or fewer"),
        ({"e-note": "two\nlines"}, "e-note", "one line"),
        ({"g-goals-count": "1", "g-goals-0-goal-score": "high"}, "g-goals-0-goal-score", "whole number"),
    ],
)
def test_unreadable_values_are_field_errors_and_the_rest_is_kept(
    fields: dict[str, str], field: str, message: str
) -> None:
    parsed = parse_answers(CARE_BUNDLE, form(**{"e-done": "no", **fields}))
    assert message in parsed.errors[field]
    assert list(parsed.errors) == [field]
    assert parsed.answers.get("done") == (["no"] if "e-done" not in fields else None)


def test_instances_are_capped_and_a_tampered_count_is_harmless() -> None:
    parsed = parse_answers(CARE_BUNDLE, form(**{"g-goals-count": "9999", "g-goals-5-goal": "Hidden"}))
    assert len(parsed.answers["goals"]) == 3
    assert parse_answers(CARE_BUNDLE, form(**{"g-goals-count": "-1"})).answers["goals"] == []


def test_the_form_shows_the_answers_again() -> None:
    answers = {
        "arrival": [dt.datetime(2025, 6, 1, 7, 5, tzinfo=dt.UTC)],
        "done": ["yes"],
        "happened": [True],
        "index": [Decimal("0.5")],
        "day": [dt.date(2025, 1, 2)],
        "findings": ["intact"],
        "goals": [{"goal": ["Walk"], "goal-score": [4]}],
    }
    fields = form_values(CARE_BUNDLE, answers)
    assert fields["e-arrival-time"] == ["08:05"]  # shown in London time
    assert fields["e-arrival-day"] == ["1"]
    assert fields["e-happened"] == ["true"]
    assert fields["g-goals-count"] == ["1"]
    assert parse_answers(
        CARE_BUNDLE, MultiDict([(k, v) for k, vs in fields.items() for v in vs])
    ).answers == {
        **answers,
        "arrival": [dt.datetime(2025, 6, 1, 8, 5, tzinfo=LONDON)],
    }
