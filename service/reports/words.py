"""The chart in words: its description (the SVG's ``<desc>``), icon words, axis labels, rule names."""

from __future__ import annotations

from dataclasses import dataclass

from service.compliance.periods import Interval
from service.compliance.report import Report
from service.reports.markup import ASSURANCE_LABELS, VARIATION_LABELS, percent
from service.spc import AssuranceIcon, ChartKind, Rule

RULE_WORDS = {
    Rule.OUTSIDE_LIMITS: "outside the limits",
    Rule.TREND: "a trend of 7",
    Rule.TWO_OF_THREE: "2 of 3 close to a limit",
    Rule.SHIFT: "a shift of 7",
}
CHART_NAMES = {ChartKind.P: "p-chart", ChartKind.P_PRIME: "Laney p′ chart", ChartKind.XMR: "XmR chart"}


@dataclass(frozen=True)
class ChartLabels:
    """What the chart shows, in words and as query values: ``measure`` ``composite:<id>``; ``scope``
    ``unit:SITE/unit`` or ``site:SITE``."""

    title: str
    scope_name: str
    measure: str
    scope: str
    id_prefix: str = "chart"


def period_labels(report: Report) -> list[str]:
    return [period.period.label for period in report.periods]


def axis_label(report: Report, index: int) -> str:
    start = report.periods[index].period.start
    if report.request.interval is Interval.MONTH:
        return start.strftime("%b %Y")
    return f"{start.day} {start:%b %y}"


def description(report: Report, labels: ChartLabels) -> str:
    """The chart in words: measure, scope, range, centre and limits, signals and icons."""
    chart = report.chart
    with_value = [point for point in chart.points if point.value is not None]
    parts = [f"{labels.title}, {labels.scope_name}, {range_words(report)}: {CHART_NAMES[chart.kind]}."]
    if not with_value:
        return " ".join([*parts, "No checklists counted in this range."])
    last = with_value[-1]
    unit = "month" if report.request.interval is Interval.MONTH else "week"
    parts.append(f"Centre line {percent(last.centre)}.")
    if last.lower_3sigma is not None and last.upper_3sigma is not None:
        parts.append(
            f"Process limits of the last {unit} with checklists: "
            f"{percent(last.lower_3sigma)} to {percent(last.upper_3sigma)}."
        )
    if chart.trial:
        parts.append("Trial limits: fewer than 12 points.")
    if len(chart.segments) > 1:
        parts.append(f"Rebased {len(chart.segments) - 1} time(s); each part has its own limits.")
    special = sum(point.special_cause for point in chart.points)
    parts.append(f"{special} special cause point(s) of {len(with_value)}.")
    if chart.target is not None:
        parts.append(f"Target {percent(chart.target)}.")
    return " ".join([*parts, icon_words(report)])


def icon_words(report: Report) -> str:
    chart = report.chart
    words = f"Variation: {VARIATION_LABELS[chart.variation_icon]}." if chart.variation_icon else ""
    if chart.assurance_icon is not AssuranceIcon.NONE:
        words += f" Assurance: {ASSURANCE_LABELS[chart.assurance_icon]}."
    return words.strip()


def range_words(report: Report) -> str:
    if not report.periods:
        return "no periods"
    word = "monthly" if report.request.interval is Interval.MONTH else "weekly"
    return f"{word} from {report.periods[0].period.label} to {report.periods[-1].period.label}"
