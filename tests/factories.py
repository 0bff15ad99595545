"""Builders for tests: care bundle definitions, answers, and Hypothesis strategies for valid answers.

Use these instead of copying care bundle dictionaries between test modules::

    care_bundle = build(choice("mode", "vaginal", "caesarean"), yes_no("mpp", compliance={"met": ["yes"]}))
    evaluate(care_bundle, answers(arrival=at("2025-06-01T08:00:00+01:00"), mode="vaginal"), NOON)
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import assume
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from schemas.care_bundle import AnswerValue, CareBundle, Element, parse_care_bundle
from service.checklists import evaluate
from service.models import NHS_NUMBER_SYSTEM, Answer, Checklist, ChecklistStatus, Role, Site, Unit, User
from service.models.checklists import VALUE_COLUMN_OF_TYPE

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


# --------------------------------------------------------------------------------------------------
# Database rows: checklists with their answers, as the checklist lifecycle stores them
# --------------------------------------------------------------------------------------------------

#: Arrival of the hip fracture checklists below, and when they were completed.
ARRIVAL = dt.datetime(2025, 3, 10, 8, 0, tzinfo=dt.UTC)
COMPLETED = ARRIVAL + dt.timedelta(days=4)
PATIENT = "9434765919"


def hip_answers(**changes: Any) -> dict[str, list[Any]]:
    """A hip fracture pathway 1.0.0 checklist meeting every element (anaesthesia 30 h after arrival);
    ``changes`` replace answers (``None`` removes one)."""
    answers: dict[str, Any] = {
        "arrival-time": ARRIVAL,
        "fracture-type": "trochanteric",
        "operated": "yes",
        "joint-care": "yes",
        "assessment-protocol": "yes",
        "fascia-iliaca-block": "yes",
        "fascia-iliaca-block-time": ARRIVAL + dt.timedelta(hours=1),
        "geriatrician-assessment-time": ARRIVAL + dt.timedelta(hours=20),
        "geriatrician-grade": "consultant",
        "orthogeriatric-assessment-pre-op": "yes",
        "amt-pre-op": 8,
        "planned-trauma-list": "yes",
        "anaesthesia-start": ARRIVAL + dt.timedelta(hours=30),
        "implant-trochanteric": "extramedullary",
        "surgical-care-bundle": "yes",
        "amt-post-op": 9,
        "delirium-screen-4at": 1,
        "post-op-mdt-rehabilitation": "yes",
        "mobilised-out-of-bed": "yes",
        "mobilised-date": dt.date(2025, 3, 12),
        "daily-rehabilitation": "yes",
        "falls-assessment": "yes",
        "bone-health-assessment": "yes",
        "nutritional-support": "yes",
    }
    answers.update({key.replace("_", "-"): value for key, value in changes.items()})
    return {key: [value] for key, value in answers.items() if value is not None}


def answer_rows(care_bundle: CareBundle, answers: Mapping[str, Sequence[Any]]) -> list[Answer]:
    """Answer rows for ``answers``, as the checklist lifecycle stores them (the inverse of answers_of)."""
    types = care_bundle.element_types
    rows: list[Answer] = []

    def add(element_id: str, values: Sequence[Any], instance: int) -> None:
        for position, value in enumerate(values):
            column = VALUE_COLUMN_OF_TYPE[types[element_id]]
            rows.append(
                Answer(element_id=element_id, instance=instance, position=position, **{column: value})
            )

    for element_id, values in answers.items():
        if types[element_id] == "group":
            for instance, items in enumerate(values):
                for item_id, item_values in items.items():
                    add(item_id, item_values, instance)
        else:
            add(element_id, values, 0)
    return rows


def make_unit(session: Session) -> Unit:
    """A unit of a new site (each call makes its own)."""
    unit = Unit(site=Site(code=f"S{uuid.uuid4().hex[:6]}", name="Test trust"), code="ward-1", name="Ward 1")
    session.add(unit)
    session.flush()
    return unit


def make_user(session: Session, username: str, role: str = Role.ADMIN, *, active: bool = True) -> User:
    user = User(username=username, display_name=username, password_hash="x", role=role, active=active)
    session.add(user)
    session.flush()
    return user


def make_checklist(
    session: Session,
    care_bundle: CareBundle,
    answers: Mapping[str, Sequence[Any]],
    *,
    status: str = ChecklistStatus.COMPLETED,
    **overrides: Any,
) -> Checklist:
    """A checklist of ``care_bundle`` with ``answers``, completed at :data:`COMPLETED` unless in progress."""
    final = status in (ChecklistStatus.COMPLETED, ChecklistStatus.AMENDED)
    values: dict[str, Any] = {
        "care_bundle_id": care_bundle.id,
        "care_bundle_version": care_bundle.version,
        "unit": make_unit(session),
        "patient_identifier": PATIENT,
        "patient_identifier_system": NHS_NUMBER_SYSTEM,
        "anchor_time": answers[care_bundle.anchor.id][0] if care_bundle.anchor.id in answers else None,
        "status": status,
        "completed_at": COMPLETED if final else None,
        "answers": answer_rows(care_bundle, answers),
    }
    values.update(overrides)
    checklist = Checklist(**values)
    session.add(checklist)
    session.flush()
    return checklist


# --------------------------------------------------------------------------------------------------
# Units offering care bundles, their members, and answers to the 2.0.0 care bundles (checklist lifecycle)
# --------------------------------------------------------------------------------------------------

#: A valid NHS number (check digit 9) and one whose check digit does not match.
VALID_NHS_NUMBER = PATIENT
INVALID_NHS_NUMBER = "9434765918"


def make_unit_offering(session: Session, *care_bundle_ids: str, code: str = "ward-1") -> Unit:
    """A unit of a new site (no EHR configured) offering ``care_bundle_ids``."""
    unit = Unit(
        site=Site(code=f"S{uuid.uuid4().hex[:6]}", name="Test trust"), code=code, name=code.capitalize()
    )
    unit.care_bundle_ids.extend(care_bundle_ids)
    session.add(unit)
    session.flush()
    return unit


def make_member(session: Session, username: str, *units: Unit, role: str = Role.CLINICIAN) -> User:
    """An active user working in ``units``."""
    user = User(
        username=username, display_name=username, password_hash="x", role=str(role), units=list(units)
    )
    session.add(user)
    session.flush()
    return user


#: Birth of the OASI checklists below.
BIRTH = dt.datetime(2026, 3, 2, 4, 30, tzinfo=dt.UTC)


def oasi_answers(**changes: Any) -> dict[str, list[Any]]:
    """An OASI care bundle 2.0.0 checklist of a spontaneous vaginal birth meeting all four practices, no
    episiotomy indicated or performed; ``changes`` replace answers (``None`` removes one)."""
    found: dict[str, Any] = {
        "birth-time": BIRTH,
        "birth-mode": "spontaneous-vaginal",
        "antenatal-discussion": "yes",
        "mpp": "yes",
        "episiotomy-indication": "not-indicated",
        "episiotomy-performed": "no",
        "perineal-examination": "yes",
        "perineal-trauma": ["first-degree", "buttonhole"],
    }
    found.update({key.replace("_", "-"): value for key, value in changes.items()})
    return {
        key: value if isinstance(value, list) else [value]
        for key, value in found.items()
        if value is not None
    }


#: Referral of the FREED checklists below.
REFERRAL = dt.datetime(2026, 2, 2, 10, 0, tzinfo=dt.UTC)


def freed_answers(**changes: Any) -> dict[str, list[Any]]:
    """A FREED 2.0.0 draft: a 19-year-old referred at :data:`REFERRAL`, eligible, illness of 1 year."""
    found: dict[str, Any] = {
        "referral-received": REFERRAL,
        "date-of-birth": dt.date(2006, 6, 15),
        "onset-date": dt.date(2025, 1, 1),
        "previous-treatment": "no",
        "diagnosis": "anorexia-nervosa",
        "freed-eligible": "yes",
    }
    found.update({key.replace("_", "-"): value for key, value in changes.items()})
    return {key: [value] for key, value in found.items() if value is not None}


#: The ward form of an OASI 2.0.0 checklist of a spontaneous vaginal birth meeting every practice.
OASI_FORM = {
    "e-birth-mode": "spontaneous-vaginal",
    "e-antenatal-discussion": "yes",
    "e-mpp": "yes",
    "e-episiotomy-indication": "not-indicated",
    "e-episiotomy-performed": "no",
    "e-perineal-examination": "yes",
    "e-perineal-trauma": "second-degree",
}
