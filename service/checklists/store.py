"""Stored checklists <-> the judging engine: the one path that writes a judgement and reads answers back.

``record_evaluation`` writes what ``evaluate`` produced as rows (element, rule, composite outcomes, failed
checks, the headline ``compliant``); ``answers_of`` turns stored answer rows back into the answers mapping
``evaluate`` takes. ``Judgement`` is the stored form of a judgement, so that a caller can tell whether a new
evaluation would change anything (re-evaluation) without writing. Pure domain code: a session, no Flask;
``flush`` at most, never ``commit``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar

from sqlalchemy.orm import Session, scoped_session, selectinload
from sqlalchemy.orm.interfaces import LoaderOption

from schemas.care_bundle import AnswerValue, CareBundle
from service.checklists.outcomes import Evaluation
from service.models.base import Model
from service.models.checklists import (
    FINAL_STATUSES,
    VALUE_COLUMNS,
    Answer,
    CheckFailure,
    Checklist,
    CompositeResult,
    ElementOutcome,
    RuleResult,
)


def with_judgement() -> tuple[LoaderOption, ...]:
    """Loader options for a checklist whose answers are read (``answers_of``) and judgement rewritten
    (``record_evaluation``): everything either touches, in one query per relationship."""
    return (
        selectinload(Checklist.answers),
        selectinload(Checklist.outcomes),
        selectinload(Checklist.rule_results),
        selectinload(Checklist.composite_results),
        selectinload(Checklist.check_failures),
    )


class ElementRow(NamedTuple):
    """The columns of an ``element_outcome`` row besides its keys."""

    outcome: str
    reason: str | None
    due_at: dt.datetime | None
    timing_status: str | None


class RuleRow(NamedTuple):
    """The columns of a ``rule_outcome`` row besides its keys."""

    element_id: str
    outcome: str
    reason: str | None
    due_at: dt.datetime | None
    timing_status: str | None


@dataclass(frozen=True)
class Judgement:
    """A judgement as the database holds it, keyed by element, rule, composite and check id.

    Only elements with a compliance rule get an element outcome: the others have nothing to report, and
    per-element reports count the rows as they are. Only failed checks are kept (id -> severity).
    ``compliant`` is the headline (first composite), None while in progress.
    """

    compliant: bool | None
    elements: Mapping[str, ElementRow]
    rules: Mapping[str, RuleRow]
    composites: Mapping[str, bool | None]
    failed_checks: Mapping[str, str]

    @classmethod
    def of_evaluation(cls, evaluation: Evaluation, status: str) -> Judgement:
        """What ``record_evaluation`` stores for ``evaluation`` on a checklist in ``status``."""
        return cls(
            compliant=evaluation.compliant if status in FINAL_STATUSES else None,
            elements={
                outcome.element_id: ElementRow(
                    str(outcome.outcome), outcome.reason, outcome.due_at, _str_or_none(outcome.timing_status)
                )
                for outcome in evaluation.compliance_outcomes
            },
            rules={
                rule.rule_id: RuleRow(
                    rule.element_id, str(rule.outcome), rule.reason, rule.due_at, _str_or_none(rule.status)
                )
                for rule in evaluation.rules
            },
            composites={result.composite.id: result.compliant for result in evaluation.composites},
            failed_checks={result.check.id: result.check.severity for result in evaluation.failed_checks},
        )

    @classmethod
    def of_checklist(cls, checklist: Checklist) -> Judgement:
        """What is stored on ``checklist`` now."""
        return cls(
            compliant=checklist.compliant,
            elements={
                row.element_id: ElementRow(row.outcome, row.reason, row.due_at, row.timing_status)
                for row in checklist.outcomes
            },
            rules={
                row.rule_id: RuleRow(row.element_id, row.outcome, row.reason, row.due_at, row.timing_status)
                for row in checklist.rule_results
            },
            composites={row.composite_id: row.compliant for row in checklist.composite_results},
            failed_checks={row.check_id: row.severity for row in checklist.check_failures},
        )


def record_evaluation(
    session: Session | scoped_session[Any], checklist: Checklist, evaluation: Evaluation
) -> None:
    """Make ``checklist``'s stored judgement that of ``evaluation``, replacing whatever was stored.

    Rows are updated in place by id (element, rule, composite, check) and the ones no longer produced are
    deleted, so a re-judgement touches only what changed and never trips the unique constraints (the unit
    of work inserts before it deletes). ``compliant`` is set only on a completed or amended checklist: an
    in-progress one has no all-or-none result (the table's CHECK refuses one). ``session`` is flushed.
    """
    judgement = Judgement.of_evaluation(evaluation, checklist.status)
    if checklist.status in FINAL_STATUSES:
        checklist.compliant = judgement.compliant
    _replace(
        checklist.outcomes,
        "element_id",
        {key: row._asdict() for key, row in judgement.elements.items()},
        ElementOutcome,
    )
    _replace(
        checklist.rule_results,
        "rule_id",
        {key: row._asdict() for key, row in judgement.rules.items()},
        RuleResult,
    )
    _replace(
        checklist.composite_results,
        "composite_id",
        {key: {"compliant": compliant} for key, compliant in judgement.composites.items()},
        CompositeResult,
    )
    _replace(
        checklist.check_failures,
        "check_id",
        {key: {"severity": severity} for key, severity in judgement.failed_checks.items()},
        CheckFailure,
    )
    session.flush()


def answers_of(care_bundle: CareBundle, checklist: Checklist) -> dict[str, list[Any]]:
    """The answers mapping ``evaluate`` takes, from ``checklist``'s stored answer rows.

    Values come from the row's one value column (a choice is its ``value_code``), in ``position`` order.
    Items of a repeating group become that group's instances, ordered by ``instance``; an instance with no
    stored answer between two others comes back empty, so instance numbers keep their meaning. The anchor
    is an answer row under the anchor's id; a checklist that has only ``anchor_time`` gets that instead.
    """
    answers: dict[str, list[Any]] = {}
    instances: dict[str, dict[int, dict[str, list[Any]]]] = {}
    ordered = sorted(checklist.answers, key=lambda row: (row.element_id, row.instance, row.position))
    for row in ordered:
        group = care_bundle.repeating_group_of.get(row.element_id)
        if group is None:
            answers.setdefault(row.element_id, []).append(_value(row))
        else:
            by_instance = instances.setdefault(group, {})
            by_instance.setdefault(row.instance, {}).setdefault(row.element_id, []).append(_value(row))
    for group, by_instance in instances.items():
        answers[group] = [by_instance.get(index, {}) for index in range(max(by_instance) + 1)]
    anchor = care_bundle.anchor
    if anchor.id not in answers and checklist.anchor_time is not None and anchor.type == "dateTime":
        answers[anchor.id] = [checklist.anchor_time]
    return answers


def _value(row: Answer) -> AnswerValue:
    """The row's one value (the table's CHECK allows exactly one)."""
    for column in VALUE_COLUMNS:
        value: AnswerValue | None = getattr(row, column)
        if value is not None:
            return value
    raise ValueError(f"answer {row.element_id} holds no value")


_Row = TypeVar("_Row", bound=Model)


def _replace(
    rows: list[_Row], key: str, wanted: Mapping[str, Mapping[str, Any]], make: Callable[..., _Row]
) -> None:
    """Make the collection ``rows`` hold exactly ``wanted`` (key value -> column values)."""
    existing = {getattr(row, key): row for row in rows}
    for key_value, values in wanted.items():
        row = existing.pop(key_value, None)
        if row is None:
            rows.append(make(**{key: key_value, **values}))
            continue
        for name, value in values.items():
            if getattr(row, name) != value:
                setattr(row, name, value)
    for row in existing.values():
        rows.remove(row)


def _str_or_none(value: object | None) -> str | None:
    return None if value is None else str(value)
