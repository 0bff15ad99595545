"""A compliance report as CSV for spreadsheets: ``#`` lines saying what was counted, a header row, and one
row per period with the JSON answer's columns.

``not_applicable`` is one column, ``reason=count`` pairs joined by ``"; "`` (reasons sorted), so the
columns are the same whatever the data. Floats are rounded to 6 decimal places, booleans are ``true`` /
``false``, a missing value is empty.

Spreadsheets run a cell starting with ``=``, ``+``, ``-`` or ``@`` (and tab or carriage return) as a
formula, so such a text cell gets a leading ``'`` (OWASP "CSV injection"). The ``#`` lines carry only our
own words and comma-free, guarded free text (titles and names), so no cell of theirs can start a formula
either.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from schemas.compliance import DECIMALS

#: The columns, in order: those of a period in the JSON answer.
COLUMNS: Final = (
    "start",
    "end",
    "label",
    "numerator",
    "denominator",
    "proportion",
    "met",
    "not_met",
    "missing",
    "not_applicable",
    "outside",
    "duplicates",
    "open",
    "incomplete",
    "version",
    "centre",
    "upper",
    "lower",
    "upper_2sigma",
    "lower_2sigma",
    "special_cause",
    "rule",
    "signal",
    "segment",
    "in_baseline",
)
#: What every report counts (decision 0012), said in the file.
COUNTED: Final = (
    "completed and amended checklists, each in the period of its anchor's London date; possible duplicates "
    "counted once; not applicable outside the denominator; missing counted as not met"
)
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")
_UNSAFE_FILENAME: Final = re.compile(r"[^A-Za-z0-9._-]+")


def guard(text: str) -> str:
    """A text cell a spreadsheet will not run as a formula."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def free_text(text: str) -> str:
    """A title or name fit for a ``#`` line: one line, no commas (no new cell), not a formula."""
    return guard(" ".join(text.split()).replace(",", ";"))


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(round(value, DECIMALS))
    if isinstance(value, Mapping):
        return guard("; ".join(f"{reason}={count}" for reason, count in sorted(value.items())))
    if isinstance(value, int):
        return str(value)
    return guard(str(value))


def report_csv(comments: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    """The CSV text: each comment as a ``#`` line, then the header and the rows."""
    out = io.StringIO()
    for comment in comments:
        out.write(f"# {' '.join(comment.split())}\r\n")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([_cell(row.get(column)) for column in COLUMNS])
    return out.getvalue()


def filename(*parts: str) -> str:
    """``compliance-<parts>.csv`` with anything but letters, digits, ``.``, ``_`` and ``-`` replaced."""
    name = "-".join(_UNSAFE_FILENAME.sub("_", part).strip("_") for part in ("compliance", *parts) if part)
    return f"{name[:150]}.csv"
