"""The server-rendered chart: drawn limits and points map back to the report's values; gaps break the lines;
rebased segments draw their own centre and limits; special-cause points take the MDC colours; text is
escaped; the root and each period carry the data attributes the browser test reads."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from collections.abc import Sequence

import pytest

from service.compliance.counts import Measure, MeasureKind, PeriodCounts
from service.compliance.periods import Interval, periods_covering
from service.compliance.report import MeasureInfo, Report, ReportRequest
from service.reports.markup import BLUE, GREY, ORANGE
from service.reports.svg import chart_svg, small_chart_svg, y_range
from service.reports.words import ChartLabels, description
from service.spc import ImprovementDirection, p_chart
from tests.service.reports.drawn import SVG, read_chart, tolerance

MONDAY = dt.date(2026, 3, 2)
MEASURE = Measure(MeasureKind.COMPOSITE, "oasi-care-bundle")
LABELS = ChartLabels(
    "OASI, all-or-none", "Ward 1, Test trust", "composite:oasi-care-bundle", "unit:S1/ward-1"
)


def report(
    numerators: Sequence[int],
    denominators: Sequence[int],
    *,
    rebase_at: tuple[int, ...] = (),
    target: float | None = None,
    title: str = "OASI, all-or-none",
) -> Report:
    periods = periods_covering(MONDAY, MONDAY + dt.timedelta(weeks=len(numerators) - 1), Interval.WEEK)
    request = ReportRequest(
        "oasi-care-bundle", MEASURE, (1,), periods[0].start, periods[-1].end, target=target
    )
    chart = p_chart(
        numerators,
        denominators,
        improvement_direction=ImprovementDirection.INCREASE,
        target=target,
        rebase_at=rebase_at,
    )
    counts = tuple(
        PeriodCounts(period, numerator=n, denominator=d)
        for period, n, d in zip(periods, numerators, denominators, strict=True)
    )
    return Report(request, MeasureInfo(MEASURE, title), counts, chart, ("2.0.0",) * len(counts), ())


def assert_drawn_as_computed(svg: str, computed: Report) -> None:
    drawn = read_chart(svg)
    close = tolerance(svg)
    assert [d.period for d in drawn] == [p.period.label for p in computed.periods]
    for seen, point in zip(drawn, computed.chart.points, strict=True):
        for got, want in (
            (seen.value, point.value),
            (seen.centre, point.centre),
            (seen.upper, point.upper_3sigma),
            (seen.lower, point.lower_3sigma),
        ):
            assert (got is None) == (want is None), (seen, point)
            if got is not None and want is not None:
                assert got == pytest.approx(want, abs=close), (seen, point)


def test_the_drawn_points_centre_and_limits_are_the_reports_values() -> None:
    computed = report(
        [40, 42, 38, 45, 41, 39, 44, 40, 43, 42, 41, 40, 44], ([50, 52, 48, 55, 50, 47, 53] * 2)[:13]
    )
    svg = chart_svg(computed, LABELS)
    assert_drawn_as_computed(svg, computed)
    assert_drawn_as_computed(small_chart_svg(computed, LABELS), computed)
    root = ET.fromstring(svg)
    assert root.attrib["role"] == "img"
    assert root.attrib["data-measure"] == "composite:oasi-care-bundle"
    assert root.attrib["data-scope"] == "unit:S1/ward-1"
    assert root.attrib["data-trial"] == "false"
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert title is not None
    assert desc is not None
    assert root.attrib["aria-labelledby"] == f"{title.attrib['id']} {desc.attrib['id']}"
    last = computed.chart.points[-1]
    assert f"Centre line {last.centre * 100:.1f}%" in (desc.text or "")  # type: ignore[operator]
    assert f"{last.lower_3sigma * 100:.1f}% to {last.upper_3sigma * 100:.1f}%" in (desc.text or "")  # type: ignore[operator]


def test_a_period_without_checklists_is_a_gap_that_breaks_every_line() -> None:
    computed = report([8, 9, 7, 0, 8, 9], [10, 10, 10, 0, 10, 10])
    svg = chart_svg(computed, LABELS)
    root = ET.fromstring(svg)
    gap = root.find(f".//{SVG}g[@data-period='2026-03-23']")
    assert gap is not None
    assert gap.find(f"{SVG}circle") is None
    assert gap.attrib["data-value"] == ""
    paths = {p.attrib["data-line"]: p.attrib["d"] for p in root.iter(f"{SVG}path") if "data-line" in p.attrib}
    for name in ("values", "centre", "upper", "lower"):
        assert paths[name].count("M") == 2, name
    assert_drawn_as_computed(svg, computed)
    assert root.attrib["data-trial"] == "true"
    assert "Trial limits" in svg


def test_each_rebased_segment_draws_its_own_centre_and_limits() -> None:
    computed = report([5, 6, 5, 6, 5, 9, 10, 9, 10, 9], [10] * 10, rebase_at=(5,))
    svg = chart_svg(computed, LABELS)
    drawn = read_chart(svg)
    assert drawn[0].centre == pytest.approx(0.54, abs=tolerance(svg))
    assert drawn[-1].centre == pytest.approx(0.94, abs=tolerance(svg))
    root = ET.fromstring(svg)
    centre = next(p for p in root.iter(f"{SVG}path") if p.attrib.get("data-line") == "centre")
    assert centre.attrib["d"].count("M") == 2
    assert root.find(f".//{SVG}line[@data-rebase='2026-04-06']") is not None
    assert_drawn_as_computed(svg, computed)


def test_special_cause_points_take_the_mdc_colours_and_common_cause_grey() -> None:
    # A shift of 7 above the centre (improvement) after 7 below (concern).
    computed = report([30] * 7 + [45] * 7, [50] * 14, target=0.95)
    root = ET.fromstring(chart_svg(computed, LABELS))
    fills = {}
    for group in root.iter(f"{SVG}g"):
        if "data-period" in group.attrib:
            circle = group.find(f"{SVG}circle")
            assert circle is not None
            fills[group.attrib["data-signal"] or "common"] = circle.attrib["fill"]
    assert fills["improvement"] == BLUE
    assert fills["concern"] == ORANGE
    assert GREY in {fills.get("common", GREY)}
    target = root.find(f".//{SVG}g[@data-target]")
    assert target is not None
    assert float(target.attrib["data-target"]) == 0.95
    assert "Assurance: Consistently failing the target" in description(computed, LABELS)


def test_text_is_escaped() -> None:
    hostile = 'A <script>alert("x")</script> & co'
    computed = report([8, 9], [10, 10], title=hostile)
    labels = ChartLabels(hostile, "Ward <b>", 'composite:"x"', "unit:S/<w>")
    svg = chart_svg(computed, labels)
    assert "<script" not in svg
    assert "<b>" not in svg
    root = ET.fromstring(svg)  # well-formed
    assert hostile in (root.find(f"{SVG}title").text or "")  # type: ignore[union-attr]
    assert root.attrib["data-scope"] == "unit:S/<w>"


def test_the_value_axis_holds_values_limits_and_target_on_round_steps() -> None:
    low, high, step = y_range(report([45, 46, 44], [50, 50, 50], target=0.5))
    assert low <= 0.5
    assert high <= 1.0
    assert round(low / step, 6) == int(round(low / step, 6))
    assert y_range(report([0], [0])) == (0.0, 1.0, 0.2)
