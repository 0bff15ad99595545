"""Checklist answers -> QuestionnaireResponse -> answers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

from fhir_adapters.questionnaire_response import (
    CHECKLIST_IDENTIFIER_SYSTEM,
    NHS_NUMBER_SYSTEM,
    answers_from_response,
    to_questionnaire_response,
)
from fhir_adapters.values import fhir_datetime
from fhir_adapters.vocabulary import CARELOOP_CANONICAL_BASE
from schemas.care_bundle import AnswerValue, CareBundle, parse_care_bundle
from tests.factories import definition


@pytest.fixture(scope="module")
def care_bundle() -> CareBundle:
    return parse_care_bundle(
        {
            **definition(
                id="every-type", version="1.2.3", title="Every type", anchor={"id": "start", "text": "Start"}
            ),
            "elements": [
                {"id": "flag", "text": "Flag", "type": "boolean"},
                {"id": "pick", "text": "Pick", "type": "choice", "options": [{"code": "a", "display": "A"}]},
                {"id": "count", "text": "Count", "type": "integer"},
                {"id": "weight", "text": "Weight", "type": "decimal"},
                {"id": "day", "text": "Day", "type": "date"},
                {"id": "when", "text": "When", "type": "dateTime"},
                {"id": "note", "text": "Note", "type": "text", "repeats": True},
                {
                    "id": "extras",
                    "text": "Extras",
                    "type": "group",
                    "items": [
                        {"id": "intro", "text": "Read this", "type": "display"},
                        {"id": "name", "text": "Name", "type": "string"},
                    ],
                },
                {
                    "id": "unused",
                    "text": "Unused",
                    "type": "group",
                    "items": [{"id": "x", "text": "X", "type": "string"}],
                },
            ],
        }
    )


ANSWERS: dict[str, list[AnswerValue]] = {
    "start": [dt.datetime(2025, 3, 30, 0, 30, tzinfo=dt.UTC)],
    "flag": [False],
    "pick": ["a"],
    "count": [0],
    "weight": [Decimal("2.75")],
    "day": [dt.date(2025, 3, 31)],
    "when": [dt.datetime(2025, 3, 31, 9, 15, tzinfo=dt.timezone(dt.timedelta(hours=1)))],
    "note": ["first", "second"],
    "name": ["A. Midwife"],
}


def test_round_trip_keeps_every_answer(care_bundle: CareBundle) -> None:
    resource = to_questionnaire_response(
        care_bundle,
        ANSWERS,
        checklist_id="6f1c2d1e-2f7b-4d8e-9a51-8d5f0f6f2b11",
        status="completed",
        authored=dt.datetime(2025, 3, 31, 10, 0, tzinfo=dt.UTC),
        nhs_number="9434765919",
        encounter_reference="Encounter/abc",
        author_reference="Practitioner/xyz",
    )
    QuestionnaireResponse.model_validate(resource)
    assert resource["identifier"] == {
        "system": CHECKLIST_IDENTIFIER_SYSTEM,
        "value": "6f1c2d1e-2f7b-4d8e-9a51-8d5f0f6f2b11",
    }
    assert resource["questionnaire"] == f"{CARELOOP_CANONICAL_BASE}/Questionnaire/every-type|1.2.3"
    assert resource["subject"] == {"identifier": {"system": NHS_NUMBER_SYSTEM, "value": "9434765919"}}
    assert resource["authored"] == "2025-03-31T10:00:00Z"
    link_ids = [item["linkId"] for item in resource["item"]]
    assert link_ids == ["start", "flag", "pick", "count", "weight", "day", "when", "note", "extras"]
    assert resource["item"][8]["item"] == [
        {"linkId": "name", "text": "Name", "answer": [{"valueString": "A. Midwife"}]}
    ]
    assert resource["item"][6]["answer"] == [{"valueDateTime": "2025-03-31T09:15:00+01:00"}]
    assert resource["item"][4]["answer"] == [{"valueDecimal": 2.75}]
    assert answers_from_response(care_bundle, resource) == ANSWERS


def test_wrong_python_type_is_refused(care_bundle: CareBundle) -> None:
    with pytest.raises(ValueError, match="not an answer for a boolean element"):
        to_questionnaire_response(
            care_bundle,
            {"flag": ["yes"]},
            checklist_id="x",
            status="in-progress",
            authored=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
        )
    with pytest.raises(ValueError, match="not an option of pick"):
        to_questionnaire_response(
            care_bundle,
            {"pick": ["b"]},
            checklist_id="x",
            status="in-progress",
            authored=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
        )


def test_fhir_datetime_needs_an_offset() -> None:
    assert (
        fhir_datetime(dt.datetime(2025, 1, 1, 8, 0, 0, 250000, tzinfo=dt.UTC)) == "2025-01-01T08:00:00.250Z"
    )
    with pytest.raises(ValueError, match="offset"):
        fhir_datetime(dt.datetime(2025, 1, 1))  # noqa: DTZ001
