"""What the checklist lifecycle writes: settled answers, answer rows, and QuestionnaireResponse snapshots.

Answers are *settled* before they are stored: judged with ``evaluate``, stripped of answers to elements that
are not enabled, and judged again until nothing more drops, so the stored answers are exactly the enabled
ones of their own judgement. Calculated values are stored with them, as answers, for reports to read. The
QuestionnaireResponse of a version is built from those answers once: the SDC validator judges it, and the
same JSON becomes the version's immutable snapshot.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from fhir_adapters.questionnaire_response import to_questionnaire_response
from fhir_adapters.sdc import CompiledQuestionnaire
from fhir_adapters.sdc_validation import validate_questionnaire_response
from fhir_adapters.values import fhir_datetime, option_system
from schemas.care_bundle import CareBundle, Condition
from service.checklists.evaluation import evaluate
from service.checklists.lifecycle_input import CheckedAnswers, ChecklistIssue
from service.checklists.outcomes import Evaluation
from service.models.checklists import VALUE_COLUMN_OF_TYPE, VALUE_COLUMNS, Answer, Checklist

#: Rounds of judge-and-drop before answers settle. Dropping an answer to a disabled element can change
#: which elements are enabled only through conditions on that element, so two rounds settle real care
#: bundles; the bound only stops a pathological one.
_SETTLE_ROUNDS = 6


def settle(
    care_bundle: CareBundle, answers: CheckedAnswers, now: dt.datetime
) -> tuple[CheckedAnswers, Evaluation]:
    """The enabled answers and their judgement at ``now``, calculated values included as answers.

    Empty value lists and repeating group instances with no answer left are dropped (an empty instance is
    no instance, as ``evaluate`` and the QuestionnaireResponse see it).
    """
    current = _without_empty(care_bundle, answers)
    evaluation = evaluate(care_bundle, current, now)
    for _ in range(_SETTLE_ROUNDS):
        kept = _enabled_only(care_bundle, current, evaluation.enabled_instances)
        if kept == current:
            break
        current = kept
        evaluation = evaluate(care_bundle, current, now)
    calculated = {key: [value] for key, value in evaluation.calculated.items() if value is not None}
    return {**current, **calculated}, evaluation


def _without_empty(care_bundle: CareBundle, answers: CheckedAnswers) -> CheckedAnswers:
    kept: CheckedAnswers = {}
    for key, values in answers.items():
        element = care_bundle.element(key)
        if element is not None and element.is_repeating_group:
            instances = [{item: found for item, found in i.items() if found} for i in values]
            values = [instance for instance in instances if instance]
        if values:
            kept[key] = list(values)
    return kept


def _enabled_only(
    care_bundle: CareBundle, answers: CheckedAnswers, enabled: frozenset[tuple[str, int | None]]
) -> CheckedAnswers:
    kept: CheckedAnswers = {}
    for key, values in answers.items():
        if (key, None) not in enabled:
            continue
        element = care_bundle.element(key)
        if element is not None and element.is_repeating_group:
            instances = [
                {item: found for item, found in instance.items() if (item, index) in enabled}
                for index, instance in enumerate(values)
            ]
            values = [instance for instance in instances if instance]
            if not values:
                continue
        kept[key] = values
    return kept


def write_answers(care_bundle: CareBundle, checklist: Checklist, answers: CheckedAnswers) -> None:
    """Make ``checklist``'s answer rows hold exactly ``answers``.

    Rows are updated in place by (element, instance, position) and the others added or removed, so the
    unit of work (which inserts before it deletes) never trips the unique constraint. A choice keeps its
    code, code system and display, as the QuestionnaireResponse carries them.
    """
    wanted: dict[tuple[str, int, int], dict[str, Any]] = {}

    def add(element_id: str, values: Sequence[Any], instance: int) -> None:
        element = care_bundle.element(element_id)
        assert element is not None  # checked
        for position, value in enumerate(values):
            columns: dict[str, Any] = dict.fromkeys((*VALUE_COLUMNS, "value_system", "value_display"))
            columns[VALUE_COLUMN_OF_TYPE[element.type]] = value
            option = element.option(value) if element.type == "choice" else None
            if option is not None:
                columns["value_system"] = option_system(care_bundle, option)
                columns["value_display"] = option.display
            wanted[(element_id, instance, position)] = columns

    for key, values in answers.items():
        element = care_bundle.element(key)
        if element is not None and element.is_repeating_group:
            for instance, items in enumerate(values):
                for item_id, item_values in items.items():
                    add(item_id, item_values, instance)
        else:
            add(key, values, 0)

    existing = {(row.element_id, row.instance, row.position): row for row in checklist.answers}
    for slot, columns in wanted.items():
        row = existing.pop(slot, None)
        if row is None:
            element_id, instance, position = slot
            checklist.answers.append(
                Answer(element_id=element_id, instance=instance, position=position, **columns)
            )
            continue
        for name, value in columns.items():
            if getattr(row, name) != value:
                setattr(row, name, value)
    for row in existing.values():
        checklist.answers.remove(row)


def questionnaire_response(
    care_bundle: CareBundle,
    answers: Mapping[str, Sequence[Any]],
    *,
    checklist_id: uuid.UUID,
    status: str,
    subject_system: str,
    subject_value: str,
    encounter: str | None,
    version: int,
    now: dt.datetime,
) -> dict[str, Any]:
    """The QuestionnaireResponse of one checklist version (``answers``: settled, calculated included).

    ``id`` is the checklist UUID (the resource id here), ``meta.versionId`` the checklist version and
    ``meta.lastUpdated`` / ``authored`` the time of the change; the subject is the patient identifier in
    the system of its kind.
    """
    body = to_questionnaire_response(
        care_bundle,
        answers,
        checklist_id=str(checklist_id),
        status=status,
        authored=now,
        encounter_reference=encounter,
    )
    resource: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "id": str(checklist_id),
        "meta": {"versionId": str(version), "lastUpdated": fhir_datetime(now.astimezone(dt.UTC))},
        "identifier": body["identifier"],
        "questionnaire": body["questionnaire"],
        "status": body["status"],
        "subject": {"identifier": {"system": subject_system, "value": subject_value}},
    }
    for key in ("encounter", "authored", "author", "item"):
        if key in body:
            resource[key] = body[key]
    return resource


def refusals(
    questionnaire: CompiledQuestionnaire, response: Mapping[str, Any], evaluation: Evaluation | None
) -> list[ChecklistIssue]:
    """Why this version cannot be stored: every SDC error (with the element's linkId and the FHIRPath of
    the problem), then, given a judgement, every failed blocking check (its text and id)."""
    issues = [
        ChecklistIssue(
            issue.severity,
            issue.code,
            issue.diagnostics,
            issue.expression,
            field="answers",
            element_id=_link_id(questionnaire, response, issue.diagnostics, issue.expression),
        )
        for issue in validate_questionnaire_response(questionnaire, response)
        if issue.is_error
    ]
    for result in evaluation.blocking_checks if evaluation is not None else ():
        check = result.check
        named = [*_elements(check.require.items), *_elements(check.when.items if check.when else ())]
        issues.append(
            ChecklistIssue(
                "error",
                "business-rule",
                check.text,
                "QuestionnaireResponse",
                field="answers",
                element_id=named[0] if named else None,
                check_id=check.id,
            )
        )
    return issues


def _elements(conditions: Sequence[Condition]) -> list[str]:
    return [condition.element for condition in conditions]


_QUOTED = re.compile(r"'([^']+)'")
_STEP = re.compile(r"\.(item|answer)\[(\d+)\]")


def _link_id(
    questionnaire: CompiledQuestionnaire, response: Mapping[str, Any], message: str, path: str | None
) -> str | None:
    """The element an SDC issue is about: the first linkId its message quotes (a missing required item is
    reported at its parent's path), else the deepest item on its path."""
    for quoted in _QUOTED.findall(message):
        if quoted in questionnaire.by_link_id:
            return str(quoted)
    found: str | None = None
    node: Any = response
    for kind, index in _STEP.findall(path or ""):
        try:
            node = node[kind][int(index)]
        except (KeyError, IndexError, TypeError):
            break
        if kind == "item" and isinstance(node, Mapping) and isinstance(node.get("linkId"), str):
            found = str(node["linkId"])
    return found
