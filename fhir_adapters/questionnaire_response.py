"""Checklist answers <-> an R4 ``QuestionnaireResponse`` for a care bundle's Questionnaire.

Items follow the Questionnaire's nesting; only answered items are written (groups only when some item inside
is answered). The caller passes the answers of enabled elements only: which elements are enabled is care
bundle semantics (``service.checklists``), not a mapping concern. Follows the UK Core QuestionnaireResponse
must-support list: identifier, questionnaire, status, subject, authored, author, item.linkId, item.answer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from fhir_adapters.questionnaire import CARELOOP_CANONICAL_BASE, canonical_url, fhir_decimal, option_system
from schemas.care_bundle import AnswerValue, CareBundle, Element

CHECKLIST_IDENTIFIER_SYSTEM = f"{CARELOOP_CANONICAL_BASE}/checklist"
NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"

Answers = Mapping[str, Sequence[AnswerValue]]


def fhir_datetime(moment: dt.datetime) -> str:
    """FHIR dateTime with seconds and an offset (``Z`` for UTC)."""
    if moment.tzinfo is None:
        raise ValueError("FHIR date-times with a time need a time zone offset")
    text = moment.isoformat(timespec="milliseconds" if moment.microsecond else "seconds")
    return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text


def answer_value(
    care_bundle: CareBundle, element_type: str, element: Element | None, value: AnswerValue
) -> dict[str, Any]:
    """One ``answer`` entry (``{"valueX": ...}``) for a value of an element of ``element_type``."""
    if element_type == "choice":
        assert element is not None
        option = element.option(value)
        if option is None:
            raise ValueError(f"{value!r} is not an option of {element.id}")
        return {
            "valueCoding": {
                "system": option_system(care_bundle, option),
                "code": option.code,
                "display": option.display,
            }
        }
    if element_type == "boolean" and isinstance(value, bool):
        return {"valueBoolean": value}
    if element_type == "integer" and isinstance(value, int) and not isinstance(value, bool):
        return {"valueInteger": value}
    if element_type == "decimal" and isinstance(value, int | Decimal) and not isinstance(value, bool):
        return {"valueDecimal": fhir_decimal(Decimal(value))}
    if element_type == "dateTime" and isinstance(value, dt.datetime):
        return {"valueDateTime": fhir_datetime(value)}
    if element_type == "date" and isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return {"valueDate": value.isoformat()}
    if element_type in ("string", "text") and isinstance(value, str):
        return {"valueString": value}
    raise ValueError(f"a {type(value).__name__} is not an answer for a {element_type} element")


def to_questionnaire_response(
    care_bundle: CareBundle,
    answers: Answers,
    *,
    checklist_id: str,
    status: str,
    authored: dt.datetime,
    nhs_number: str | None = None,
    patient_reference: str | None = None,
    encounter_reference: str | None = None,
    author_reference: str | None = None,
) -> dict[str, Any]:
    """A QuestionnaireResponse (plain JSON) for one checklist. ``answers`` must hold enabled elements only."""
    resource: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "identifier": {"system": CHECKLIST_IDENTIFIER_SYSTEM, "value": checklist_id},
        "questionnaire": f"{canonical_url(care_bundle)}|{care_bundle.version}",
        "status": status,
    }
    subject: dict[str, Any] = {}
    if patient_reference:
        subject["reference"] = patient_reference
    if nhs_number:
        subject["identifier"] = {"system": NHS_NUMBER_SYSTEM, "value": nhs_number}
    if subject:
        resource["subject"] = subject
    if encounter_reference:
        resource["encounter"] = {"reference": encounter_reference}
    resource["authored"] = fhir_datetime(authored)
    if author_reference:
        resource["author"] = {"reference": author_reference}

    anchor = care_bundle.anchor
    items: list[dict[str, Any]] = []
    anchor_values = answers.get(anchor.id, ())
    if anchor_values:
        items.append(
            {
                "linkId": anchor.id,
                "text": anchor.text,
                "answer": [answer_value(care_bundle, anchor.type, None, value) for value in anchor_values],
            }
        )
    items.extend(_items(care_bundle, care_bundle.elements, answers))
    if items:
        resource["item"] = items
    return resource


def _items(care_bundle: CareBundle, elements: Sequence[Element], answers: Answers) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for element in elements:
        if element.type == "display":
            continue
        if element.type == "group":
            children = _items(care_bundle, element.items, answers)
            if children:
                items.append({"linkId": element.id, "text": element.text, "item": children})
            continue
        values = answers.get(element.id, ())
        if values:
            items.append(
                {
                    "linkId": element.id,
                    "text": element.text,
                    "answer": [answer_value(care_bundle, element.type, element, value) for value in values],
                }
            )
    return items


def answers_from_response(
    care_bundle: CareBundle, response: Mapping[str, Any]
) -> dict[str, list[AnswerValue]]:
    """The answers in a QuestionnaireResponse that was validated against this care bundle's Questionnaire."""
    types = {element.id: element for element in care_bundle.walk()}
    answers: dict[str, list[AnswerValue]] = {}

    def collect(items: Sequence[Mapping[str, Any]]) -> None:
        for item in items:
            link_id = item["linkId"]
            element = types.get(link_id)
            kind = care_bundle.anchor.type if link_id == care_bundle.anchor.id else element and element.type
            for answer in item.get("answer", ()):
                if kind:
                    answers.setdefault(link_id, []).append(_python_value(kind, answer))
                collect(answer.get("item", ()))
            collect(item.get("item", ()))

    collect(response.get("item", ()))
    return answers


def _python_value(kind: str, answer: Mapping[str, Any]) -> AnswerValue:
    if kind == "choice":
        code: str = answer["valueCoding"]["code"]
        return code
    if kind == "boolean":
        return bool(answer["valueBoolean"])
    if kind == "integer":
        return int(answer["valueInteger"])
    if kind == "decimal":
        return Decimal(str(answer["valueDecimal"]))
    if kind == "date":
        return dt.date.fromisoformat(answer["valueDate"])
    if kind == "dateTime":
        return dt.datetime.fromisoformat(answer["valueDateTime"].replace("Z", "+00:00"))
    text: str = answer["valueString"]
    return text
