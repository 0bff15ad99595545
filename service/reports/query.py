"""The ``/reports`` query: the parameters of the compliance API (``care_bundle``, ``measure``, ``unit`` or
``site``, ``from``, ``to``, ``interval``, ``version``, ``chart``, ``direction``, ``target``, ``rebase``,
``baseline``) read from a GET form into a :class:`ReportRequest`, with a form error per field.

Plain code: no Flask request. The units are those the signed-in user reports on, so a unit or site outside
them is answered as not found (status 404), never charted. ``canonical`` writes a request back as the
query the API takes (a target as a proportion, empty fields left out), for the links of the page.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import urlencode

from werkzeug.datastructures import MultiDict

from service.care_bundles import CareBundleCatalogue
from service.compliance.counts import Measure, MeasureKind
from service.compliance.periods import MAX_DAYS, Interval, period_start, periods_covering
from service.compliance.report import MeasureInfo, ReportRequest, measures_of
from service.models import Unit
from service.spc import ChartKind, ImprovementDirection

#: The form's fields in page order: the error summary lists problems in this order.
FIELDS = ("care_bundle", "measure", "unit", "site", "from", "to", "interval", "chart", "direction", "target")
DEFAULT_WEEKS = 52  # as the compliance API
DEFAULT_MONTHS = 12


@dataclass(frozen=True)
class ReportScope:
    """A unit (``kind`` "unit", ``key`` ``SITE/unit``) or the user's units of a site (``key`` ``SITE``)."""

    kind: str
    key: str
    name: str
    unit_ids: tuple[int, ...]


@dataclass
class ParsedQuery:
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    status: int = 200
    request: ReportRequest | None = None
    scope: ReportScope | None = None
    measures: list[MeasureInfo] = field(default_factory=list)

    def fail(self, name: str, message: str, status: int = 400) -> None:
        self.errors.setdefault(name, message)
        self.status = max(self.status, status) if self.status != 200 else status

    @property
    def error_list(self) -> list[dict[str, str]]:
        return [{"text": self.errors[name], "href": f"#{name}"} for name in FIELDS if name in self.errors] + [
            {"text": message, "href": "#care_bundle"}
            for name, message in self.errors.items()
            if name not in FIELDS
        ]


def measure_key(measure: Measure) -> str:
    return f"{measure.kind}:{measure.id}"


def parse_measure(raw: str) -> Measure | None:
    kind, _, measure_id = raw.partition(":")
    if kind not in {str(member) for member in MeasureKind} or not measure_id:
        return None
    return Measure(MeasureKind(kind), measure_id)


def parse_query(
    args: MultiDict[str, str],
    units: Sequence[Unit],
    offered: Sequence[str],
    catalogue: CareBundleCatalogue,
    today: dt.date,
) -> ParsedQuery:
    """Read the query; ``offered``: the ids of the care bundles the user's units offer."""
    parsed = ParsedQuery(values={name: args.get(name, "").strip() for name in FIELDS})
    values = parsed.values
    care_bundle_id = values["care_bundle"]
    if care_bundle_id not in offered:
        parsed.fail("care_bundle", "Choose a care bundle offered on the units you report on")
        return parsed
    parsed.measures = measures_of(catalogue, care_bundle_id)
    measure = _measure(parsed)
    scope = _scope(parsed, units, care_bundle_id)
    interval = _choice(parsed, "interval", Interval, Interval.WEEK, "Choose weekly or monthly")
    chart = _choice(parsed, "chart", ChartKind, ChartKind.P, "Choose a p-chart or a Laney p′ chart")
    if chart is ChartKind.XMR:
        parsed.fail("chart", "Choose a p-chart or a Laney p′ chart")
    direction = _choice(
        parsed, "direction", ImprovementDirection, ImprovementDirection.INCREASE, "Choose which way is better"
    )
    first, last = _range(parsed, interval or Interval.WEEK, today)
    target = _target(parsed)
    versions = tuple(args.getlist("version"))
    known = {entry.version for entry in catalogue if entry.care_bundle.id == care_bundle_id}
    if any(version not in known for version in versions):
        parsed.fail("version", "Choose versions of the care bundle that exist")
    rebase_at = _rebase(parsed, args.getlist("rebase"), first, last, interval)
    baseline = _baseline(parsed, args.get("baseline", "").strip())
    if parsed.errors or measure is None or scope is None or first is None or last is None:
        return parsed
    assert interval is not None
    assert chart is not None
    assert direction is not None
    parsed.scope = scope
    parsed.request = ReportRequest(
        care_bundle_id=care_bundle_id,
        measure=measure,
        unit_ids=scope.unit_ids,
        first=first,
        last=last,
        interval=interval,
        versions=versions,
        chart=chart,
        direction=direction,
        target=target,
        rebase_at=rebase_at,
        baseline_points=baseline,
    )
    return parsed


def _measure(parsed: ParsedQuery) -> Measure | None:
    raw = parsed.values["measure"]
    if not raw:
        measure = parsed.measures[0].measure
        parsed.values["measure"] = measure_key(measure)
        return measure
    asked = parse_measure(raw)
    if asked is None or asked not in {info.measure for info in parsed.measures}:
        parsed.fail("measure", "Choose a measure of this care bundle")
        return None
    return asked


def _scope(parsed: ParsedQuery, units: Sequence[Unit], care_bundle_id: str) -> ReportScope | None:
    unit_key, site_key = parsed.values["unit"], parsed.values["site"]
    if unit_key and site_key:
        parsed.fail("site", "Choose a unit or a whole site, not both: leave the unit empty for a site")
        return None
    if site_key:
        mine = [unit for unit in units if unit.site.code == site_key]
        if not mine:
            parsed.fail("site", "You do not report on that site", status=404)
            return None
        name = f"{mine[0].site.name} (your units there)"
        return ReportScope("site", site_key, name, tuple(unit.id for unit in mine))
    if not unit_key:
        chosen = next((u for u in units if care_bundle_id in u.care_bundle_ids), units[0] if units else None)
        if chosen is None:
            parsed.fail("unit", "You report on no unit yet", status=404)
            return None
        unit_key = parsed.values["unit"] = f"{chosen.site.code}/{chosen.code}"
    found = next((unit for unit in units if f"{unit.site.code}/{unit.code}" == unit_key), None)
    if found is None:
        parsed.fail("unit", "You do not report on that unit", status=404)
        return None
    return ReportScope("unit", unit_key, f"{found.name}, {found.site.name}", (found.id,))


Choice = TypeVar("Choice", Interval, ChartKind, ImprovementDirection)


def _choice(
    parsed: ParsedQuery, name: str, kind: type[Choice], default: Choice, message: str
) -> Choice | None:
    raw = parsed.values[name]
    if not raw:
        parsed.values[name] = str(default)
        return default
    try:
        return kind(raw)
    except ValueError:
        parsed.fail(name, message)
        return None


def _date(parsed: ParsedQuery, name: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(parsed.values[name])
    except ValueError:
        parsed.fail(name, "Enter a real date, such as 2026-03-02")
        return None


def _range(parsed: ParsedQuery, interval: Interval, today: dt.date) -> tuple[dt.date | None, dt.date | None]:
    if not parsed.values["to"]:
        parsed.values["to"] = today.isoformat()
    last = _date(parsed, "to")
    if not parsed.values["from"] and last is not None:
        if interval is Interval.MONTH:
            start = period_start(last, interval)
            for _ in range(DEFAULT_MONTHS - 1):
                start = period_start(start - dt.timedelta(days=1), interval)
        else:
            start = period_start(last, interval) - dt.timedelta(weeks=DEFAULT_WEEKS - 1)
        parsed.values["from"] = start.isoformat()
    first = _date(parsed, "from") if parsed.values["from"] else None
    if first is not None and last is not None:
        if last < first:
            parsed.fail("to", "The end of the range must be on or after its start")
        elif (last - first).days > MAX_DAYS:
            parsed.fail("from", f"A chart covers at most {MAX_DAYS} days: choose a later start")
    return first, last


def _target(parsed: ParsedQuery) -> float | None:
    raw = parsed.values["target"].removesuffix("%").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    proportion = value / 100 if value > 1 or parsed.values["target"].endswith("%") else value
    if not 0 <= proportion <= 1:
        parsed.fail("target", "Enter the target as a percentage from 0 to 100, such as 95")
        return None
    return proportion


def _rebase(
    parsed: ParsedQuery,
    raw: Sequence[str],
    first: dt.date | None,
    last: dt.date | None,
    interval: Interval | None,
) -> tuple[dt.date, ...]:
    try:
        days = tuple(sorted({dt.date.fromisoformat(item) for item in raw if item}))
    except ValueError:
        parsed.fail("rebase", "A rebase point is a date, such as 2026-03-02")
        return ()
    if days and first and last and interval and not parsed.errors:
        starts = {period.start for period in periods_covering(first, last, interval)}
        if any(day not in starts for day in days):
            parsed.fail("rebase", "A rebase point must be the first day of a period in the range")
    return days


def _baseline(parsed: ParsedQuery, raw: str) -> int | None:
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        parsed.fail("baseline", "A fixed baseline is a whole number of points, such as 12")
        return None
    return int(raw)


def canonical(request: ReportRequest, scope: ReportScope) -> list[tuple[str, str]]:
    """The request as the compliance API's query, in a stable order, defaults left out."""
    pairs = [
        ("care_bundle", request.care_bundle_id),
        ("measure", measure_key(request.measure)),
        (scope.kind, scope.key),
        ("from", request.first.isoformat()),
        ("to", request.last.isoformat()),
        ("interval", str(request.interval)),
        ("chart", str(request.chart)),
    ]
    if request.direction is not ImprovementDirection.INCREASE:
        pairs.append(("direction", str(request.direction)))
    if request.target is not None:
        pairs.append(("target", repr(request.target)))
    pairs.extend(("version", version) for version in request.versions)
    pairs.extend(("rebase", day.isoformat()) for day in request.rebase_at)
    if request.baseline_points is not None:
        pairs.append(("baseline", str(request.baseline_points)))
    return pairs


def changed(
    pairs: Sequence[tuple[str, str]],
    replace: Mapping[str, str | None] | None = None,
    add: Sequence[tuple[str, str]] = (),
) -> str:
    """A query string: ``pairs`` with the ``replace`` names set (None: removed) and ``add`` appended."""
    replace = replace or {}
    kept: list[tuple[str, str]] = []
    placed: set[str] = set()
    for name, value in pairs:
        if name not in replace:
            kept.append((name, value))
        elif name not in placed and (new := replace[name]) is not None:
            kept.append((name, new))
        placed.add(name)
    kept.extend((name, value) for name, value in replace.items() if value is not None and name not in placed)
    return urlencode([*kept, *add])
