"""Checklist answers <-> an R4 ``QuestionnaireResponse`` for a care bundle's Questionnaire.

Answers are a mapping of element id to values; a repeating group's id maps to its instances, each a mapping
of its items' ids to values. Items follow the Questionnaire's nesting; only answered items are written
(groups only when some item inside is answered). Date-times are written in the care bundle's time zone.
Which elements are enabled is care bundle semantics (``service.checklists``), not a mapping concern: the
caller decides what to pass. Follows the UK Core QuestionnaireResponse must-support list: identifier,
questionnaire, status, subject, authored, author, item.linkId, item.answer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from fhir_adapters.questionnaire import canonical_url
from fhir_adapters.values import fhir_datetime, typed_value
from fhir_adapters.vocabulary import CARELOOP_CANONICAL_BASE, NHS_NUMBER_SYSTEM
from schemas.care_bundle import AnswerValue, CareBundle, Element

CHECKLIST_IDENTIFIER_SYSTEM = f"{CARELOOP_CANONICAL_BASE}/checklist"

#: Element id -> values, or for a repeating group's id, its instances (item id -> values).
Answers = Mapping[str, Sequence[Any]]


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

    items = response_items(care_bundle, answers)
    if items:
        resource["item"] = items
    return resource


def response_items(care_bundle: CareBundle, answers: Answers) -> list[dict[str, Any]]:
    """The ``item`` array for ``answers``, the anchor first."""
    return _items(care_bundle, (care_bundle.anchor_element, *care_bundle.elements), answers)


def _items(care_bundle: CareBundle, elements: Sequence[Element], answers: Answers) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for element in elements:
        if element.is_repeating_group:
            for instance in answers.get(element.id, ()):
                children = _items(care_bundle, element.items, instance)
                if children:
                    items.append({"linkId": element.id, "text": element.text, "item": children})
        elif element.type == "group":
            children = _items(care_bundle, element.items, answers)
            if children:
                items.append({"linkId": element.id, "text": element.text, "item": children})
        elif element.type != "display" and answers.get(element.id):
            items.append(
                {
                    "linkId": element.id,
                    "text": element.text,
                    "answer": [typed_value(care_bundle, element, value) for value in answers[element.id]],
                }
            )
    return items


def answers_from_response(care_bundle: CareBundle, response: Mapping[str, Any]) -> dict[str, list[Any]]:
    """The answers in a QuestionnaireResponse that was validated against this care bundle's Questionnaire."""
    types = care_bundle.element_types
    repeating = {element.id for element in care_bundle.walk() if element.is_repeating_group}

    def collect(items: Sequence[Mapping[str, Any]], into: dict[str, list[Any]]) -> None:
        for item in items:
            link_id = item["linkId"]
            if link_id in repeating:
                instance: dict[str, list[Any]] = {}
                collect(item.get("item", ()), instance)
                into.setdefault(link_id, []).append(instance)
                continue
            kind = types.get(link_id)
            for answer in item.get("answer", ()):
                if kind:
                    into.setdefault(link_id, []).append(_python_value(kind, answer))
                collect(answer.get("item", ()), into)
            collect(item.get("item", ()), into)

    answers: dict[str, list[Any]] = {}
    collect(response.get("item", ()), answers)
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
