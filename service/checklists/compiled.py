"""A care bundle prepared for judging: its Questionnaire compiled once, its conditions in SDC form.

Conditions are decided in one place, the SDC enableWhen code (``fhir_adapters.sdc``): a care bundle's
condition becomes an SDC condition (its answer typed as the FHIR ``answer[x]`` of the element it names), and
answers become FHIR ``value[x]`` pairs, exactly as they travel in a QuestionnaireResponse.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from fhir_adapters.questionnaire import to_questionnaire
from fhir_adapters.sdc.compiled import CompiledQuestionnaire, comparable, compile_questionnaire
from fhir_adapters.sdc.compiled import Condition as SdcCondition
from fhir_adapters.sdc.enablement import evaluate as sdc_condition_holds
from fhir_adapters.values import typed_value
from schemas.care_bundle import AnswerValue, CareBundle, Condition, Conditions, coerce_answer


class CompiledCareBundle:
    """Everything judging needs that can be worked out once per care bundle version."""

    def __init__(self, care_bundle: CareBundle) -> None:
        self.care_bundle = care_bundle
        self.questionnaire: dict[str, Any] = to_questionnaire(care_bundle)
        self.compiled: CompiledQuestionnaire = compile_questionnaire(self.questionnaire)
        self.zone = ZoneInfo(care_bundle.timezone)
        self._conditions: dict[Condition, SdcCondition] = {}

    def fhir_values(self, element_id: str, values: Sequence[AnswerValue]) -> list[tuple[str, Any]]:
        """Answers as the ``(valueX, value)`` pairs a QuestionnaireResponse would carry."""
        element = self.care_bundle.element(element_id)
        assert element is not None
        pairs: list[tuple[str, Any]] = []
        for value in values:
            pairs.extend(typed_value(self.care_bundle, element, value).items())
        return pairs

    def sdc_condition(self, condition: Condition) -> SdcCondition:
        found = self._conditions.get(condition)
        if found is None:
            if condition.operator == "exists":
                expected = ("boolean", bool(condition.answer))
            else:
                element = self.care_bundle.element(condition.element)
                assert element is not None  # the loader checked it
                value = coerce_answer(element.type, condition.answer)
                ((key, typed),) = typed_value(self.care_bundle, element, value, "answer").items()
                expected = comparable(key, typed)  # type: ignore[assignment]
            found = SdcCondition(condition.element, condition.operator, expected)
            self._conditions[condition] = found
        return found

    def holds(self, condition: Condition, values: Sequence[AnswerValue]) -> bool:
        """One condition on the (enabled) answers of the element it names."""
        pairs = self.fhir_values(condition.element, values)
        return sdc_condition_holds(self.sdc_condition(condition), pairs)


def describe(condition: Condition) -> str:
    if condition.operator == "exists":
        return f"{condition.element} {'is' if condition.answer else 'is not'} answered"
    answer = str(condition.answer).lower() if isinstance(condition.answer, bool) else condition.answer
    return f"{condition.element} {condition.operator} {answer}"


def describe_all(conditions: Conditions) -> str:
    joiner = " or " if conditions.behavior == "any" else " and "
    return joiner.join(describe(condition) for condition in conditions.items)


_CACHE: OrderedDict[int, CompiledCareBundle] = OrderedDict()
_CACHE_SIZE = 128


def compile_care_bundle(care_bundle: CareBundle) -> CompiledCareBundle:
    """The compiled form of this very care bundle object (cached by identity, most recent 128)."""
    key = id(care_bundle)
    found = _CACHE.get(key)
    if found is not None and found.care_bundle is care_bundle:
        _CACHE.move_to_end(key)
        return found
    found = CompiledCareBundle(care_bundle)
    _CACHE[key] = found
    if len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return found
