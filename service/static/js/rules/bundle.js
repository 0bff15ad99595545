// A care bundle definition (plain JSON, the structure of bundles/FORMAT.md) prepared once for judging:
// what schemas/care_bundle/model.py and shape.py derive (rule ids, the default composite, days as hours),
// the conditions typed as the SDC code types them (service/checklists/compiled.py), and the items of the
// Questionnaire the server generates (fhir_adapters/questionnaire.py) that enableWhen is judged on.
//
// The definition is assumed to have passed the server's loader (the server only serves checked files).

import { comparable, decimal, decimalText, typeValue } from "./values.js";

export const DEFAULT_COMPOSITE = "all-or-none";
export const CALCULATIONS = ["years_between", "months_between", "count", "sum", "difference", "all", "any"];
const HELP_SUFFIX = "-help";

const cache = new WeakMap();

/**
 * The compiled form of this very definition object (cached by identity, as the server caches by id()).
 * @param {object} careBundle the care bundle definition as JSON
 */
export function compileCareBundle(careBundle) {
  let found = cache.get(careBundle);
  if (!found) {
    found = compile(careBundle);
    cache.set(careBundle, found);
  }
  return found;
}

function compile(json) {
  if (!json || typeof json !== "object" || !json.anchor || !Array.isArray(json.elements)) {
    throw new TypeError("a care bundle definition needs an anchor and elements");
  }
  const anchor = { id: json.anchor.id, text: json.anchor.text, type: json.anchor.type ?? "dateTime" };
  const walk = [];
  const byId = new Map();
  const groupOf = new Map();
  const visit = (elements, group) => {
    for (const element of elements ?? []) {
      walk.push(element);
      byId.set(element.id, element);
      if (group !== null) groupOf.set(element.id, group);
      const repeating = element.type === "group" && element.repeats === true;
      visit(element.items, repeating ? element.id : group);
    }
  };
  visit(json.elements, null);
  const bundle = {
    json,
    anchor,
    walk,
    timezone: json.timezone ?? "Europe/London",
    calendar: json.calendar ?? "england-and-wales",
    groupOf,
    /** The element (the anchor as a dateTime/date element) with this id, or undefined. */
    element: (id) => (id === anchor.id ? anchor : byId.get(id)),
  };
  const condition = (raw) => compileCondition(bundle, raw);
  const conditions = (raw) => (raw == null ? null : compileConditions(bundle, raw));
  bundle.population = json.population
    ? { text: json.population.text, when: conditions(json.population.when) }
    : null;
  bundle.checks = (json.checks ?? []).map((check) => ({
    id: check.id,
    severity: check.severity ?? "error",
    when: conditions(check.when),
    require: conditions(check.require),
  }));
  bundle.enableWhen = new Map(walk.map((e) => [e.id, (e.enable_when ?? []).map(condition)]));
  bundle.compliance = new Map();
  bundle.timingRules = [];
  for (const element of walk) {
    if (element.compliance == null) continue;
    const compliance = compileCompliance(bundle, element, condition, conditions);
    bundle.compliance.set(element.id, compliance);
    compliance.timing.forEach((rule, index) => {
      bundle.timingRules.push({ id: rule.id ?? `${element.id}.timing[${index}]`, element, rule });
    });
  }
  bundle.composites = json.composites?.length
    ? json.composites.map((composite) => ({ id: composite.id, members: composite.members }))
    : [
        {
          id: DEFAULT_COMPOSITE,
          members: walk
            .filter((element) => element.compliance != null && element.compliance.all_or_none !== false)
            .map((element) => element.id),
        },
      ];
  bundle.calculations = new Map(
    walk.filter((e) => e.calculated != null).map((e) => [e.id, compileCalculation(bundle, e)]),
  );
  bundle.items = [anchor, ...json.elements].map((element) => questionnaireItem(bundle, element));
  bundle.parentOf = new Map();
  const parents = (items, parent) => {
    for (const item of items) {
      bundle.parentOf.set(item.linkId, parent);
      parents(item.children, item);
    }
  };
  parents(bundle.items, null);
  return bundle;
}

/** A condition with its answer typed as the element it names, and that answer's comparable form. */
function compileCondition(bundle, raw) {
  const element = bundle.element(raw.element);
  if (!element) throw new TypeError(`a condition names ${raw.element}, which is not an element`);
  let expected;
  let answer = raw.answer;
  if (raw.operator === "exists") {
    expected = ["boolean", Boolean(raw.answer)];
  } else {
    answer = typeValue(element.type, raw.answer, raw.element);
    if (element.type === "choice" && !element.options?.some((option) => option.code === answer)) {
      throw new TypeError(`${raw.element}: ${JSON.stringify(answer)} is not one of its options`);
    }
    expected = comparable(element.type, answer);
  }
  return { element: raw.element, operator: raw.operator, answer: raw.answer, expected };
}

/** A list of conditions (all must hold), or ``{any: [...]}`` / ``{all: [...]}``. */
function compileConditions(bundle, raw) {
  let behavior = "all";
  let items = raw;
  if (!Array.isArray(raw)) {
    behavior = "any" in raw ? "any" : "all";
    items = raw[behavior];
  }
  return { items: items.map((item) => compileCondition(bundle, item)), behavior };
}

function compileCompliance(bundle, element, condition, conditions) {
  const raw = element.compliance;
  const typed = (answers) => (answers ?? []).map((answer) => typeValue(element.type, answer, element.id));
  const number = (value) => (value == null ? null : decimal(value));
  // within_days / after_days are stored as hours x 24 (shape.py).
  const hours = (inHours, inDays) => {
    if (inHours != null) return decimal(inHours);
    if (inDays == null) return null;
    const days = decimal(inDays);
    return { n: days.n * 24n, s: days.s };
  };
  return {
    met: typed(raw.met),
    exception: typed(raw.exception),
    exceptionWhen: (raw.exception_when ?? []).map(condition),
    appliesWhen: conditions(raw.applies_when),
    atLeast: number(raw.at_least),
    atMost: number(raw.at_most),
    timing: (raw.timing ?? []).map((rule) => ({
      id: rule.id ?? null,
      event: rule.event ?? null,
      start: rule.from ?? null,
      before: rule.before ?? null,
      withinHours: hours(rule.within_hours, rule.within_days),
      afterHours: hours(rule.after_hours, rule.after_days),
      byEndOfDay: rule.by_end_of_day ?? null,
      withinWorkingDays: rule.within_working_days ?? null,
      fromDay: rule.from_day ?? null,
      appliesWhen: conditions(rule.applies_when),
    })),
  };
}

function compileCalculation(bundle, element) {
  const raw = element.calculated;
  const names = Object.keys(raw).filter((key) => CALCULATIONS.includes(key));
  if (names.length !== 1) throw new TypeError(`${element.id}: give exactly one calculation`);
  const [fn] = names;
  if (fn === "all" || fn === "any") {
    return { fn, elements: [], conditions: raw[fn].map((item) => compileCondition(bundle, item)) };
  }
  return { fn, elements: raw[fn], answer: "answer" in raw ? raw.answer : null, conditions: [] };
}

/**
 * The Questionnaire item of an element, as much of it as enableWhen needs: its linkId, type, whether
 * it repeats, its conditions and children (its items, then its help text as a display item).
 */
function questionnaireItem(bundle, element) {
  const children = (element.items ?? []).map((item) => questionnaireItem(bundle, item));
  if (element.help) {
    const help = { linkId: element.id + HELP_SUFFIX, type: "display", repeats: false, conditions: [] };
    children.push({ ...help, enableAll: false, children: [] });
  }
  const conditions = bundle.enableWhen.get(element.id) ?? [];
  return {
    linkId: element.id,
    type: element.type,
    repeats: element.repeats === true,
    conditions: conditions.map((c) => ({ question: c.element, operator: c.operator, expected: c.expected })),
    enableAll: element.enable_behavior === "all",
    children,
  };
}

/** How a reason names a condition: ``mode = a``, ``only-a is answered``. */
export function describe(condition) {
  if (condition.operator === "exists") {
    return `${condition.element} ${condition.answer ? "is" : "is not"} answered`;
  }
  const { answer } = condition;
  const text = typeof answer === "number" ? decimalText(answer) : String(answer);
  return `${condition.element} ${condition.operator} ${text}`;
}

/** Conditions joined as the reason shows them. */
export function describeAll(conditions) {
  return conditions.items.map(describe).join(conditions.behavior === "any" ? " or " : " and ");
}
