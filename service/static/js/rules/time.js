// Dates, date-times and time zones for the browser copy of the care bundle rules.
//
// Instants are whole microseconds since 1970-01-01T00:00:00Z (a Number: exact up to the year 2255), as
// Python's datetime keeps microseconds. Calendar dates are day numbers (days since 1970-01-01). Local
// dates and local midnights in a care bundle's time zone come from Intl.DateTimeFormat, which reads the
// same IANA database as Python's zoneinfo.

const DAY_MS = 86_400_000;

/**
 * A date answer: its day number.
 * @typedef {{kind: "date", day: number}} DateValue
 */
/**
 * A date-time answer: its instant in microseconds (UTC).
 * @typedef {{kind: "dateTime", us: number}} DateTimeValue
 */

/** Milliseconds of a proleptic Gregorian UTC wall time (years below 100 included). */
function utcMs(year, month, day, hour = 0, minute = 0, second = 0) {
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, 0);
  return date.getTime();
}

/** The day number of a calendar date. */
export function dayNumber(year, month, day) {
  return Math.floor(utcMs(year, month, day) / DAY_MS);
}

/** [year, month, day] of a day number. */
export function dayParts(day) {
  const date = new Date(day * DAY_MS);
  return [date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate()];
}

/** Monday 0 ... Sunday 6, as Python's date.weekday() (1970-01-01 was a Thursday). */
export function weekday(day) {
  return (((day + 3) % 7) + 7) % 7;
}

const pad = (value, width = 2) => String(value).padStart(width, "0");

/** YYYY-MM-DD of a day number. */
export function isoDay(day) {
  const [year, month, date] = dayParts(day);
  return `${pad(year, 4)}-${pad(month)}-${pad(date)}`;
}

/** An instant as Python's ``datetime.isoformat()`` writes a UTC datetime: ``2025-06-02T19:00:00+00:00``. */
export function isoUtc(us) {
  const seconds = Math.floor(us / 1_000_000);
  const micro = us - seconds * 1_000_000;
  const text = new Date(seconds * 1000).toISOString().slice(0, 19);
  return `${text}${micro ? `.${pad(micro, 6)}` : ""}+00:00`;
}

/** Parse ``YYYY-MM-DD`` (a real calendar date); throws otherwise. */
export function parseDate(text) {
  const match = typeof text === "string" ? /^(\d{4})-(\d{2})-(\d{2})$/.exec(text) : null;
  if (match) {
    const [year, month, day] = match.slice(1).map(Number);
    const number = dayNumber(year, month, day);
    const [y, m, d] = dayParts(number);
    if (year >= 1 && y === year && m === month && d === day) return { kind: "date", day: number };
  }
  throw new TypeError(`${JSON.stringify(text)} is not a date such as 2024-05-31`);
}

const DATE_TIME = new RegExp(
  String.raw`^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,6}))?)?` +
    String.raw`(?:(Z)|([+-])(\d{2}):?(\d{2})(?::?(\d{2}))?)?$`,
);

/**
 * Parse an ISO 8601 date-time with an offset (``2024-05-31T09:00:00+01:00``, ``...Z``), or take a Date.
 * A date-time without an offset is refused, as the server refuses it.
 * @returns {DateTimeValue}
 */
export function parseDateTime(value) {
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new TypeError("an invalid Date");
    return { kind: "dateTime", us: value.getTime() * 1000 };
  }
  const match = typeof value === "string" ? DATE_TIME.exec(value) : null;
  if (!match) throw new TypeError(`${JSON.stringify(value)} is not a date-time with an offset`);
  const [, y, mo, d, h, mi, s = "0", fraction = "", zulu, sign, oh, om, os = "0"] = match;
  if (!zulu && !sign) {
    throw new TypeError(
      `${JSON.stringify(value)} needs a time zone offset, e.g. 2024-05-31T09:00:00+01:00`,
    );
  }
  const day = parseDate(`${y}-${mo}-${d}`).day;
  if (Number(h) > 23 || Number(mi) > 59 || Number(s) > 59 || Number(oh) > 23 || Number(om) > 59) {
    throw new TypeError(`${JSON.stringify(value)} is not a valid date-time`);
  }
  const offset = zulu ? 0 : (sign === "-" ? -1 : 1) * (Number(oh) * 3600 + Number(om) * 60 + Number(os));
  const seconds = day * 86_400 + Number(h) * 3600 + Number(mi) * 60 + Number(s) - offset;
  return { kind: "dateTime", us: seconds * 1_000_000 + Number(fraction.padEnd(6, "0")) };
}

const formatters = new Map();

/** Wall-clock parts [year, month, day, hour, minute, second] of an instant (ms) in ``zone``. */
function wallParts(ms, zone) {
  let format = formatters.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      era: "short",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formatters.set(zone, format);
  }
  const parts = {};
  for (const part of format.formatToParts(new Date(ms))) parts[part.type] = part.value;
  const year = parts.era === "BC" || parts.era === "B" ? 1 - Number(parts.year) : Number(parts.year);
  const { month, day, hour, minute, second } = parts;
  return [year, Number(month), Number(day), Number(hour), Number(minute), Number(second)];
}

/** The zone's UTC offset (ms) at an instant (ms). */
function offsetAt(ms, zone) {
  const whole = ms - (((ms % 1000) + 1000) % 1000);
  return utcMs(...wallParts(whole, zone)) - whole;
}

/** The local date (day number) of an instant (us) in ``zone``. */
export function localDay(us, zone) {
  const [year, month, day] = wallParts(Math.floor(us / 1000), zone);
  return dayNumber(year, month, day);
}

/**
 * The UTC instant (us) of local midnight starting ``day`` in ``zone``, as Python's
 * ``datetime.combine(day, time(0), tzinfo=zone)`` (fold=0): in a repeated hour the first occurrence,
 * in a skipped hour the offset from before the change. Assumes at most one change within a day either side.
 */
export function midnight(day, zone) {
  const wall = day * DAY_MS;
  const before = offsetAt(wall - DAY_MS, zone);
  const after = offsetAt(wall + DAY_MS, zone);
  const valid = [...new Set([before, after])]
    .filter((offset) => offsetAt(wall - offset, zone) === offset)
    .map((offset) => wall - offset);
  const ms = valid.length ? Math.min(...valid) : wall - before;
  return ms * 1000;
}

/** An answer as a UTC instant (us); a date alone means its local start of day. */
export function instant(value, zone) {
  return value.kind === "dateTime" ? value.us : midnight(value.day, zone);
}

/** An answer's local date (day number) in ``zone``. */
export function localDate(value, zone) {
  return value.kind === "dateTime" ? localDay(value.us, zone) : value.day;
}
