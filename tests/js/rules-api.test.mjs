// The browser copy of the rules beyond the rule cases: what it may depend on, how it takes its inputs,
// and local midnight across clock changes (expected values from Python's zoneinfo, as the server uses).

import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { describe, test } from "node:test";
import YAML from "yaml";

import { evaluate } from "../../service/static/js/careloop-rules.js";
import { isoUtc, midnight, parseDate } from "../../service/static/js/rules/time.js";

const JS_DIR = new URL("../../service/static/js/", import.meta.url);
const CASES_DIR = new URL("../data/rule_cases/", import.meta.url);
const BANK_HOLIDAYS = JSON.parse(readFileSync(new URL("bank_holidays.json", CASES_DIR), "utf8"));
const timing = YAML.parse(readFileSync(new URL("timing.yaml", CASES_DIR), "utf8"), { schema: "core" });
const calculations = YAML.parse(readFileSync(new URL("calculations.yaml", CASES_DIR), "utf8"), {
  schema: "core",
});

function sources() {
  const found = [["careloop-rules.js", readFileSync(new URL("careloop-rules.js", JS_DIR), "utf8")]];
  for (const name of readdirSync(new URL("rules/", JS_DIR)).sort()) {
    found.push([`rules/${name}`, readFileSync(new URL(`rules/${name}`, JS_DIR), "utf8")]);
  }
  return found;
}

describe("the module", () => {
  test("imports only its own modules, by relative paths ending in .js", () => {
    for (const [name, text] of sources()) {
      for (const [, specifier] of text.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+"([^"]+)"/gms)) {
        assert.match(specifier, /^\.\.?\/[\w/.-]+\.js$/, `${name} imports ${specifier}`);
      }
    }
  });

  test("uses no eval, no dynamic code or imports and no network", () => {
    for (const [name, text] of sources()) {
      const banned = [/\beval\s*\(/, /new\s+Function\b/, /\bimport\s*\(/, /\bfetch\s*\(/, /XMLHttpRequest/];
      for (const pattern of banned) assert.doesNotMatch(text, pattern, name);
    }
  });

  test("the whole rule code stays small", () => {
    const lines = sources().reduce((total, [, text]) => total + text.split("\n").length, 0);
    assert.ok(lines < 1500, `${lines} lines`);
  });
});

describe("inputs", () => {
  const careBundle = timing.care_bundle;
  const answers = { arrival: "2025-06-01T08:00:00+01:00", surgery: "2025-06-02T20:00:00+01:00" };
  const options = { bankHolidays: BANK_HOLIDAYS };
  const at = (now, given = answers) => evaluate(careBundle, given, now, options);

  test("now may be a Date or an ISO string with an offset, but not a local time", () => {
    assert.deepEqual(at(new Date("2025-06-01T09:00:00Z")).rules, at("2025-06-01T10:00:00+01:00").rules);
    assert.throws(() => at("2025-06-01T10:00:00"), /offset/);
  });

  test("a date-time answer needs an offset and a choice answer must be an option", () => {
    assert.throws(() => at("2025-06-01T10:00:00Z", { arrival: "2025-06-01T08:00:00" }), /offset/);
    assert.throws(() => at("2025-06-01T10:00:00Z", { screen: ["maybe"] }), /options/);
  });

  test("a single answer counts as a list of one", () => {
    const listed = at("2025-06-10T00:00:00Z", { arrival: [answers.arrival], surgery: [answers.surgery] });
    const single = at("2025-06-10T00:00:00Z");
    assert.deepEqual(single.rules, listed.rules);
    assert.equal(single.rules["within-36h"].outcome, "met");
  });

  test("answers to calculated elements are ignored: they are worked out", () => {
    const answered = {
      referral: "2026-03-01T12:00:00+00:00",
      "before-score": 14,
      "after-score": 9,
      "score-sum": 1,
    };
    const result = evaluate(calculations.care_bundle, answered, "2026-06-01T00:00:00Z");
    assert.equal(result.calculated["score-sum"], 23);
  });

  test("working-day rules need the bank holidays of the calendar, for every year they count", () => {
    const call = { arrival: "2025-04-17T16:00:00+01:00", call: "2025-04-23T23:59:00+01:00" };
    assert.throws(() => evaluate(careBundle, call, "2025-05-01T00:00:00Z"), /bank holidays/);
    const late = { arrival: "2031-04-17T16:00:00+01:00" };
    assert.throws(() => at("2031-05-01T00:00:00Z", late), /2031/);
    const result = at("2025-05-01T00:00:00Z", call);
    assert.equal(result.rules["two-working-days"].dueAt, "2025-04-23T23:00:00+00:00");
  });
});

describe("local midnight (zoneinfo, fold=0)", () => {
  const cases = [
    ["Europe/London", "2025-03-30", "2025-03-30T00:00:00+00:00"],
    ["Europe/London", "2025-10-26", "2025-10-25T23:00:00+00:00"],
    // Midnight skipped: the offset from before the change.
    ["America/Santiago", "2024-09-08", "2024-09-08T04:00:00+00:00"],
    ["Asia/Beirut", "2024-03-31", "2024-03-30T22:00:00+00:00"],
    // Midnight repeated: its first occurrence.
    ["America/Havana", "2024-11-03", "2024-11-03T04:00:00+00:00"],
  ];
  for (const [zone, day, expected] of cases) {
    test(`${zone} ${day}`, () => assert.equal(isoUtc(midnight(parseDate(day).day, zone)), expected));
  }
});
