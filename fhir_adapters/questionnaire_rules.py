"""The care bundle rules a Questionnaire carries: compliance and timing per item, and at the root the
population, composites, checks (also as standard ``questionnaire-constraint`` FHIRPath), follow-up measures
and the working-day calendar.

Everything here is a Careloop extension under :data:`CARELOOP_EXTENSION_BASE` except the constraints, so an
EHR that ignores them still renders a correct form. A part is written only when the care bundle uses it, so
the Questionnaires of published versions keep their content.
"""

from __future__ import annotations

from typing import Any

from fhir_adapters import fhirpath
from fhir_adapters.values import fhir_decimal, typed_answer
from fhir_adapters.vocabulary import CARELOOP_EXTENSION_BASE, EXT_CONSTRAINT
from schemas.care_bundle import CareBundle, Compliance, Condition, Conditions, Element, TimingRule

EXT_COMPLIANCE = f"{CARELOOP_EXTENSION_BASE}/care-bundle-compliance"
EXT_POPULATION = f"{CARELOOP_EXTENSION_BASE}/care-bundle-population"
EXT_COMPOSITE = f"{CARELOOP_EXTENSION_BASE}/care-bundle-composite"
EXT_FOLLOW_UP = f"{CARELOOP_EXTENSION_BASE}/care-bundle-follow-up"
EXT_CALENDAR = f"{CARELOOP_EXTENSION_BASE}/care-bundle-working-day-calendar"


def _condition(care_bundle: CareBundle, condition: Condition) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = [
        {"url": "question", "valueString": condition.element},
        {"url": "operator", "valueCode": condition.operator},
    ]
    if condition.operator == "exists":
        parts.append({"url": "answer", "valueBoolean": bool(condition.answer)})
    else:
        parts.append(
            {"url": "answer", **typed_answer(care_bundle, "value", condition.element, condition.answer)}
        )
    return parts


def _conditions(care_bundle: CareBundle, url: str, conditions: Conditions) -> dict[str, Any]:
    """Conditions with their behaviour, and the same as one FHIRPath expression."""
    parts: list[dict[str, Any]] = [{"url": "behavior", "valueCode": conditions.behavior}]
    parts.extend(
        {"url": "condition", "extension": _condition(care_bundle, item)} for item in conditions.items
    )
    expression = fhirpath.conditions(care_bundle, conditions)
    parts.append(
        {"url": "expression", "valueExpression": {"language": "text/fhirpath", "expression": expression}}
    )
    return {"url": url, "extension": parts}


def compliance_extension(care_bundle: CareBundle, element: Element, compliance: Compliance) -> dict[str, Any]:
    parts: list[dict[str, Any]] = []
    for key in ("met", "exception"):
        for answer in getattr(compliance, key):
            parts.append({"url": key, **typed_answer(care_bundle, "value", element.id, answer)})
    for condition in compliance.exception_when:
        parts.append({"url": "exceptionWhen", "extension": _condition(care_bundle, condition)})
    if compliance.applies_when is not None:
        parts.append(_conditions(care_bundle, "appliesWhen", compliance.applies_when))
    if compliance.at_least is not None:
        parts.append({"url": "atLeast", "valueDecimal": fhir_decimal(compliance.at_least)})
    if compliance.at_most is not None:
        parts.append({"url": "atMost", "valueDecimal": fhir_decimal(compliance.at_most)})
    if compliance.recorded:
        parts.append({"url": "recorded", "valueBoolean": True})
    if not compliance.all_or_none:
        parts.append({"url": "allOrNone", "valueBoolean": False})
    for rule in compliance.timing:
        parts.append({"url": "timing", "extension": _timing(care_bundle, rule)})
    return {"url": EXT_COMPLIANCE, "extension": parts}


def _timing(care_bundle: CareBundle, rule: TimingRule) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    if rule.id is not None:
        parts.append({"url": "id", "valueId": rule.id})
    if rule.title is not None:
        parts.append({"url": "title", "valueString": rule.title})
    if rule.event is not None:
        parts.append({"url": "event", "valueString": rule.event})
    if rule.start is not None:
        start = care_bundle.anchor.id if rule.start == "anchor" else rule.start
        parts.append({"url": "from", "valueString": start})
    if rule.before is not None:
        parts.append({"url": "before", "valueString": rule.before})
    if rule.within_hours is not None:
        parts.append({"url": "withinHours", "valueDecimal": fhir_decimal(rule.within_hours)})
    if rule.by_end_of_day is not None:
        parts.append({"url": "byEndOfDay", "valueInteger": rule.by_end_of_day})
    if rule.within_working_days is not None:
        parts.append({"url": "withinWorkingDays", "valueInteger": rule.within_working_days})
    if rule.after_hours is not None:
        parts.append({"url": "afterHours", "valueDecimal": fhir_decimal(rule.after_hours)})
    if rule.from_day is not None:
        parts.append({"url": "fromDay", "valueInteger": rule.from_day})
    if rule.applies_when is not None:
        parts.append(_conditions(care_bundle, "appliesWhen", rule.applies_when))
    return parts


def root_extensions(care_bundle: CareBundle) -> list[dict[str, Any]]:
    extensions: list[dict[str, Any]] = []
    if any(rule.within_working_days for _, _, rule in care_bundle.timing_rules):
        extensions.append({"url": EXT_CALENDAR, "valueCode": care_bundle.calendar})
    if care_bundle.population is not None:
        population = _conditions(care_bundle, EXT_POPULATION, care_bundle.population.when)
        population["extension"].insert(0, {"url": "text", "valueString": care_bundle.population.text})
        extensions.append(population)
    for composite in care_bundle.composites:
        parts: list[dict[str, Any]] = [
            {"url": "id", "valueId": composite.id},
            {"url": "title", "valueString": composite.title},
        ]
        if composite.description:
            parts.append({"url": "description", "valueMarkdown": composite.description})
        parts.extend({"url": "member", "valueString": member} for member in composite.members)
        extensions.append({"url": EXT_COMPOSITE, "extension": parts})
    for measure in care_bundle.follow_up:
        parts = [
            {"url": "id", "valueId": measure.id},
            {"url": "title", "valueString": measure.title},
            {"url": "element", "valueString": measure.element},
        ]
        for key in ("population", "met", "change"):
            test = getattr(measure, key)
            if test is not None:
                parts.append(
                    {
                        "url": key,
                        "extension": [
                            {"url": "operator", "valueCode": test.operator},
                            {"url": "value", "valueDecimal": fhir_decimal(test.value)},
                        ],
                    }
                )
        if measure.after_days is not None:
            parts.append({"url": "afterDays", "valueInteger": measure.after_days})
            parts.append({"url": "withinDays", "valueInteger": measure.within_days})
        extensions.append({"url": EXT_FOLLOW_UP, "extension": parts})
    for check in care_bundle.checks:
        extensions.append(
            {
                "url": EXT_CONSTRAINT,
                "extension": [
                    {"url": "key", "valueId": check.id},
                    {"url": "severity", "valueCode": check.severity},
                    {"url": "expression", "valueString": fhirpath.check(care_bundle, check)},
                    {"url": "human", "valueString": check.text},
                ],
            }
        )
    return extensions
