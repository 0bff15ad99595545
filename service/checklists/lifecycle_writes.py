"""Writing one checked change of a checklist: the row, answers, judgement, change, delivery, audit event.

``service.checklists.lifecycle`` decides whether a change may happen; this module builds the new version's
QuestionnaireResponse (refusing what the SDC validator or a blocking check refuses, before anything is
written) and then writes everything the version consists of, in one flush.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from schemas.care_bundle import CareBundle
from service.checklists.lifecycle_input import Actor, CheckedAnswers, DbSession
from service.checklists.lifecycle_records import questionnaire_response, refusals, write_answers
from service.checklists.outcomes import Evaluation
from service.checklists.store import answers_of, record_evaluation
from service.checklists.timing import instant
from service.compliance.daily import after_change, before_change
from service.errors import Conflict, StaleVersion, Unprocessable
from service.models.audit import AuditAction, AuditEvent
from service.models.changes import ChangeOperation, ChecklistChange
from service.models.checklists import FINAL_STATUSES, Checklist, ChecklistSource, ChecklistStatus
from service.models.delivery import Delivery, DeliveryStatus

if TYPE_CHECKING:
    from service.care_bundles import CatalogueEntry

STATUS_AFTER: Mapping[ChangeOperation, ChecklistStatus] = {
    ChangeOperation.START: ChecklistStatus.IN_PROGRESS,
    ChangeOperation.SAVE_DRAFT: ChecklistStatus.IN_PROGRESS,
    ChangeOperation.COMPLETE: ChecklistStatus.COMPLETED,
    ChangeOperation.AMEND: ChecklistStatus.AMENDED,
    ChangeOperation.ENTERED_IN_ERROR: ChecklistStatus.ENTERED_IN_ERROR,
}
VERB = {
    ChangeOperation.START: "started",
    ChangeOperation.SAVE_DRAFT: "saved",
    ChangeOperation.COMPLETE: "completed",
    ChangeOperation.AMEND: "amended",
    ChangeOperation.ENTERED_IN_ERROR: "marked entered in error",
}


def refuse_or_respond(
    entry: CatalogueEntry,
    checklist: Checklist,
    operation: ChangeOperation,
    settled: CheckedAnswers,
    evaluation: Evaluation,
    *,
    version: int,
    now: dt.datetime,
) -> dict[str, Any]:
    """The QuestionnaireResponse of the new version, or Unprocessable with every reason it is refused.

    Drafts are validated as ``in-progress`` (required answers not enforced); completed and amended
    versions in full, and the care bundle's blocking checks must pass.
    """
    status = STATUS_AFTER[operation]
    response = questionnaire_response(
        entry.care_bundle,
        settled,
        checklist_id=checklist.id,
        status=status,
        subject_system=checklist.patient_identifier_system,
        subject_value=checklist.patient_identifier,
        encounter=checklist.encounter_reference,
        version=version,
        now=now,
    )
    problems = refusals(
        entry.compiled_questionnaire, response, evaluation if status in FINAL_STATUSES else None
    )
    if problems:
        raise Unprocessable(
            f"checklist {checklist.id} cannot be {VERB[operation]}: {len(problems)} problem(s)",
            issues=problems,
        )
    return response


def record_change(
    session: DbSession,
    entry: CatalogueEntry,
    actor: Actor,
    checklist: Checklist,
    *,
    operation: ChangeOperation,
    based_on: int,
    payload: str,
    reason: str | None,
    settled: CheckedAnswers | None,
    evaluation: Evaluation | None,
    response: dict[str, Any] | None,
    now: dt.datetime,
) -> None:
    """Write the checked change: the checklist (always updated, so its version moves on), answers,
    judgement, change row with the snapshot, delivery row and audit event; flushed."""
    care_bundle = entry.care_bundle
    version = based_on + 1
    status = STATUS_AFTER[operation]
    previous = checklist.status
    anchor_after = _anchor_instant(care_bundle, settled) if settled is not None else checklist.anchor_time
    # What the compliance reports' day counts hold of this checklist and its episodes (decision 0014).
    pending = before_change(session, checklist, anchor_after)
    with _concurrent_change_refused(checklist.id):
        if settled is not None:
            write_answers(care_bundle, checklist, settled)
            checklist.anchor_time = anchor_after
        checklist.index_for_reports()
        checklist.status = status
        if operation is ChangeOperation.COMPLETE:
            checklist.completed_at = now
        checklist.updated_at = now
        flag_modified(checklist, "updated_at")  # an UPDATE even when nothing else changed: the version moves
        checklist.updated_by_id = actor.user_id
        if evaluation is not None:
            record_evaluation(session, checklist, evaluation)
        else:
            session.flush()
        if checklist.version != version:  # the row's version is the optimistic lock: never expected
            raise StaleVersion(
                f"checklist {checklist.id} is at version {checklist.version}, not {version}",
                current_version=checklist.version,
            )
        if status is ChecklistStatus.ENTERED_IN_ERROR:
            response = _response_of_stored(entry, checklist, version, now)
        # No echo: a QuestionnaireResponse that came in from the EHR over /fhir is not written back to it.
        if checklist.source != ChecklistSource.FHIR and (
            status in FINAL_STATUSES
            or (status is ChecklistStatus.ENTERED_IN_ERROR and previous in FINAL_STATUSES)
        ):
            checklist.deliveries.append(
                Delivery(
                    checklist_version=version,
                    site_id=checklist.unit.site_id,
                    status=DeliveryStatus.PENDING,
                    next_attempt_at=now,
                    created_at=now,
                    updated_at=now,
                )
            )
        session.add(
            ChecklistChange(
                checklist_id=checklist.id,
                version=version,
                based_on=based_on,
                operation=operation,
                payload_sha256=payload,
                actor_user_id=actor.user_id,
                actor_client=actor.client,
                reason=reason,
                status=status,
                snapshot=response if status is not ChecklistStatus.IN_PROGRESS else None,
                created_at=now,
            )
        )
        session.add(_audit_event(care_bundle, actor, checklist, operation, based_on, now))
        session.flush()
        # The compliance reports' day counts (decision 0014), in the same transaction.
        after_change(session, pending)


def _response_of_stored(
    entry: CatalogueEntry, checklist: Checklist, version: int, now: dt.datetime
) -> dict[str, Any]:
    """The QuestionnaireResponse of a version whose answers did not change (entered in error)."""
    return questionnaire_response(
        entry.care_bundle,
        answers_of(entry.care_bundle, checklist),
        checklist_id=checklist.id,
        status=checklist.status,
        subject_system=checklist.patient_identifier_system,
        subject_value=checklist.patient_identifier,
        encounter=checklist.encounter_reference,
        version=version,
        now=now,
    )


def _audit_event(
    care_bundle: CareBundle,
    actor: Actor,
    checklist: Checklist,
    operation: ChangeOperation,
    based_on: int,
    now: dt.datetime,
) -> AuditEvent:
    """Versions, ids and status only: never the patient identifier, answers or a reason."""
    return AuditEvent(
        occurred_at=now,
        actor_user_id=actor.user_id,
        actor_client=actor.client,
        action=AuditAction.CREATE if operation is ChangeOperation.START else AuditAction.UPDATE,
        entity_type="checklist",
        entity_id=str(checklist.id),
        detail={
            "operation": str(operation),
            "version": checklist.version,
            "based_on": based_on,
            "status": checklist.status,
            "care_bundle_id": care_bundle.id,
            "care_bundle_version": care_bundle.version,
        },
    )


@contextmanager
def _concurrent_change_refused(checklist_id: uuid.UUID) -> Iterator[None]:
    """A change that lost a race at write time (PostgreSQL, where two transactions can get this far) is a
    conflict to retry, not a server error; a retried replay is then recognised as one."""
    try:
        yield
    except StaleDataError as error:
        raise StaleVersion(
            f"checklist {checklist_id} was changed by another request meanwhile: read it again",
            current_version=None,
        ) from error
    except IntegrityError as error:
        if not _is_duplicate_change(error):
            raise
        raise Conflict(
            f"checklist {checklist_id} was written by another request meanwhile: read it again"
        ) from error


_RACED_CONSTRAINTS = frozenset(
    {"pk_checklist", "uq_checklist_change_checklist_version", "uq_checklist_change_checklist_based_on"}
)


def _is_duplicate_change(error: IntegrityError) -> bool:
    constraint = getattr(getattr(error.orig, "diag", None), "constraint_name", None)
    if constraint is not None:
        return constraint in _RACED_CONSTRAINTS
    message = str(error.orig)
    return message.startswith(
        ("UNIQUE constraint failed: checklist.id", "UNIQUE constraint failed: checklist_change.")
    )


def anchor_value(care_bundle: CareBundle, anchor_time: dt.datetime) -> dt.date:
    """The anchor's answer: the instant, or its local date for a date anchor."""
    if care_bundle.anchor.type == "dateTime":
        return anchor_time
    return anchor_time.astimezone(ZoneInfo(care_bundle.timezone)).date()


def _anchor_instant(care_bundle: CareBundle, answers: CheckedAnswers) -> dt.datetime | None:
    """``checklist.anchor_time`` from the anchor's answer (a date anchor: its local midnight)."""
    found = answers.get(care_bundle.anchor.id)
    if not found:
        return None
    return instant(found[0], ZoneInfo(care_bundle.timezone))
