"""Checklists: one care bundle applied to one patient episode."""

from __future__ import annotations

from service.checklists.evaluation import (
    ElementOutcome,
    Evaluation,
    TimingResult,
    condition_holds,
    evaluate,
)

__all__ = ["ElementOutcome", "Evaluation", "TimingResult", "condition_holds", "evaluate"]
