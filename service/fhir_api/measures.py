"""Compliance on ``/fhir`` (issue 11): each care bundle's ``Measure`` and its ``MeasureReport``s.

``Measure`` (``{base}/Measure/<care bundle id>``) is a published definition, public like the Questionnaire
(a token sent with it must be valid and allow it): read by id, searched by ``url`` (``url|version`` too).

``MeasureReport`` is a search that computes its reports from the stored outcomes (``service.compliance``),
nothing stored: one ``summary`` report per week or month, oldest first. Parameters (view.SEARCH_PARAMS):
``measure`` (required: the Measure's canonical, ``url|version``, ``Measure/<id>`` or the id), ``period``
(``ge`` and ``le`` a date, ``2026``, ``2026-03`` or ``2026-03-02``, London; default the 12 periods up to
today), ``interval`` (``week``, the default, or ``month``), and one of ``unit`` (``<site code>/<unit
code>``) or ``site`` (``<site code>``), by default what the token is bound to. It needs
``system/MeasureReport.s``; a token bound to a unit reports on that unit only (its own site: 403), one bound
to a site on the site or any unit of it; any other unit or site is not found, as one that does not exist.
Each group's counts come from one ``count_measure`` call over the page's periods, and a search covers at
most :data:`MAX_PERIODS` periods (400 beyond).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from flask import Response, current_app, request
from sqlalchemy import select

from fhir_adapters.measure import (
    GroupCounts,
    GroupKind,
    MeasureDefinition,
    MeasureGroup,
    PeriodReport,
    Reporter,
    measure,
    measure_report,
    measure_url,
)
from fhir_adapters.operation_outcome import Issue, echo
from service.auth import tokens
from service.care_bundles import current_catalogue
from service.compliance.counts import Measure as CountedMeasure
from service.compliance.counts import MeasureKind, Scope
from service.compliance.periods import Interval, Period, local_today, period_start, periods_covering
from service.compliance.report import count_any, measures_of
from service.errors import Forbidden, InvalidInput, NotFound
from service.extensions import db
from service.fhir_api.responses import fhir_response
from service.fhir_api.serving import (
    NOT_SEARCH_PARAMS,
    ResultParams,
    result_params,
    search_bundle,
    search_list,
)
from service.fhir_api.views import MEASURE_REPORT_SEARCH_PARAMS, base_url, bp
from service.models import Site, Unit

#: The most periods one MeasureReport search covers: two years of weeks (more than eight years of months).
MAX_PERIODS = 106
#: Periods reported when ``period`` gives no ``ge``.
DEFAULT_PERIODS = 12
_KNOWN = frozenset(name for name, _, _ in MEASURE_REPORT_SEARCH_PARAMS)
_PARTIAL_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


def measure_definition(care_bundle_id: str) -> MeasureDefinition | None:
    """The Measure of a loaded care bundle: its latest version's wording, every version's measures."""
    catalogue = current_catalogue()
    latest = catalogue.latest.get(care_bundle_id)
    if latest is None:
        return None
    bundle = latest.care_bundle
    groups = tuple(
        MeasureGroup(cast(GroupKind, str(info.measure.kind)), info.measure.id, info.title)
        for info in measures_of(catalogue, care_bundle_id)
    )
    return MeasureDefinition(
        bundle.id, bundle.version, bundle.title, bundle.status, latest.url, groups, bundle.description
    )


def now() -> dt.datetime:
    """The time of the request; tests may set ``FHIR_NOW`` to an aware datetime."""
    fixed = current_app.config.get("FHIR_NOW")
    return fixed if isinstance(fixed, dt.datetime) else dt.datetime.now(dt.UTC)


@bp.get("/Measure/<string:resource_id>")
def read_measure(resource_id: str) -> Response:
    """A care bundle's compliance measures (``{base}/Measure/<care bundle id>``): public."""
    tokens.require("Measure", "read", optional=True)
    definition = measure_definition(resource_id)
    if definition is None:
        raise NotFound(f"Measure/{resource_id[:80]} is not known here", expression="Measure.id")
    return fhir_response(measure(definition))


@bp.get("/Measure")
def search_measure() -> Response:
    """``url`` (the canonical, or ``url|version``) is the one search parameter; with none, every Measure."""
    tokens.require("Measure", "search", optional=True)
    issues: list[Issue] = []
    params = _result_params(issues)
    unknown = sorted(set(request.args) - NOT_SEARCH_PARAMS - {"url"})
    issues += [
        Issue("error", "invalid", f"{name[:40]}: the Measure search takes url only") for name in unknown
    ]
    if issues:
        raise InvalidInput("bad search parameter", issues=issues)
    wanted = request.args.getlist("url")
    found = []
    for care_bundle_id in current_catalogue().latest:
        definition = measure_definition(care_bundle_id)
        assert definition is not None
        resource = measure(definition)
        if not wanted or any(_url_matches(resource, value) for value in wanted):
            found.append(resource)
    applied = [("url", url) for url in wanted]
    return fhir_response(search_list("Measure", params, applied, found, base_url=base_url()))


def _url_matches(resource: Mapping[str, Any], value: str) -> bool:
    url, bar, version = value.partition("|")
    return resource["url"] == url and (not bar or resource["version"] == version)


def _result_params(issues: list[Issue]) -> ResultParams:
    try:
        return result_params(request.args.to_dict(flat=False))
    except InvalidInput as bad:  # said with the other problems, in one OperationOutcome
        issues.extend(bad.issues)
        return ResultParams()


@dataclass(frozen=True)
class _Reported:
    reporter: Reporter
    unit_ids: tuple[int, ...]


@bp.get("/MeasureReport")
def search_measure_report() -> Response:
    client = tokens.require("MeasureReport", "search")
    assert client is not None
    issues: list[Issue] = []
    params = _result_params(issues)
    for key in request.args:
        if key not in NOT_SEARCH_PARAMS and key not in _KNOWN:
            names = ", ".join(sorted(_KNOWN))
            issues.append(
                Issue("error", "invalid", f"{key[:40]}: unknown search parameter; supported: {names}")
            )
    definition = _measure_asked(issues)
    interval = _interval_asked(issues)
    periods = _periods_asked(issues, interval)
    if issues:
        raise InvalidInput("bad search parameter", issues=issues)
    assert definition is not None
    assert interval is not None
    assert periods is not None
    reported = _reported(client)
    generated = now()
    today = local_today(generated)
    last = periods[-1].end - dt.timedelta(days=1)
    applied = [
        ("measure", request.args["measure"]),
        ("period", f"ge{periods[0].start.isoformat()}"),
        ("period", f"le{last.isoformat()}"),
        ("interval", str(interval)),
        *[(name, request.args[name]) for name in ("site", "unit") if name in request.args],
    ]

    def fetch(offset: int, limit: int | None) -> list[dict[str, Any]]:
        page = periods[offset:] if limit is None else periods[offset : offset + limit]
        return [
            measure_report(definition, reported.reporter, report, generated=generated)
            for report in _period_reports(definition, reported, page, today)
        ]

    bundle = search_bundle(
        "MeasureReport",
        params,
        applied,
        base_url=base_url(),
        count_matches=lambda: len(periods),
        fetch=fetch,
    )
    for entry in bundle["entry"]:  # computed, not stored: nothing to read at an address
        entry["fullUrl"] = f"urn:uuid:{entry['resource']['id']}"
    return fhir_response(bundle)


def _period_reports(
    definition: MeasureDefinition, reported: _Reported, periods: Sequence[Period], today: dt.date
) -> list[PeriodReport]:
    """One report per period of ``periods``: each group counted once over all of them."""
    if not periods:
        return []
    scope = Scope(definition.care_bundle_id, reported.unit_ids)
    counted = [
        count_any(
            db.session,
            current_catalogue(),
            scope,
            CountedMeasure(MeasureKind(group.kind), group.id),
            first=periods[0].start,
            last=periods[-1].end - dt.timedelta(days=1),
            interval=periods[0].interval,
            today=today,
        )
        for group in definition.groups
    ]
    reports = []
    for index, period in enumerate(periods):
        groups = [
            GroupCounts(
                group,
                numerator=counts[index].numerator,
                denominator=counts[index].denominator,
                excluded=counts[index].outside + sum(counts[index].not_applicable.values()),
            )
            for group, counts in zip(definition.groups, counted, strict=True)
        ]
        incomplete = not period.ended_by(today) or any(counts[index].incomplete for counts in counted)
        end = period.end - dt.timedelta(days=1)
        reports.append(PeriodReport(period.start, end, str(period.interval), not incomplete, groups))
    return reports


def _measure_asked(issues: list[Issue]) -> MeasureDefinition | None:
    """The Measure ``measure`` names: its canonical (``|version`` of the one served), ``Measure/<id>``, or
    the id."""
    values = request.args.getlist("measure")
    if len(values) != 1 or "," in values[0]:
        issues.append(Issue("error", "required", "measure: give one Measure (its canonical URL or id)"))
        return None
    raw = values[0]
    name, bar, version = raw.partition("|")
    for prefix in (measure_url(""), f"{base_url()}/Measure/", "Measure/"):
        if name.startswith(prefix):
            name = name.removeprefix(prefix)
            break
    definition = measure_definition(name) if name else None
    if definition is None:
        issues.append(Issue("error", "invalid", f"measure={echo(raw)}: no such Measure here"))
        return None
    if bar and version != definition.version:
        problem = f"measure={echo(raw)}: this server reports version {definition.version} of that Measure"
        issues.append(Issue("error", "invalid", problem))
        return None
    return definition


def _interval_asked(issues: list[Issue]) -> Interval | None:
    values = request.args.getlist("interval") or ["week"]
    if len(values) != 1 or values[0] not in ("week", "month"):
        issues.append(Issue("error", "invalid", f"interval={echo(values[-1])}: week or month"))
        return None
    return Interval(values[0])


def _day(text: str, *, last: bool) -> dt.date:
    """The first (or ``last``) day of a date, a month (``2026-03``) or a year (``2026``)."""
    found = _PARTIAL_DATE.match(text)
    if found is None:
        raise ValueError
    year, month, day = found.groups()
    if day is not None:
        return dt.date(int(year), int(month), int(day))
    if month is not None:
        first = dt.date(int(year), int(month), 1)
        return (
            (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
            if last
            else first
        )
    return dt.date(int(year), 12, 31) if last else dt.date(int(year), 1, 1)


def _periods_asked(issues: list[Issue], interval: Interval | None) -> list[Period] | None:
    """The periods ``period`` covers: those overlapping ``ge`` to ``le`` (local dates, both included)."""
    bounds: dict[str, dt.date] = {}
    problems = []
    for raw in request.args.getlist("period"):
        prefix, text = raw[:2], raw[2:]
        if prefix not in ("ge", "le") or prefix in bounds:
            problems.append(f"period={echo(raw)}: give at most one ge<date> and one le<date>")
            continue
        try:
            bounds[prefix] = _day(text, last=prefix == "le")
        except ValueError:
            problems.append(f"period={echo(raw)}: a date is 2026, 2026-03 or 2026-03-02 (Europe/London)")
    issues += [Issue("error", "invalid", problem) for problem in problems]
    if problems or interval is None:
        return None
    last = bounds.get("le", local_today(now()))
    try:
        first = bounds.get("ge")
        if first is None:
            first = period_start(last, interval)
            for _ in range(DEFAULT_PERIODS - 1):
                first = period_start(first - dt.timedelta(days=1), interval)
        periods = periods_covering(first, last, interval)
    except InvalidInput as bad:
        issues.append(Issue("error", "invalid", f"period: {bad.message}"))
        return None
    except OverflowError:  # a period reaching past year 1 or 9999
        issues.append(Issue("error", "invalid", "period: outside the calendar"))
        return None
    if len(periods) > MAX_PERIODS:
        issues.append(Issue("error", "too-costly", f"period: at most {MAX_PERIODS} periods in one search"))
        return None
    return periods


def _reported(client: tokens.Client) -> _Reported:
    """What the search reports on: ``unit`` or ``site`` if asked (and seen by the token), else what the token
    is bound to. Another site's unit or site is not found, like one that does not exist."""
    token = client.token
    unit_asked, site_asked = request.args.get("unit"), request.args.get("site")
    if unit_asked is not None and site_asked is not None:
        raise InvalidInput("give unit or site, not both")
    if unit_asked is not None:
        site_code, _, unit_code = unit_asked.partition("/")
        unit = db.session.scalar(
            select(Unit).join(Site).where(Site.code == site_code, Unit.code == unit_code)
        )
        if unit is None or unit.site_id != token.site_id or token.unit_id not in (None, unit.id):
            raise NotFound(f"unit={echo(unit_asked)} is not known here")
        return _Reported(Reporter(unit.site.code, unit.site.name, unit.code, unit.name), (unit.id,))
    if token.unit_id is not None:
        unit = db.session.get(Unit, token.unit_id)
        assert unit is not None
        if site_asked is not None:
            if site_asked != unit.site.code:
                raise NotFound(f"site={echo(site_asked)} is not known here")
            raise Forbidden("a token bound to a unit reports on that unit only: ask for unit=<site>/<unit>")
        return _Reported(Reporter(unit.site.code, unit.site.name, unit.code, unit.name), (unit.id,))
    site = db.session.get(Site, token.site_id)
    assert site is not None
    if site_asked is not None and site_asked != site.code:
        raise NotFound(f"site={echo(site_asked)} is not known here")
    unit_ids = tuple(db.session.scalars(select(Unit.id).where(Unit.site_id == site.id).order_by(Unit.id)))
    return _Reported(Reporter(site.code, site.name), unit_ids)
