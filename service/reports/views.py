"""The ``/reports`` pages: the care bundles a QI lead (or admin) reports on, and the chart of one measure.

Thin views: parse the GET form (:mod:`service.reports.query`), build the report with
:func:`service.compliance.report.build_report` (the builder the API uses too), draw it
(:mod:`service.reports.svg`). Form problems are NHS.UK form errors with status 400, a unit or site the user
does not report on is 404, and a clinician gets 403 from ``require_role``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from flask import Blueprint, Response, render_template, request, url_for
from markupsafe import Markup
from sqlalchemy import select

from schemas.care_bundle import CareBundle
from service.auth import require_role, signed_in_user
from service.care_bundles import CareBundleCatalogue, current_catalogue
from service.compliance.counts import Measure, MeasureKind, Scope
from service.compliance.periods import Period, local_today, periods_covering
from service.compliance.report import Report, behind_any, build_report, measures_of
from service.errors import InvalidInput
from service.extensions import db
from service.models import Role, Unit
from service.reports.markup import (
    ASSURANCE_LABELS,
    VARIATION_LABELS,
    assurance_icon_svg,
    percent,
    variation_icon_svg,
)
from service.reports.query import ParsedQuery, ReportScope, canonical, changed, measure_key, parse_query
from service.reports.svg import chart_svg, small_chart_svg
from service.reports.words import RULE_WORDS, ChartLabels

bp = Blueprint("reports", __name__, url_prefix="/reports")


def reportable_units() -> list[Unit]:
    """The units the signed-in user reports on: an admin every unit, anyone else their own."""
    user = signed_in_user()
    if user.role == Role.ADMIN:
        return list(db.session.scalars(select(Unit).order_by(Unit.site_id, Unit.code)))
    return sorted(user.units, key=lambda unit: (unit.site_id, unit.code))


def _offered(units: list[Unit], catalogue: CareBundleCatalogue) -> list[str]:
    return sorted({key for unit in units for key in unit.care_bundle_ids if key in catalogue.latest})


@bp.get("/")
@require_role(Role.QI_LEAD, Role.ADMIN)
def index() -> str | tuple[str, int]:
    units = reportable_units()
    catalogue = current_catalogue()
    offered = _offered(units, catalogue)
    care_bundles = [catalogue.latest[key].care_bundle for key in offered]
    if "care_bundle" not in request.args:
        return render_template("reports/index.html", units=units, care_bundles=care_bundles)
    today = local_today(dt.datetime.now(dt.UTC))
    parsed = parse_query(request.args, units, offered, catalogue, today)
    context = {
        "parsed": parsed,
        "values": parsed.values,
        "items": form_items(parsed, units, care_bundles),
        "percent": percent,
    }
    if parsed.request is None or parsed.scope is None:
        return render_template("reports/chart.html", **context), parsed.status
    try:
        report = build_report(db.session, catalogue, parsed.request, today)
    except InvalidInput as error:
        parsed.fail("report", error.message)
        return render_template("reports/chart.html", **context), 400
    page = _chart_page(report, parsed.scope, catalogue, today)
    return render_template("reports/chart.html", **context, page=page)


@bp.get("/chart.svg")
@require_role(Role.QI_LEAD, Role.ADMIN)
def chart_download() -> Response:
    """The chart of the page's query as an SVG file (the page's download link)."""
    units = reportable_units()
    catalogue = current_catalogue()
    today = local_today(dt.datetime.now(dt.UTC))
    parsed = parse_query(request.args, units, _offered(units, catalogue), catalogue, today)
    if parsed.request is None or parsed.scope is None:
        problems = "; ".join(parsed.errors.values())
        return Response(problems, status=parsed.status, mimetype="text/plain")
    try:
        report = build_report(db.session, catalogue, parsed.request, today)
    except InvalidInput as error:
        return Response(error.message, status=400, mimetype="text/plain")
    svg = '<?xml version="1.0" encoding="UTF-8"?>\n' + chart_svg(report, _labels(report, parsed.scope))
    asked = report.request
    name = f"{asked.care_bundle_id}-{asked.measure.id}-{asked.first}-{asked.last}"
    response = Response(svg, mimetype="image/svg+xml")
    response.headers["Content-Disposition"] = f'attachment; filename="{_safe(name)}.svg"'
    response.headers["Content-Security-Policy"] = "default-src 'none'"
    return response


@bp.get("/checklists")
@require_role(Role.QI_LEAD, Role.ADMIN)
def checklists_behind_point() -> str | tuple[str, int]:
    """The checklists behind one point of a chart (the chart's query and ``period``, the period's first day):
    each with its outcome, possible duplicates marked. No patient identifier is shown here: users granted
    that permission get them from ``/api/compliance/checklists``, where every such read is audited."""
    units = reportable_units()
    catalogue = current_catalogue()
    today = local_today(dt.datetime.now(dt.UTC))
    parsed = parse_query(request.args, units, _offered(units, catalogue), catalogue, today)
    period = _period(parsed, request.args.get("period", ""))
    if parsed.request is None or parsed.scope is None or period is None:
        return render_template("reports/checklists.html", parsed=parsed), parsed.status
    asked = parsed.request
    scope = Scope(asked.care_bundle_id, asked.unit_ids, asked.versions)
    rows = behind_any(db.session, catalogue, scope, asked.measure, period, today)
    names = {unit.id: unit.name for unit in units}
    measure = next(
        info for info in measures_of(catalogue, asked.care_bundle_id) if info.measure == asked.measure
    )
    pairs = [(name, value) for name, value in canonical(asked, parsed.scope)]
    return render_template(
        "reports/checklists.html",
        parsed=parsed,
        period=period,
        measure=measure,
        scope_name=parsed.scope.name,
        rows=rows,
        units=names,
        chart_href=f"{url_for('reports.index')}?{changed(pairs)}",
    )


def _period(parsed: ParsedQuery, raw: str) -> Period | None:
    """The period starting on ``raw`` (a Monday, or the 1st of a month) inside the chart's range."""
    try:
        start = dt.date.fromisoformat(raw.strip())
    except ValueError:
        parsed.fail("period", "Choose a point of the chart (its period's first day)")
        return None
    if parsed.request is None:
        return None
    found = periods_covering(start, start, parsed.request.interval)[0]
    if found.start != start:
        parsed.fail("period", "Choose a point of the chart (its period's first day)")
        return None
    return found


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-._" else "-" for c in name)[:150]


def _labels(report: Report, scope: ReportScope, id_prefix: str = "chart") -> ChartLabels:
    kind = {
        MeasureKind.COMPOSITE: "all-or-none",
        MeasureKind.ELEMENT: "element",
        MeasureKind.RULE: "timing",
        MeasureKind.FOLLOW_UP: "follow-up",
    }
    return ChartLabels(
        title=f"{report.measure.title} ({kind[report.measure.measure.kind]})",
        scope_name=scope.name,
        measure=measure_key(report.measure.measure),
        scope=f"{scope.kind}:{scope.key}",
        id_prefix=id_prefix,
    )


@dataclass(frozen=True)
class SmallMultiple:
    title: str
    href: str
    svg: Markup
    variation: str


@dataclass(frozen=True)
class Offer:
    text: str
    href: str


def _chart_page(
    report: Report, scope: ReportScope, catalogue: CareBundleCatalogue, today: dt.date
) -> dict[str, object]:
    pairs = canonical(report.request, scope)
    here = url_for("reports.index")
    chart = report.chart
    offers = []
    if report.chart.laney_recommended and report.request.chart.value == "p":
        offers.append(
            Offer(
                "The counts vary more than a p-chart expects (over-dispersion): view a Laney p′ chart",
                f"{here}?{changed(pairs, {'chart': 'p_prime'})}",
            )
        )
    starts = [period.period.start for period in report.periods]
    for day in report.rebase_candidates:
        if day in report.request.rebase_at:
            continue
        version = next((v for v in report.versions[starts.index(day) :] if v), None)
        offers.append(
            Offer(
                f"Rebase at {day.isoformat()} (version {version} starts)",
                f"{here}?{changed(pairs, add=[('rebase', day.isoformat())])}",
            )
        )
    behind = url_for("reports.checklists_behind_point")
    rows = [
        {
            "label": counts.period.label,
            "behind_href": f"{behind}?{changed(pairs, add=[('period', counts.period.start.isoformat())])}",
            "counts": counts,
            "point": point,
            "version": version,
            "signal": (f"{point.signal}: {RULE_WORDS[point.rule]}".capitalize() if point.rule else ""),
        }
        for counts, point, version in zip(report.periods, chart.points, report.versions, strict=True)
    ]
    return {
        "report": report,
        "labels": _labels(report, scope),
        "svg": Markup(chart_svg(report, _labels(report, scope))),  # noqa: S704 - built from escaped parts
        "variation": VARIATION_LABELS[chart.variation_icon] if chart.variation_icon else None,
        "variation_icon": Markup(variation_icon_svg(chart.variation_icon)) if chart.variation_icon else "",  # noqa: S704
        "assurance": ASSURANCE_LABELS[chart.assurance_icon],
        "assurance_icon": Markup(assurance_icon_svg(chart.assurance_icon)),  # noqa: S704
        "offers": offers,
        "rebased": [(day, _without_rebase(here, pairs, day)) for day in report.request.rebase_at],
        "csv_href": f"/api/compliance/report.csv?{changed(pairs)}",
        "svg_href": f"{url_for('reports.chart_download')}?{changed(pairs)}",
        "rows": rows,
        "small_multiples": _small_multiples(report, scope, catalogue, today, pairs),
    }


def _without_rebase(here: str, pairs: list[tuple[str, str]], day: dt.date) -> str:
    kept = [(name, value) for name, value in pairs if (name, value) != ("rebase", day.isoformat())]
    return f"{here}?{changed(kept)}"


def _small_multiples(
    report: Report,
    scope: ReportScope,
    catalogue: CareBundleCatalogue,
    today: dt.date,
    pairs: list[tuple[str, str]],
) -> list[SmallMultiple]:
    """One small chart per compliance element of the care bundle's first composite, over the same range."""
    measures = measures_of(catalogue, report.request.care_bundle_id)
    composite = next((info for info in measures if info.measure.kind is MeasureKind.COMPOSITE), None)
    if composite is None:
        return []
    elements = {info.measure.id: info for info in measures if info.measure.kind is MeasureKind.ELEMENT}
    found = []
    here = url_for("reports.index")
    for member in composite.detail:
        if member not in elements:
            continue
        measure = Measure(MeasureKind.ELEMENT, member)
        small = build_report(
            db.session, catalogue, replace(report.request, measure=measure, target=None), today
        )
        labels = _labels(small, scope, id_prefix=f"small-{member}")
        variation = small.chart.variation_icon
        found.append(
            SmallMultiple(
                title=elements[member].title,
                href=f"{here}?{changed(pairs, {'measure': measure_key(measure), 'target': None})}",
                svg=Markup(small_chart_svg(small, labels)),  # noqa: S704 - built from escaped parts
                variation=VARIATION_LABELS[variation] if variation else "No checklists counted",
            )
        )
    return found


def form_items(
    parsed: ParsedQuery, units: list[Unit], care_bundles: list[CareBundle]
) -> dict[str, list[dict[str, str]]]:
    """The options of the form's selects."""
    kinds = {
        MeasureKind.COMPOSITE: "All-or-none",
        MeasureKind.ELEMENT: "Element",
        MeasureKind.RULE: "Timing",
        MeasureKind.FOLLOW_UP: "Follow-up",
    }
    sites = {unit.site.code: unit.site.name for unit in units}
    return {
        "care_bundle": [{"value": "", "text": "Choose a care bundle"}]
        + [{"value": bundle.id, "text": bundle.title} for bundle in care_bundles],
        "measure": [
            {"value": measure_key(info.measure), "text": f"{kinds[info.measure.kind]}: {info.title}"}
            for info in parsed.measures
        ]
        or [{"value": "", "text": "Choose a care bundle first"}],
        "unit": [{"value": "", "text": "None: a whole site"}]
        + [
            {"value": f"{unit.site.code}/{unit.code}", "text": f"{unit.name}, {unit.site.name}"}
            for unit in units
        ],
        "site": [{"value": "", "text": "No: the unit above"}]
        + [{"value": code, "text": name} for code, name in sites.items()],
    }
