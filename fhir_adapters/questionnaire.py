"""A :class:`CareBundle` as an R4 (SDC) ``Questionnaire``.

Standard FHIR carries what it can (items, answerOption, enableWhen, required, code, min/max value, maxLength,
help text as an SDC help item, author notes as ``designNote``); the anchor, the sources and the compliance and
timing rules travel as extensions under :data:`CARELOOP_CANONICAL_BASE`, so an EHR that ignores them still
renders a correct form.
"""

from __future__ import annotations

from typing import Any

from fhir_adapters.values import (
    CARELOOP_CANONICAL_BASE,
    fhir_decimal,
    option_system,
    typed_value,
)
from schemas.care_bundle import (
    HELP_SUFFIX,
    AnswerValue,
    CareBundle,
    Coding,
    Compliance,
    Condition,
    Element,
    coerce_answer,
)

EXTENSION_BASE = f"{CARELOOP_CANONICAL_BASE}/StructureDefinition"
EXT_ANCHOR = f"{EXTENSION_BASE}/care-bundle-anchor"
EXT_TIMEZONE = f"{EXTENSION_BASE}/care-bundle-timezone"
EXT_SOURCE = f"{EXTENSION_BASE}/care-bundle-source"
EXT_COMPLIANCE = f"{EXTENSION_BASE}/care-bundle-compliance"

FHIR_EXT = "http://hl7.org/fhir/StructureDefinition"
EXT_MIN_VALUE = f"{FHIR_EXT}/minValue"
EXT_MAX_VALUE = f"{FHIR_EXT}/maxValue"
EXT_UNIT = f"{FHIR_EXT}/questionnaire-unit"
EXT_ITEM_CONTROL = f"{FHIR_EXT}/questionnaire-itemControl"
EXT_DESIGN_NOTE = f"{FHIR_EXT}/designNote"
ITEM_CONTROL_SYSTEM = "http://hl7.org/fhir/questionnaire-item-control"


def questionnaire_id(care_bundle: CareBundle) -> str:
    """The resource id: one Questionnaire resource per care bundle version."""
    return f"{care_bundle.id}-{care_bundle.version}"


def canonical_url(care_bundle: CareBundle) -> str:
    return f"{CARELOOP_CANONICAL_BASE}/Questionnaire/{care_bundle.id}"


def computable_name(care_bundle_id: str) -> str:
    """``oasi-care-bundle`` -> ``OasiCareBundle`` (Questionnaire.name must be machine friendly)."""
    return "".join(part[:1].upper() + part[1:] for part in care_bundle_id.split("-"))


def to_questionnaire(care_bundle: CareBundle) -> dict[str, Any]:
    """The care bundle as Questionnaire JSON (a plain dict, ready to serialise)."""
    extensions: list[dict[str, Any]] = [
        {"url": EXT_ANCHOR, "valueString": care_bundle.anchor.id},
        {"url": EXT_TIMEZONE, "valueCode": care_bundle.timezone},
    ]
    for source in care_bundle.sources:
        parts: list[dict[str, Any]] = [
            {"url": "id", "valueString": source.id},
            {"url": "citation", "valueString": source.citation},
        ]
        if source.url:
            parts.append({"url": "url", "valueUri": source.url})
        parts.extend({"url": "note", "valueString": note} for note in source.notes)
        extensions.append({"url": EXT_SOURCE, "extension": parts})
    extensions.extend({"url": EXT_DESIGN_NOTE, "valueMarkdown": note} for note in care_bundle.notes)

    resource: dict[str, Any] = {
        "resourceType": "Questionnaire",
        "id": questionnaire_id(care_bundle),
        "extension": extensions,
        "url": canonical_url(care_bundle),
        "version": care_bundle.version,
        "name": computable_name(care_bundle.id),
        "title": care_bundle.title,
        "status": care_bundle.status,
        "subjectType": [care_bundle.subject_type],
    }
    if care_bundle.publisher:
        resource["publisher"] = care_bundle.publisher
    if care_bundle.description:
        resource["description"] = care_bundle.description
    if care_bundle.codes:
        resource["code"] = [_coding(coding) for coding in care_bundle.codes]

    anchor = care_bundle.anchor
    anchor_item: dict[str, Any] = {
        "linkId": anchor.id,
        "text": anchor.text,
        "type": anchor.type,
        "required": True,
    }
    if anchor.notes:
        anchor_item["extension"] = [{"url": EXT_DESIGN_NOTE, "valueMarkdown": note} for note in anchor.notes]
    resource["item"] = [anchor_item] + [_item(care_bundle, element) for element in care_bundle.elements]
    return resource


def _coding(coding: Coding) -> dict[str, Any]:
    result = {"system": coding.system, "code": coding.code}
    if coding.display:
        result["display"] = coding.display
    return result


def _item(care_bundle: CareBundle, element: Element) -> dict[str, Any]:
    extensions: list[dict[str, Any]] = []
    if element.min_value is not None:
        extensions.append({"url": EXT_MIN_VALUE, **typed_value(care_bundle, element, element.min_value)})
    if element.max_value is not None:
        extensions.append({"url": EXT_MAX_VALUE, **typed_value(care_bundle, element, element.max_value)})
    if element.unit:
        extensions.append({"url": EXT_UNIT, "valueCoding": {"display": element.unit}})
    if element.compliance is not None:
        extensions.append(_compliance_extension(care_bundle, element, element.compliance))
    notes = list(element.notes)
    if element.sources:
        notes.append("Sources: " + ", ".join(element.sources))
    extensions.extend({"url": EXT_DESIGN_NOTE, "valueMarkdown": note} for note in notes)

    item: dict[str, Any] = {"linkId": element.id}
    if extensions:
        item["extension"] = extensions
    if element.codes:
        item["code"] = [_coding(coding) for coding in element.codes]
    item["text"] = element.text
    item["type"] = element.type
    if element.enable_when:
        item["enableWhen"] = [_enable_when(care_bundle, condition) for condition in element.enable_when]
    if element.enable_behavior:
        item["enableBehavior"] = element.enable_behavior
    if element.required:
        item["required"] = True
    if element.repeats:
        item["repeats"] = True
    if element.max_length is not None:
        item["maxLength"] = element.max_length
    if element.options:
        item["answerOption"] = [
            {
                "valueCoding": {
                    "system": option_system(care_bundle, option),
                    "code": option.code,
                    "display": option.display,
                }
            }
            for option in element.options
        ]
    children = [_item(care_bundle, child) for child in element.items]
    if element.help:
        children.append(
            {
                "linkId": element.id + HELP_SUFFIX,
                "extension": [
                    {
                        "url": EXT_ITEM_CONTROL,
                        "valueCodeableConcept": {
                            "coding": [
                                {"system": ITEM_CONTROL_SYSTEM, "code": "help", "display": "Help-Button"}
                            ]
                        },
                    }
                ],
                "text": element.help,
                "type": "display",
            }
        )
    if children:
        item["item"] = children
    return item


def _answer(care_bundle: CareBundle, prefix: str, element_id: str, answer: AnswerValue) -> dict[str, Any]:
    """A condition's or rule's answer, typed as the element it names (the anchor included)."""
    element = (
        care_bundle.anchor_element if element_id == care_bundle.anchor.id else care_bundle.element(element_id)
    )
    if element is None:  # the loader rejects this; keep the mapper total all the same
        raise ValueError(f"no element {element_id!r} in {care_bundle.id}")
    return typed_value(care_bundle, element, coerce_answer(element.type, answer), prefix)


def _enable_when(care_bundle: CareBundle, condition: Condition) -> dict[str, Any]:
    result: dict[str, Any] = {"question": condition.element, "operator": condition.operator}
    if condition.operator == "exists":
        result["answerBoolean"] = bool(condition.answer)
    else:
        result.update(_answer(care_bundle, "answer", condition.element, condition.answer))
    return result


def _compliance_extension(
    care_bundle: CareBundle, element: Element, compliance: Compliance
) -> dict[str, Any]:
    parts: list[dict[str, Any]] = []
    for key in ("met", "exception"):
        for answer in getattr(compliance, key):
            parts.append({"url": key, **_answer(care_bundle, "value", element.id, answer)})
    for condition in compliance.exception_when:
        condition_parts: list[dict[str, Any]] = [
            {"url": "question", "valueString": condition.element},
            {"url": "operator", "valueCode": condition.operator},
        ]
        if condition.operator == "exists":
            condition_parts.append({"url": "answer", "valueBoolean": bool(condition.answer)})
        else:
            condition_parts.append(
                {"url": "answer", **_answer(care_bundle, "value", condition.element, condition.answer)}
            )
        parts.append({"url": "exceptionWhen", "extension": condition_parts})
    if compliance.recorded:
        parts.append({"url": "recorded", "valueBoolean": True})
    if not compliance.all_or_none:
        parts.append({"url": "allOrNone", "valueBoolean": False})
    for rule in compliance.timing:
        start = care_bundle.anchor.id if rule.start == "anchor" else rule.start
        rule_parts: list[dict[str, Any]] = [{"url": "from", "valueString": start}]
        if rule.within_hours is not None:
            rule_parts.append({"url": "withinHours", "valueDecimal": fhir_decimal(rule.within_hours)})
        if rule.by_end_of_day is not None:
            rule_parts.append({"url": "byEndOfDay", "valueInteger": rule.by_end_of_day})
        parts.append({"url": "timing", "extension": rule_parts})
    return {"url": EXT_COMPLIANCE, "extension": parts}
