"""Care bundle conditions, calculations and checks compiled to FHIRPath, for SDC form fillers and EHRs.

Careloop itself evaluates the same rules natively (``service.checklists``); the Questionnaire carries these
expressions (``calculatedExpression``, ``questionnaire-constraint``) so LHC-Forms or an EHR's form engine
compute the same. Only FHIRPath R4 (N1) functions are used: no date arithmetic (engines differ on it), so
whole years and months come from the date text, which Careloop writes in the care bundle's local time.
Items are found by their path from the root, so equal answers in two group instances both count.
A property test evaluates every expression with ``fhirpathpy`` and compares it with the native result.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from fhir_adapters.values import fhir_datetime, fhir_decimal, option_system
from schemas.care_bundle import (
    AnswerValue,
    Calculation,
    CareBundle,
    Check,
    Condition,
    Conditions,
    Element,
    coerce_answer,
)


def string_literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def items(care_bundle: CareBundle, link_id: str) -> str:
    """Every response item with this linkId, by its path from the root through its groups.

    A path, not ``repeat(item)``: ``repeat`` drops items equal to one already found, so two instances of a
    repeating group with the same answer would count once.
    """
    path = "%resource"
    for step in (*_ancestors(care_bundle, link_id), link_id):
        path += f".item.where(linkId={string_literal(step)})"
    return path


def answers(care_bundle: CareBundle, link_id: str) -> str:
    """Every answer value of the items with this linkId."""
    return items(care_bundle, link_id) + ".answer.value"


def _ancestors(care_bundle: CareBundle, link_id: str) -> tuple[str, ...]:
    def find(elements: tuple[Element, ...], trail: tuple[str, ...]) -> tuple[str, ...] | None:
        for element in elements:
            if element.id == link_id:
                return trail
            found = find(element.items, (*trail, element.id))
            if found is not None:
                return found
        return None

    return find(care_bundle.elements, ()) or ()


def _first(care_bundle: CareBundle, link_id: str) -> str:
    return answers(care_bundle, link_id) + ".first()"


def literal(care_bundle: CareBundle, element: Element, value: AnswerValue) -> str:
    """``value`` (already of the element's type) as a FHIRPath literal; Codings compare by code."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return "@" + fhir_datetime(value)
    if isinstance(value, dt.date):
        return "@" + value.isoformat()
    if isinstance(value, int | Decimal):
        return str(fhir_decimal(Decimal(value)))
    return string_literal(value)


def _matches(care_bundle: CareBundle, element: Element, value: AnswerValue) -> str:
    """The ``where`` criterion an answer equal to ``value`` meets."""
    if element.type == "choice":
        option = element.option(value)
        assert option is not None
        system = option_system(care_bundle, option)
        return f"code = {string_literal(option.code)} and system = {string_literal(system)}"
    return f"$this = {literal(care_bundle, element, value)}"


def condition(care_bundle: CareBundle, condition: Condition) -> str:
    """One condition with the R4 enableWhen meaning (``!=``: no answer equals, also when unanswered)."""
    values = answers(care_bundle, condition.element)
    if condition.operator == "exists":
        return f"{values}.exists()" if condition.answer else f"{values}.empty()"
    element = care_bundle.element(condition.element)
    assert element is not None
    expected = coerce_answer(element.type, condition.answer)
    if condition.operator in ("=", "!="):
        found = f"{values}.where({_matches(care_bundle, element, expected)}).exists()"
        return found if condition.operator == "=" else f"{found}.not()"
    return f"{values}.where($this {condition.operator} {literal(care_bundle, element, expected)}).exists()"


def conditions(care_bundle: CareBundle, conditions: Conditions) -> str:
    joiner = " or " if conditions.behavior == "any" else " and "
    return joiner.join(f"({condition(care_bundle, item)})" for item in conditions.items)


def _year(path: str) -> str:
    return f"{path}.toString().substring(0, 4).toInteger()"


def _month(path: str) -> str:
    return f"{path}.toString().substring(5, 2).toInteger()"


def calculation(care_bundle: CareBundle, calculation: Calculation) -> str:
    """A calculated value as FHIRPath, empty where the native result is None."""
    function = calculation.function
    if function in ("all", "any"):
        return conditions(care_bundle, Conditions(calculation.conditions, function))  # type: ignore[arg-type]
    if function == "count":
        parts = []
        for element_id in calculation.elements:
            element = care_bundle.element(element_id)
            assert element is not None
            if element.is_repeating_group:
                parts.append(f"{items(care_bundle, element_id)}.count()")
            elif calculation.answer is None:
                parts.append(f"{answers(care_bundle, element_id)}.count()")
            else:
                wanted = coerce_answer(element.type, calculation.answer)
                found = answers(care_bundle, element_id)
                parts.append(f"{found}.where({_matches(care_bundle, element, wanted)}).count()")
        return "(" + " + ".join(parts) + ")"
    firsts = [_first(care_bundle, element_id) for element_id in calculation.elements]
    if function == "years_between":
        earlier, later = firsts
        day = "toString().substring(5, 5)"  # MM-DD
        return f"({_year(later)} - {_year(earlier)}) - iif({later}.{day} < {earlier}.{day}, 1, 0)"
    if function == "months_between":
        earlier, later = firsts
        day = "toString().substring(8, 2)"  # DD
        return (
            f"(({_year(later)} * 12 + {_month(later)}) - ({_year(earlier)} * 12 + {_month(earlier)}))"
            f" - iif({later}.{day} < {earlier}.{day}, 1, 0)"
        )
    if function == "sum":
        return "(" + " + ".join(firsts) + ")"
    assert function == "difference"
    return f"({firsts[1]} - {firsts[0]})"


def check(care_bundle: CareBundle, check: Check) -> str:
    """True when the answers agree: ``when`` does not hold, or ``require`` does."""
    required = conditions(care_bundle, check.require)
    if check.when is None:
        return required
    return f"({conditions(care_bundle, check.when)}).not() or ({required})"
