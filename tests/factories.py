"""Builders for tests: care bundle definitions, answers, and Hypothesis strategies for valid answers.

Use these instead of copying care bundle dictionaries between test modules::

    care_bundle = build(choice("mode", "vaginal", "caesarean"), yes_no("mpp", compliance={"met": ["yes"]}))
    evaluate(care_bundle, answers(arrival=at("2025-06-01T08:00:00+01:00"), mode="vaginal"), NOON)
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import assume
from hypothesis import strategies as st

from schemas.care_bundle import AnswerValue, CareBundle, Element, parse_care_bundle
from service.checklists import evaluate

LONDON = ZoneInfo("Europe/London")
AUTHORED = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
ANCHOR = {"id": "arrival", "text": "Arrival"}
SOURCES = [{"id": "src", "citation": "A source"}]


# --------------------------------------------------------------------------------------------------
# Care bundle definitions
# --------------------------------------------------------------------------------------------------


def definition(*elements: dict[str, Any], **top: Any) -> dict[str, Any]:
    """A care bundle definition (as loaded from YAML) with sensible defaults for every required field."""
    return {
        "id": "pathway",
        "version": "1.0.0",
        "title": "Pathway",
        "status": "active",
        "anchor": dict(ANCHOR),
        "sources": list(SOURCES),
        "elements": list(elements),
        **top,
    }


def build(*elements: dict[str, Any], **top: Any) -> CareBundle:
    """A checked :class:`CareBundle` from element definitions (raises InvalidCareBundle if unsound)."""
    return parse_care_bundle(definition(*elements, **top))


def element(element_id: str, element_type: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": element_id,
        "text": element_id.replace("-", " ").capitalize(),
        "type": element_type,
        **fields,
    }


def choice(element_id: str, *codes: str, **fields: Any) -> dict[str, Any]:
    options = [{"code": code, "display": code.replace("-", " ").capitalize()} for code in codes]
    return element(element_id, "choice", options=options, **fields)


def yes_no(element_id: str, **fields: Any) -> dict[str, Any]:
    return choice(element_id, "yes", "no", **fields)


def when(element_id: str, operator: str, answer: Any) -> dict[str, Any]:
    return {"element": element_id, "operator": operator, "answer": answer}


# --------------------------------------------------------------------------------------------------
# Answers
# --------------------------------------------------------------------------------------------------


def at(text: str) -> dt.datetime:
    """An aware datetime from ISO text (``2025-06-01T08:00:00+01:00``)."""
    moment = dt.datetime.fromisoformat(text)
    assert moment.tzinfo is not None, "give an offset"
    return moment


def answers(**values: Any) -> dict[str, list[Any]]:
    """Keyword answers (``mpp_reason="other"``) as an answers mapping (``{"mpp-reason": ["other"]}``)."""
    return {
        key.replace("_", "-"): value if isinstance(value, list) else [value] for key, value in values.items()
    }


# --------------------------------------------------------------------------------------------------
# Hypothesis: valid answers for any care bundle
# --------------------------------------------------------------------------------------------------

# Text a clinician might type: letters, digits, punctuation and spaces; a single-line string has no newline.
LINE = (
    st.text(
        alphabet=st.characters(categories=("L", "N", "P", "Zs"), exclude_characters="\u2028\u2029"),
        min_size=1,
        max_size=60,
    )
    .map(str.strip)
    .filter(bool)
)
MOMENTS = st.datetimes(
    min_value=dt.datetime(2000, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive; timezones= makes them aware
    max_value=dt.datetime(2035, 12, 31),  # noqa: DTZ001
    timezones=st.sampled_from([dt.UTC, LONDON]),
)


def value_of(element: Element) -> st.SearchStrategy[AnswerValue]:
    kind = element.type
    if kind == "boolean":
        return st.booleans()
    if kind == "choice":
        return st.sampled_from([option.code for option in element.options])
    if kind == "integer":
        low = int(element.min_value) if element.min_value is not None else -100_000
        high = int(element.max_value) if element.max_value is not None else 100_000
        return st.integers(min_value=low, max_value=high)
    if kind == "decimal":
        return st.decimals(
            min_value=element.min_value if element.min_value is not None else Decimal(-100_000),
            max_value=element.max_value if element.max_value is not None else Decimal(100_000),
            places=2,
            allow_nan=False,
            allow_infinity=False,
        )
    if kind == "date":
        return st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2035, 12, 31))
    if kind == "dateTime":
        return MOMENTS
    if kind == "text":
        return st.lists(LINE, min_size=1, max_size=3).map("\n".join)
    assert kind == "string", kind
    limit = element.max_length or 60
    return LINE.map(lambda text: text[:limit].strip()).filter(bool)


@st.composite
def valid_answers(draw: st.DrawFn, care_bundle: CareBundle) -> dict[str, list[Any]]:
    """Answers a careful user could give: only enabled elements, every enabled required one answered.

    A value is drawn for every element up front; ``evaluate`` (which asks the SDC enableWhen code) then says
    what is enabled, and answers are kept or dropped until that no longer changes. Calculated elements get
    the value Careloop works out, as an SDC form filler puts it in the response.
    """
    anchor = care_bundle.anchor.id
    pool: dict[str, list[Any]] = {anchor: [draw(MOMENTS)]}
    keep: dict[str, bool] = {}
    instances: dict[str, list[dict[str, list[Any]]]] = {}
    for element in care_bundle.walk():
        if element.is_repeating_group:
            count = draw(st.integers(min_value=0, max_value=element.max_repeats or 3))
            instances[element.id] = [
                {item.id: draw(values_of(item)) for item in element.items if answerable(item)}
                for _ in range(count)
            ]
        elif answerable(element) and element.id not in care_bundle.repeating_group_of:
            pool[element.id] = draw(values_of(element))
            keep[element.id] = element.required or draw(st.booleans())

    answers: dict[str, list[Any]] = {**pool, **instances}
    for _ in range(12):
        evaluation = evaluate(care_bundle, answers, AUTHORED)
        enabled = evaluation.enabled_instances
        chosen: dict[str, list[Any]] = {
            key: values
            for key, values in pool.items()
            if key == anchor or ((key, None) in enabled and keep[key])
        }
        for group_id, found in instances.items():
            if (group_id, None) in enabled and found:
                kept = [
                    {key: values for key, values in instance.items() if (key, index) in enabled}
                    for index, instance in enumerate(found)
                ]
                chosen[group_id] = [instance for instance in kept if instance]
        if chosen == answers:
            break
        answers = chosen
    else:
        assume(False)  # answers and enablement never settled: no example here
    calculated = evaluate(care_bundle, answers, AUTHORED).calculated
    return {**answers, **{key: [value] for key, value in calculated.items() if value is not None}}


def answerable(element: Element) -> bool:
    return element.type not in ("group", "display") and element.calculated is None


def values_of(element: Element) -> st.SearchStrategy[list[AnswerValue]]:
    """One answer, or up to three for a repeating element; an exclusive option always alone."""
    count = 3 if element.repeats else 1
    exclusive = {option.code for option in element.options if option.exclusive}

    def alone(values: list[AnswerValue]) -> list[AnswerValue]:
        chosen = [value for value in values if value in exclusive]
        return chosen[:1] or values

    return st.lists(value_of(element), min_size=1, max_size=count, unique=element.repeats).map(alone)
