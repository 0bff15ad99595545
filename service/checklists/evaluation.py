"""Care bundle semantics: which elements apply, calculated values, each element's and each timing rule's
outcome, composites, the population and checks.

Pure domain code (no Flask, no database): ``evaluate(care_bundle, answers, now)`` is called by every path that
records a checklist (ward pages, the FHIR API) and by reports, so it must be exact and cheap. Which items are
enabled is asked of the SDC enableWhen implementation (``fhir_adapters.sdc.enabled_items``) over the
QuestionnaireResponse the answers make, and every condition is decided by the same SDC operator code, so a
checklist and its QuestionnaireResponse can never disagree. Timing windows: ``service.checklists.timing``;
calculated values: ``service.checklists.calculations``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from fhir_adapters.questionnaire_response import response_items
from fhir_adapters.sdc.validate import EnabledKey, enabled_items
from schemas.care_bundle import AnswerValue, CareBundle, Conditions, Element, coerce_answer
from service.checklists.calculations import calculate
from service.checklists.compiled import CompiledCareBundle, compile_care_bundle, describe, describe_all
from service.checklists.outcomes import (
    CheckResult,
    CompositeOutcome,
    ElementOutcome,
    Evaluation,
    Outcome,
    RuleOutcome,
    TimingStatus,
)
from service.checklists.timing import judge_order, judge_window

#: Element id -> values; a repeating group's id -> its instances (item id -> values).
Answers = Mapping[str, Sequence[Any]]


def evaluate(care_bundle: CareBundle, answers: Answers, now: dt.datetime) -> Evaluation:
    """Judge ``answers`` (the anchor under its own id) at ``now``.

    Values are what the element type holds: option codes for choice, bool, int, Decimal, date, aware datetime
    or str. Answers to disabled elements and to calculated elements are ignored (calculated values are
    worked out here; the validator reports answers to disabled items).
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    state = _State(compile_care_bundle(care_bundle), answers)
    return _Judge(state, now).run()


class _State:
    """The answers with calculated values filled in and what is enabled, worked out to a fixed point.

    Conditions and calculations only look upwards, so each round settles at least one more level; a care
    bundle with ``n`` calculated elements needs at most ``n + 2`` rounds.
    """

    def __init__(self, compiled: CompiledCareBundle, answers: Answers) -> None:
        self.compiled = compiled
        care_bundle = compiled.care_bundle
        self.calculated_elements = [
            element for element in care_bundle.walk() if element.calculated is not None
        ]
        skip = {element.id for element in self.calculated_elements}
        self.raw = {key: value for key, value in answers.items() if key not in skip}
        for element in care_bundle.walk():
            if element.is_repeating_group and element.id in self.raw:
                # An instance with no answer is not written in a response: it is no instance at all.
                self.raw[element.id] = [
                    instance
                    for instance in self.raw[element.id]
                    if isinstance(instance, Mapping) and any(instance.values())
                ]
        self.calculated: dict[str, AnswerValue | None] = {}
        self.enabled: dict[EnabledKey, bool] = {}
        previous: dict[EnabledKey, bool] | None = None
        for _ in range(len(self.calculated_elements) + 2):
            self.merged = self._merge()
            response = {
                "resourceType": "QuestionnaireResponse",
                "item": response_items(care_bundle, self.merged),
            }
            self.enabled = enabled_items(compiled.compiled, response)
            calculated = {
                element.id: calculate(compiled, element.calculated, self.values_of, self.instances_of)
                if element.calculated is not None and self.is_enabled(element.id)
                else None
                for element in self.calculated_elements
            }
            if self.enabled == previous and calculated == self.calculated:
                break
            previous, self.calculated = self.enabled, calculated
        self.merged = self._merge()

    def _merge(self) -> dict[str, Sequence[Any]]:
        merged: dict[str, Sequence[Any]] = dict(self.raw)
        merged.update({key: [value] for key, value in self.calculated.items() if value is not None})
        return merged

    def is_enabled(self, element_id: str, instance: int | None = None) -> bool:
        return self.enabled.get((element_id, instance), False)

    def group_of(self, element_id: str) -> str | None:
        return self.compiled.care_bundle.repeating_group_of.get(element_id)

    def instances(self, group_id: str) -> list[Mapping[str, Sequence[AnswerValue]]]:
        found = self.merged.get(group_id, ())
        return [instance for instance in found if isinstance(instance, Mapping)]

    def instances_of(self, group_id: str) -> int:
        """Instances of a shown repeating group holding an enabled answer (an empty one is not written)."""
        if not self.is_enabled(group_id):
            return 0
        return sum(
            1
            for index, instance in enumerate(self.instances(group_id))
            if any(values and self.is_enabled(key, index) for key, values in instance.items())
        )

    def values_of(self, element_id: str, instance: int | None = None) -> Sequence[AnswerValue]:
        """Enabled answers of an element: of one instance, or of every instance of its repeating group."""
        if element_id == self.compiled.care_bundle.anchor.id:
            return tuple(self.raw.get(element_id, ()))
        group = self.group_of(element_id)
        if group is None:
            return tuple(self.merged.get(element_id, ())) if self.is_enabled(element_id) else ()
        indices = range(len(self.instances(group))) if instance is None else (instance,)
        found: list[AnswerValue] = []
        for index in indices:
            if self.is_enabled(element_id, index):
                found.extend(self.instances(group)[index].get(element_id, ()))
        return tuple(found)


@dataclass(frozen=True)
class _Base:
    """An element's answer judged before its timing rules: not applicable (with why), missing, or met."""

    outcome: Outcome
    reason: str | None = None


class _Judge:
    def __init__(self, state: _State, now: dt.datetime) -> None:
        self.state = state
        self.compiled = state.compiled
        self.care_bundle = state.compiled.care_bundle
        self.now = now
        population = self.care_bundle.population
        self.in_population = population is None or self.holds(population.when)
        self.outside = None if population is None else f"outside the population: {population.text}"

    def holds(self, conditions: Conditions, instance: int | None = None) -> bool:
        results = (self.condition(condition, instance) for condition in conditions.items)
        return any(results) if conditions.behavior == "any" else all(results)

    def condition(self, condition: Any, instance: int | None = None) -> bool:
        same_group = instance is not None and self.state.group_of(condition.element) is not None
        values = self.state.values_of(condition.element, instance if same_group else None)
        return self.compiled.holds(condition, values)

    def run(self) -> Evaluation:
        disabled = self._disabled_reasons()
        bases: dict[str, _Base] = {}
        outcomes: list[ElementOutcome] = []
        rules_by_element: dict[str, list[RuleOutcome]] = {}
        for rule_id, element, rule in self.care_bundle.timing_rules:
            base = bases.setdefault(element.id, self._base(element, None, disabled))
            rules_by_element.setdefault(element.id, []).append(self._rule(rule_id, element, rule, base))
        first = self.care_bundle.all_composites[0].members
        for element in self.care_bundle.walk():
            if element.type in ("group", "display"):
                continue
            rules = tuple(rules_by_element.get(element.id, ()))
            outcome, reason = self._element(element, disabled, bases.get(element.id), rules)
            has_rule = element.compliance is not None
            outcomes.append(ElementOutcome(element.id, outcome, reason, has_rule, element.id in first, rules))
        all_rules = tuple(rule for rules in rules_by_element.values() for rule in rules)
        return Evaluation(
            outcomes=tuple(outcomes),
            rules=all_rules,
            composites=self._composites(outcomes, all_rules),
            failed_checks=self._checks(),
            enabled=frozenset(key for (key, _), on in self.state.enabled.items() if on)
            | {self.care_bundle.anchor.id},
            calculated=dict(self.state.calculated),
            in_population=self.in_population,
            enabled_instances=frozenset(key for key, on in self.state.enabled.items() if on)
            | {(self.care_bundle.anchor.id, None)},
        )

    def _disabled_reasons(self) -> dict[tuple[str, int | None], str]:
        """Why each disabled element is not shown: its own conditions, or those of a group above it."""
        reasons: dict[tuple[str, int | None], str] = {}

        def walk(elements: Sequence[Element], instance: int | None, above: str | None) -> None:
            for element in elements:
                if element.is_repeating_group and instance is None:
                    reason = above or self._own_reason(element, None)
                    if reason:
                        reasons[(element.id, None)] = reason
                    for index in range(len(self.state.instances(element.id))):
                        walk(element.items, index, reason)
                    if not self.state.instances(element.id):
                        walk(element.items, None, reason or "no instances recorded")
                    continue
                reason = above or self._own_reason(element, instance)
                if reason:
                    reasons[(element.id, instance)] = reason
                walk(element.items, instance, reason)

        walk(self.care_bundle.elements, None, None)
        return reasons

    def _own_reason(self, element: Element, instance: int | None) -> str | None:
        if self.state.is_enabled(element.id, instance):
            return None
        joiner = " or " if element.enable_behavior == "any" else " and "
        described = joiner.join(describe(condition) for condition in element.enable_when)
        return f"applies only when {described}" if described else "not shown"

    def _base(
        self, element: Element, instance: int | None, disabled: Mapping[tuple[str, int | None], str]
    ) -> _Base:
        compliance = element.compliance
        values = self.state.values_of(element.id, instance)
        reason = disabled.get((element.id, instance))
        if reason is not None:
            return _Base(Outcome.NOT_APPLICABLE, reason)
        if compliance is None:
            return _Base(Outcome.MET if values else Outcome.MISSING)
        if not self.in_population:
            return _Base(Outcome.NOT_APPLICABLE, self.outside)
        exceptions = {coerce_answer(element.type, answer) for answer in compliance.exception}
        for value in values:
            if value in exceptions:
                return _Base(Outcome.NOT_APPLICABLE, f"documented exception: {_show(element, value)}")
        for condition in compliance.exception_when:
            if self.condition(condition, instance):
                return _Base(Outcome.NOT_APPLICABLE, f"documented exception: {describe(condition)}")
        if compliance.applies_when is not None and not self.holds(compliance.applies_when, instance):
            return _Base(Outcome.NOT_APPLICABLE, f"applies only when {describe_all(compliance.applies_when)}")
        if not values:
            return _Base(Outcome.MISSING, "not answered")
        if compliance.met:
            expected = {coerce_answer(element.type, answer) for answer in compliance.met}
            if not any(value in expected for value in values):
                shown = ", ".join(_show(element, value) for value in values)
                return _Base(Outcome.NOT_MET, f"answer {shown} is not a met answer")
        for value in values:
            number = (
                Decimal(value) if isinstance(value, int | Decimal) and not isinstance(value, bool) else None
            )
            if number is None:
                continue
            if compliance.at_least is not None and number < compliance.at_least:
                return _Base(Outcome.NOT_MET, f"{value} is below {compliance.at_least.normalize():f}")
            if compliance.at_most is not None and number > compliance.at_most:
                return _Base(Outcome.NOT_MET, f"{value} is above {compliance.at_most.normalize():f}")
        return _Base(Outcome.MET)

    def _rule(self, rule_id: str, element: Element, rule: Any, base: _Base) -> RuleOutcome:
        def outcome(
            result: Outcome, status: TimingStatus | None, reason: str | None, due: Any = None
        ) -> RuleOutcome:
            return RuleOutcome(rule_id, element.id, rule, result, status, due, reason)

        if base.outcome is Outcome.NOT_APPLICABLE:
            return outcome(Outcome.NOT_APPLICABLE, None, base.reason)
        if rule.applies_when is not None and not self.holds(rule.applies_when):
            return outcome(
                Outcome.NOT_APPLICABLE, None, f"applies only when {describe_all(rule.applies_when)}"
            )
        if base.outcome is Outcome.NOT_MET:
            return outcome(Outcome.NOT_MET, TimingStatus.NOT_MET, base.reason)
        event = _first(self.state.values_of(rule.event or element.id))
        zone = self.compiled.zone
        if rule.before is not None:
            judged = judge_order(rule, rule.before, _first(self.state.values_of(rule.before)), event, zone)
        else:
            start_id = self.care_bundle.anchor.id if rule.start == "anchor" else rule.start
            start = _first(self.state.values_of(start_id))
            judged = judge_window(rule, start_id, start, event, zone, self.care_bundle.calendar, self.now)
        return outcome(judged.outcome, judged.status, judged.reason, judged.due_at)

    def _element(
        self,
        element: Element,
        disabled: Mapping[tuple[str, int | None], str],
        base: _Base | None,
        rules: Sequence[RuleOutcome],
    ) -> tuple[Outcome, str | None]:
        group = self.state.group_of(element.id)
        if group is not None:
            judged = [
                self._base(element, index, disabled) for index in range(len(self.state.instances(group)))
            ]
            return _combine(judged) if judged else (Outcome.NOT_APPLICABLE, "no instances recorded")
        base = base or self._base(element, None, disabled)
        if base.outcome is not Outcome.MET or not rules:
            return base.outcome, base.reason
        applicable = [rule for rule in rules if rule.outcome is not Outcome.NOT_APPLICABLE]
        failed = [rule for rule in applicable if rule.outcome is not Outcome.MET]
        if not failed:
            return Outcome.MET, None
        worst = (
            Outcome.NOT_MET if any(rule.outcome is Outcome.NOT_MET for rule in failed) else Outcome.MISSING
        )
        return worst, "; ".join(str(rule.reason) for rule in failed)

    def _composites(
        self, outcomes: Sequence[ElementOutcome], rules: Sequence[RuleOutcome]
    ) -> tuple[CompositeOutcome, ...]:
        by_id = {outcome.element_id: outcome.outcome for outcome in outcomes}
        by_id.update({rule.rule_id: rule.outcome for rule in rules})
        results = []
        for composite in self.care_bundle.all_composites:
            applicable = [m for m in composite.members if by_id[m] is not Outcome.NOT_APPLICABLE]
            not_met = tuple(m for m in applicable if by_id[m] is not Outcome.MET)
            compliant = None if not applicable or not self.in_population else not not_met
            results.append(CompositeOutcome(composite, compliant, not_met if compliant is False else ()))
        return tuple(results)

    def _checks(self) -> tuple[CheckResult, ...]:
        return tuple(
            CheckResult(check)
            for check in self.care_bundle.checks
            if (check.when is None or self.holds(check.when)) and not self.holds(check.require)
        )


def _combine(judged: Sequence[_Base]) -> tuple[Outcome, str | None]:
    """Per-instance outcomes of an item in a repeating group: one not met (or missing) decides."""
    for wanted in (Outcome.NOT_MET, Outcome.MISSING):
        for base in judged:
            if base.outcome is wanted:
                return base.outcome, base.reason
    if all(base.outcome is Outcome.NOT_APPLICABLE for base in judged):
        return Outcome.NOT_APPLICABLE, judged[0].reason
    return Outcome.MET, None


def _first(values: Sequence[AnswerValue]) -> AnswerValue | None:
    return values[0] if values else None


def _show(element: Element, value: AnswerValue) -> str:
    option = element.option(value)
    return repr(option.display if option else value)
