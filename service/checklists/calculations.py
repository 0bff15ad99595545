"""Calculated values, worked out natively (the Questionnaire carries the same as FHIRPath for others).

Each function reads the enabled answers of elements above it; a value it cannot work out (an input not
answered) is None, as FHIRPath gives an empty result. Dates are local dates in the care bundle's zone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from decimal import Decimal

from schemas.care_bundle import AnswerValue, Calculation, coerce_answer
from service.checklists.compiled import CompiledCareBundle
from service.checklists.timing import local_date

#: element id -> its enabled answers (every instance, for items of a repeating group).
ValuesOf = Callable[[str], Sequence[AnswerValue]]
#: repeating group id -> the number of its enabled instances.
InstancesOf = Callable[[str], int]


def calculate(
    compiled: CompiledCareBundle, calculation: Calculation, values_of: ValuesOf, instances_of: InstancesOf
) -> AnswerValue | None:
    function = calculation.function
    if function in ("all", "any"):
        results = (
            compiled.holds(condition, values_of(condition.element)) for condition in calculation.conditions
        )
        return all(results) if function == "all" else any(results)
    if function == "count":
        return _count(compiled, calculation, values_of, instances_of)
    firsts = [_first(values_of(element_id)) for element_id in calculation.elements]
    if any(value is None for value in firsts):
        return None
    if function in ("years_between", "months_between"):
        earlier, later = (local_date(_as_date(value), compiled.zone) for value in firsts)
        if function == "years_between":
            return later.year - earlier.year - ((later.month, later.day) < (earlier.month, earlier.day))
        return (
            (later.year * 12 + later.month) - (earlier.year * 12 + earlier.month) - (later.day < earlier.day)
        )
    numbers = [_as_number(value) for value in firsts]
    if function == "sum":
        return sum(numbers[1:], numbers[0])
    assert function == "difference"
    return numbers[1] - numbers[0]


def _count(
    compiled: CompiledCareBundle, calculation: Calculation, values_of: ValuesOf, instances_of: InstancesOf
) -> int:
    total = 0
    for element_id in calculation.elements:
        element = compiled.care_bundle.element(element_id)
        assert element is not None
        if element.is_repeating_group:
            total += instances_of(element_id)
            continue
        values = values_of(element_id)
        if calculation.answer is None:
            total += len(values)
        else:
            wanted = coerce_answer(element.type, calculation.answer)
            total += sum(1 for value in values if value == wanted)
    return total


def _first(values: Sequence[AnswerValue]) -> AnswerValue | None:
    return values[0] if values else None


def _as_date(value: AnswerValue | None) -> dt.date:
    assert isinstance(value, dt.date)
    return value


def _as_number(value: AnswerValue | None) -> int | Decimal:
    assert isinstance(value, int | Decimal)
    assert not isinstance(value, bool)
    return value
