"""Who calls the checklist lifecycle and what they send, checked before anything is read or written.

Answers are checked against their elements' types and options (a value that cannot become a FHIR answer
is refused with its element named) and turned into the one Python type each element holds, so that equal
requests hash equally. What the Questionnaire says about the values (ranges, lengths, required answers) is
the SDC validator's to judge (``lifecycle_records``). Messages name fields and elements, never the values
sent: they may be patient identifiers or free text.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session, scoped_session

from fhir_adapters.identifiers import IDENTIFIER_KINDS
from fhir_adapters.operation_outcome import Issue
from fhir_adapters.values import typed_value
from schemas.care_bundle import AnswerValue, CareBundle, Element
from service.errors import InvalidInput

#: The session a lifecycle function works in (Flask-SQLAlchemy's ``db.session`` is a scoped session).
DbSession = Session | scoped_session[Any]

#: Checked answers: element id -> values; a repeating group's id -> its instances (item id -> values).
CheckedAnswers = dict[str, list[Any]]

#: Length limits of the free text a lifecycle operation keeps (``checklist_change.reason``).
REASON_MAX_LENGTH = 500
#: ``checklist.encounter_reference`` and ``patient_identifier_system`` are at most this long.
REFERENCE_MAX_LENGTH = 255

#: Where each ``start`` field travels in the QuestionnaireResponse (the ``expression`` of its issues).
START_FIELD_PATHS = {
    "care_bundle_id": "QuestionnaireResponse.questionnaire",
    "version": "QuestionnaireResponse.questionnaire",
    "patient_kind": "QuestionnaireResponse.subject.identifier.system",
    "patient_system": "QuestionnaireResponse.subject.identifier.system",
    "patient_value": "QuestionnaireResponse.subject.identifier.value",
    "encounter": "QuestionnaireResponse.encounter.reference",
    "anchor_time": "QuestionnaireResponse.item[0].answer[0]",
}


@dataclass(frozen=True)
class Actor:
    """Who asks: a signed-in user (``user_id``) or a system client (``client``, its OAuth client id).

    ``unit_ids`` are the units whose checklists the actor may see and change; None means not restricted
    (a system client, an admin). A checklist outside them is answered as if it did not exist. The ward
    pages build one from the signed-in user (``service.auth.scope.unit_ids_of``).
    """

    user_id: int | None
    client: str | None = None
    unit_ids: frozenset[int] | None = frozenset()

    def __post_init__(self) -> None:
        if self.user_id is None and not self.client:
            raise ValueError("an actor is a user or a system client")

    def may_see(self, unit_id: int) -> bool:
        return self.unit_ids is None or unit_id in self.unit_ids


@dataclass(frozen=True)
class ChecklistIssue(Issue):
    """An issue that also says what it is about, for a form to show it in place: a request ``field``
    (``patient_value``), an element (``element_id``, its linkId) or a care bundle check (``check_id``)."""

    field: str | None = None
    element_id: str | None = None
    check_id: str | None = None


def field_issue(field: str, message: str, code: str = "invalid") -> ChecklistIssue:
    return ChecklistIssue("error", code, message, START_FIELD_PATHS.get(field), field=field)


def element_issue(element_id: str, message: str, code: str = "invalid") -> ChecklistIssue:
    return ChecklistIssue("error", code, f"{element_id}: {message}", field="answers", element_id=element_id)


@dataclass(frozen=True)
class PatientIdentifier:
    """A checked patient identifier: the compact value and the system it belongs to."""

    kind: str
    value: str
    system: str


def compact_identifier(kind: str, value: str) -> str:
    """The identifier as stored: check-digit numbers without spaces, local numbers without edge spaces."""
    found = IDENTIFIER_KINDS.get(kind)
    if found is not None and found.check_digit:
        return value.replace(" ", "")
    return value.strip()


def check_patient(
    care_bundle: CareBundle, kind: str, value: str, system: str | None, issues: list[ChecklistIssue]
) -> PatientIdentifier | None:
    """The identifier, or None with the problems appended to ``issues`` (never echoing the value)."""
    found = IDENTIFIER_KINDS.get(kind)
    if found is None or kind not in care_bundle.patient_identifiers:
        accepted = ", ".join(care_bundle.patient_identifiers)
        issues.append(
            field_issue("patient_kind", f"this care bundle takes a patient identifier of kind {accepted}")
        )
        return None
    problem = found.problem(value) if isinstance(value, str) else f"a {found.label} is text"
    if problem is not None:
        issues.append(field_issue("patient_value", problem, "value"))
    if found.system is None:
        if not system or not system.strip() or len(system) > REFERENCE_MAX_LENGTH or " " in system.strip():
            issues.append(
                field_issue(
                    "patient_system",
                    f"a {found.label} needs the system (URI) of the hospital that issued it, "
                    f"at most {REFERENCE_MAX_LENGTH} characters",
                    "required" if not system else "value",
                )
            )
            return None
        system = system.strip()
    elif system is not None and system != found.system:
        issues.append(
            field_issue("patient_system", f"the system of a {found.label} is {found.system}", "value")
        )
        return None
    if problem is not None:
        return None
    return PatientIdentifier(kind, compact_identifier(kind, value), found.system or str(system))


def check_reason(reason: Any) -> str:
    """The reason for an amendment or an entry in error, stripped: 1 to 500 characters."""
    text = reason.strip() if isinstance(reason, str) else ""
    if not text or len(text) > REASON_MAX_LENGTH:
        raise InvalidInput(
            f"give a reason of 1 to {REASON_MAX_LENGTH} characters",
            issues=[
                field_issue("reason", f"give a reason of 1 to {REASON_MAX_LENGTH} characters", "required")
            ],
        )
    return text


def check_answers(care_bundle: CareBundle, answers: Any) -> CheckedAnswers:
    """``answers`` with every value as its element's Python type; raises InvalidInput naming each element.

    Keys are element ids (the anchor's included) outside repeating groups, or a repeating group's id with a
    list of instances (item id -> values). Values are lists. Answers to calculated elements are dropped:
    Careloop works them out (the Questionnaire says so), whatever a form filler computed.
    """
    if not isinstance(answers, Mapping):
        raise InvalidInput("answers must map element ids to lists of values")
    issues: list[ChecklistIssue] = []
    checked: CheckedAnswers = {}
    for key, values in answers.items():
        element = care_bundle.element(key) if isinstance(key, str) else None
        if element is None:
            issues.append(element_issue(str(key)[:64], "is not an element of this care bundle"))
        elif key in care_bundle.repeating_group_of:
            group = care_bundle.repeating_group_of[key]
            issues.append(
                element_issue(key, f"is answered inside the instances of its repeating group {group}")
            )
        elif element.calculated is not None:
            continue
        elif element.is_repeating_group:
            checked[key] = _instances(care_bundle, element, values, issues)
        elif element.type in ("group", "display"):
            issues.append(element_issue(key, f"a {element.type} carries no answers"))
        else:
            checked[key] = _values(element, values, issues)
    anchor = care_bundle.anchor.id
    if anchor in checked and len(answers[anchor]) != 1:
        issues.append(element_issue(anchor, "the anchor takes exactly one answer", "required"))
    if issues:
        raise InvalidInput(f"{len(issues)} answer(s) do not fit their elements", issues=issues)
    return checked


def _instances(
    care_bundle: CareBundle, group: Element, instances: Any, issues: list[ChecklistIssue]
) -> list[dict[str, list[Any]]]:
    if not _is_list(instances) or not all(isinstance(instance, Mapping) for instance in instances):
        issues.append(
            element_issue(group.id, "a repeating group takes a list of instances (item id -> values)")
        )
        return []
    checked: list[dict[str, list[Any]]] = []
    for instance in instances:
        values_of: dict[str, list[Any]] = {}
        for key, values in instance.items():
            element = care_bundle.element(key) if isinstance(key, str) else None
            if element is None or care_bundle.repeating_group_of.get(key) != group.id:
                issues.append(
                    element_issue(str(key)[:64], f"is not an item of the repeating group {group.id}")
                )
            elif element.type in ("group", "display"):
                issues.append(element_issue(key, f"a {element.type} carries no answers"))
            else:
                values_of[key] = _values(element, values, issues)
        checked.append(values_of)
    return checked


def _is_list(values: Any) -> bool:
    return isinstance(values, Sequence) and not isinstance(values, str | bytes | bytearray)


def _values(element: Element, values: Any, issues: list[ChecklistIssue]) -> list[Any]:
    if not _is_list(values):
        issues.append(element_issue(element.id, "answers are given as a list of values"))
        return []
    checked: list[Any] = []
    for value in values:
        python, problem = _python_value(element, value)
        if problem is not None:
            issues.append(element_issue(element.id, problem))
        else:
            checked.append(python)
    return checked


def _python_value(element: Element, value: Any) -> tuple[AnswerValue | None, str | None]:
    """The value as the type the element holds, or the problem (which does not repeat the value)."""
    kind = element.type
    number = isinstance(value, int | Decimal) and not isinstance(value, bool)
    if kind == "choice":
        if isinstance(value, str) and element.option(value) is not None:
            return value, None
        return None, "the answer is not one of the element's options"
    if kind == "boolean":
        return (value, None) if isinstance(value, bool) else (None, "a boolean answer is true or false")
    if kind == "integer":
        if number and Decimal(value).is_finite() and value == int(value):
            return int(value), None
        return None, "an integer answer is a whole number"
    if kind == "decimal":
        if number and Decimal(value).is_finite():
            return Decimal(value), None
        return None, "a decimal answer is a number (int or Decimal)"
    if kind == "date":
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value, None
        return None, "a date answer is a date"
    if kind == "dateTime":
        if isinstance(value, dt.datetime) and value.utcoffset() is not None:
            return value, None
        return None, "a date-time answer is a datetime with a time zone"
    if isinstance(value, str) and value.strip():
        return value, None
    return None, "a text answer is a non-empty string"


def canonical_answers(care_bundle: CareBundle, answers: CheckedAnswers) -> dict[str, Any]:
    """Checked answers as FHIR ``value[x]`` JSON: equal answers (one instant at two offsets, 5 and
    Decimal(5) for an integer) give equal JSON."""

    def values(element_id: str, found: Sequence[Any]) -> list[dict[str, Any]]:
        element = care_bundle.element(element_id)
        assert element is not None  # checked
        return [typed_value(care_bundle, element, value) for value in found]

    canonical: dict[str, Any] = {}
    for key, found in answers.items():
        element = care_bundle.element(key)
        if element is not None and element.is_repeating_group:
            canonical[key] = [
                {item: values(item, found_item) for item, found_item in i.items()} for i in found
            ]
        else:
            canonical[key] = values(key, found)
    return canonical


def payload_sha256(operation: str, body: Mapping[str, Any]) -> str:
    """Hex SHA-256 of the canonical JSON (sorted keys, no spaces) of an operation and its payload."""
    text = json.dumps(
        {"operation": operation, **body},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=_json_default,
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _json_default(value: Any) -> str:
    if isinstance(value, dt.datetime) and value.utcoffset() is not None:
        return value.astimezone(dt.UTC).isoformat()
    return str(value)
