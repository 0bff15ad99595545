"""Two people changed one checklist: merge their answers so neither is lost, and show what clashed.

The page carries, in a hidden ``base`` field, the form values of the version it was based on. When a save is
refused because someone saved a newer version, each field is taken from whoever changed it since that base:
``mine`` (the refused post) or ``theirs`` (the version now stored). A field both changed differently is a
clash: the page shows mine, marked, with theirs beside it, and nothing is saved until the user saves again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

Fields = Mapping[str, list[str]]
#: The base is at most this long; a larger (tampered) one is ignored and every difference is a clash.
MAX_BASE_CHARS = 500_000


@dataclass(frozen=True)
class Merge:
    fields: dict[str, list[str]]
    #: Field names (``e-...``) that both sides changed differently, with their stored value.
    clashes: dict[str, list[str]]


def encode_base(fields: Fields) -> str:
    return json.dumps(
        {key: list(values) for key, values in fields.items()}, sort_keys=True, separators=(",", ":")
    )


def decode_base(raw: str) -> dict[str, list[str]] | None:
    if not raw or len(raw) > MAX_BASE_CHARS:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, dict) or not all(
        isinstance(key, str) and isinstance(values, list) and all(isinstance(v, str) for v in values)
        for key, values in data.items()
    ):
        return None
    return data


def merge(base_raw: str, mine: Fields, theirs: Fields) -> Merge:
    base = decode_base(base_raw)
    merged: dict[str, list[str]] = {}
    clashes: dict[str, list[str]] = {}
    for key in sorted(set(mine) | set(theirs) | set(base or {})):
        mine_value, theirs_value = _clean(mine.get(key)), _clean(theirs.get(key))
        base_value = _clean(base.get(key)) if base is not None else None
        if mine_value == theirs_value:
            chosen = mine_value
        elif base_value is not None and mine_value == base_value:
            chosen = theirs_value
        elif base_value is not None and theirs_value == base_value:
            chosen = mine_value
        else:
            chosen = mine_value
            clashes[key] = theirs_value
        if chosen:
            merged[key] = chosen
    return Merge(merged, clashes)


def _clean(values: list[str] | None) -> list[str]:
    return [value.strip() for value in values or () if value.strip()]
