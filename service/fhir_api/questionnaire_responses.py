"""``QuestionnaireResponse`` on ``/fhir``: create (POST) and read, through the lifecycle service, for system
clients with a bearer token (``service.auth.tokens``). Issue 10, item 1 (first part).

A POST becomes a checklist of the unit the token is bound to (never a unit named in the resource):
- the resource is read strictly and validated with the SDC rules against the exact ``url|version`` it
  names; one that names no version, or no Questionnaire, is refused with an OperationOutcome;
- ``subject.identifier`` (an NHS or CHI number, or a local number with its system) is required;
- it is idempotent on the client's ``identifier`` (kept as sent) and on ``If-None-Exist: identifier=s|v``:
  a retried POST answers 200 with the checklist made the first time; with no identifier one is minted;
- ``in-progress`` starts and saves a draft, ``completed`` starts and completes (judged, stored, audited);
  it is never written back to the sender's own EHR (no echo: the source is FHIR).
Answers: 201 with ``Location`` (``.../_history/<version>``), ``ETag``, ``Last-Modified`` and the body
``Prefer`` asks for (``return=representation`` by default, ``minimal``, ``OperationOutcome``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from email.utils import format_datetime
from typing import Any

from flask import Response, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from fhir_adapters.identifiers import IDENTIFIER_KINDS
from fhir_adapters.operation_outcome import Issue, operation_outcome
from fhir_adapters.questionnaire_response import CHECKLIST_IDENTIFIER_SYSTEM, answers_from_response
from fhir_adapters.sdc_validation import validate_questionnaire_response
from service.auth import tokens
from service.care_bundles import CatalogueEntry, current_catalogue
from service.checklists import (
    Actor,
    amend,
    complete,
    get_checklist,
    mark_entered_in_error,
    save_draft,
    snapshot,
    start,
)
from service.checklists.lifecycle_records import questionnaire_response
from service.checklists.store import answers_of
from service.errors import (
    CareloopError,
    Forbidden,
    InvalidInput,
    NotFound,
    PreconditionFailed,
    StaleVersion,
    Unprocessable,
)
from service.extensions import db
from service.fhir_api.request_body import read_fhir_json
from service.fhir_api.responses import fhir_response
from service.fhir_api.views import base_url, bp
from service.models import Checklist, ChecklistSource, ChecklistStatus, Unit

_KIND_BY_SYSTEM = {kind.system: kind for kind in IDENTIFIER_KINDS.values() if kind.system}
_STATUSES = {"in-progress", "completed"}


def client_actor(client: tokens.Client) -> Actor:
    token = client.token
    if token.unit_id is not None:
        units = frozenset({token.unit_id})
    else:
        units = frozenset(db.session.scalars(select(Unit.id).where(Unit.site_id == token.site_id)))
    return Actor(user_id=None, client=client.label, unit_ids=units)


def client_and_checklist(
    action: str, resource_id: str, client: tokens.Client | None = None
) -> tuple[Actor, Checklist]:
    """The token's actor and the checklist ``resource_id`` names, for ``action``: another unit's checklist,
    or an id that is not a UUID, is not found (its existence unsaid)."""
    if client is None:
        client = tokens.require("QuestionnaireResponse", action)
        assert client is not None
    actor = client_actor(client)
    try:
        checklist_id = uuid.UUID(resource_id)
    except ValueError:
        raise NotFound(f"QuestionnaireResponse/{resource_id[:40]} is not known here") from None
    return actor, get_checklist(db.session, actor, checklist_id)


def _problem(message: str, expression: str | None = None, code: str = "required") -> Unprocessable:
    return Unprocessable(message, issues=[Issue("error", code, message, expression)])


def _identifier_pair(value: Any, where: str) -> tuple[str, str] | None:
    if value is None:
        return None
    if (
        not isinstance(value, Mapping)
        or not isinstance(value.get("system"), str)
        or not isinstance(value.get("value"), str)
        or not value["system"]
        or not value["value"]
        or len(value["system"]) > 255
        or len(value["value"]) > 255
    ):
        raise _problem(f"{where} needs a system and a value (each 1 to 255 characters)", where, "invalid")
    return value["system"], value["value"]


def _if_none_exist() -> tuple[str, str] | None:
    header = request.headers.get("If-None-Exist")
    if header is None:
        return None
    name, _, raw = header.partition("=")
    system, bar, value = raw.partition("|")
    if name.strip() != "identifier" or not bar or not system or not value:
        raise InvalidInput("If-None-Exist takes identifier=<system>|<value>")
    return system, value


def _existing(pair: tuple[str, str], actor: Actor) -> Checklist | None:
    system, value = pair
    if system == CHECKLIST_IDENTIFIER_SYSTEM:
        try:
            found = db.session.get(Checklist, uuid.UUID(value))
        except ValueError:
            return None
    else:
        found = db.session.scalar(
            select(Checklist).where(
                Checklist.external_identifier_system == system, Checklist.external_identifier_value == value
            )
        )
    if found is not None and not actor.may_see(found.unit_id):
        raise Forbidden("a QuestionnaireResponse with this identifier belongs to another unit")
    return found


def _entry(body: Mapping[str, Any]) -> CatalogueEntry:
    reference = body.get("questionnaire")
    if not isinstance(reference, str) or not reference:
        raise _problem(
            "name the Questionnaire as url|version (questionnaire is missing)", "QuestionnaireResponse"
        )
    if "|" not in reference:
        raise _problem(
            "name the Questionnaire's version too (url|version): a bare canonical would change meaning "
            "when a new version is published",
            "QuestionnaireResponse.questionnaire",
            "invalid",
        )
    entry = current_catalogue().by_canonical.get(reference)
    if entry is None:
        raise _problem(
            "the Questionnaire named is not served here", "QuestionnaireResponse.questionnaire", "not-found"
        )
    return entry


def _subject(body: Mapping[str, Any]) -> tuple[str, str, str | None]:
    """(patient kind, value, local system) from ``subject.identifier``."""
    subject = body.get("subject")
    identifier = subject.get("identifier") if isinstance(subject, Mapping) else None
    if identifier is None:
        raise _problem(
            "send the patient as subject.identifier (system https://fhir.nhs.uk/Id/nhs-number and the NHS "
            "number, or a local number with its system): a literal Patient reference alone cannot be matched",
            "QuestionnaireResponse.subject",
        )
    system, value = _identifier_pair(identifier, "QuestionnaireResponse.subject.identifier") or ("", "")
    kind = _KIND_BY_SYSTEM.get(system)
    if kind is not None:
        return kind.code, value, None
    return "local", value, system


def _anchor_time(entry: CatalogueEntry, answers: Mapping[str, list[Any]]) -> dt.datetime:
    care_bundle = entry.care_bundle
    values = answers.get(care_bundle.anchor.id) or []
    if not values or not isinstance(values[0], dt.datetime):
        raise _problem(
            f"answer item '{care_bundle.anchor.id}' ({care_bundle.anchor.text}): the care bundle's timings "
            "run from it",
            "QuestionnaireResponse.item",
        )
    return values[0]


def current_resource(checklist: Checklist, actor: Actor) -> dict[str, Any]:
    """The QuestionnaireResponse of the checklist's current version (its snapshot once final)."""
    entry = current_catalogue().get(checklist.care_bundle_id, checklist.care_bundle_version)
    if entry is None:
        raise NotFound("the care bundle version of this checklist is not loaded")
    if checklist.status == ChecklistStatus.IN_PROGRESS:
        resource = questionnaire_response(
            entry.care_bundle,
            answers_of(entry.care_bundle, checklist),
            checklist_id=checklist.id,
            status=str(checklist.status),
            subject_system=checklist.patient_identifier_system,
            subject_value=checklist.patient_identifier,
            encounter=checklist.encounter_reference,
            version=checklist.version,
            now=checklist.updated_at,
        )
    else:
        resource = snapshot(db.session, actor, checklist.id, checklist.version)
    return with_sender_identifier(checklist, resource)


def with_sender_identifier(checklist: Checklist, resource: dict[str, Any]) -> dict[str, Any]:
    """``resource`` with the identifier its sender gave, when the checklist came with one (kept as sent)."""
    if checklist.external_identifier_system and checklist.external_identifier_value:
        resource["identifier"] = {
            "system": checklist.external_identifier_system,
            "value": checklist.external_identifier_value,
        }
    return resource


def _reply(resource: dict[str, Any], status: int) -> Response:
    meta = resource.get("meta") or {}
    version = str(meta.get("versionId", ""))
    headers = {
        "ETag": f'W/"{version}"',
        "Location": f"{base_url()}/QuestionnaireResponse/{resource['id']}/_history/{version}",
    }
    if meta.get("lastUpdated"):
        moment = dt.datetime.fromisoformat(str(meta["lastUpdated"]).replace("Z", "+00:00"))
        headers["Last-Modified"] = format_datetime(moment.astimezone(dt.UTC), usegmt=True)
    prefer = request.headers.get("Prefer", "").replace(" ", "")
    if "return=minimal" in prefer:
        minimal = Response(status=status, headers=headers)
        del minimal.headers["Content-Type"]  # no body: no media type (and nothing to compress)
        return minimal
    if "return=OperationOutcome" in prefer:
        done = "created" if status == 201 else "already there (identifier matched): nothing changed"
        return fhir_response(
            operation_outcome([Issue("information", "informational", done)]), status, headers
        )
    return fhir_response(resource, status, headers)


@bp.post("/QuestionnaireResponse")
def create_questionnaire_response() -> Response:
    client = tokens.require("QuestionnaireResponse", "create")
    assert client is not None
    if client.token.unit_id is None:
        raise Forbidden("this token is bound to no unit: it may not create (flask tokens create --unit)")
    actor = client_actor(client)
    conditional = _if_none_exist()
    if conditional is not None and (found := _existing(conditional, actor)) is not None:
        return _reply(current_resource(found, actor), 200)
    body = read_fhir_json()
    if not isinstance(body, dict) or body.get("resourceType") != "QuestionnaireResponse":
        raise InvalidInput("send a QuestionnaireResponse")
    given = _identifier_pair(body.get("identifier"), "QuestionnaireResponse.identifier")
    if given is not None and (found := _existing(given, actor)) is not None:
        return _reply(current_resource(found, actor), 200)  # a retry: the checklist made the first time
    status = body.get("status")
    if not isinstance(status, str) or status not in _STATUSES:
        raise _problem(
            "status must be in-progress or completed on create", "QuestionnaireResponse.status", "invalid"
        )
    entry = _entry(body)
    errors = [
        issue
        for issue in validate_questionnaire_response(entry.compiled_questionnaire, body)
        if issue.is_error
    ]
    if errors:
        raise Unprocessable("the QuestionnaireResponse does not conform to its Questionnaire", issues=errors)
    kind, value, local_system = _subject(body)
    answers = answers_from_response(entry.care_bundle, body)
    anchor = _anchor_time(entry, answers)
    ours = given is not None and given[0] == CHECKLIST_IDENTIFIER_SYSTEM
    checklist_id = uuid.UUID(given[1]) if ours and given is not None else uuid.uuid4()
    unit = db.session.get(Unit, client.token.unit_id)
    assert unit is not None
    now = dt.datetime.now(dt.UTC)
    encounter = (
        body.get("encounter", {}).get("reference") if isinstance(body.get("encounter"), dict) else None
    )
    try:
        checklist = start(
            db.session,
            current_catalogue(),
            actor,
            checklist_id=checklist_id,
            care_bundle_id=entry.care_bundle.id,
            version=entry.version,
            unit=unit,
            patient_kind=kind,
            patient_value=value,
            patient_system=local_system,
            encounter=encounter if isinstance(encounter, str) else None,
            anchor_time=anchor,
            now=now,
            source=ChecklistSource.FHIR,
            external_identifier=given if given is not None and not ours else None,
        )
        change = complete if status == "completed" else save_draft
        checklist = change(
            db.session,
            current_catalogue(),
            actor,
            checklist.id,
            base_version=checklist.version,
            answers=answers,
            now=now,
        )
        db.session.commit()
    except IntegrityError as error:
        # Two sends of one identifier at once (PostgreSQL lets both pass the look-up above): the second's
        # insert waits for the first and breaks the unique identifier; it answers with the first's checklist.
        db.session.rollback()
        if (
            given is None
            or not _breaks_external_identifier(error)
            or (found := _existing(given, actor)) is None
        ):
            raise
        return _reply(current_resource(found, actor), 200)
    return _reply(current_resource(get_checklist(db.session, actor, checklist.id), actor), 201)


def _breaks_external_identifier(error: IntegrityError) -> bool:
    constraint = getattr(getattr(error.orig, "diag", None), "constraint_name", None)
    if constraint is not None:
        return bool(constraint == "uq_checklist_external_identifier")
    return str(error.orig).startswith("UNIQUE constraint failed: checklist.external_identifier_system")


@bp.get("/QuestionnaireResponse/<string:resource_id>")
def read_questionnaire_response(resource_id: str) -> Response:
    actor, checklist = client_and_checklist("read", resource_id)
    return _reply(current_resource(checklist, actor), 200)


#: Why a change came over FHIR, where the lifecycle needs one (an amendment, entered in error): FHIR has no
#: place for it in a QuestionnaireResponse, so the client's name stands in.
_REASONS = {
    "amended": "amended by the system client {name}",
    "entered-in-error": "entered in error by {name}",
}


class PreconditionRequired(CareloopError):
    status = 428
    fhir_code = "conflict"


@bp.put("/QuestionnaireResponse/<string:resource_id>")
def update_questionnaire_response(resource_id: str) -> Response:
    """A new version: ``If-Match: W/"<version>"`` is required (a stale one: 412, never an overwrite).

    By the status sent: ``in-progress`` saves a draft, ``completed`` completes (or, once completed,
    ``amended`` amends), ``entered-in-error`` marks it so; as the ward would, through the lifecycle."""
    client = tokens.require("QuestionnaireResponse", "update")
    assert client is not None
    if client.token.unit_id is None:  # a site-level token is a read-only client of the whole site
        raise Forbidden("this token is bound to no unit: it may not update (flask tokens create --unit)")
    actor, checklist = client_and_checklist("update", resource_id, client)
    match = request.headers.get("If-Match", "").strip().removeprefix("W/").strip('"')
    if not match:
        raise PreconditionRequired('send If-Match: W/"<version>" (the version read): no blind overwrites')
    if not match.isdigit() or int(match) != checklist.version:
        raise PreconditionFailed(
            f"the QuestionnaireResponse is at version {checklist.version}: read it again"
        )
    body = read_fhir_json()
    if not isinstance(body, dict) or body.get("resourceType") != "QuestionnaireResponse":
        raise InvalidInput("send a QuestionnaireResponse")
    if body.get("id") not in (None, resource_id):
        raise _problem("the id in the body is not the id in the URL", "QuestionnaireResponse.id", "invalid")
    entry = _entry(body)
    if (entry.care_bundle.id, entry.version) != (checklist.care_bundle_id, checklist.care_bundle_version):
        raise _problem(
            "a new version names the same Questionnaire version", "QuestionnaireResponse.questionnaire"
        )
    status = body.get("status")
    issues = validate_questionnaire_response(entry.compiled_questionnaire, body)
    errors = [issue for issue in issues if issue.is_error]
    if errors and status != "entered-in-error":
        raise Unprocessable("the QuestionnaireResponse does not conform to its Questionnaire", issues=errors)
    answers = answers_from_response(entry.care_bundle, body)
    now = dt.datetime.now(dt.UTC)
    catalogue = current_catalogue()
    version = checklist.version
    reason = _REASONS.get(str(status), "").format(name=client.token.name)[:500]
    try:
        if status == "entered-in-error":
            mark_entered_in_error(
                db.session, catalogue, actor, checklist.id, base_version=version, reason=reason, now=now
            )
        elif status == "amended" or (
            status == "completed" and checklist.status != ChecklistStatus.IN_PROGRESS
        ):
            amend(
                db.session,
                catalogue,
                actor,
                checklist.id,
                base_version=version,
                answers=answers,
                reason=_REASONS["amended"].format(name=client.token.name)[:500],
                now=now,
            )
        elif status in ("completed", "in-progress"):
            change = complete if status == "completed" else save_draft
            change(db.session, catalogue, actor, checklist.id, base_version=version, answers=answers, now=now)
        else:
            raise _problem(
                "status must be in-progress, completed, amended or entered-in-error", None, "invalid"
            )
    except StaleVersion as stale:
        raise PreconditionFailed(stale.message) from stale
    db.session.commit()
    return _reply(current_resource(get_checklist(db.session, actor, checklist.id), actor), 200)
