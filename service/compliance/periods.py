"""Reporting periods: weeks from Monday or calendar months of local dates in Europe/London (decision 0012).

A checklist falls in the period of its anchor's local date (``Checklist.anchor_date``). Periods are
half-open: ``start`` is the first day in the period, ``end`` the first day after it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from service.errors import InvalidInput
from service.models.checklists import REPORTING_TIMEZONE

#: The longest range a report covers: ten years of weeks is 522 points, more than any chart can show.
MAX_DAYS = 3660


class Interval(StrEnum):
    WEEK = "week"
    MONTH = "month"


@dataclass(frozen=True, order=True)
class Period:
    start: dt.date
    end: dt.date
    interval: Interval

    @property
    def label(self) -> str:
        """``2026-03`` for a month; ``2026-03-02`` (its Monday) for a week."""
        return self.start.strftime("%Y-%m") if self.interval is Interval.MONTH else self.start.isoformat()

    def ended_by(self, today: dt.date) -> bool:
        return self.end <= today


def period_start(day: dt.date, interval: Interval) -> dt.date:
    if interval is Interval.WEEK:
        return day - dt.timedelta(days=day.weekday())
    return day.replace(day=1)


def _next_start(start: dt.date, interval: Interval) -> dt.date:
    if interval is Interval.WEEK:
        return start + dt.timedelta(days=7)
    return (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def periods_covering(first: dt.date, last: dt.date, interval: Interval) -> list[Period]:
    """Every period from the one holding ``first`` to the one holding ``last`` (both days included)."""
    if last < first:
        raise InvalidInput("the end of the range is before its start")
    if (last - first).days > MAX_DAYS:
        raise InvalidInput(f"a report covers at most {MAX_DAYS} days")
    periods = []
    start = period_start(first, interval)
    while start <= last:
        end = _next_start(start, interval)
        periods.append(Period(start, end, interval))
        start = end
    return periods


def local_today(now: dt.datetime) -> dt.date:
    return now.astimezone(REPORTING_TIMEZONE).date()
