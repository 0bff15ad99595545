// Answer values for the browser copy of the care bundle rules: typing answers as the server does
// (schemas/care_bundle/model.py coerce_answer), exact decimals, and the R4 enableWhen operators on the
// comparable forms of answers (fhir_adapters/sdc/compiled.py comparable, fhir_adapters/sdc/enablement.py).

import { dayParts, isoDay, isoUtc, parseDate, parseDateTime } from "./time.js";

// ---------------------------------------------------------------------------------------------------
// Exact decimals: {n: BigInt, s: scale}, the value n x 10^-s. A JS number stands for the decimal of its
// shortest round-trip text, as Python's Decimal(str(float)) does.

/** A number (or decimal) as an exact decimal. */
export function decimal(value) {
  if (typeof value === "object" && value !== null && "n" in value) return value;
  if (typeof value !== "number" || !Number.isFinite(value)) throw new TypeError(`${value} is not a number`);
  const match = /^(-?)(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/.exec(String(value));
  const [, sign, whole, fraction = "", exponent = "0"] = match;
  let n = BigInt(`${sign}${whole}${fraction}`);
  let s = fraction.length - Number(exponent);
  if (s < 0) {
    n *= 10n ** BigInt(-s);
    s = 0;
  }
  return { n, s };
}

function aligned(a, b) {
  const s = Math.max(a.s, b.s);
  return [a.n * 10n ** BigInt(s - a.s), b.n * 10n ** BigInt(s - b.s), s];
}

export function decimalAdd(a, b) {
  const [x, y, s] = aligned(decimal(a), decimal(b));
  return { n: x + y, s };
}

export function decimalSubtract(a, b) {
  const [x, y, s] = aligned(decimal(a), decimal(b));
  return { n: x - y, s };
}

/** -1, 0 or 1. */
export function decimalCompare(a, b) {
  const [x, y] = aligned(decimal(a), decimal(b));
  return x < y ? -1 : x > y ? 1 : 0;
}

/** The whole part (towards zero) of a decimal times an integer: Python's ``int(Decimal * k)``. */
export function decimalTimesTruncated(a, k) {
  const { n, s } = decimal(a);
  return Number((n * BigInt(k)) / 10n ** BigInt(s));
}

/** Plain text without trailing zeros, as Python's ``f"{value.normalize():f}"``. */
export function decimalText(a) {
  let { n, s } = decimal(a);
  while (s > 0 && n % 10n === 0n) {
    n /= 10n;
    s -= 1;
  }
  const negative = n < 0n;
  const digits = (negative ? -n : n).toString().padStart(s + 1, "0");
  const text = s ? `${digits.slice(0, -s)}.${digits.slice(-s)}` : digits;
  return negative ? `-${text}` : text;
}

/** The nearest JS number. */
export function decimalNumber(a) {
  return Number(decimalText(a));
}

// ---------------------------------------------------------------------------------------------------
// Typed answers. choice/string/text: strings; boolean: booleans; integer/decimal: numbers;
// date: {kind: "date", day}; dateTime: {kind: "dateTime", us}.

/**
 * An answer (or a condition's answer) as the value an element of ``type`` holds; throws a TypeError
 * naming ``id`` when it does not fit, as the server's coerce_answer / typed_value do.
 */
export function typeValue(type, raw, id) {
  const fail = (what) => {
    throw new TypeError(`${id}: ${JSON.stringify(raw)} is not ${what}`);
  };
  switch (type) {
    case "boolean":
      return typeof raw === "boolean" ? raw : fail("true or false");
    case "integer":
      return Number.isInteger(raw) ? raw : fail("a whole number");
    case "decimal":
      return typeof raw === "number" && Number.isFinite(raw) ? raw : fail("a number");
    case "date":
      try {
        return parseDate(raw);
      } catch {
        return fail("a date such as 2024-05-31");
      }
    case "dateTime":
      try {
        return parseDateTime(raw);
      } catch (error) {
        return fail(`a date-time with an offset (${error.message})`);
      }
    case "choice":
    case "string":
    case "text":
      return typeof raw === "string" ? raw : fail("text");
    default:
      return fail(`an answer (a ${type} element takes none)`);
  }
}

/** Python ``==`` between two values of one element. */
export function sameValue(a, b) {
  if (typeof a === "object" && a !== null && typeof b === "object" && b !== null) {
    if (a.kind !== b.kind) return false;
    return a.kind === "date" ? a.day === b.day : a.us === b.us;
  }
  return a === b;
}

/** A number answer (not a boolean), or null. */
export function numberOf(value) {
  return typeof value === "number" ? value : null;
}

// ---------------------------------------------------------------------------------------------------
// Comparable forms and the R4 enableWhen operators.

/**
 * The comparable form of a typed value of an element of ``type``, as the SDC code sees it in a
 * QuestionnaireResponse: [kind, value]. Date-times become their UTC parts at millisecond precision
 * (they travel as FHIR dateTime text with milliseconds); dates their [year, month, day].
 */
export function comparable(type, value) {
  switch (type) {
    case "choice":
      return ["coding", value];
    case "boolean":
      return ["boolean", value];
    case "integer":
    case "decimal":
      return ["number", value];
    case "date":
      return ["temporal", dayParts(value.day)];
    case "dateTime": {
      const seconds = Math.floor(value.us / 1_000_000);
      const micro = value.us - seconds * 1_000_000;
      const day = Math.floor(seconds / 86_400);
      const rest = seconds - day * 86_400;
      const time = [Math.floor(rest / 3600), Math.floor((rest % 3600) / 60), rest % 60];
      return ["temporal", [...dayParts(day), ...time, micro - (micro % 1000)]];
    }
    default:
      return ["string", value];
  }
}

/** Whether a value is written as a well-formed FHIR answer (the SDC code ignores the others). */
export function wellFormed(type, value) {
  if (type === "string" || type === "text") return value !== "";
  if (type === "integer") return value >= -(2 ** 31) && value <= 2 ** 31 - 1;
  return true;
}

function compareParts(left, right) {
  const common = Math.min(left.length, right.length);
  for (let index = 0; index < common; index += 1) {
    if (left[index] !== right[index]) return left[index] < right[index] ? -1 : 1;
  }
  return 0;
}

function equal(answer, expected) {
  if (answer[0] !== expected[0]) return false;
  if (answer[0] === "temporal") {
    return answer[1].length === expected[1].length && compareParts(answer[1], expected[1]) === 0;
  }
  return answer[1] === expected[1];
}

function order(answer, expected) {
  if (answer[0] !== expected[0]) return null;
  if (answer[0] === "temporal") {
    const found = compareParts(answer[1], expected[1]);
    // 2022 vs 2022-06 (or a date vs a date-time on that date): neither before, after nor equal.
    return found === 0 && answer[1].length !== expected[1].length ? null : found;
  }
  if (answer[0] === "number" || answer[0] === "string") {
    return answer[1] > expected[1] ? 1 : answer[1] < expected[1] ? -1 : 0;
  }
  return null;
}

/**
 * One R4 enableWhen condition on the comparable answers of the question it names:
 * ``exists`` (expected ["boolean", b]), ``=``, ``!=`` (true when no answer equals, so also unanswered),
 * ``>``, ``<``, ``>=``, ``<=`` (need an answer of a comparable kind).
 */
export function operatorHolds(operator, expected, answers) {
  if (operator === "exists") return answers.length > 0 === expected[1];
  if (operator === "=") return answers.some((answer) => equal(answer, expected));
  if (operator === "!=") return !answers.some((answer) => equal(answer, expected));
  return answers.some((answer) => {
    const found = order(answer, expected);
    if (found === null) return false;
    return (
      (operator === ">" && found > 0) ||
      (operator === "<" && found < 0) ||
      (operator === ">=" && found >= 0) ||
      (operator === "<=" && found <= 0)
    );
  });
}

// ---------------------------------------------------------------------------------------------------
// Text, for reasons.

/** Python's ``repr`` of a string. */
export function pythonRepr(text) {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  const body = text.replaceAll("\\", "\\\\").replaceAll(quote, `\\${quote}`).replaceAll("\n", "\\n");
  return `${quote}${body}${quote}`;
}

/** A typed value as text: dates ISO, date-times as Python's UTC isoformat, numbers and the rest as is. */
export function valueText(value) {
  if (typeof value === "object" && value !== null) {
    return value.kind === "date" ? isoDay(value.day) : isoUtc(value.us);
  }
  return typeof value === "number" ? decimalText(value) : String(value);
}
