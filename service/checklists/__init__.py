"""Checklists: one care bundle applied to one patient episode.

``evaluate`` judges answers (pure); the lifecycle (``start``, ``save_draft``, ``complete``, ``amend``,
``mark_entered_in_error``, in ``service.checklists.lifecycle``) is the one way any caller changes a stored
checklist.
"""

from __future__ import annotations

from service.checklists.evaluation import Answers, evaluate
from service.checklists.lifecycle import (
    Actor,
    ChecklistIssue,
    amend,
    complete,
    get_checklist,
    history,
    mark_entered_in_error,
    save_draft,
    snapshot,
    start,
)
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
    "Actor",
    "Answers",
    "CheckResult",
    "ChecklistIssue",
    "CompositeOutcome",
    "ElementOutcome",
    "Evaluation",
    "Outcome",
    "RuleOutcome",
    "TimingStatus",
    "amend",
    "complete",
    "evaluate",
    "get_checklist",
    "history",
    "mark_entered_in_error",
    "save_draft",
    "snapshot",
    "start",
]
