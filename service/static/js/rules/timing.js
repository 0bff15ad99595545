// Timing windows: a port of service/checklists/timing.py.
//
// Every instant is compared in UTC. Elapsed windows (within/after hours, days x 24) count real hours, so
// 36 h across the spring clock change is 37 wall-clock hours. Calendar windows (by_end_of_day, from_day,
// within_working_days) count local dates in the care bundle's time zone. Bounds are inclusive: "within
// 36 hours" is met at exactly 36:00, "by the end of the day after" until local midnight, "from day 42"
// from the first instant of that day. Working days skip weekends and the bank holidays passed in.

import { instant, isoUtc, localDate, midnight, parseDate, weekday, dayParts } from "./time.js";
import { decimalText, decimalTimesTruncated } from "./values.js";

/** A judged timing rule: outcome, status, ``dueAt`` (us or null) and reason. */
const judgement = (outcome, status, dueAt, reason) => ({ outcome, status, dueAt, reason });

const holidayCache = new WeakMap();

/**
 * The bank holidays of a calendar as a set of day numbers, and the years the list covers.
 * @param {Record<string, string[]>|undefined} bankHolidays calendar -> ISO dates
 */
function holidaysOf(bankHolidays, calendar) {
  const dates = bankHolidays?.[calendar];
  if (!Array.isArray(dates)) {
    throw new Error(`working-day rules need the bank holidays of ${calendar} (options.bankHolidays)`);
  }
  let found = holidayCache.get(dates);
  if (!found) {
    const days = new Set(dates.map((text) => parseDate(text).day));
    found = { days, years: new Set([...days].map((day) => dayParts(day)[0])) };
    holidayCache.set(dates, found);
  }
  return found;
}

/** Monday to Friday and not a bank holiday; refuses to guess for a year the list does not cover. */
function isWorkingDay(day, holidays, calendar) {
  const year = dayParts(day)[0];
  if (!holidays.years.has(year)) {
    throw new Error(`the bank holidays given for ${calendar} do not cover ${year}`);
  }
  return weekday(day) < 5 && !holidays.days.has(day);
}

/** The ``count``-th working day after ``day`` (``day`` itself never counts). */
export function nthWorkingDayAfter(day, count, holidays, calendar) {
  let found = 0;
  while (found < count) {
    day += 1;
    if (isWorkingDay(day, holidays, calendar)) found += 1;
  }
  return day;
}

const hoursUs = (hours) => decimalTimesTruncated(hours, 3600) * 1_000_000;

/**
 * The window a rule opens at ``start``: ``earliest`` and ``latest`` inclusive (us, null: open), and
 * ``dueAt``: ``latest`` for elapsed windows, local midnight after the last day for calendar ones.
 */
export function window(rule, start, zone, calendar, bankHolidays) {
  const begin = instant(start, zone);
  const day = localDate(start, zone);
  let earliest = null;
  if (rule.afterHours !== null) earliest = begin + hoursUs(rule.afterHours);
  else if (rule.fromDay !== null) earliest = midnight(day + rule.fromDay, zone);
  if (rule.withinHours !== null) {
    const latest = begin + hoursUs(rule.withinHours);
    return { earliest, latest, dueAt: latest };
  }
  const lastDay =
    rule.byEndOfDay !== null
      ? day + rule.byEndOfDay
      : nthWorkingDayAfter(day, rule.withinWorkingDays, holidaysOf(bankHolidays, calendar), calendar);
  const tooLate = midnight(lastDay + 1, zone);
  return { earliest, latest: tooLate - 1, dueAt: tooLate };
}

/** A window rule: the event (null: unrecorded) against the window opened at ``start``. */
export function judgeWindow(rule, startId, start, event, zone, calendar, now, bankHolidays) {
  if (start === null) {
    return judgement("missing", "unknown", null, `cannot judge timing: ${startId} is not recorded`);
  }
  const opened = window(rule, start, zone, calendar, bankHolidays);
  if (event === null) {
    const openNow = opened.latest === null || now <= opened.latest;
    return judgement("missing", openNow ? "due" : "overdue", opened.dueAt, `due by ${show(opened.dueAt)}`);
  }
  if (isBefore(event, start, zone)) {
    return judgement("not-met", "not-met", opened.dueAt, `recorded before ${startId}: check the times`);
  }
  const moment = instant(event, zone);
  if (opened.earliest !== null && moment < opened.earliest) {
    return judgement("not-met", "not-met", opened.dueAt, `earlier than the window after ${startId}`);
  }
  // A date-only event is its local midnight: in a calendar window exactly when its day is not too late.
  if (opened.latest === null || moment <= opened.latest) return judgement("met", "met", opened.dueAt, null);
  return judgement(
    "not-met",
    "not-met",
    opened.dueAt,
    `${describeRule(rule)} ${startId}: due by ${show(opened.dueAt)}`,
  );
}

/**
 * A ``before`` rule: the event comes before the other answer (both date-times: strictly earlier;
 * a date on either side: on or before the other's local date).
 */
export function judgeOrder(otherId, other, event, zone) {
  if (other === null || event === null) {
    const what = other === null ? otherId : "the event";
    return judgement("missing", "unknown", null, `cannot judge: ${what} is not recorded`);
  }
  const inOrder =
    event.kind === "dateTime" && other.kind === "dateTime"
      ? event.us < other.us
      : localDate(event, zone) <= localDate(other, zone);
  return inOrder
    ? judgement("met", "met", null, null)
    : judgement("not-met", "not-met", null, `not before ${otherId}`);
}

/** Earlier than the start: by the instant when both have times, else by local calendar date. */
function isBefore(value, start, zone) {
  if (value.kind === "dateTime" && start.kind === "dateTime") return value.us < start.us;
  return localDate(value, zone) < localDate(start, zone);
}

function describeRule(rule) {
  if (rule.withinHours !== null) return `later than ${decimalText(rule.withinHours)} h after`;
  if (rule.byEndOfDay !== null) return `later than the end of day ${rule.byEndOfDay} after`;
  return `later than ${rule.withinWorkingDays} working days after`;
}

const show = (us) => (us !== null ? isoUtc(us) : "?");
