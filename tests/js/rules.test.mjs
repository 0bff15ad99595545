// The browser copy of the care bundle rules (service/static/js/careloop-rules.js) against the rule cases
// shipped as data (tests/data/rule_cases): every case of every file, every expectation it gives, checked
// as the server's runner checks them (tests/service/checklists/test_rule_cases.py).

import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { describe, test } from "node:test";
import YAML from "yaml";

import { evaluate } from "../../service/static/js/careloop-rules.js";

const CASES_DIR = new URL("../data/rule_cases/", import.meta.url);
const FILES = readdirSync(CASES_DIR)
  .filter((name) => name.endsWith(".yaml"))
  .sort();
const BANK_HOLIDAYS = JSON.parse(readFileSync(new URL("bank_holidays.json", CASES_DIR), "utf8"));
const EXPECT_KEYS = new Set([
  "enabled_include",
  "enabled_exclude",
  "enabled_instances",
  "outcomes",
  "rules",
  "composites",
  "calculated",
  "failed_checks",
  "blocking_checks",
]);

/** YAML 1.2 core schema: `yes` stays text (a code), dates and date-times stay text. */
const parseYaml = (text) => YAML.parse(text, { schema: "core" });

function load(name) {
  return parseYaml(readFileSync(new URL(name, CASES_DIR), "utf8"));
}

const DATA = new Map(FILES.map((name) => [name.replace(/\.yaml$/, ""), load(name)]));

/** The file's care bundle, its top-level fields overridden by the case's. */
const careBundleOf = (data, item) => ({ ...data.care_bundle, ...(item.care_bundle ?? {}) });

/** Every case with its care bundle. */
function cases() {
  return [...DATA].flatMap(([stem, data]) =>
    data.cases.map((item) => ({ stem, item, careBundle: careBundleOf(data, item) })),
  );
}

function elementsOf(careBundle) {
  const { anchor } = careBundle;
  const found = new Map([[anchor.id, { id: anchor.id, type: anchor.type ?? "dateTime" }]]);
  const walk = (elements) => {
    for (const element of elements ?? []) {
      found.set(element.id, element);
      walk(element.items);
    }
  };
  walk(careBundle.elements);
  return found;
}

/** Answers as the case writes them, as lists (a repeating group's instances item by item), as _typed does. */
function answersOf(careBundle, raw) {
  const elements = elementsOf(careBundle);
  const typed = (id, value) => {
    const element = elements.get(id);
    assert.ok(element, `no element ${id}`);
    const values = Array.isArray(value) ? value : [value];
    if (element.type === "group" && element.repeats === true) {
      return values.map((instance) =>
        Object.fromEntries(Object.entries(instance).map(([key, inner]) => [key, typed(key, inner)])),
      );
    }
    return values;
  };
  return Object.fromEntries(Object.entries(raw).map(([id, value]) => [id, typed(id, value)]));
}

/** A number as a normalised exact decimal text, for Decimal(str(a)) == Decimal(str(b)). */
function decimalText(value) {
  const match = /^(-?)(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/.exec(String(value));
  assert.ok(match, `${value} is not a number`);
  const [, sign, whole, fraction = "", exponent = "0"] = match;
  let digits = `${whole}${fraction}`;
  let point = whole.length + Number(exponent);
  if (point <= 0) {
    digits = "0".repeat(1 - point) + digits;
    point = 1;
  }
  digits = digits.padEnd(point, "0");
  const integer = digits.slice(0, point).replace(/^0+(?=\d)/, "");
  const decimals = digits.slice(point).replace(/0+$/, "");
  const text = decimals ? `${integer}.${decimals}` : integer;
  return text === "0" ? "0" : `${sign}${text}`;
}

function check(result, expect) {
  for (const key of Object.keys(expect)) assert.ok(EXPECT_KEYS.has(key), `unknown expectation ${key}`);
  for (const id of expect.enabled_include ?? []) assert.ok(result.enabled.has(id), `${id} should be enabled`);
  for (const id of expect.enabled_exclude ?? []) {
    assert.ok(!result.enabled.has(id), `${id} should not be enabled`);
  }
  for (const [id, instance, enabled] of expect.enabled_instances ?? []) {
    const key = `${id}#${instance ?? ""}`;
    assert.equal(result.enabledInstances.has(key), enabled, key);
  }
  for (const [id, wanted] of Object.entries(expect.outcomes ?? {})) {
    const found = result.outcomes[id];
    assert.ok(found, `no outcome for ${id}`);
    const [outcome, reason] = typeof wanted === "string" ? [wanted, null] : wanted;
    assert.equal(found.outcome, outcome, `${id}: ${JSON.stringify(found)}`);
    if (reason !== null) assert.ok((found.reason ?? "").includes(reason), `${id}: ${found.reason}`);
  }
  for (const [id, wanted] of Object.entries(expect.rules ?? {})) {
    const rule = result.rules[id];
    assert.ok(rule, `no timing rule ${id}`);
    if ("outcome" in wanted) assert.equal(rule.outcome, wanted.outcome, `${id}: ${JSON.stringify(rule)}`);
    if ("status" in wanted) assert.equal(rule.status, wanted.status, `${id}: ${JSON.stringify(rule)}`);
    if ("due_at" in wanted) {
      if (wanted.due_at === null) assert.equal(rule.dueAt, null, id);
      else {
        assert.ok(rule.dueAt !== null, `${id}: no due time`);
        assert.equal(Date.parse(rule.dueAt), Date.parse(wanted.due_at), `${id}: ${rule.dueAt}`);
      }
    }
  }
  for (const [id, compliant] of Object.entries(expect.composites ?? {})) {
    assert.ok(id in result.composites, `no composite ${id}`);
    assert.equal(result.composites[id], compliant, id);
  }
  for (const [id, value] of Object.entries(expect.calculated ?? {})) {
    assert.ok(id in result.calculated, `no calculated ${id}`);
    const found = result.calculated[id];
    if (value === null || typeof value === "boolean") assert.equal(found, value, id);
    else {
      assert.equal(typeof found, "number", `${id}: ${found}`);
      assert.equal(decimalText(found), decimalText(value), id);
    }
  }
  if ("failed_checks" in expect) {
    assert.deepEqual([...result.failedChecks].sort(), [...expect.failed_checks].sort());
  }
  if ("blocking_checks" in expect) {
    assert.deepEqual([...result.blockingChecks].sort(), [...expect.blocking_checks].sort());
  }
}

let registered = 0;
for (const [stem, data] of DATA) {
  describe(stem, () => {
    for (const item of data.cases) {
      registered += 1;
      test(item.name, () => {
        const careBundle = careBundleOf(data, item);
        const result = evaluate(careBundle, answersOf(careBundle, item.answers), item.now, {
          bankHolidays: BANK_HOLIDAYS,
        });
        check(result, item.expect);
      });
    }
  });
}

describe("the rule case files", () => {
  test("every case file is run, there are at least 60 cases, every case checks something", () => {
    assert.deepEqual([...DATA.keys()].sort(), ["calculations", "compliance", "conditions", "timing"]);
    const all = cases();
    assert.ok(all.length >= 60, `only ${all.length} cases`);
    assert.equal(registered, all.length);
    for (const { stem, item } of all) {
      assert.ok(item.expect && Object.keys(item.expect).length, `${stem}: ${item.name} checks nothing`);
    }
  });

  test("the core schema keeps dates, date-times and yes/no as text", () => {
    const parsed = parseYaml("{a: 2025-04-01, b: 2025-06-01T00:00:00+00:00, c: yes, d: no, e: 0.61, f: 1}");
    assert.deepEqual(parsed, {
      a: "2025-04-01",
      b: "2025-06-01T00:00:00+00:00",
      c: "yes",
      d: "no",
      e: 0.61,
      f: 1,
    });
    const inApril = DATA.get("conditions").care_bundle.elements.find((element) => element.id === "in-april");
    assert.equal(inApril.enable_when[0].answer, "2025-04-01");
    for (const { stem, item, careBundle } of cases()) {
      assert.equal(typeof item.now, "string", `${stem}: ${item.name}`);
      const elements = elementsOf(careBundle);
      const choices = (id, value) => {
        const element = elements.get(id);
        if (element?.type === "group") {
          for (const instance of [value].flat()) {
            for (const [key, inner] of Object.entries(instance)) choices(key, inner);
          }
        } else if (element?.type === "choice") {
          for (const code of [value].flat()) assert.equal(typeof code, "string", `${item.name}: ${id}`);
        }
      };
      for (const [id, value] of Object.entries(item.answers)) choices(id, value);
    }
    for (const data of DATA.values()) {
      for (const element of elementsOf(data.care_bundle).values()) {
        for (const option of element.options ?? []) assert.equal(typeof option.code, "string", element.id);
        const { met = [], exception = [] } = element.compliance ?? {};
        for (const answer of [...met, ...exception]) {
          if (element.type === "choice") assert.equal(typeof answer, "string", element.id);
        }
      }
    }
  });
});
