"""Reading QuestionnaireResponses on ``/fhir`` beyond ``read``: ``vread``, ``_history`` and search, for
system clients whose token allows it, within the units the token sees (another unit's is not found).

Search parameters: ``identifier`` (``system|value``: the sender's, or Careloop's checklist identifier),
``subject:identifier`` (``system|value``, e.g. the NHS number), ``questionnaire`` (a bare canonical matches
every version, ``url|version`` one), ``status``, ``authored`` (``ge``/``le``/``gt``/``lt``/``eq`` with a
date or date-time), with ``_sort`` (``authored`` or ``-authored``, the default) and the result parameters
every search takes (``service.fhir_api.serving``: ``_count``, default 20, at most 100, ``_offset``,
``_summary``, ``_elements``, ``_total``); ``next`` links page through the rest. Unknown parameters are
refused (400).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

from flask import Response, request
from sqlalchemy import Select, false, func, select

from fhir_adapters.operation_outcome import Issue
from fhir_adapters.questionnaire_response import CHECKLIST_IDENTIFIER_SYSTEM
from service.auth import tokens
from service.checklists import history, snapshot
from service.errors import InvalidInput, NotFound
from service.extensions import db
from service.fhir_api.questionnaire_responses import (
    client_actor,
    client_and_checklist,
    current_resource,
    with_sender_identifier,
)
from service.fhir_api.responses import fhir_response
from service.fhir_api.serving import NOT_SEARCH_PARAMS, ResultParams, result_params, search_bundle
from service.fhir_api.views import QUESTIONNAIRE_RESPONSE_SEARCH_PARAMS, base_url, bp
from service.models import Checklist

_STATUSES = {"in-progress", "completed", "amended", "entered-in-error"}
DEFAULT_COUNT = 20


@bp.get("/QuestionnaireResponse/<string:resource_id>/_history/<string:version_id>")
def vread_questionnaire_response(resource_id: str, version_id: str) -> Response:
    actor, checklist = client_and_checklist("read", resource_id)
    if not version_id.isdigit() or len(version_id) > 9:
        raise NotFound(f"no version {version_id[:20]}")
    version = int(version_id)
    if version == checklist.version:
        resource = current_resource(checklist, actor)
    else:
        # Earlier drafts keep no snapshot: 404.
        resource = with_sender_identifier(checklist, snapshot(db.session, actor, checklist.id, version))
    return fhir_response(resource, headers={"ETag": f'W/"{version}"'})


@bp.get("/QuestionnaireResponse/<string:resource_id>/_history")
def history_of_questionnaire_response(resource_id: str) -> Response:
    """Every version that keeps a QuestionnaireResponse (final ones, and the current one), newest first."""
    actor, checklist = client_and_checklist("read", resource_id)
    entries = []
    for change in reversed(history(db.session, actor, checklist.id)):
        if change.version == checklist.version:
            resource = current_resource(checklist, actor)
        elif change.snapshot is not None:
            resource = with_sender_identifier(checklist, dict(change.snapshot))
        else:
            continue
        url = f"{base_url()}/QuestionnaireResponse/{checklist.id}"
        entries.append(
            {
                "fullUrl": url,
                "resource": resource,
                "request": {
                    "method": "POST" if change.based_on == 0 else "PUT",
                    "url": "QuestionnaireResponse",
                },
                "response": {"status": "200", "etag": f'W/"{change.version}"'},
            }
        )
    bundle = {"resourceType": "Bundle", "type": "history", "total": len(entries), "entry": entries}
    return fhir_response(bundle)


@bp.get("/QuestionnaireResponse")
def search_questionnaire_response() -> Response:
    client = tokens.require("QuestionnaireResponse", "search")
    assert client is not None
    actor = client_actor(client)
    query = select(Checklist).where(Checklist.unit_id.in_(actor.unit_ids or ()))
    used: list[tuple[str, str]] = []
    issues: list[Issue] = []
    params = ResultParams()
    try:
        params = result_params(request.args.to_dict(flat=False), default_count=DEFAULT_COUNT)
    except InvalidInput as bad:  # said with the other problems, in one OperationOutcome
        issues.extend(bad.issues)
    for key in request.args:
        for raw in request.args.getlist(key):
            if key in NOT_SEARCH_PARAMS or key == "_sort":
                continue
            try:
                query = _filter(query, key, raw)
            except ValueError as problem:
                # An identifier's value may be a patient's (an NHS number sent without its system): never
                # echoed; the other parameters' values are.
                sent = key if "identifier" in key else f"{key}={raw[:60]}"
                issues.append(Issue("error", "invalid", f"{sent}: {problem}"))
                continue
            used.append((key, raw))
    sort = request.args.get("_sort", "-authored")
    if sort not in ("authored", "-authored"):
        issues.append(Issue("error", "invalid", f"_sort={sort[:40]}: authored or -authored"))
    if issues:
        raise InvalidInput("bad search parameter", issues=issues)
    updated = Checklist.updated_at
    ordered = query.order_by(updated.desc() if sort == "-authored" else updated.asc(), Checklist.id)

    def fetch(offset: int, limit: int | None) -> list[dict[str, Any]]:
        rows = db.session.scalars(ordered.offset(offset).limit(limit)).all()
        return [current_resource(row, actor) for row in rows]

    def count_matches() -> int:
        return db.session.scalar(select(func.count()).select_from(query.subquery())) or 0

    bundle = search_bundle(
        "QuestionnaireResponse",
        params,
        [*used, ("_sort", sort)],
        base_url=base_url(),
        count_matches=count_matches,
        fetch=fetch,
    )
    return fhir_response(bundle)


def _pair(raw: str) -> tuple[str, str]:
    system, bar, value = raw.partition("|")
    if not bar or not system or not value:
        raise ValueError("give system|value")
    return system, value


def _filter(query: Select[Any], key: str, raw: str) -> Select[Any]:
    if key == "identifier":
        system, value = _pair(raw)
        if system == CHECKLIST_IDENTIFIER_SYSTEM:
            try:
                return query.where(Checklist.id == uuid.UUID(value))
            except ValueError:
                return query.where(false())  # no checklist has that identifier
        return query.where(
            Checklist.external_identifier_system == system, Checklist.external_identifier_value == value
        )
    if key == "subject:identifier":
        system, value = _pair(raw)
        return query.where(
            Checklist.patient_identifier_system == system,
            Checklist.patient_identifier == value.replace(" ", ""),
        )
    if key == "questionnaire":
        url, bar, version = raw.partition("|")
        care_bundle_id = (
            url.rstrip("/").rsplit("/Questionnaire/", 1)[-1] if "/Questionnaire/" in url else None
        )
        if not care_bundle_id:
            raise ValueError("give the Questionnaire's canonical URL (optionally |version)")
        query = query.where(Checklist.care_bundle_id == care_bundle_id)
        return query.where(Checklist.care_bundle_version == version) if bar else query
    if key == "status":
        wanted = [value for value in raw.split(",") if value]
        if not wanted or not set(wanted) <= _STATUSES:
            raise ValueError(f"status is one of {', '.join(sorted(_STATUSES))}")
        return query.where(Checklist.status.in_(wanted))
    if key == "authored":
        prefix, moment = (raw[:2], raw[2:]) if raw[:2] in ("ge", "le", "gt", "lt", "eq") else ("eq", raw)
        start, end = _instant_range(moment)
        column = Checklist.updated_at
        return {
            "ge": query.where(column >= start),
            "gt": query.where(column >= end),
            "le": query.where(column < end),
            "lt": query.where(column < start),
            "eq": query.where(column >= start, column < end),
        }[prefix]
    names = ", ".join(name for name, _, _ in QUESTIONNAIRE_RESPONSE_SEARCH_PARAMS)
    raise ValueError(f"unknown search parameter; supported: {names}")


_PARTIAL_DATE = re.compile(r"^(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2}))?)?$")
_DATE_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?P<seconds>:\d{2}(?P<fraction>\.\d{1,6})?)?(?:Z|[+-]\d{2}:\d{2})$"
)


def _instant_range(text: str) -> tuple[dt.datetime, dt.datetime]:
    """The instants a FHIR date or date-time covers, at its own precision (FHIR search, "date"): ``2026``,
    ``2026-03`` and ``2026-03-29`` are that whole year, month or day (UTC); a date-time is the minute, second
    or fraction it names. A date-time needs a time zone."""
    problem = "a date (2026, 2026-03, 2026-03-29) or a date-time with a time zone (2026-03-29T09:15Z)"
    try:
        if (partial := _PARTIAL_DATE.match(text)) is not None:
            year, month, day = int(partial["year"]), int(partial["month"] or 1), int(partial["day"] or 1)
            start = dt.datetime(year, month, day, tzinfo=dt.UTC)
            if partial["day"]:
                return start, start + dt.timedelta(days=1)
            if partial["month"]:
                return start, (start + dt.timedelta(days=32)).replace(day=1)
            return start, start.replace(year=year + 1)
        if (whole := _DATE_TIME.match(text)) is None:
            raise ValueError(problem)
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError):
        raise ValueError(problem) from None
    if whole["fraction"]:
        width = dt.timedelta(seconds=10 ** -(len(whole["fraction"]) - 1))
    else:
        width = dt.timedelta(seconds=1 if whole["seconds"] else 60)
    return moment, moment + width
