"""Care bundle semantics: which elements apply, each element's outcome, timing, all-or-none compliance.

Pure domain code (no Flask, no database): ``evaluate(care_bundle, answers, now)`` is called by every path that
records a checklist (ward pages, the FHIR API) and by reports, so it must be exact and cheap.

Times: answers carry aware datetimes; every instant is compared in UTC. Calendar-day rules ("by the end of the
day after admission") are computed on local dates in the care bundle's time zone (Europe/London by default),
so they stay right across the clock changes; elapsed-hour rules are absolute and ignore them.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any, Literal
from zoneinfo import ZoneInfo

from schemas.care_bundle import (
    AnswerValue,
    CareBundle,
    Condition,
    Element,
    TimingRule,
    coerce_answer,
)

Outcome = Literal["met", "not-met", "not-applicable", "missing"]
TimingStatus = Literal["met", "not-met", "due", "overdue", "unknown"]
Answers = Mapping[str, Sequence[AnswerValue]]


@dataclass(frozen=True)
class TimingResult:
    """One timing rule on one checklist. ``due_at`` (UTC) is None when the start is not recorded yet."""

    rule: TimingRule
    due_at: dt.datetime | None
    status: TimingStatus
    reason: str | None = None


@dataclass(frozen=True)
class ElementOutcome:
    element_id: str
    outcome: Outcome
    reason: str | None = None
    has_rule: bool = False
    in_all_or_none: bool = False
    timing: tuple[TimingResult, ...] = ()

    @property
    def due_at(self) -> dt.datetime | None:
        """The earliest deadline still open (due or overdue), if any."""
        open_deadlines = [
            result.due_at
            for result in self.timing
            if result.status in ("due", "overdue") and result.due_at is not None
        ]
        return min(open_deadlines, default=None)

    @property
    def timing_status(self) -> TimingStatus | None:
        """The worst status across the element's timing rules (None without rules)."""
        order: tuple[TimingStatus, ...] = ("not-met", "overdue", "unknown", "due", "met")
        statuses = {result.status for result in self.timing}
        return next((status for status in order if status in statuses), None)


@dataclass(frozen=True)
class Evaluation:
    """Every answerable element's outcome, in document order, and the checklist's all-or-none result.

    ``compliant`` is None when no compliance element applies (the checklist is outside the denominator, as
    for a caesarean birth in the OASI care bundle), else True exactly when every applicable compliance
    element is met. A missing answer is not met (IHI: an undocumented element is not in the numerator).
    """

    outcomes: tuple[ElementOutcome, ...]
    enabled: frozenset[str]
    compliant: bool | None

    def outcome(self, element_id: str) -> ElementOutcome:
        for outcome in self.outcomes:
            if outcome.element_id == element_id:
                return outcome
        raise KeyError(element_id)

    @property
    def compliance_outcomes(self) -> tuple[ElementOutcome, ...]:
        """Outcomes of elements with a compliance rule (reported per element)."""
        return tuple(outcome for outcome in self.outcomes if outcome.has_rule)

    @property
    def next_due_at(self) -> dt.datetime | None:
        return min((o.due_at for o in self.outcomes if o.due_at is not None), default=None)


def evaluate(care_bundle: CareBundle, answers: Answers, now: dt.datetime) -> Evaluation:
    """Judge ``answers`` (element id -> values; the anchor under its own id) at ``now``.

    Values are what the element type holds: option codes for choice, bool, int, Decimal, date, aware datetime
    or str. Answers to disabled elements are ignored here (the validator reports them).
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    zone = ZoneInfo(care_bundle.timezone)
    anchor_id = care_bundle.anchor.id
    types = care_bundle.element_types
    # Pass 1, top to bottom: which elements are enabled (conditions only look upwards) and their answers.
    live: dict[str, Sequence[AnswerValue]] = {anchor_id: answers.get(anchor_id, ())}
    disabled: dict[str, str] = {}

    def walk(elements: Iterable[Element], parent_reason: str | None) -> None:
        for element in elements:
            reason = parent_reason or _disabled_reason(element, live, types)
            if reason is None:
                live[element.id] = answers.get(element.id, ())
            else:
                disabled[element.id] = reason
            walk(element.items, reason)

    walk(care_bundle.elements, None)
    # Pass 2: judge each answerable element once every answer is in (exceptions may look downwards).
    outcomes = [
        _judge(care_bundle, element, live, types, disabled.get(element.id), zone, now)
        for element in care_bundle.walk()
        if element.type not in ("group", "display")
    ]
    composite = [outcome for outcome in outcomes if outcome.in_all_or_none]
    applicable = [outcome for outcome in composite if outcome.outcome != "not-applicable"]
    compliant = all(outcome.outcome == "met" for outcome in applicable) if applicable else None
    enabled = frozenset(live)
    return Evaluation(tuple(outcomes), enabled, compliant)


# --------------------------------------------------------------------------------------------------
# Conditions
# --------------------------------------------------------------------------------------------------


@cache
def _expected(element_type: str, answer: AnswerValue) -> AnswerValue:
    return coerce_answer(element_type, answer)


def condition_holds(
    condition: Condition, live: Mapping[str, Sequence[AnswerValue]], types: Mapping[str, str]
) -> bool:
    """FHIR R4 enableWhen for one condition; answers of disabled elements are absent from ``live``."""
    values = live.get(condition.element, ())
    if condition.operator == "exists":
        return bool(values) == condition.answer
    expected = _expected(types[condition.element], condition.answer)
    if condition.operator == "!=":
        # R4 QuestionnaireItemOperator: "True if no answer has a value that is equal" (also when none)
        return not any(value == expected for value in values)
    if condition.operator == "=":
        return any(value == expected for value in values)
    ordering = _ORDERINGS[condition.operator]
    return any(ordering(_comparable(value), _comparable(expected)) for value in values)


_ORDERINGS: dict[str, Callable[[Any, Any], bool]] = {
    ">": operator.gt,
    "<": operator.lt,
    ">=": operator.ge,
    "<=": operator.le,
}


def _comparable(value: AnswerValue) -> Decimal | dt.datetime | dt.date:
    if isinstance(value, dt.datetime | dt.date):
        return value
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return Decimal(value)
    raise TypeError(f"cannot order a {type(value).__name__}")


def _describe(condition: Condition) -> str:
    if condition.operator == "exists":
        return f"{condition.element} {'is' if condition.answer else 'is not'} answered"
    answer = str(condition.answer).lower() if isinstance(condition.answer, bool) else condition.answer
    return f"{condition.element} {condition.operator} {answer}"


def _disabled_reason(
    element: Element,
    live: Mapping[str, Sequence[AnswerValue]],
    types: Mapping[str, str],
) -> str | None:
    if not element.enable_when:
        return None
    results = [condition_holds(condition, live, types) for condition in element.enable_when]
    enabled = any(results) if element.enable_behavior == "any" else all(results)
    if enabled:
        return None
    joiner = " or " if element.enable_behavior == "any" else " and "
    return "applies only when " + joiner.join(_describe(condition) for condition in element.enable_when)


# --------------------------------------------------------------------------------------------------
# Outcomes
# --------------------------------------------------------------------------------------------------


def _judge(
    care_bundle: CareBundle,
    element: Element,
    live: Mapping[str, Sequence[AnswerValue]],
    types: Mapping[str, str],
    disabled_reason: str | None,
    zone: ZoneInfo,
    now: dt.datetime,
) -> ElementOutcome:
    compliance = element.compliance
    values = live.get(element.id, ())
    if compliance is None:
        if disabled_reason is not None:
            return ElementOutcome(element.id, "not-applicable", disabled_reason)
        return ElementOutcome(element.id, "met" if values else "missing")
    outcome, reason, timing = _apply_rule(
        care_bundle, element, values, live, types, disabled_reason, zone, now
    )
    return ElementOutcome(element.id, outcome, reason, True, compliance.all_or_none, timing)


def _apply_rule(
    care_bundle: CareBundle,
    element: Element,
    values: Sequence[AnswerValue],
    live: Mapping[str, Sequence[AnswerValue]],
    types: Mapping[str, str],
    disabled_reason: str | None,
    zone: ZoneInfo,
    now: dt.datetime,
) -> tuple[Outcome, str | None, tuple[TimingResult, ...]]:
    """Outcome order: disabled, then documented exception, then missing, then met answers, then timing."""
    compliance = element.compliance
    assert compliance is not None
    if disabled_reason is not None:
        return "not-applicable", disabled_reason, ()
    exception = _exception(element, values, live, types)
    if exception is not None:
        return "not-applicable", exception, ()
    timing = tuple(_timing(care_bundle, rule, element, values, live, zone, now) for rule in compliance.timing)
    if not values:
        return "missing", "not answered", timing
    if compliance.met:
        expected = {_expected(element.type, answer) for answer in compliance.met}
        if not any(value in expected for value in values):
            shown = ", ".join(_show(element, value) for value in values)
            return "not-met", f"answer {shown} is not a met answer", timing
    failed = [result for result in timing if result.status != "met"]
    if failed:
        outcome: Outcome = "missing" if all(result.status == "unknown" for result in failed) else "not-met"
        return outcome, "; ".join(str(result.reason) for result in failed), timing
    return "met", None, timing


def _show(element: Element, value: AnswerValue) -> str:
    option = element.option(value)
    return repr(option.display if option else value)


def _exception(
    element: Element,
    values: Sequence[AnswerValue],
    live: Mapping[str, Sequence[AnswerValue]],
    types: Mapping[str, str],
) -> str | None:
    compliance = element.compliance
    assert compliance is not None
    exceptions = {_expected(element.type, answer) for answer in compliance.exception}
    for value in values:
        if value in exceptions:
            return f"documented exception: {_show(element, value)}"
    for condition in compliance.exception_when:
        if condition_holds(condition, live, types):
            return f"documented exception: {_describe(condition)}"
    return None


def _timing(
    care_bundle: CareBundle,
    rule: TimingRule,
    element: Element,
    values: Sequence[AnswerValue],
    live: Mapping[str, Sequence[AnswerValue]],
    zone: ZoneInfo,
    now: dt.datetime,
) -> TimingResult:
    start_id = care_bundle.anchor.id if rule.start == "anchor" else rule.start
    starts = live.get(start_id, ())
    if not starts:
        return TimingResult(rule, None, "unknown", f"cannot judge timing: {start_id} is not recorded")
    start = starts[0]
    assert isinstance(start, dt.date)  # the loader only lets timing start from date/dateTime elements
    due_at = _due_at(rule, start, zone)
    if not values:
        return TimingResult(
            rule, due_at, "due" if now < due_at else "overdue", f"due by {due_at.isoformat()}"
        )
    value = values[0]
    assert isinstance(value, dt.date)
    if _is_before(value, start, zone):
        return TimingResult(rule, due_at, "not-met", f"recorded before {start_id}: check the times")
    if _instant(value, zone) < due_at:
        return TimingResult(rule, due_at, "met")
    return TimingResult(rule, due_at, "not-met", f"{_window(rule)} {start_id}: due by {due_at.isoformat()}")


def _window(rule: TimingRule) -> str:
    if rule.within_hours is not None:
        return f"later than {rule.within_hours.normalize():f} h after"
    return f"later than the end of day {rule.by_end_of_day} after"


def _due_at(rule: TimingRule, start: dt.date, zone: ZoneInfo) -> dt.datetime:
    """The instant (UTC) by which the event must have happened; events before it are in time."""
    if rule.within_hours is not None:
        return _instant(start, zone) + dt.timedelta(hours=float(rule.within_hours))
    assert rule.by_end_of_day is not None
    local_date = _local_date(start, zone)
    first_day_too_late = local_date + dt.timedelta(days=rule.by_end_of_day + 1)
    # Local midnight of the first day that is too late; zoneinfo resolves the UTC offset of that day.
    return dt.datetime.combine(first_day_too_late, dt.time(0), tzinfo=zone).astimezone(dt.UTC)


def _local_date(value: dt.date, zone: ZoneInfo) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.astimezone(zone).date()
    return value


def _instant(value: dt.date, zone: ZoneInfo) -> dt.datetime:
    """An answer as a UTC instant; a date alone means its local start of day."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC)
    return dt.datetime.combine(value, dt.time(0), tzinfo=zone).astimezone(dt.UTC)


def _is_before(value: dt.date, start: dt.date, zone: ZoneInfo) -> bool:
    """Earlier than the start: by the instant when both have times, else by local calendar date."""
    if isinstance(value, dt.datetime) and isinstance(start, dt.datetime):
        return value < start
    return _local_date(value, zone) < _local_date(start, zone)
