"""``/api/compliance/report`` (JSON), ``/report.csv`` and the drill-down ``/checklists``: thin views over
:func:`service.compliance.report.build_report` and :func:`service.compliance.counts.checklists_behind`.

Who may ask and on which units: :mod:`service.compliance.api.access`. A query that names something unknown
gets 404 (care bundle, unit, site) or 422 with field errors (measure, version, a period or rebase point that
starts no period, a range too long); nothing is echoed beyond 64 characters.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, NoReturn

from flask import Response
from marshmallow import RAISE
from sqlalchemy import select
from werkzeug.exceptions import UnprocessableEntity

from schemas.compliance import DrillDownOut, DrillDownQuery, ReportOut, ReportQuery
from service.care_bundles import CareBundleCatalogue, current_catalogue
from service.compliance import csv_export
from service.compliance.api.access import (
    Caller,
    Place,
    after_compliance_request,
    audit_identifier_reads,
    current_caller,
    resolve_place,
)
from service.compliance.api.blueprint import SIGNED_IN, bp
from service.compliance.api.present import chart_of, period_of, period_rows, scope_of
from service.compliance.counts import Measure, MeasureKind, Scope
from service.compliance.periods import Interval, local_today, period_start, periods_covering
from service.compliance.report import (
    MeasureInfo,
    Report,
    ReportRequest,
    behind_any,
    build_report,
    measures_of,
)
from service.errors import InvalidInput, Unprocessable
from service.extensions import db
from service.models import Checklist
from service.spc import ChartKind, ImprovementDirection

bp.after_request(after_compliance_request)

_REFUSALS = {
    401: "Nobody signed in, or the bearer token is not valid",
    403: "A role or token scope that may not read compliance",
    404: "No such care bundle, or no such unit or site that the caller reports on",
}


class QueryRefused(UnprocessableEntity):
    """A 422 naming the query field at fault (the JSON error's ``errors``, as webargs' own)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__("the query is not valid")
        self.data = {"messages": {"query": {field: [message]}}}


def _refuse(field: str, message: str) -> NoReturn:
    raise QueryRefused(field, message)


@dataclass(frozen=True)
class Asked:
    """A query checked against the catalogue and the caller's units."""

    caller: Caller
    place: Place
    care_bundle_title: str
    measure: MeasureInfo
    versions: tuple[str, ...]
    interval: Interval


def _asked(catalogue: CareBundleCatalogue, query: dict[str, Any]) -> Asked:
    caller = current_caller(db.session)
    care_bundle_id: str = query["care_bundle"]
    infos = measures_of(catalogue, care_bundle_id)  # NotFound for a care bundle that is not loaded
    place = resolve_place(db.session, caller, unit=query.get("unit"), site=query.get("site"))
    wanted = query.get("measure")
    if wanted is None:
        info = next((item for item in infos if item.measure.kind is MeasureKind.COMPOSITE), infos[0])
    else:
        kind, _, measure_id = str(wanted).partition(":")
        found = [item for item in infos if item.measure == Measure(MeasureKind(kind), measure_id)]
        if not found:
            _refuse("measure", f"the care bundle has no {kind} of that id (see /api/compliance/measures)")
        info = found[0]
    loaded = {entry.version for entry in catalogue if entry.care_bundle.id == care_bundle_id}
    versions = tuple(dict.fromkeys(query["versions"]))
    if unknown := [version for version in versions if version not in loaded]:
        _refuse("version", f"not a loaded version of the care bundle: {unknown[0][:32]}")
    return Asked(
        caller=caller,
        place=place,
        care_bundle_title=catalogue.latest[care_bundle_id].care_bundle.title,
        measure=info,
        versions=versions,
        interval=Interval(query["interval"]),
    )


def _range(query: dict[str, Any], interval: Interval, today: dt.date) -> tuple[dt.date, dt.date]:
    """``from`` and ``to``; by default the 52 weeks or 12 months ending with ``to`` (default today)."""
    last: dt.date = query.get("last") or today
    first: dt.date | None = query.get("first")
    if first is None:
        start = period_start(last, interval)
        if interval is Interval.WEEK:
            first = start - dt.timedelta(weeks=51)
        else:
            months = start.year * 12 + start.month - 1 - 11
            first = dt.date(months // 12, months % 12 + 1, 1)
    if first > last:
        _refuse("from", "the range starts after it ends")
    return first, last


def _report(query: dict[str, Any]) -> tuple[Asked, Report, dict[str, Any]]:
    catalogue = current_catalogue()
    asked = _asked(catalogue, query)
    today = local_today(dt.datetime.now(dt.UTC))
    first, last = _range(query, asked.interval, today)
    request = ReportRequest(
        care_bundle_id=query["care_bundle"],
        measure=asked.measure.measure,
        unit_ids=asked.place.unit_ids,
        first=first,
        last=last,
        interval=asked.interval,
        versions=asked.versions,
        chart=ChartKind(query["chart"]),
        direction=ImprovementDirection(query["direction"]),
        target=query.get("target"),
        rebase_at=tuple(query["rebase_at"]),
        baseline_points=query.get("baseline"),
    )
    try:
        report = build_report(db.session, catalogue, request, today)
    except InvalidInput as error:  # a range too long, a rebase point that starts no period
        raise Unprocessable(error.message) from error
    scope = scope_of(
        care_bundle_id=request.care_bundle_id,
        care_bundle_title=asked.care_bundle_title,
        measure=asked.measure,
        place=asked.place,
        versions=asked.versions,
        interval=asked.interval,
        first=first,
        last=last,
        today=today,
    )
    return asked, report, scope


@bp.get("/report")
@bp.arguments(ReportQuery, location="query", unknown=RAISE)
@bp.response(200, ReportOut)
@bp.alt_response(401, description=_REFUSALS[401])
@bp.alt_response(403, description=_REFUSALS[403])
@bp.alt_response(404, description=_REFUSALS[404])
@bp.doc(security=SIGNED_IN)
def report_json(query: dict[str, Any]) -> dict[str, Any]:
    """One measure of a care bundle per week or month on a unit or site, with its SPC chart.

    Each checklist falls in the period of its anchor's local date (Europe/London); only completed and
    amended checklists count; possible duplicates (same patient, care bundle and episode) count once;
    periods not yet over or with checklists still in progress are ``incomplete``."""
    _, report, scope = _report(query)
    return {"scope": scope, "periods": period_rows(report), "chart": chart_of(report)}


@bp.get("/report.csv")
@bp.arguments(ReportQuery, location="query", unknown=RAISE)
@bp.alt_response(401, description=_REFUSALS[401])
@bp.alt_response(403, description=_REFUSALS[403])
@bp.alt_response(404, description=_REFUSALS[404])
@bp.doc(
    security=SIGNED_IN,
    responses={
        "200": {
            "description": "The report as CSV: '#' lines saying what was counted, a header row, one row per "
            "period with the JSON columns; not_applicable as 'reason=count; ...'",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    },
)
def report_csv(query: dict[str, Any]) -> Response:
    """The report as CSV, for spreadsheets (the same query and numbers as ``/report``)."""
    asked, report, scope = _report(query)
    response = Response(
        csv_export.report_csv(_comments(asked, report, scope), period_rows(report)),
        content_type="text/csv; charset=utf-8",
    )
    measure = asked.measure.measure
    name = csv_export.filename(
        scope["care_bundle"]["id"],
        f"{measure.kind}-{measure.id}",
        asked.place.label.replace("/", "-"),
        scope["first"].isoformat(),
        scope["last"].isoformat(),
        str(asked.interval),
    )
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _comments(asked: Asked, report: Report, scope: dict[str, Any]) -> list[str]:
    free = csv_export.free_text
    place = asked.place
    units = " ".join(f"{unit.site.code}/{unit.code} ({free(unit.name)})" for unit in place.units)
    if place.site is not None:
        where = f"site {place.site.code} ({free(place.site.name)}): " + (
            "all its units" if place.site_complete else "the units you report on"
        )
    else:
        where = "unit"
    chart = report.chart
    return [
        "Careloop compliance report",
        f"Care bundle: {scope['care_bundle']['id']} ({free(asked.care_bundle_title)}); versions: "
        + (" ".join(asked.versions) or "all"),
        f"Measure: {asked.measure.measure.kind} {asked.measure.measure.id} ({free(asked.measure.title)})",
        f"Where: {where}; units counted: {units}",
        f"Range: {scope['first'].isoformat()} to {scope['last'].isoformat()} by {asked.interval} "
        + ("(weeks from Monday" if asked.interval is Interval.WEEK else "(calendar months")
        + " of Europe/London dates; whole periods)",
        f"Counted: {csv_export.COUNTED}",
        f"Chart: {chart.kind}; improvement: {chart.improvement_direction}; target: "
        + ("none" if chart.target is None else repr(chart.target))
        + f"; variation: {chart.variation_icon or 'none'}; assurance: {chart.assurance_icon}",
        "Columns: end is the last day of the period; not_applicable is reason=count pairs; "
        "proportions and limits rounded to 6 decimal places",
        f"Made on {scope['today'].isoformat()}",
    ]


@bp.get("/checklists")
@bp.arguments(DrillDownQuery, location="query", unknown=RAISE)
@bp.response(200, DrillDownOut)
@bp.alt_response(401, description=_REFUSALS[401])
@bp.alt_response(403, description=_REFUSALS[403])
@bp.alt_response(404, description=_REFUSALS[404])
@bp.doc(security=SIGNED_IN)
def checklists(query: dict[str, Any]) -> dict[str, Any]:
    """The checklists behind one point: each final checklist anchored in the period with its outcome,
    possible duplicates flagged. Patient identifiers only for users granted the permission (never for
    tokens); each checklist whose identifier is returned is audited (never the identifier itself)."""
    asked = _asked(current_catalogue(), query)
    start: dt.date = query["period"]
    if period_start(start, asked.interval) != start:
        _refuse("period", f"not the first day of a {asked.interval} (weeks start on Monday)")
    period = periods_covering(start, start, asked.interval)[0]
    scope = Scope(query["care_bundle"], asked.place.unit_ids, asked.versions)
    today = local_today(dt.datetime.now(dt.UTC))
    rows = behind_any(db.session, current_catalogue(), scope, asked.measure.measure, period, today)
    units = {unit.id: f"{unit.site.code}/{unit.code}" for unit in asked.place.units}
    found: list[dict[str, Any]] = [
        {
            "checklist_id": row.checklist_id,
            "unit": units.get(row.unit_id, ""),
            "care_bundle_version": row.care_bundle_version,
            "anchor_time": row.anchor_time,
            "completed_at": row.completed_at,
            "status": row.status,
            "outcome": row.outcome,
            "reason": row.reason,
            "duplicate": row.duplicate,
        }
        for row in rows
    ]
    identifiers = asked.caller.may_read_identifiers
    if identifiers and found:
        known = {
            checklist_id: (value, system)
            for checklist_id, value, system in db.session.execute(
                select(Checklist.id, Checklist.patient_identifier, Checklist.patient_identifier_system).where(
                    Checklist.id.in_([row.checklist_id for row in rows])
                )
            )
        }
        for item in found:
            value, system = known[item["checklist_id"]]
            item.update(patient_identifier=value, patient_identifier_system=system)
        audit_identifier_reads(
            asked.caller,
            [str(row.checklist_id) for row in rows],
            care_bundle=query["care_bundle"],
            measure=f"{asked.measure.measure.kind}:{asked.measure.measure.id}",
            period=start.isoformat(),
            listed=len(rows),
        )
    today = local_today(dt.datetime.now(dt.UTC))
    return {
        "scope": scope_of(
            care_bundle_id=query["care_bundle"],
            care_bundle_title=asked.care_bundle_title,
            measure=asked.measure,
            place=asked.place,
            versions=asked.versions,
            interval=asked.interval,
            first=period.start,
            last=period.end - dt.timedelta(days=1),
            today=today,
        ),
        "period": period_of(period),
        "identifiers_included": identifiers,
        "checklists": found,
    }
