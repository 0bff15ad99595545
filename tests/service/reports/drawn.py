"""Read a chart's drawn geometry back into values: what the unit tests and the browser test compare with
the report. Only the drawing is read (circle centres, the level lines of the step paths and the axis
mapping on the root), never the ``data-value`` attributes, so a wrong coordinate cannot hide."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

SVG = "{http://www.w3.org/2000/svg}"


@dataclass(frozen=True)
class Drawn:
    period: str
    value: float | None
    centre: float | None
    upper: float | None
    lower: float | None


def _runs(path: str) -> list[tuple[float, float, float]]:
    """The horizontal runs (x from, x to, y) of a step path made of M, H and V commands."""
    runs, x, y = [], 0.0, 0.0
    for command, first, second in re.findall(r"([MHV])(-?[\d.]+)(?: (-?[\d.]+))?", path):
        if command == "M":
            x, y = float(first), float(second)
        elif command == "V":
            y = float(first)
        else:
            runs.append((x, float(first), y))
            x = float(first)
    return runs


def read_chart(svg: str) -> list[Drawn]:
    root = ET.fromstring(svg)
    left, top, width, height = (float(v) for v in root.attrib["data-plot"].split())
    y_min, y_max = float(root.attrib["data-y-min"]), float(root.attrib["data-y-max"])
    groups = root.findall(f".//{SVG}g[@data-period]")
    slot = width / len(groups)

    def value_at(y: float) -> float:
        return y_max - (y - top) / height * (y_max - y_min)

    lines = {
        path.attrib["data-line"]: _runs(path.attrib.get("d", ""))
        for path in root.iter(f"{SVG}path")
        if "data-line" in path.attrib
    }

    def level(name: str, index: int) -> float | None:
        x = left + (index + 0.5) * slot
        found = [y for start, end, y in lines[name] if start < x < end]
        return value_at(found[0]) if found else None

    drawn = []
    for index, group in enumerate(groups):
        circle = group.find(f"{SVG}circle")
        drawn.append(
            Drawn(
                period=group.attrib["data-period"],
                value=value_at(float(circle.attrib["cy"])) if circle is not None else None,
                centre=level("centre", index),
                upper=level("upper", index),
                lower=level("lower", index),
            )
        )
    return drawn


def tolerance(svg: str) -> float:
    """What a hundredth of a pixel (the coordinates' rounding) is worth on the value axis, doubled."""
    root = ET.fromstring(svg)
    height = float(root.attrib["data-plot"].split()[3])
    return 2 * 0.005 * (float(root.attrib["data-y-max"]) - float(root.attrib["data-y-min"])) / height + 1e-9
