"""Just enough UCUM to compare simple quantities offline: metric prefixes on a few base units and the common
customary units. Anything else (compound units, temperatures, annotations) needs a terminology server.
"""

from __future__ import annotations

from decimal import Decimal

from fhir_adapters.vocabulary import UCUM_SYSTEM

__all__ = ["UCUM_SYSTEM", "to_base"]

_PREFIXES: dict[str, Decimal] = {
    "": Decimal(1),
    "k": Decimal("1e3"),
    "h": Decimal("1e2"),
    "da": Decimal("1e1"),
    "d": Decimal("1e-1"),
    "c": Decimal("1e-2"),
    "m": Decimal("1e-3"),
    "u": Decimal("1e-6"),
    "n": Decimal("1e-9"),
    "p": Decimal("1e-12"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
}
# unit -> (dimension, factor to the dimension's base unit)
_BASES: dict[str, tuple[str, Decimal]] = {
    "m": ("length", Decimal(1)),
    "g": ("mass", Decimal(1)),
    "s": ("time", Decimal(1)),
    "L": ("volume", Decimal(1)),
    "l": ("volume", Decimal(1)),
    "mol": ("amount", Decimal(1)),
}
_CUSTOMARY: dict[str, tuple[str, Decimal]] = {
    "[in_i]": ("length", Decimal("0.0254")),
    "[ft_i]": ("length", Decimal("0.3048")),
    "[yd_i]": ("length", Decimal("0.9144")),
    "[mi_i]": ("length", Decimal("1609.344")),
    "[lb_av]": ("mass", Decimal("453.59237")),
    "[oz_av]": ("mass", Decimal("28.349523125")),
    "[stone_av]": ("mass", Decimal("6350.29318")),
    "min": ("time", Decimal(60)),
    "h": ("time", Decimal(3600)),
    "d": ("time", Decimal(86400)),
    "wk": ("time", Decimal(604800)),
}


def _build() -> dict[str, tuple[str, Decimal]]:
    table: dict[str, tuple[str, Decimal]] = {}
    for base, (dimension, factor) in _BASES.items():
        for prefix, scale in _PREFIXES.items():
            table[prefix + base] = (dimension, factor * scale)
    table.update(_CUSTOMARY)
    return table


_UNITS = _build()


def to_base(value: Decimal, code: str) -> tuple[str, Decimal] | None:
    """(dimension, value in the dimension's base unit), or None for a unit this table does not know."""
    known = _UNITS.get(code)
    if known is None:
        return None
    return known[0], value * known[1]
