"""The checklist lifecycle: the one way any caller (ward pages, offline replay, FHIR API) changes a checklist.

``start`` -> ``save_draft``* -> ``complete`` -> ``amend``*, and ``mark_entered_in_error`` from any status but
itself. Each operation is one unit of work in the caller's transaction: the checklist row, its answers
(only enabled ones, calculated values included), the stored judgement (``record_evaluation``), a
``checklist_change`` row, an audit event and, for every completed, amended or entered-in-error version, a
delivery row (the outbox; written even while the site has no EHR configured, where it waits) and the
version's immutable QuestionnaireResponse snapshot. Pure domain code: a session, the care bundle catalogue,
an :class:`Actor` and ``now``; it flushes, never commits, and raises ``service.errors`` exceptions, after
which the caller rolls back. Everything is checked before the first write, so a refused request leaves
the session as it found it.

Versions and idempotency: every change bumps ``checklist.version`` (the row is always updated, so a stale
change of answers alone is caught). A request names the version it was based on. Based on the current
version, it applies. Based on an older one, it is a replay when the change stored on that version has the
same operation and payload hash (the stored checklist is returned, nothing is written); anything else is a
:class:`~service.errors.StaleVersion` conflict naming the current version, never a silent overwrite.
``start`` is idempotent on the client-generated checklist UUID in the same way.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from service.checklists.lifecycle_input import (
    REFERENCE_MAX_LENGTH,
    Actor,
    CheckedAnswers,
    ChecklistIssue,
    DbSession,
    canonical_answers,
    check_answers,
    check_patient,
    check_reason,
    compact_identifier,
    field_issue,
    payload_sha256,
)
from service.checklists.lifecycle_reads import (
    change_based_on,
    get_checklist,
    history,
    load_for_change,
    snapshot,
)
from service.checklists.lifecycle_records import settle
from service.checklists.lifecycle_writes import VERB, anchor_value, record_change, refuse_or_respond
from service.checklists.outcomes import Evaluation
from service.checklists.store import answers_of
from service.errors import Conflict, InvalidInput, NotFound, StaleVersion
from service.models.changes import REASONED_OPERATIONS, ChangeOperation
from service.models.checklists import Checklist, ChecklistSource, ChecklistStatus
from service.models.organisation import Unit

if TYPE_CHECKING:
    from service.care_bundles import CareBundleCatalogue

__all__ = [
    "Actor",
    "ChecklistIssue",
    "amend",
    "complete",
    "get_checklist",
    "history",
    "mark_entered_in_error",
    "save_draft",
    "snapshot",
    "start",
]

#: The statuses each operation may start from.
ALLOWED_FROM: Mapping[ChangeOperation, tuple[ChecklistStatus, ...]] = {
    ChangeOperation.SAVE_DRAFT: (ChecklistStatus.IN_PROGRESS,),
    ChangeOperation.COMPLETE: (ChecklistStatus.IN_PROGRESS,),
    ChangeOperation.AMEND: (ChecklistStatus.COMPLETED, ChecklistStatus.AMENDED),
    ChangeOperation.ENTERED_IN_ERROR: (
        ChecklistStatus.IN_PROGRESS,
        ChecklistStatus.COMPLETED,
        ChecklistStatus.AMENDED,
    ),
}


def start(
    session: DbSession,
    catalogue: CareBundleCatalogue,
    actor: Actor,
    *,
    checklist_id: uuid.UUID,
    care_bundle_id: str,
    version: str | None,
    unit: Unit,
    patient_kind: str,
    patient_value: str,
    patient_system: str | None,
    encounter: str | None,
    anchor_time: dt.datetime,
    now: dt.datetime,
    source: ChecklistSource = ChecklistSource.WARD,
    external_identifier: tuple[str, str] | None = None,
) -> Checklist:
    """Start checklist ``checklist_id`` (the client's UUID) of a care bundle offered on ``unit``.

    ``external_identifier``: the ``(system, value)`` a FHIR client gave its QuestionnaireResponse, kept
    with the checklist from its first version (a retry finds the checklist by it).

    ``version`` None takes the version the unit offers (:meth:`Unit.offered_version`: its pinned version,
    else the latest published one); a version other than the unit's pinned one is refused.
    ``patient_kind`` is one of the care bundle's ``patient_identifiers`` (``nhs-number``, ``chi-number``,
    ``local``; a local number needs ``patient_system``). The anchor is stored as ``anchor_time`` and as
    the anchor's answer. The checklist is in progress at version 1. Starting the same UUID again with the
    same payload returns the stored checklist; with another payload it is a :class:`Conflict`.

    Raises NotFound (a unit outside the actor's, a care bundle version not loaded), InvalidInput (one
    issue per bad field, never echoing the value: a care bundle the unit does not offer, a version other
    than its pinned one), Conflict.
    """
    _require_aware(now)
    if not actor.may_see(unit.id):
        raise NotFound(f"unit {unit.id} not found")
    payload = payload_sha256(
        ChangeOperation.START,
        {
            "care_bundle_id": care_bundle_id,
            "version": version,
            "unit_id": unit.id,
            "patient_kind": patient_kind,
            "patient_value": compact_identifier(patient_kind, patient_value)
            if isinstance(patient_value, str)
            else patient_value,
            "patient_system": patient_system,
            "encounter": encounter,
            "anchor_time": anchor_time,
            "source": str(source),
        },
    )
    existing = session.get(Checklist, checklist_id)
    if existing is not None:
        change = change_based_on(session, checklist_id, 0)
        if (
            actor.may_see(existing.unit_id)
            and change is not None
            and change.operation == ChangeOperation.START
            and change.payload_sha256 == payload
        ):
            return existing
        raise Conflict(f"checklist {checklist_id} already exists: start a new checklist with a new id")

    pinned = unit.offered_version(care_bundle_id)
    wanted = version if version is not None else pinned
    entry = catalogue.get(care_bundle_id, wanted)
    if entry is None:
        raise NotFound(f"care bundle {care_bundle_id} version {wanted or '(latest)'} is not loaded")
    care_bundle = entry.care_bundle
    issues: list[ChecklistIssue] = []
    if not unit.active:
        issues.append(field_issue("unit", f"the unit {unit.code} is closed: no new checklists start there"))
    if care_bundle.id not in unit.care_bundle_ids:
        issues.append(
            field_issue("care_bundle_id", f"this unit does not offer the care bundle {care_bundle.id}")
        )
    elif pinned is not None and care_bundle.version != pinned:
        issues.append(
            field_issue(
                "version", f"this unit uses version {pinned} of the care bundle {care_bundle.id}", "value"
            )
        )
    patient = check_patient(care_bundle, patient_kind, patient_value, patient_system, issues)
    if encounter is not None and (
        not isinstance(encounter, str) or not encounter.strip() or len(encounter) > REFERENCE_MAX_LENGTH
    ):
        issues.append(
            field_issue("encounter", f"an encounter reference is 1 to {REFERENCE_MAX_LENGTH} characters")
        )
    if not isinstance(anchor_time, dt.datetime) or anchor_time.utcoffset() is None:
        issues.append(
            field_issue(
                "anchor_time", f"{care_bundle.anchor.text}: give a date-time with a time zone", "required"
            )
        )
    if issues or patient is None:
        raise InvalidInput(
            f"checklist {checklist_id} cannot be started: {len(issues)} problem(s)", issues=issues
        )

    checklist = Checklist(
        id=checklist_id,
        care_bundle_id=care_bundle.id,
        care_bundle_version=care_bundle.version,
        unit=unit,
        patient_identifier=patient.value,
        patient_identifier_system=patient.system,
        encounter_reference=encounter,
        anchor_time=anchor_time,
        status=ChecklistStatus.IN_PROGRESS,
        source=str(source),
        created_at=now,
        created_by_id=actor.user_id,
        external_identifier_system=external_identifier[0] if external_identifier else None,
        external_identifier_value=external_identifier[1] if external_identifier else None,
    )
    settled, evaluation = settle(
        care_bundle, {care_bundle.anchor.id: [anchor_value(care_bundle, anchor_time)]}, now
    )
    response = refuse_or_respond(
        entry, checklist, ChangeOperation.START, settled, evaluation, version=1, now=now
    )
    session.add(checklist)
    record_change(
        session,
        entry,
        actor,
        checklist,
        operation=ChangeOperation.START,
        based_on=0,
        payload=payload,
        reason=None,
        settled=settled,
        evaluation=evaluation,
        response=response,
        now=now,
    )
    return checklist


def save_draft(
    session: DbSession,
    catalogue: CareBundleCatalogue,
    actor: Actor,
    checklist_id: uuid.UUID,
    *,
    base_version: int,
    answers: Mapping[str, Any],
    now: dt.datetime,
) -> Checklist:
    """Replace the answers of an in-progress checklist (required answers may still be missing).

    ``answers`` is the mapping ``evaluate`` takes; the anchor may be left out (it is kept). Answers to
    elements that are not enabled are dropped. Raises NotFound, InvalidInput (a value that does not fit its
    element), StaleVersion, Conflict (not in progress), Unprocessable (what the SDC validator refuses).
    """
    return _change(
        session, catalogue, actor, checklist_id, ChangeOperation.SAVE_DRAFT, base_version, answers, None, now
    )


def complete(
    session: DbSession,
    catalogue: CareBundleCatalogue,
    actor: Actor,
    checklist_id: uuid.UUID,
    *,
    base_version: int,
    answers: Mapping[str, Any],
    now: dt.datetime,
) -> Checklist:
    """Complete an in-progress checklist with ``answers``: judged at ``now``, queued for delivery.

    Refused with Unprocessable (one issue per problem: the element's linkId and the FHIRPath of each SDC
    error, the text and id of each failed blocking check) when the response is not complete and valid.
    Otherwise as :func:`save_draft`.
    """
    return _change(
        session, catalogue, actor, checklist_id, ChangeOperation.COMPLETE, base_version, answers, None, now
    )


def amend(
    session: DbSession,
    catalogue: CareBundleCatalogue,
    actor: Actor,
    checklist_id: uuid.UUID,
    *,
    base_version: int,
    answers: Mapping[str, Any],
    reason: str,
    now: dt.datetime,
) -> Checklist:
    """Amend a completed or amended checklist: as :func:`complete`, with a ``reason`` (1-500 characters)
    kept on the change row, never in the audit log. ``completed_at`` keeps the first completion."""
    return _change(
        session, catalogue, actor, checklist_id, ChangeOperation.AMEND, base_version, answers, reason, now
    )


def mark_entered_in_error(
    session: DbSession,
    catalogue: CareBundleCatalogue,
    actor: Actor,
    checklist_id: uuid.UUID,
    *,
    base_version: int,
    reason: str,
    now: dt.datetime,
) -> Checklist:
    """Mark a checklist entered in error (it was for the wrong patient or never happened), keeping its
    answers. A completed or amended one is delivered again, so the EHR learns of it."""
    return _change(
        session,
        catalogue,
        actor,
        checklist_id,
        ChangeOperation.ENTERED_IN_ERROR,
        base_version,
        None,
        reason,
        now,
    )


def _change(
    session: DbSession,
    catalogue: CareBundleCatalogue,
    actor: Actor,
    checklist_id: uuid.UUID,
    operation: ChangeOperation,
    base_version: int,
    answers: Mapping[str, Any] | None,
    reason: str | None,
    now: dt.datetime,
) -> Checklist:
    """Everything but ``start``: check, recognise a replay or a stale version, judge, then write."""
    _require_aware(now)
    if isinstance(base_version, bool) or not isinstance(base_version, int):
        raise InvalidInput("base_version is the checklist version the change was made on (a whole number)")
    checklist = load_for_change(session, actor, checklist_id)
    entry = catalogue.get(checklist.care_bundle_id, checklist.care_bundle_version)
    if entry is None:
        raise Conflict(
            f"checklist {checklist_id} cannot be {VERB[operation]}: care bundle "
            f"{checklist.care_bundle_id} version {checklist.care_bundle_version} is not loaded"
        )
    care_bundle = entry.care_bundle
    checked = check_answers(care_bundle, answers) if answers is not None else None
    text = check_reason(reason) if operation in REASONED_OPERATIONS else None
    payload = payload_sha256(
        operation,
        {"answers": canonical_answers(care_bundle, checked) if checked is not None else None, "reason": text},
    )
    if _is_replay(session, checklist, operation, base_version, payload):
        return checklist
    if checklist.status not in ALLOWED_FROM[operation]:
        raise Conflict(f"checklist {checklist_id} is {checklist.status}: it cannot be {VERB[operation]}")

    settled: CheckedAnswers | None = None
    evaluation: Evaluation | None = None
    response: dict[str, Any] | None = None
    if checked is not None:
        anchor = care_bundle.anchor.id
        if anchor not in checked:
            checked[anchor] = answers_of(care_bundle, checklist).get(anchor, [])
        settled, evaluation = settle(care_bundle, checked, now)
        response = refuse_or_respond(
            entry, checklist, operation, settled, evaluation, version=checklist.version + 1, now=now
        )
    record_change(
        session,
        entry,
        actor,
        checklist,
        operation=operation,
        based_on=base_version,
        payload=payload,
        reason=text,
        settled=settled,
        evaluation=evaluation,
        response=response,
        now=now,
    )
    return checklist


def _is_replay(
    session: DbSession, checklist: Checklist, operation: ChangeOperation, base_version: int, payload: str
) -> bool:
    """True for a repeat of the change stored on ``base_version``; raises StaleVersion for any other
    request not based on the current version."""
    current = checklist.version
    if base_version == current:
        return False
    if 0 <= base_version < current:
        change = change_based_on(session, checklist.id, base_version)
        if change is not None and change.operation == operation and change.payload_sha256 == payload:
            return True
    raise StaleVersion(
        f"checklist {checklist.id} is at version {current}, not {base_version}: "
        "read it again and make the change on the current version",
        current_version=current,
    )


def _require_aware(now: dt.datetime) -> None:
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
