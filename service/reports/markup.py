"""Small SVG building blocks of the charts: escaped elements, the Making Data Count (MDC) colours, number
formats, and the variation and assurance icons with their words.

The icons are Careloop's own simple drawings (a ring, an arrow, a letter), not NHS England's artwork; every
icon is shown beside its words, so the words carry the meaning and the drawing only helps the eye.
"""

from __future__ import annotations

from collections.abc import Mapping

from service.spc import AssuranceIcon, SignalType, VariationIcon

#: MDC colours: common cause grey, improvement blue, concern orange, neutral purple (NHS identity palette).
GREY = "#768692"
BLUE = "#005EB8"
ORANGE = "#ED8B00"
PURPLE = "#330072"
INK = "#212B32"
LIMIT = "#425563"
PALE = "#AEB7BD"
GRID = "#D8DDE0"
TARGET = "#D5281B"
FONT = "Arial, Helvetica, sans-serif"

SIGNAL_COLOURS: Mapping[SignalType | None, str] = {
    None: GREY,
    SignalType.IMPROVEMENT: BLUE,
    SignalType.CONCERN: ORANGE,
    SignalType.NEUTRAL: PURPLE,
}

VARIATION_LABELS: Mapping[VariationIcon, str] = {
    VariationIcon.COMMON_CAUSE: "Common cause variation",
    VariationIcon.IMPROVEMENT_HIGH: "Special cause improvement (high)",
    VariationIcon.IMPROVEMENT_LOW: "Special cause improvement (low)",
    VariationIcon.CONCERN_HIGH: "Special cause concern (high)",
    VariationIcon.CONCERN_LOW: "Special cause concern (low)",
    VariationIcon.NEUTRAL_HIGH: "Special cause variation, neither better nor worse (high)",
    VariationIcon.NEUTRAL_LOW: "Special cause variation, neither better nor worse (low)",
}

ASSURANCE_LABELS: Mapping[AssuranceIcon, str] = {
    AssuranceIcon.PASS: "Consistently passing the target",
    AssuranceIcon.FAIL: "Consistently failing the target",
    AssuranceIcon.INCONSISTENT: "Inconsistently passing and failing the target",
    AssuranceIcon.NONE: "No target to assure against",
}


def escape(text: object) -> str:
    """Text or an attribute value, safe inside double quotes in XML and HTML."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def element(tag: str, attributes: Mapping[str, object | None], *children: str) -> str:
    """``<tag a="v"...>children</tag>``; attributes whose value is None are left out."""
    attrs = "".join(f' {name}="{escape(value)}"' for name, value in attributes.items() if value is not None)
    if not children:
        return f"<{tag}{attrs}/>"
    return f"<{tag}{attrs}>{''.join(children)}</{tag}>"


def text(x: float, y: float, content: str, size: int, **attributes: object | None) -> str:
    attrs: dict[str, object | None] = {"x": fmt(x), "y": fmt(y), "font-size": size, "fill": INK}
    attrs.update({name.replace("_", "-"): value for name, value in attributes.items()})
    return element("text", attrs, escape(content))


def fmt(coordinate: float) -> str:
    """A coordinate with two decimals (a hundredth of a pixel), trailing zeros dropped."""
    return f"{coordinate:.2f}".rstrip("0").rstrip(".")


def number(value: float | None) -> str:
    """A data attribute's value: the float exactly as Python prints it, empty for none."""
    return "" if value is None else repr(float(value))


def percent(value: float | None, places: int = 1) -> str:
    return "–" if value is None else f"{value * 100:.{places}f}%"


def _ring(colour: str, *inside: str, size: int, x: float, y: float, kind: str) -> str:
    return element(
        "svg",
        {
            "x": fmt(x) if x else None,
            "y": fmt(y) if y else None,
            "width": size,
            "height": size,
            "viewBox": "0 0 48 48",
            "aria-hidden": "true",
            "focusable": "false",
            "data-icon": kind,
        },
        element(
            "circle", {"cx": 24, "cy": 24, "r": 21, "fill": "#FFFFFF", "stroke": colour, "stroke-width": 4}
        ),
        *inside,
    )


def _arrow(colour: str, up: bool) -> str:
    points = "14,30 24,16 34,30" if up else "14,18 24,32 34,18"
    return element(
        "polyline",
        {"points": points, "fill": "none", "stroke": colour, "stroke-width": 5, "stroke-linejoin": "round"},
    )


def _letter(colour: str, letter: str, y: float = 31) -> str:
    return element(
        "text",
        {
            "x": 24,
            "y": y,
            "font-size": 20,
            "font-weight": "bold",
            "font-family": FONT,
            "text-anchor": "middle",
            "fill": colour,
        },
        letter,
    )


def variation_icon_svg(icon: VariationIcon, *, size: int = 48, x: float = 0, y: float = 0) -> str:
    """A ring in the MDC colour: a wave for common cause; an arrow up (high) or down (low) otherwise."""
    if icon is VariationIcon.COMMON_CAUSE:
        wave = element(
            "path",
            {"d": "M11 24 Q17.5 14 24 24 T37 24", "fill": "none", "stroke": GREY, "stroke-width": 5},
        )
        return _ring(GREY, wave, size=size, x=x, y=y, kind=str(icon))
    colour = {"improvement": BLUE, "concern": ORANGE, "neutral": PURPLE}[str(icon).split("_")[0]]
    up = str(icon).endswith("_high")
    return _ring(colour, _arrow(colour, up), size=size, x=x, y=y, kind=str(icon))


def assurance_icon_svg(icon: AssuranceIcon, *, size: int = 48, x: float = 0, y: float = 0) -> str:
    """A ring with P (passing), F (failing) or ? (inconsistent); nothing drawn without a target."""
    if icon is AssuranceIcon.NONE:
        return ""
    colour, letter = {
        AssuranceIcon.PASS: (BLUE, "P"),
        AssuranceIcon.FAIL: (ORANGE, "F"),
        AssuranceIcon.INCONSISTENT: (GREY, "?"),
    }[icon]
    return _ring(colour, _letter(colour, letter), size=size, x=x, y=y, kind=str(icon))
