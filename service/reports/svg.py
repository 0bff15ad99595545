"""The compliance chart as server-rendered SVG: pure functions from a :class:`Report` to an SVG string.

Drawn for a projector at a QI meeting: big type, thick lines, the Making Data Count (MDC) colours (common
cause grey, improvement blue, concern orange, neutral purple) and every point's meaning also in the table
under the chart. Only presentation attributes are used (no ``style``), so the page's content security
policy allows the SVG inline and the same text is a self-contained file when downloaded.

The centre line is solid, the 3-sigma process limits dashed, the 2-sigma lines lighter; a p-chart's limits
step with each period's denominator; a period without checklists is a gap that breaks every line; each
rebased segment draws its own centre and limits. Every period is a ``<g data-period ...>`` carrying its
value, centre and limits, and the root carries the measure, scope and the axis mapping (``data-y-min``,
``data-y-max``, ``data-plot``) so tests can read the drawn geometry back into values.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from service.compliance.report import Report
from service.reports.markup import (
    FONT,
    GREY,
    GRID,
    INK,
    LIMIT,
    PALE,
    SIGNAL_COLOURS,
    TARGET,
    assurance_icon_svg,
    element,
    escape,
    fmt,
    number,
    percent,
    text,
    variation_icon_svg,
)
from service.reports.words import (
    CHART_NAMES,
    RULE_WORDS,
    ChartLabels,
    axis_label,
    description,
    icon_words,
    period_labels,
    range_words,
)
from service.spc import Point


@dataclass(frozen=True)
class Frame:
    """The plot area and its axes: period ``i`` is centred in the i-th of ``count`` equal slots."""

    left: float
    top: float
    width: float
    height: float
    y_min: float
    y_max: float
    count: int

    @property
    def slot(self) -> float:
        return self.width / max(self.count, 1)

    def x(self, index: float) -> float:
        return self.left + (index + 0.5) * self.slot

    def y(self, value: float) -> float:
        return self.top + (self.y_max - value) / (self.y_max - self.y_min) * self.height

    def value_at(self, y: float) -> float:
        """The inverse of :meth:`y`: what tests use to read a drawn line back."""
        return self.y_max - (y - self.top) / self.height * (self.y_max - self.y_min)

    @property
    def attributes(self) -> dict[str, object]:
        return {
            "data-y-min": number(self.y_min),
            "data-y-max": number(self.y_max),
            "data-plot": " ".join(fmt(v) for v in (self.left, self.top, self.width, self.height)),
        }


def y_range(report: Report) -> tuple[float, float, float]:
    """(low, high, tick step) holding every value, 3-sigma limit and the target, on round percentages."""
    seen: list[float] = []
    for point in report.chart.points:
        seen.extend(v for v in (point.value, point.upper_3sigma, point.lower_3sigma) if v is not None)
    if report.chart.target is not None:
        seen.append(report.chart.target)
    if not seen:
        return 0.0, 1.0, 0.2
    low, high = max(0.0, min(seen) - 0.02), min(1.0, max(seen) + 0.02)
    span = high - low
    step = 0.2 if span > 0.5 else 0.1 if span > 0.25 else 0.05 if span > 0.1 else 0.02
    low = max(0.0, math.floor(round(low / step, 6)) * step)
    high = min(1.0, math.ceil(round(high / step, 6)) * step)
    return round(low, 6), round(max(high, low + step), 6), step


def _steps(frame: Frame, points: Sequence[Point], value: Callable[[Point], float | None]) -> str:
    """A step path: each period's value as a level line across its slot, joined to the next period's by
    a vertical line within a segment; gaps and segment starts begin a new subpath."""
    parts: list[str] = []
    previous: Point | None = None
    half = frame.slot / 2
    for point in points:
        level = value(point)
        if level is None:
            previous = None
            continue
        y = fmt(frame.y(level))
        if previous is None or previous.segment != point.segment:
            parts.append(f"M{fmt(frame.x(point.index) - half)} {y}")
        else:
            parts.append(f"V{y}")
        parts.append(f"H{fmt(frame.x(point.index) + half)}")
        previous = point
    return "".join(parts)


def _data_line(frame: Frame, points: Sequence[Point]) -> str:
    parts: list[str] = []
    joined = False
    for point in points:
        if point.value is None:
            joined = False
            continue
        parts.append(f"{'L' if joined else 'M'}{fmt(frame.x(point.index))} {fmt(frame.y(point.value))}")
        joined = True
    return "".join(parts)


def _values(points: Sequence[Point], value: Callable[[Point], float | None]) -> str:
    return " ".join(number(value(point)) or "-" for point in points)


LINES: tuple[tuple[str, Callable[[Point], float | None], dict[str, object]], ...] = (
    (
        "lower-2sigma",
        lambda p: p.lower_2sigma,
        {"stroke": PALE, "stroke-width": 2, "stroke-dasharray": "4 6"},
    ),
    (
        "upper-2sigma",
        lambda p: p.upper_2sigma,
        {"stroke": PALE, "stroke-width": 2, "stroke-dasharray": "4 6"},
    ),
    ("lower", lambda p: p.lower_3sigma, {"stroke": LIMIT, "stroke-width": 3, "stroke-dasharray": "12 8"}),
    ("upper", lambda p: p.upper_3sigma, {"stroke": LIMIT, "stroke-width": 3, "stroke-dasharray": "12 8"}),
    ("centre", lambda p: p.centre, {"stroke": INK, "stroke-width": 3}),
)


def _lines(frame: Frame, points: Sequence[Point], *, small: bool = False) -> list[str]:
    drawn = []
    for name, value, look in LINES:
        if small and name.endswith("2sigma"):
            continue
        path = _steps(frame, points, value)
        attributes = {
            "d": path or None,
            "fill": "none",
            "data-line": name,
            "data-values": _values(points, value),
        }
        drawn.append(element("path", {**attributes, **look}))
    return drawn


def _point(frame: Frame, point: Point, label: str, radius: float) -> str:
    attributes = {
        "data-period": label,
        "data-value": number(point.value),
        "data-centre": number(point.centre),
        "data-upper": number(point.upper_3sigma),
        "data-lower": number(point.lower_3sigma),
        "data-upper-2sigma": number(point.upper_2sigma),
        "data-lower-2sigma": number(point.lower_2sigma),
        "data-special-cause": "true" if point.special_cause else "false",
        "data-signal": str(point.signal) if point.signal else "",
        "data-rule": str(point.rule) if point.rule else "",
        "data-segment": point.segment,
    }
    if point.value is None:
        return element("g", attributes)
    special = point.special_cause
    marker = element(
        "circle",
        {
            "cx": fmt(frame.x(point.index)),
            "cy": fmt(frame.y(point.value)),
            "r": fmt(radius * (1.3 if special else 1)),
            "fill": SIGNAL_COLOURS[point.signal if special else None],
            "stroke": INK if special else None,
            "stroke-width": 2 if special else None,
        },
    )
    counts = f"{point.numerator} of {point.denominator}" if point.denominator is not None else ""
    tip = f"{label}: {percent(point.value)} ({counts})" + (
        f", special cause {point.signal}: {RULE_WORDS[point.rule]}" if point.rule else ""
    )
    return element("g", attributes, element("title", {}, escape(tip)), marker)


def _root(report: Report, labels: ChartLabels, frame: Frame, width: int, height: int, *body: str) -> str:
    title_id, desc_id = f"{labels.id_prefix}-title", f"{labels.id_prefix}-desc"
    return element(
        "svg",
        {
            "xmlns": "http://www.w3.org/2000/svg",
            "viewBox": f"0 0 {width} {height}",
            "width": width,
            "height": height,
            "role": "img",
            "aria-labelledby": f"{title_id} {desc_id}",
            "font-family": FONT,
            "class": "careloop-chart",
            "data-measure": labels.measure,
            "data-scope": labels.scope,
            "data-care-bundle": report.request.care_bundle_id,
            "data-chart": str(report.chart.kind),
            "data-interval": str(report.request.interval),
            "data-trial": "true" if report.chart.trial else "false",
            **frame.attributes,
        },
        element("title", {"id": title_id}, escape(f"{labels.title}: {labels.scope_name}")),
        element("desc", {"id": desc_id}, escape(description(report, labels))),
        element("rect", {"width": width, "height": height, "fill": "#FFFFFF"}),
        *body,
    )


def chart_svg(report: Report, labels: ChartLabels) -> str:
    """The full chart, 1000 by 600: title, icons, axes, lines, points and a legend."""
    low, high, step = y_range(report)
    frame = Frame(90, 130, 890, 340, low, high, len(report.periods))
    body = [
        text(20, 38, _clip(labels.title, 52), 28, font_weight="bold"),
        text(20, 72, _clip(f"{labels.scope_name} · {range_words(report)}", 80), 20),
    ]
    caption = CHART_NAMES[report.chart.kind] + (
        " · Trial limits: fewer than 12 points" if report.chart.trial else ""
    )
    body.append(text(20, 104, caption, 20, data_caption="true"))
    if report.chart.variation_icon:
        body.append(variation_icon_svg(report.chart.variation_icon, size=64, x=840, y=16))
    body.append(assurance_icon_svg(report.chart.assurance_icon, size=64, x=916, y=16))
    body.extend(_grid(frame, step))
    body.extend(_x_axis(report, frame))
    body.extend(_rebase_marks(report, frame))
    body.extend(_lines(frame, report.chart.points))
    if report.chart.target is not None:
        body.append(_target(frame, report.chart.target, size=18))
    body.append(_line_path(frame, report, width=4))
    labels_of = period_labels(report)
    body.append(
        element(
            "g",
            {"data-points": "true"},
            *(_point(frame, p, labels_of[p.index], 8) for p in report.chart.points),
        )
    )
    body.extend(_legend(report, 560))
    body.append(text(20, 592, icon_words(report), 18))
    return _root(report, labels, frame, 1000, 600, *body)


def small_chart_svg(report: Report, labels: ChartLabels) -> str:
    """A small multiple, 360 by 230 on a fixed 0–100% axis so the elements compare at a glance."""
    frame = Frame(56, 14, 292, 170, 0.0, 1.0, len(report.periods))
    body = list(_grid(frame, 0.5, size=16))
    if report.periods:
        first, last = axis_label(report, 0), axis_label(report, len(report.periods) - 1)
        body.append(text(frame.left, 214, first, 16))
        body.append(text(frame.left + frame.width, 214, last, 16, text_anchor="end"))
    body.extend(_lines(frame, report.chart.points, small=True))
    body.append(_line_path(frame, report, width=3))
    labels_of = period_labels(report)
    body.append(
        element(
            "g",
            {"data-points": "true"},
            *(_point(frame, p, labels_of[p.index], 5) for p in report.chart.points),
        )
    )
    return _root(report, labels, frame, 360, 230, *body)


def _line_path(frame: Frame, report: Report, *, width: int) -> str:
    path = _data_line(frame, report.chart.points)
    return element(
        "path",
        {"d": path or None, "fill": "none", "stroke": GREY, "stroke-width": width, "data-line": "values"},
    )


def _grid(frame: Frame, step: float, *, size: int = 20) -> list[str]:
    drawn = []
    count = round((frame.y_max - frame.y_min) / step)
    for k in range(count + 1):
        value = frame.y_min + k * step
        y = frame.y(value)
        drawn.append(
            element(
                "line",
                {"x1": fmt(frame.left), "x2": fmt(frame.left + frame.width), "y1": fmt(y), "y2": fmt(y)}
                | {"stroke": GRID, "stroke-width": 1},
            )
        )
        drawn.append(text(frame.left - 10, y + size * 0.35, percent(value, 0), size, text_anchor="end"))
    return drawn


def _x_axis(report: Report, frame: Frame) -> list[str]:
    count = len(report.periods)
    every = max(1, math.ceil(count / 8))
    drawn = []
    for index in range(0, count, every):
        x = frame.x(index)
        bottom = frame.top + frame.height
        drawn.append(
            element(
                "line",
                {"x1": fmt(x), "x2": fmt(x), "y1": fmt(bottom), "y2": fmt(bottom + 8)}
                | {"stroke": INK, "stroke-width": 2},
            )
        )
        drawn.append(text(x, bottom + 34, axis_label(report, index), 20, text_anchor="middle"))
    return drawn


def _rebase_marks(report: Report, frame: Frame) -> list[str]:
    drawn = []
    for segment in report.chart.segments[1:]:
        x = frame.left + segment.start * frame.slot
        drawn.append(
            element(
                "line",
                {"x1": fmt(x), "x2": fmt(x), "y1": fmt(frame.top), "y2": fmt(frame.top + frame.height)}
                | {
                    "stroke": INK,
                    "stroke-width": 2,
                    "stroke-dasharray": "2 4",
                    "data-rebase": report.periods[segment.start].period.label,
                },
            )
        )
        drawn.append(text(x + 6, frame.top + 18, "Rebased", 18))
    return drawn


def _target(frame: Frame, target: float, *, size: int) -> str:
    y = fmt(frame.y(target))
    line = element(
        "line",
        {"x1": fmt(frame.left), "x2": fmt(frame.left + frame.width), "y1": y, "y2": y}
        | {"stroke": TARGET, "stroke-width": 3, "stroke-dasharray": "16 6 4 6"},
    )
    words = text(
        frame.left + frame.width - 4,
        frame.y(target) - 8,
        f"Target {percent(target)}",
        size,
        fill=TARGET,
        text_anchor="end",
        stroke="#FFFFFF",
        stroke_width=5,
        paint_order="stroke",
        font_weight="bold",
    )
    return element("g", {"data-target": number(target)}, line, words)


def _legend(report: Report, y: float) -> list[str]:
    signals = {point.signal for point in report.chart.points if point.special_cause}
    items: list[tuple[str, str]] = [("line-centre", "Centre"), ("line-limit", "Process limits")]
    if report.chart.target is not None:
        items.append(("line-target", "Target"))
    items.append(("dot-None", "Common cause"))
    items.extend((f"dot-{signal}", str(signal).capitalize()) for signal in sorted(signals, key=str) if signal)
    drawn, x = [], 20.0
    for key, words in items:
        if key.startswith("line"):
            look = {
                "line-centre": {"stroke": INK},
                "line-limit": {"stroke": LIMIT, "stroke-dasharray": "12 8"},
            }.get(key, {"stroke": TARGET, "stroke-dasharray": "16 6 4 6"})
            drawn.append(
                element(
                    "line",
                    {"x1": fmt(x), "x2": fmt(x + 36), "y1": fmt(y - 6), "y2": fmt(y - 6), "stroke-width": 3}
                    | look,
                )
            )
        else:
            signal = next((s for s in signals if f"dot-{s}" == key), None)
            colour = SIGNAL_COLOURS[signal]
            drawn.append(element("circle", {"cx": fmt(x + 18), "cy": fmt(y - 6), "r": 8, "fill": colour}))
        drawn.append(text(x + 44, y, words, 18))
        x += 44 + len(words) * 9.5 + 20
    return drawn


def _clip(words: str, limit: int) -> str:
    return words if len(words) <= limit else words[: limit - 1].rstrip() + "…"
