"""Python answer values as FHIR JSON ``value[x]`` (and ``answer[x]``) entries."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from fhir_adapters.vocabulary import CARELOOP_CANONICAL_BASE
from schemas.care_bundle import AnswerValue, CareBundle, Element, Option, coerce_answer

__all__ = [
    "CARELOOP_CANONICAL_BASE",
    "fhir_datetime",
    "fhir_decimal",
    "option_system",
    "typed_answer",
    "typed_value",
]


def option_system(care_bundle: CareBundle, option: Option) -> str:
    """An option's code system: its own, or the care bundle's local one."""
    return option.system or f"{CARELOOP_CANONICAL_BASE}/CodeSystem/{care_bundle.id}"


def fhir_decimal(value: Decimal) -> int | float:
    """A Decimal as a JSON number (FHIR decimals are JSON numbers; whole values stay integers)."""
    return int(value) if value == value.to_integral_value() else float(value)


def fhir_datetime(moment: dt.datetime) -> str:
    """FHIR dateTime with seconds and an offset (``Z`` for UTC)."""
    if moment.tzinfo is None:
        raise ValueError("FHIR date-times with a time need a time zone offset")
    text = moment.isoformat(timespec="milliseconds" if moment.microsecond else "seconds")
    return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text


def typed_value(
    care_bundle: CareBundle, element: Element, value: AnswerValue, prefix: str = "value"
) -> dict[str, Any]:
    """``{"<prefix>Boolean": true}``, ``{"<prefix>Coding": {...}}``... for a value of ``element``.

    Raises ValueError when the Python value does not fit the element (wrong type, unknown option).
    """
    kind = element.type
    if kind == "choice":
        option = element.option(value)
        if option is None:
            raise ValueError(f"{value!r} is not an option of {element.id}")
        coding = {
            "system": option_system(care_bundle, option),
            "code": option.code,
            "display": option.display,
        }
        return {f"{prefix}Coding": coding}
    if kind == "boolean" and isinstance(value, bool):
        return {f"{prefix}Boolean": value}
    if kind == "integer" and isinstance(value, int | Decimal) and not isinstance(value, bool):
        if value != int(value):
            raise ValueError(f"{value} is not a whole number")
        return {f"{prefix}Integer": int(value)}
    if kind == "decimal" and isinstance(value, int | Decimal) and not isinstance(value, bool):
        return {f"{prefix}Decimal": fhir_decimal(Decimal(value))}
    if kind == "dateTime" and isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError("FHIR date-times with a time need a time zone offset")
        # In the care bundle's local time, so the date part of the text is the local date (FHIRPath
        # calculations such as an age at referral read it).
        return {f"{prefix}DateTime": fhir_datetime(value.astimezone(ZoneInfo(care_bundle.timezone)))}
    if kind == "date" and isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return {f"{prefix}Date": value.isoformat()}
    if kind in ("string", "text") and isinstance(value, str):
        return {f"{prefix}String": value}
    raise ValueError(f"a {type(value).__name__} is not an answer for a {kind} element")


def typed_answer(
    care_bundle: CareBundle, prefix: str, element_id: str, answer: AnswerValue
) -> dict[str, Any]:
    """An answer as written in a care bundle file (a condition's, a rule's), typed as the element it names."""
    element = care_bundle.element(element_id)
    if element is None:  # the loader rejects this; keep the mappers total all the same
        raise ValueError(f"no element {element_id!r} in {care_bundle.id}")
    return typed_value(care_bundle, element, coerce_answer(element.type, answer), prefix)
