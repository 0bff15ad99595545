"""What judging a checklist produces: outcomes of elements, timing rules and composites, check results.

The vocabularies (``Outcome``, ``TimingStatus``) are defined here once; the database models store them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from schemas.care_bundle import AnswerValue, Check, Composite, TimingRule


class Outcome(StrEnum):
    MET = "met"
    NOT_MET = "not-met"
    NOT_APPLICABLE = "not-applicable"
    MISSING = "missing"


class TimingStatus(StrEnum):
    """A timing rule on one checklist: in time, late, still open, past due, or no start recorded yet."""

    MET = "met"
    NOT_MET = "not-met"
    DUE = "due"
    OVERDUE = "overdue"
    UNKNOWN = "unknown"


#: Worst first: the status an element with several rules shows.
_STATUS_ORDER = (TimingStatus.NOT_MET, TimingStatus.OVERDUE, TimingStatus.UNKNOWN, TimingStatus.DUE)


@dataclass(frozen=True)
class RuleOutcome:
    """One timing rule on one checklist, reported on its own ("% within 36 h").

    ``status`` is None when the rule does not apply. ``due_at`` (UTC) is the deadline when the start is
    known: the last instant in time for elapsed windows, the first instant too late for calendar ones.
    """

    rule_id: str
    element_id: str
    rule: TimingRule
    outcome: Outcome
    status: TimingStatus | None
    due_at: dt.datetime | None = None
    reason: str | None = None


@dataclass(frozen=True)
class ElementOutcome:
    element_id: str
    outcome: Outcome
    reason: str | None = None
    has_rule: bool = False
    in_all_or_none: bool = False
    timing: tuple[RuleOutcome, ...] = ()

    @property
    def due_at(self) -> dt.datetime | None:
        """The earliest deadline still open (due or overdue), if any."""
        open_deadlines = [
            rule.due_at
            for rule in self.timing
            if rule.status in (TimingStatus.DUE, TimingStatus.OVERDUE) and rule.due_at is not None
        ]
        return min(open_deadlines, default=None)

    @property
    def timing_status(self) -> TimingStatus | None:
        """The worst status across the element's applicable timing rules (None without any)."""
        statuses = {rule.status for rule in self.timing if rule.status is not None}
        if not statuses:
            return None
        return next((status for status in _STATUS_ORDER if status in statuses), TimingStatus.MET)


@dataclass(frozen=True)
class CompositeOutcome:
    """All-or-none: True when every applicable member is met; None when none applies (outside the
    denominator)."""

    composite: Composite
    compliant: bool | None
    members_not_met: tuple[str, ...] = ()


@dataclass(frozen=True)
class CheckResult:
    """A check whose ``require`` did not hold although its ``when`` did."""

    check: Check

    @property
    def blocks_completion(self) -> bool:
        return self.check.severity == "error"


@dataclass(frozen=True)
class Evaluation:
    """Everything judged on one checklist, in document order.

    ``compliant`` is the first composite's result: None when no member applies or the checklist is outside
    the care bundle's population (as a caesarean birth in the OASI care bundle 2), else True exactly when
    every applicable member is met. A missing answer is not met (IHI: undocumented is not in the numerator).
    """

    outcomes: tuple[ElementOutcome, ...]
    rules: tuple[RuleOutcome, ...]
    composites: tuple[CompositeOutcome, ...]
    failed_checks: tuple[CheckResult, ...]
    enabled: frozenset[str]
    calculated: Mapping[str, AnswerValue | None]
    in_population: bool = True
    #: (element id, instance of its repeating group or None) for every enabled element.
    enabled_instances: frozenset[tuple[str, int | None]] = frozenset()

    @property
    def compliant(self) -> bool | None:
        return self.composites[0].compliant if self.composites else None

    def outcome(self, element_id: str) -> ElementOutcome:
        for outcome in self.outcomes:
            if outcome.element_id == element_id:
                return outcome
        raise KeyError(element_id)

    def rule(self, rule_id: str) -> RuleOutcome:
        for rule in self.rules:
            if rule.rule_id == rule_id:
                return rule
        raise KeyError(rule_id)

    def composite(self, composite_id: str) -> CompositeOutcome:
        for composite in self.composites:
            if composite.composite.id == composite_id:
                return composite
        raise KeyError(composite_id)

    @property
    def compliance_outcomes(self) -> tuple[ElementOutcome, ...]:
        """Outcomes of elements with a compliance rule (reported per element)."""
        return tuple(outcome for outcome in self.outcomes if outcome.has_rule)

    @property
    def next_due_at(self) -> dt.datetime | None:
        return min((o.due_at for o in self.outcomes if o.due_at is not None), default=None)

    @property
    def blocking_checks(self) -> tuple[CheckResult, ...]:
        return tuple(result for result in self.failed_checks if result.blocks_completion)
