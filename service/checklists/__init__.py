"""Checklists: one care bundle applied to one patient episode."""

from __future__ import annotations

from service.checklists.evaluation import Answers, evaluate
from service.checklists.outcomes import (
    CheckResult,
    CompositeOutcome,
    ElementOutcome,
    Evaluation,
    Outcome,
    RuleOutcome,
    TimingStatus,
)

__all__ = [
    "Answers",
    "CheckResult",
    "CompositeOutcome",
    "ElementOutcome",
    "Evaluation",
    "Outcome",
    "RuleOutcome",
    "TimingStatus",
    "evaluate",
]
