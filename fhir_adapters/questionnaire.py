"""A :class:`CareBundle` as an R4 (SDC) ``Questionnaire``.

Standard FHIR carries what it can (items, answerOption, enableWhen, required, code, min/max value, maxLength,
help text as an SDC help item, author notes as ``designNote``); the anchor, the sources and the compliance and
timing rules travel as extensions under :data:`CARELOOP_CANONICAL_BASE`, so an EHR that ignores them still
renders a correct form.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fhir_adapters import fhirpath
from fhir_adapters.questionnaire_rules import compliance_extension, root_extensions
from fhir_adapters.values import option_system, typed_answer, typed_value
from fhir_adapters.vocabulary import (
    CARELOOP_CANONICAL_BASE,
    CARELOOP_EXTENSION_BASE,
    EXT_CALCULATED_EXPRESSION,
    EXT_DESIGN_NOTE,
    EXT_ITEM_CONTROL,
    EXT_MAX_OCCURS,
    EXT_MAX_VALUE,
    EXT_MIN_VALUE,
    EXT_OPTION_EXCLUSIVE,
    EXT_UNIT,
    ITEM_CONTROL_SYSTEM,
    UCUM_SYSTEM,
)
from schemas.care_bundle import HELP_SUFFIX, CareBundle, Coding, Condition, Element, Option

EXT_ANCHOR = f"{CARELOOP_EXTENSION_BASE}/care-bundle-anchor"
EXT_TIMEZONE = f"{CARELOOP_EXTENSION_BASE}/care-bundle-timezone"
EXT_SOURCE = f"{CARELOOP_EXTENSION_BASE}/care-bundle-source"


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
    extensions.extend(root_extensions(care_bundle))

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
    if element.unit is not None:
        unit: dict[str, Any] = {"display": element.unit.display}
        if element.unit.code is not None:
            unit = {"system": UCUM_SYSTEM, "code": element.unit.code, **unit}
        extensions.append({"url": EXT_UNIT, "valueCoding": unit})
    if element.max_repeats is not None:
        extensions.append({"url": EXT_MAX_OCCURS, "valueInteger": element.max_repeats})
    if element.calculated is not None:
        expression = fhirpath.calculation(care_bundle, element.calculated)
        extensions.append(
            {
                "url": EXT_CALCULATED_EXPRESSION,
                "valueExpression": {"language": "text/fhirpath", "expression": expression},
            }
        )
    if element.compliance is not None:
        extensions.append(compliance_extension(care_bundle, element, element.compliance))
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
    if element.calculated is not None:
        item["readOnly"] = True
    if element.repeats:
        item["repeats"] = True
    if element.max_length is not None:
        item["maxLength"] = element.max_length
    if element.options:
        item["answerOption"] = [_answer_option(care_bundle, option) for option in element.options]
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


def _answer_option(care_bundle: CareBundle, option: Option) -> dict[str, Any]:
    answer: dict[str, Any] = {}
    if option.exclusive:
        answer["extension"] = [{"url": EXT_OPTION_EXCLUSIVE, "valueBoolean": True}]
    answer["valueCoding"] = {
        "system": option_system(care_bundle, option),
        "code": option.code,
        "display": option.display,
    }
    return answer


def _enable_when(care_bundle: CareBundle, condition: Condition) -> dict[str, Any]:
    result: dict[str, Any] = {"question": condition.element, "operator": condition.operator}
    if condition.operator == "exists":
        result["answerBoolean"] = bool(condition.answer)
    else:
        result.update(typed_answer(care_bundle, "answer", condition.element, condition.answer))
    return result


def served_questionnaire(
    questionnaire: Mapping[str, Any], source: str | Path | None
) -> tuple[Mapping[str, Any], str]:
    """``questionnaire`` with ``meta.versionId`` (a hash of its content) and ``meta.lastUpdated`` (its care
    bundle file's modification time), and its weak ETag; computed once, when the catalogue is built."""
    content = {key: value for key, value in questionnaire.items() if key != "meta"}
    digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:16]
    path = Path(source) if source else None
    updated = (
        dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC).replace(microsecond=0)
        if path is not None and path.exists()
        else dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    )
    meta = {**(questionnaire.get("meta") or {}), "versionId": digest, "lastUpdated": updated.isoformat()}
    return {**questionnaire, "meta": meta}, f'W/"{digest}"'
