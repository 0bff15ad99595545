"""The bank holidays shipped as data for the browser copy of the rules match the server's.

``tests/data/rule_cases/bank_holidays.json`` is what the JavaScript rule-case tests pass as
``options.bankHolidays`` (the tablet cannot run the ``holidays`` package). It must equal what the server's
working-day rules use (``service.checklists.timing``), so it cannot drift silently when ``holidays`` changes.
Regenerate it (from the repository root) with::

    .venv/bin/python tests/service/checklists/testbank_holidays_data.py \
        > tests/data/rule_cases/bank_holidays.json
"""

from __future__ import annotations

import json
from pathlib import Path

from schemas.care_bundle.model import CALENDARS
from service.checklists.timing import CALENDAR_SUBDIVISIONS, bank_holidays

DATA = Path(__file__).resolve().parents[2] / "data" / "rule_cases" / "bank_holidays.json"
YEARS = range(2024, 2028)


def serversbank_holidays() -> dict[str, list[str]]:
    """Calendar -> the ISO dates the server's working-day rules skip in ``YEARS``, sorted."""
    return {
        calendar: sorted(day.isoformat() for year in YEARS for day in bank_holidays(calendar, year))
        for calendar in CALENDARS
    }


def testbank_holidays_file_equals_the_servers_calendars() -> None:
    shipped = json.loads(DATA.read_text(encoding="utf-8"))
    assert set(CALENDARS) == set(CALENDAR_SUBDIVISIONS)
    assert shipped == serversbank_holidays(), (
        f"{DATA.name} differs from the holidays package: regenerate it (see this module's docstring)"
    )


def test_every_year_is_covered() -> None:
    """The browser copy refuses to count working days in a year its list does not cover."""
    shipped = json.loads(DATA.read_text(encoding="utf-8"))
    for calendar, days in shipped.items():
        assert {int(day[:4]) for day in days} == set(YEARS), calendar


if __name__ == "__main__":
    print(json.dumps(serversbank_holidays(), indent=2))
