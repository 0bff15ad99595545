"""Reading QuestionnaireResponses on ``/fhir`` beyond ``read``: ``vread``, ``_history`` and search, for
system clients whose token allows it, within the units the token sees (another unit's is not found).

Search parameters: ``identifier`` (``system|value``: the sender's, or Careloop's checklist identifier),
``subject:identifier`` (``system|value``, e.g. the NHS number), ``questionnaire`` (a bare canonical matches
every version, ``url|version`` one), ``status``, ``authored`` (``ge``/``le``/``gt``/``lt``/``eq`` with a
date or date-time), with ``_count`` (at most 100, default 20), ``_offset`` and ``_sort`` (``authored`` or
``-authored``); ``next`` links page through the rest. Unknown parameters are refused (400).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any
from urllib.parse import urlencode

from flask import Response, request
from sqlalchemy import Select, false, func, select

from fhir_adapters.capability import searchset
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
from service.fhir_api.views import QUESTIONNAIRE_RESPONSE_SEARCH_PARAMS, base_url, bp
from service.models import Checklist

_STATUSES = {"in-progress", "completed", "amended", "entered-in-error"}
_RESULT = {"_count", "_offset", "_sort", "_format", "_total"}
DEFAULT_COUNT = 20
MAX_COUNT = 100


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
    for key in request.args:
        for raw in request.args.getlist(key):
            if key in _RESULT:
                continue
            try:
                query = _filter(query, key, raw)
            except ValueError as problem:
                issues.append(Issue("error", "invalid", f"{key}={raw[:60]}: {problem}"))
                continue
            used.append((key, raw))
    count, offset, descending = _paging(issues)
    if issues:
        raise InvalidInput("bad search parameter", issues=issues)
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    order = Checklist.updated_at.desc() if descending else Checklist.updated_at.asc()
    rows = db.session.scalars(query.order_by(order, Checklist.id).offset(offset).limit(count)).all()
    shaping = [("_count", str(count))] + ([("_sort", "-authored" if descending else "authored")])
    self_url = f"{base_url()}/QuestionnaireResponse?{urlencode(used + shaping + [('_offset', str(offset))])}"
    bundle = searchset([current_resource(row, actor) for row in rows], self_url=self_url, base_url=base_url())
    bundle["total"] = total
    if offset + count < total:
        following = urlencode(used + shaping + [("_offset", str(offset + count))])
        bundle["link"].append({"relation": "next", "url": f"{base_url()}/QuestionnaireResponse?{following}"})
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


def _instant_range(text: str) -> tuple[dt.datetime, dt.datetime]:
    """The instants a FHIR date or date-time covers: ``2026-03-29`` is that whole UTC day."""
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
            return start, start + dt.timedelta(days=1)
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("a date (2026-03-29) or a date-time with a time zone") from None
    if moment.tzinfo is None:
        raise ValueError("a date-time needs a time zone")
    return moment, moment + dt.timedelta(seconds=1)


def _paging(issues: list[Issue]) -> tuple[int, int, bool]:
    count, offset, descending = DEFAULT_COUNT, 0, True
    raw_count = request.args.get("_count")
    if raw_count is not None:
        if raw_count.isdigit() and len(raw_count) <= 6:
            count = min(int(raw_count), MAX_COUNT)
        else:
            issues.append(Issue("error", "invalid", f"_count={raw_count[:40]}: a whole number"))
    raw_offset = request.args.get("_offset")
    if raw_offset is not None:
        if raw_offset.isdigit() and len(raw_offset) <= 9:
            offset = int(raw_offset)
        else:
            issues.append(Issue("error", "invalid", f"_offset={raw_offset[:40]}: a whole number"))
    sort = request.args.get("_sort")
    if sort is not None:
        if sort not in ("authored", "-authored"):
            issues.append(Issue("error", "invalid", f"_sort={sort[:40]}: authored or -authored"))
        descending = sort == "-authored"
    return count, offset, descending
