"""The ward pages: my units' worklist, starting a checklist, filling it in, completing, amending, history.

Thin views: read the form (``answers_form``), call one lifecycle function, commit once, then redirect (a
completed action) or render the page again with errors (nothing typed is lost: the page shows what was
posted). Every checklist is found through the lifecycle's unit scope, so another unit's is a 404.
"""

from __future__ import annotations

import json
import uuid
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import MultiDict

from fhir_adapters.questionnaire_response import answers_from_response
from service.auth import login_required
from service.care_bundles import current_catalogue
from service.checklists import (
    Evaluation,
    amend,
    complete,
    evaluate,
    get_checklist,
    history,
    mark_entered_in_error,
    save_draft,
    snapshot,
)
from service.checklists.store import answers_of
from service.checklists.timing import bank_holidays
from service.delivery.outbox import latest_states
from service.errors import CareloopError, Conflict, InvalidInput, StaleVersion, Unprocessable
from service.extensions import db
from service.models import AuditAction, ChecklistStatus
from service.ward import filters, offline
from service.ward.answers_form import MAX_INSTANCES, form_values, instance_count, parse_answers
from service.ward.checklist_view import build_fields, humanise_reason, show_answer
from service.ward.merge import encode_base, merge
from service.ward.offline import conflict_reply, done_reply, invalid_reply, wants_json
from service.ward.pages import (
    actor,
    audit_read,
    entry_of,
    flash_done,
    judged,
    now,
    worklist,
    write_audited_reads,
)
from service.ward.start import start_page, start_submit

bp = Blueprint("ward", __name__, url_prefix="/ward")
filters.register(bp)
bp.after_request(write_audited_reads)
offline.register(bp)
_ACTIONS = ("save", "complete", "amend")


@bp.get("/")
@login_required
def index() -> str:
    who = actor()
    rows = worklist(who.unit_ids or frozenset(), now())
    audit_read("checklist", None, AuditAction.SEARCH, listed=len(rows))
    return render_template("ward/worklist.html", rows=rows, now=now())


bp.add_url_rule("/start", "start", login_required(start_page), methods=["GET"])
bp.add_url_rule("/start", "start_submit", login_required(start_submit), methods=["POST"])


def _checklist_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        abort(404)


@bp.get("/checklists/<raw_id>")
@login_required
def checklist(raw_id: str) -> ResponseReturnValue:
    checklist = get_checklist(db.session, actor(), _checklist_id(raw_id))
    audit_read("checklist", str(checklist.id), version=checklist.version)
    answers, evaluation = judged(checklist, now())
    if checklist.status == ChecklistStatus.IN_PROGRESS:
        values = form_values(entry_of(checklist).care_bundle, answers)
        return _form_page(checklist, values, {}, answers, evaluation=evaluation, base_answers=answers)
    return _completed_page(checklist, answers, evaluation)


@bp.post("/checklists/<raw_id>")
@login_required
def submit(raw_id: str) -> ResponseReturnValue:
    """Save a draft, complete, amend, or add/remove a group instance (a save that re-renders).

    A request that prefers JSON (the tablet's replay queue, ``service.ward.offline``) gets what happened
    instead of a page; it may only save, complete or amend."""
    checklist = get_checklist(db.session, actor(), _checklist_id(raw_id))
    as_json = wants_json()
    care_bundle = entry_of(checklist).care_bundle
    form = request.form
    action = form.get("action", "save")
    counts = _instance_counts(care_bundle, form, action)
    parsed = parse_answers(care_bundle, form, instances=counts)
    values = _posted_values(form, counts)
    base_version = _int(form.get("version"))
    if action not in _ACTIONS and (as_json or not action.startswith(("add-", "remove-"))):
        abort(400)
    reason = form.get("reason", "").strip()
    amending = checklist.status != ChecklistStatus.IN_PROGRESS
    if action == "amend" and not amending:  # only a completed checklist is amended
        if as_json:
            return conflict_reply(checklist)
        abort(409)
    if parsed.errors:
        if as_json:
            return invalid_reply(parsed.errors)
        return _form_page(checklist, values, parsed.errors, parsed.answers, status=400, amending=amending)
    try:
        if action == "complete":
            complete(
                db.session,
                current_catalogue(),
                actor(),
                checklist.id,
                base_version=base_version,
                answers=parsed.answers,
                now=now(),
            )
        elif amending and (action == "amend" or not as_json):
            if action != "amend":
                return _form_page(checklist, values, {}, parsed.answers, amending=True)
            amend(
                db.session,
                current_catalogue(),
                actor(),
                checklist.id,
                base_version=base_version,
                answers=parsed.answers,
                reason=reason,
                now=now(),
            )
        else:
            save_draft(
                db.session,
                current_catalogue(),
                actor(),
                checklist.id,
                base_version=base_version,
                answers=parsed.answers,
                now=now(),
            )
    except StaleVersion:
        db.session.rollback()
        fresh = get_checklist(db.session, actor(), checklist.id)
        if as_json:
            return conflict_reply(fresh)
        return _conflict_page(fresh, form, values, amending)
    except (Unprocessable, InvalidInput) as error:
        db.session.rollback()
        errors = _issue_errors(error, entry_of(checklist).care_bundle)
        if as_json:
            return invalid_reply(errors, error.status)
        return _form_page(
            checklist, values, errors, parsed.answers, status=422, amending=amending, refused=error
        )
    except Conflict:
        # Not a change this status allows (a queued save of a checklist completed since): the user decides.
        db.session.rollback()
        if not as_json:
            raise
        return conflict_reply(get_checklist(db.session, actor(), checklist.id))
    db.session.commit()
    if as_json:
        return done_reply(checklist, action)
    if action.startswith(("add-", "remove-")):
        # The new instance holds no answer yet, so the store keeps no trace of it: a redirect would lose
        # it. Show the form as posted (saved, at the new version), with the instance added.
        return _form_page(checklist, values, {}, parsed.answers)
    flash_done(action)
    return redirect(url_for("ward.checklist", raw_id=str(checklist.id)), 303)


@bp.get("/checklists/<raw_id>/amend")
@login_required
def amend_page(raw_id: str) -> ResponseReturnValue:
    checklist = get_checklist(db.session, actor(), _checklist_id(raw_id))
    if checklist.status not in (ChecklistStatus.COMPLETED, ChecklistStatus.AMENDED):
        abort(404)
    answers, evaluation = judged(checklist, now())
    audit_read("checklist", str(checklist.id), version=checklist.version)
    values = form_values(entry_of(checklist).care_bundle, answers)
    return _form_page(
        checklist, values, {}, answers, amending=True, evaluation=evaluation, base_answers=answers
    )


@bp.route("/checklists/<raw_id>/entered-in-error", methods=["GET", "POST"])
@login_required
def entered_in_error(raw_id: str) -> ResponseReturnValue:
    checklist = get_checklist(db.session, actor(), _checklist_id(raw_id))
    if checklist.status == ChecklistStatus.ENTERED_IN_ERROR:
        abort(404)
    error = None
    if request.method == "POST":
        try:
            mark_entered_in_error(
                db.session,
                current_catalogue(),
                actor(),
                checklist.id,
                base_version=_int(request.form.get("version")),
                reason=request.form.get("reason", "").strip(),
                now=now(),
            )
        except StaleVersion:
            db.session.rollback()
            error = "Someone else changed this checklist while you were looking at it. Check it again first."
        except CareloopError as refused:
            db.session.rollback()
            error = "Give a reason of 1 to 500 characters" if "reason" in refused.message else refused.message
        else:
            db.session.commit()
            flash("Checklist marked as entered in error.", "success")
            return redirect(url_for("ward.checklist", raw_id=str(checklist.id)), 303)
        checklist = get_checklist(db.session, actor(), checklist.id)
    entry = entry_of(checklist)
    return render_template(
        "ward/entered_in_error.html", checklist=checklist, care_bundle=entry.care_bundle, error=error
    ), (400 if error else 200)


@bp.get("/checklists/<raw_id>/history")
@login_required
def versions(raw_id: str) -> str:
    checklist_id = _checklist_id(raw_id)
    checklist = get_checklist(db.session, actor(), checklist_id)
    changes = history(db.session, actor(), checklist_id)
    audit_read("checklist", str(checklist_id), version=checklist.version, history=True)
    return render_template(
        "ward/history.html", checklist=checklist, care_bundle=entry_of(checklist).care_bundle, changes=changes
    )


@bp.get("/checklists/<raw_id>/versions/<int:version>")
@login_required
def version(raw_id: str, version: int) -> str:
    checklist_id = _checklist_id(raw_id)
    checklist = get_checklist(db.session, actor(), checklist_id)
    resource = snapshot(db.session, actor(), checklist_id, version)
    audit_read("checklist", str(checklist_id), version=version, snapshot=True)
    care_bundle = entry_of(checklist).care_bundle
    answers = answers_from_response(care_bundle, resource)
    zone = ZoneInfo(care_bundle.timezone)
    rows = [
        (element.text, show_answer(element, answers[element.id], zone))
        for element in (care_bundle.anchor_element, *care_bundle.walk())
        if element.id in answers and not element.is_repeating_group
    ]
    return render_template(
        "ward/version.html",
        checklist=checklist,
        care_bundle=care_bundle,
        version=version,
        resource=resource,
        rows=rows,
    )


@bp.get("/care-bundles/<care_bundle_id>/<version>.json")
@login_required
def care_bundle_definition(care_bundle_id: str, version: str) -> Response:
    """The definition the browser copy of the rules reads, with the bank holidays it needs."""
    entry = current_catalogue().get(care_bundle_id, version)
    if entry is None:
        abort(404)
    response = Response(_definition_json(entry.care_bundle), content_type="application/json; charset=utf-8")
    # A published version never changes; the bank holidays are this year's window: a day is safe.
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response


def _definition_json(care_bundle: Any) -> str:
    today = now().year
    years = range(today - 2, today + 3)
    holidays = {
        calendar: sorted(day.isoformat() for year in years for day in bank_holidays(calendar, year))
        for calendar in ("england-and-wales", "scotland")
    }
    return json.dumps({"careBundle": json.loads(care_bundle.definition_json), "bankHolidays": holidays})


# -- page building ---------------------------------------------------------------------------------------


def _int(raw: str | None) -> int:
    return int(raw) if raw and raw.isdigit() and len(raw) < 10 else -1


def _instance_counts(care_bundle: Any, form: MultiDict[str, str], action: str) -> dict[str, int]:
    counts = {}
    for element in care_bundle.walk():
        if element.is_repeating_group:
            count = instance_count(element, form)
            if action == f"add-{element.id}" and count < (element.max_repeats or MAX_INSTANCES):
                count += 1
            counts[element.id] = count
    return counts


def _posted_values(form: MultiDict[str, str], counts: dict[str, int]) -> dict[str, list[str]]:
    values = {key: form.getlist(key) for key in form if key.startswith(("e-", "g-"))}
    values.update({f"g-{group}-count": [str(count)] for group, count in counts.items()})
    return values


def _issue_errors(error: CareloopError, care_bundle: Any) -> dict[str, str]:
    """Refusals of the lifecycle, by form field (the element's field name) or under ``_form``."""
    errors: dict[str, str] = {}
    for issue in error.issues:
        element_id = getattr(issue, "element_id", None)
        check_id = getattr(issue, "check_id", None)
        field = getattr(issue, "field", None)
        if not element_id and not check_id and field and field != "answers":
            errors.setdefault(f"_{field}", _plain(issue.diagnostics))
            continue
        message = issue.diagnostics
        if element_id and message.startswith(f"{element_id}: "):
            message = message.removeprefix(f"{element_id}: ")
        key = f"e-{element_id}" if element_id else f"_check-{check_id}" if check_id else "_form"
        element = care_bundle.element(element_id) if element_id else None
        errors.setdefault(key, _plain(message, element.text if element is not None else None))
    return errors


def _plain(message: str, question: str | None = None) -> str:
    """The engine's wording, made for people: "Required item 'x' is missing" -> "Answer: <question>"."""
    if "is missing" in message or "has no answer" in message:
        return f"Answer: {question}" if question else "Answer this question"
    return message[:1].upper() + message[1:]


def _form_page(
    checklist: Any,
    values: dict[str, list[str]],
    errors: dict[str, str],
    answers: dict[str, list[Any]],
    *,
    status: int = 200,
    amending: bool = False,
    refused: CareloopError | None = None,
    conflict: Any = None,
    evaluation: Evaluation | None = None,
    base_answers: dict[str, list[Any]] | None = None,
) -> ResponseReturnValue:
    """The checklist form for ``answers`` (``evaluation``: their judgement now, when the caller has it).
    ``base`` (hidden) holds the form values of the stored version it edits (``base_answers``, read from
    the checklist when not given), so a conflicting save can be merged (``service.ward.merge``)."""
    care_bundle = entry_of(checklist).care_bundle
    when = now()
    if evaluation is None:
        evaluation = evaluate(care_bundle, answers, when)
    fields = build_fields(care_bundle, values, evaluation, errors, when, answers)
    stored = base_answers if base_answers is not None else answers_of(care_bundle, checklist)
    base = encode_base(form_values(care_bundle, stored))
    return render_template(
        "ward/checklist.html",
        checklist=checklist,
        care_bundle=care_bundle,
        fields=fields,
        errors=errors,
        evaluation=evaluation,
        amending=amending,
        conflict=conflict,
        base=base,
        reason=request.form.get("reason", "") if request.method == "POST" else "",
        definition_url=url_for(
            "ward.care_bundle_definition", care_bundle_id=care_bundle.id, version=care_bundle.version
        ),
    ), status


def _completed_page(checklist: Any, answers: dict[str, list[Any]], evaluation: Any) -> str:
    care_bundle = entry_of(checklist).care_bundle
    zone = ZoneInfo(care_bundle.timezone)
    rows = []
    for element in (care_bundle.anchor_element, *care_bundle.walk()):
        if element.type in ("group", "display") or element.id in care_bundle.repeating_group_of:
            continue
        outcome = next((o for o in evaluation.outcomes if o.element_id == element.id), None)
        shown = show_answer(element, answers.get(element.id, ()), zone)
        if not shown and (
            outcome is None or outcome.outcome == "not-applicable" and element.compliance is None
        ):
            continue
        judged_outcome = outcome if element.compliance is not None else None
        reason = humanise_reason(care_bundle, judged_outcome.reason) if judged_outcome is not None else None
        rows.append((element, shown, judged_outcome, reason))
    delivery = latest_states(db.session, [checklist.id]).get(checklist.id)
    return render_template(
        "ward/completed.html",
        checklist=checklist,
        care_bundle=care_bundle,
        rows=rows,
        evaluation=evaluation,
        delivery=delivery,
    )


def _conflict_page(
    checklist: Any, form: MultiDict[str, str], posted: dict[str, list[str]], amending: bool
) -> ResponseReturnValue:
    """Someone saved a newer version: merge both people's changes into the form, mark what clashed."""
    care_bundle = entry_of(checklist).care_bundle
    theirs = answers_of(care_bundle, checklist)
    merged = merge(form.get("base", ""), posted, form_values(care_bundle, theirs))
    parsed = parse_answers(care_bundle, MultiDict([(k, v) for k, vs in merged.fields.items() for v in vs]))
    errors = {_element_field(key): "Someone else changed this answer too: check it" for key in merged.clashes}
    return _form_page(
        checklist,
        merged.fields,
        errors,
        parsed.answers,
        status=409,
        amending=amending,
        conflict=merged,
        base_answers=theirs,
    )


def _element_field(key: str) -> str:
    for suffix in ("-day", "-month", "-year", "-time"):
        if key.endswith(suffix):
            return key[: -len(suffix)]
    return key
