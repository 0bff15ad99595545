"""A :class:`~service.compliance.report.Report` as the plain rows the JSON schema and the CSV both write, so
the two cannot differ: one row per period (counts and chart values), the scope, the chart."""

from __future__ import annotations

import datetime as dt
from typing import Any

from service.compliance.api.access import Place
from service.compliance.periods import Interval, Period
from service.compliance.report import MeasureInfo, Report


def unit_of(unit: Any) -> dict[str, str]:
    return {"site": unit.site.code, "code": unit.code, "name": unit.name}


def scope_of(
    *,
    care_bundle_id: str,
    care_bundle_title: str,
    measure: MeasureInfo,
    place: Place,
    versions: tuple[str, ...],
    interval: Interval,
    first: dt.date,
    last: dt.date,
    today: dt.date,
) -> dict[str, Any]:
    return {
        "care_bundle": {"id": care_bundle_id, "title": care_bundle_title},
        "measure": {"kind": str(measure.measure.kind), "id": measure.measure.id, "title": measure.title},
        "unit": unit_of(place.unit) if place.unit is not None else None,
        "site": {"code": place.site.code, "name": place.site.name} if place.site is not None else None,
        "units": [unit_of(unit) for unit in place.units],
        "site_complete": place.site_complete,
        "versions": list(versions),
        "interval": str(interval),
        "first": first,
        "last": last,
        "today": today,
    }


def period_of(period: Period) -> dict[str, Any]:
    return {"start": period.start, "end": period.end - dt.timedelta(days=1), "label": period.label}


def period_rows(report: Report) -> list[dict[str, Any]]:
    """One row per period: its counts, the version most used, and its point of the chart."""
    rows = []
    for counts, point, version in zip(report.periods, report.chart.points, report.versions, strict=True):
        rows.append(
            {
                **period_of(counts.period),
                "numerator": counts.numerator,
                "denominator": counts.denominator,
                "proportion": counts.proportion,
                "met": counts.met,
                "not_met": counts.not_met,
                "missing": counts.missing,
                "not_applicable": dict(counts.not_applicable),
                "outside": counts.outside,
                "duplicates": counts.duplicates,
                "open": counts.open,
                "incomplete": counts.incomplete,
                "version": version,
                "centre": point.centre,
                "upper": point.upper_3sigma,
                "lower": point.lower_3sigma,
                "upper_2sigma": point.upper_2sigma,
                "lower_2sigma": point.lower_2sigma,
                "special_cause": point.special_cause,
                "rule": str(point.rule) if point.rule is not None else None,
                "signal": str(point.signal) if point.signal is not None else None,
                "segment": point.segment,
                "in_baseline": point.in_baseline,
            }
        )
    return rows


def chart_of(report: Report) -> dict[str, Any]:
    chart = report.chart
    periods = [counts.period for counts in report.periods]
    return {
        "kind": str(chart.kind),
        "direction": str(chart.improvement_direction),
        "target": chart.target,
        "variation_icon": str(chart.variation_icon) if chart.variation_icon is not None else None,
        "assurance_icon": str(chart.assurance_icon),
        "trial": chart.trial,
        "laney_recommended": chart.laney_recommended,
        "segments": [
            {
                "start": periods[segment.start].start,
                "stop": periods[segment.stop - 1].end,
                "centre": segment.centre,
                "baseline_points": segment.baseline_points,
                "trial": segment.trial,
                "overdispersion_ratio": segment.overdispersion_ratio,
            }
            for segment in chart.segments
            if segment.stop > segment.start
        ],
        "rebase_at": [periods[index].start for index in chart.rebase_at],
        "rebase_candidates": list(report.rebase_candidates),
    }
