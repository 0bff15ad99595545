"""Timing windows: when an event must happen relative to another answer, judged in the care bundle's zone.

Every instant is compared in UTC. Elapsed windows (``within_hours``, ``after_hours``) count real hours, so a
36 h window across the spring clock change is 37 wall-clock hours. Calendar windows (``by_end_of_day``,
``from_day``, ``within_working_days``) count local dates in the care bundle's time zone, resolved by
zoneinfo. Bounds are inclusive: "within 36 hours" is met at exactly 36:00, "by the end of the day after"
until local midnight, "from day 42" from the first instant of that day.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from zoneinfo import ZoneInfo

import holidays

from schemas.care_bundle import AnswerValue, TimingRule
from service.checklists.outcomes import Outcome, TimingStatus

#: ``holidays`` subdivisions of the United Kingdom per working-day calendar (England and Wales share
#: their bank holidays).
CALENDAR_SUBDIVISIONS = {"england-and-wales": "ENG", "scotland": "SCT"}


@dataclass(frozen=True)
class Window:
    """Where an event must fall: ``earliest`` and ``latest`` are inclusive UTC instants (None: open)."""

    earliest: dt.datetime | None
    latest: dt.datetime | None
    #: What the deadline is shown as: ``latest`` for elapsed windows, local midnight after the last day
    #: for calendar windows (the first instant too late).
    due_at: dt.datetime | None


def instant(value: dt.date, zone: ZoneInfo) -> dt.datetime:
    """An answer as a UTC instant; a date alone means its local start of day."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC)
    return dt.datetime.combine(value, dt.time(0), tzinfo=zone).astimezone(dt.UTC)


def local_date(value: dt.date, zone: ZoneInfo) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.astimezone(zone).date()
    return value


def _midnight(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=zone).astimezone(dt.UTC)


_TICK = dt.timedelta(microseconds=1)


@cache
def bank_holidays(calendar: str, year: int) -> frozenset[dt.date]:
    """The bank holidays of ``calendar`` (``england-and-wales`` or ``scotland``) in ``year``."""
    return frozenset(holidays.country_holidays("GB", subdiv=CALENDAR_SUBDIVISIONS[calendar], years=year))


def is_working_day(day: dt.date, calendar: str) -> bool:
    return day.weekday() < 5 and day not in bank_holidays(calendar, day.year)


def nth_working_day_after(day: dt.date, count: int, calendar: str) -> dt.date:
    """The ``count``-th working day after ``day`` (``day`` itself never counts)."""
    found = 0
    while found < count:
        day += dt.timedelta(days=1)
        if is_working_day(day, calendar):
            found += 1
    return day


def window(rule: TimingRule, start: dt.date, zone: ZoneInfo, calendar: str) -> Window:
    """The window a rule opens at ``start`` (an answer of the start element)."""
    begin = instant(start, zone)
    day = local_date(start, zone)
    earliest: dt.datetime | None = None
    if rule.after_hours is not None:
        earliest = begin + _hours(rule.after_hours)
    elif rule.from_day is not None:
        earliest = _midnight(day + dt.timedelta(days=rule.from_day), zone)
    if rule.within_hours is not None:
        latest = begin + _hours(rule.within_hours)
        return Window(earliest, latest, latest)
    if rule.by_end_of_day is not None:
        last_day = day + dt.timedelta(days=rule.by_end_of_day)
    else:
        assert rule.within_working_days is not None
        last_day = nth_working_day_after(day, rule.within_working_days, calendar)
    too_late = _midnight(last_day + dt.timedelta(days=1), zone)
    return Window(earliest, too_late - _TICK, too_late)


def _hours(hours: Decimal) -> dt.timedelta:
    return dt.timedelta(seconds=int(hours * 3600))


@dataclass(frozen=True)
class Judgement:
    outcome: Outcome
    status: TimingStatus
    due_at: dt.datetime | None
    reason: str | None


def judge_window(
    rule: TimingRule,
    start_id: str,
    start: AnswerValue | None,
    event: AnswerValue | None,
    zone: ZoneInfo,
    calendar: str,
    now: dt.datetime,
) -> Judgement:
    """A window rule: event (may be unrecorded) against the window opened at ``start``."""
    if start is None:
        return Judgement(
            Outcome.MISSING, TimingStatus.UNKNOWN, None, f"cannot judge timing: {start_id} is not recorded"
        )
    assert isinstance(start, dt.date)
    opened = window(rule, start, zone, calendar)
    if event is None:
        open_now = opened.latest is None or now <= opened.latest
        status = TimingStatus.DUE if open_now else TimingStatus.OVERDUE
        return Judgement(Outcome.MISSING, status, opened.due_at, f"due by {_show(opened.due_at)}")
    assert isinstance(event, dt.date)
    if _is_before(event, start, zone):
        return Judgement(
            Outcome.NOT_MET,
            TimingStatus.NOT_MET,
            opened.due_at,
            f"recorded before {start_id}: check the times",
        )
    moment = instant(event, zone)
    if opened.earliest is not None and moment < opened.earliest:
        return Judgement(
            Outcome.NOT_MET, TimingStatus.NOT_MET, opened.due_at, f"earlier than the window after {start_id}"
        )
    # A date-only event is its local midnight: in a calendar window exactly when its day is not too late.
    if opened.latest is None or moment <= opened.latest:
        return Judgement(Outcome.MET, TimingStatus.MET, opened.due_at, None)
    return Judgement(
        Outcome.NOT_MET,
        TimingStatus.NOT_MET,
        opened.due_at,
        f"{_describe(rule)} {start_id}: due by {_show(opened.due_at)}",
    )


def judge_order(
    rule: TimingRule, other_id: str, other: AnswerValue | None, event: AnswerValue | None, zone: ZoneInfo
) -> Judgement:
    """A ``before`` rule: the event comes before the other answer (both date-times: strictly earlier;
    a date on either side: on or before the other's local date)."""
    if other is None or event is None:
        what = other_id if other is None else "the event"
        return Judgement(Outcome.MISSING, TimingStatus.UNKNOWN, None, f"cannot judge: {what} is not recorded")
    assert isinstance(other, dt.date)
    assert isinstance(event, dt.date)
    if isinstance(event, dt.datetime) and isinstance(other, dt.datetime):
        in_order = event < other
    else:
        in_order = local_date(event, zone) <= local_date(other, zone)
    if in_order:
        return Judgement(Outcome.MET, TimingStatus.MET, None, None)
    return Judgement(Outcome.NOT_MET, TimingStatus.NOT_MET, None, f"not before {other_id}")


def _is_before(value: dt.date, start: dt.date, zone: ZoneInfo) -> bool:
    """Earlier than the start: by the instant when both have times, else by local calendar date."""
    if isinstance(value, dt.datetime) and isinstance(start, dt.datetime):
        return value < start
    return local_date(value, zone) < local_date(start, zone)


def _describe(rule: TimingRule) -> str:
    if rule.within_hours is not None:
        return f"later than {rule.within_hours.normalize():f} h after"
    if rule.by_end_of_day is not None:
        return f"later than the end of day {rule.by_end_of_day} after"
    return f"later than {rule.within_working_days} working days after"


def _show(moment: dt.datetime | None) -> str:
    return moment.isoformat() if moment is not None else "?"
