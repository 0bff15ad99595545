// Careloop's care bundle rules in the browser: which questions are shown, calculated values, outcomes,
// timing rules, composites and checks, with the same meaning as the server's
// ``service.checklists.evaluate`` (service/checklists/evaluation.py). Dependency-free ES module; runs in
// browsers and in Node 20. It must pass the rule cases in tests/data/rule_cases unchanged.
//
// Map to the Python:  rules/bundle.js       schemas/care_bundle/model.py, service/checklists/compiled.py
//                     rules/enablement.js   fhir_adapters/sdc/enablement.py, validate.py enabled_items
//                     rules/timing.js       service/checklists/timing.py
//                     rules/calculations.js service/checklists/calculations.py
//                     rules/values.js       coerce_answer, the SDC comparable forms and operators
//                     rules/time.js         dates, instants, zoneinfo (Intl.DateTimeFormat)

import { compileCareBundle, describe, describeAll } from "./rules/bundle.js";
import { calculate, conditionHolds } from "./rules/calculations.js";
import { enabledItems, enabledKey } from "./rules/enablement.js";
import { dayParts, isoUtc, parseDateTime } from "./rules/time.js";
import { judgeOrder, judgeWindow } from "./rules/timing.js";
import {
  decimalCompare,
  decimalText,
  numberOf,
  pythonRepr,
  sameValue,
  typeValue,
  valueText,
} from "./rules/values.js";

export { compileCareBundle };

/**
 * Judge a checklist's answers at ``now``.
 *
 * @param {object} careBundle the care bundle definition as plain JSON (bundles/FORMAT.md)
 * @param {Record<string, Array>} answers element id -> answers (codes, numbers, booleans, ``YYYY-MM-DD``,
 *   date-times with an offset; a single value is taken as a list of one); the anchor under its own id;
 *   a repeating group's id -> instances, each an object of its items' answers. Answers to calculated
 *   elements are ignored (they are worked out here), as are answers to disabled elements.
 * @param {string|Date} now when the checklist is judged (ISO 8601 with an offset, or a Date)
 * @param {{bankHolidays?: Record<string, string[]>}} [options] bank holidays per calendar
 *   (``england-and-wales``, ``scotland``), ISO dates; needed by ``within_working_days`` rules
 * @returns {{enabled: Set<string>, enabledInstances: Set<string>,
 *   outcomes: Record<string, {outcome: string, reason: string|null}>,
 *   rules: Record<string, {outcome: string, status: string|null, dueAt: string|null,
 *     reason: string|null, element: string}>,
 *   composites: Record<string, boolean|null>, calculated: Record<string, number|boolean|null>,
 *   failedChecks: string[], blockingChecks: string[], inPopulation: boolean}}
 *   ``enabledInstances`` holds ``id#instance`` keys (instance "" outside a repeating group); ``dueAt``
 *   is UTC (``2025-06-02T19:00:00+00:00``).
 * @throws {TypeError} when an answer does not fit its element, or ``now`` has no offset
 */
export function evaluate(careBundle, answers, now, options = {}) {
  const bundle = compileCareBundle(careBundle);
  const nowUs = parseDateTime(now).us;
  const state = new State(bundle, typedAnswers(bundle, answers ?? {}));
  return new Judge(state, nowUs, options.bankHolidays).run();
}

const asList = (value) => (Array.isArray(value) ? value : value == null ? [] : [value]);
const isInstance = (value) => typeof value === "object" && value !== null && !Array.isArray(value);

/** Answers typed as their elements hold them, calculated elements left out (a Map). */
function typedAnswers(bundle, answers) {
  const typed = (id, value) => {
    const element = bundle.element(id);
    // Not an element, or a group or display item: ignored, as the server ignores it.
    if (!element || (element.type === "group" && element.repeats !== true) || element.type === "display") {
      return asList(value);
    }
    if (element.type === "group" && element.repeats === true) {
      return asList(value).map((instance) =>
        isInstance(instance)
          ? Object.fromEntries(Object.entries(instance).map(([key, inner]) => [key, typed(key, inner)]))
          : instance,
      );
    }
    return asList(value).map((raw) => {
      const found = typeValue(element.type, raw, id);
      if (element.type === "choice" && !element.options?.some((option) => option.code === found)) {
        throw new TypeError(`${id}: ${JSON.stringify(found)} is not one of its options`);
      }
      return found;
    });
  };
  const result = new Map();
  for (const [id, value] of Object.entries(answers)) {
    if (!bundle.calculations.has(id)) result.set(id, typed(id, value));
  }
  return result;
}

/**
 * The answers with calculated values filled in and what is enabled, worked out to a fixed point
 * (_State in evaluation.py). Conditions and calculations only look upwards, so each round settles at
 * least one more level; ``n`` calculated elements need at most ``n + 2`` rounds.
 */
class State {
  constructor(bundle, answers) {
    this.bundle = bundle;
    this.raw = answers;
    for (const element of bundle.walk) {
      if (element.type === "group" && element.repeats === true && this.raw.has(element.id)) {
        // An instance with no answer is not written in a response: it is no instance at all.
        const answered = (instance) => Object.values(instance).some((values) => values.length > 0);
        this.raw.set(element.id, this.raw.get(element.id).filter((i) => isInstance(i) && answered(i)));
      }
    }
    this.calculated = new Map();
    this.enabled = new Map();
    let previous = null;
    for (let round = 0; round < bundle.calculations.size + 2; round += 1) {
      this.merged = this.merge();
      this.enabled = enabledItems(bundle, this.merged);
      const calculated = new Map();
      for (const [id, calculation] of bundle.calculations) {
        const valuesOf = (element) => this.valuesOf(element);
        const instancesOf = (group) => this.instancesOf(group);
        calculated.set(id, this.isEnabled(id) ? calculate(bundle, calculation, valuesOf, instancesOf) : null);
      }
      if (sameMap(this.enabled, previous) && sameMap(calculated, this.calculated)) break;
      previous = this.enabled;
      this.calculated = calculated;
    }
    this.merged = this.merge();
  }

  merge() {
    const merged = new Map(this.raw);
    for (const [id, value] of this.calculated) if (value !== null) merged.set(id, [value]);
    return merged;
  }

  isEnabled(id, instance = null) {
    return this.enabled.get(enabledKey(id, instance)) === true;
  }

  groupOf(id) {
    return this.bundle.groupOf.get(id) ?? null;
  }

  instances(groupId) {
    return (this.merged.get(groupId) ?? []).filter(isInstance);
  }

  /** Instances of a shown repeating group holding an enabled answer (an empty one is not written). */
  instancesOf(groupId) {
    if (!this.isEnabled(groupId)) return 0;
    return this.instances(groupId).filter((instance, index) =>
      Object.entries(instance).some(([key, values]) => values.length > 0 && this.isEnabled(key, index)),
    ).length;
  }

  /** Enabled answers of an element: of one instance, or of every instance of its repeating group. */
  valuesOf(id, instance = null) {
    if (id === this.bundle.anchor.id) return this.raw.get(id) ?? [];
    const group = this.groupOf(id);
    if (group === null) return this.isEnabled(id) ? this.merged.get(id) ?? [] : [];
    const instances = this.instances(group);
    const indices = instance === null ? instances.map((_, index) => index) : [instance];
    return indices.flatMap((index) => (this.isEnabled(id, index) ? instances[index][id] ?? [] : []));
  }
}

function sameMap(a, b) {
  if (a === null || b === null || a.size !== b.size) return false;
  for (const [key, value] of a) if (!b.has(key) || b.get(key) !== value) return false;
  return true;
}

const base = (outcome, reason = null) => ({ outcome, reason });

/** Outcomes of elements, timing rules, composites and checks (_Judge in evaluation.py). */
class Judge {
  constructor(state, now, bankHolidays) {
    this.state = state;
    this.bundle = state.bundle;
    this.now = now;
    this.bankHolidays = bankHolidays;
    const population = this.bundle.population;
    this.inPopulation = population === null || this.holds(population.when);
    this.outside = population === null ? null : `outside the population: ${population.text}`;
  }

  holds(conditions, instance = null) {
    const test = (condition) => this.condition(condition, instance);
    return conditions.behavior === "any" ? conditions.items.some(test) : conditions.items.every(test);
  }

  condition(condition, instance = null) {
    const sameGroup = instance !== null && this.state.groupOf(condition.element) !== null;
    const values = this.state.valuesOf(condition.element, sameGroup ? instance : null);
    return conditionHolds(this.bundle, condition, values);
  }

  run() {
    const disabled = this.disabledReasons();
    const bases = new Map();
    const rulesByElement = new Map();
    const rules = {};
    for (const { id, element, rule } of this.bundle.timingRules) {
      if (!bases.has(element.id)) bases.set(element.id, this.base(element, null, disabled));
      const judged = { ...this.rule(element, rule, bases.get(element.id)), element: element.id };
      if (!rulesByElement.has(element.id)) rulesByElement.set(element.id, []);
      rulesByElement.get(element.id).push(judged);
      rules[id] = judged;
    }
    const outcomes = {};
    for (const element of this.bundle.walk) {
      if (element.type === "group" || element.type === "display") continue;
      const rules = rulesByElement.get(element.id) ?? [];
      outcomes[element.id] = this.element(element, disabled, bases.get(element.id), rules);
    }
    const failedChecks = this.bundle.checks.filter(
      (check) => (check.when === null || this.holds(check.when)) && !this.holds(check.require),
    );
    const enabledInstances = new Set([enabledKey(this.bundle.anchor.id, null)]);
    const enabled = new Set([this.bundle.anchor.id]);
    for (const [key, on] of this.state.enabled) {
      if (!on) continue;
      enabledInstances.add(key);
      enabled.add(key.slice(0, key.lastIndexOf("#")));
    }
    const calculated = Object.fromEntries(this.state.calculated);
    for (const id of this.bundle.calculations.keys()) if (!(id in calculated)) calculated[id] = null;
    return {
      enabled,
      enabledInstances,
      outcomes,
      rules: Object.fromEntries(
        Object.entries(rules).map(([id, rule]) => [
          id,
          { ...rule, dueAt: rule.dueAt === null ? null : isoUtc(rule.dueAt) },
        ]),
      ),
      composites: this.composites(outcomes, rules),
      calculated,
      failedChecks: failedChecks.map((check) => check.id),
      blockingChecks: failedChecks.filter((check) => check.severity === "error").map((check) => check.id),
      inPopulation: this.inPopulation,
    };
  }

  /** Why each disabled element is not shown: its own conditions, or those of a group above it. */
  disabledReasons() {
    const reasons = new Map();
    const walk = (elements, instance, above) => {
      for (const element of elements ?? []) {
        if (element.type === "group" && element.repeats === true && instance === null) {
          const reason = above || this.ownReason(element, null);
          if (reason) reasons.set(enabledKey(element.id, null), reason);
          const count = this.state.instances(element.id).length;
          for (let index = 0; index < count; index += 1) walk(element.items, index, reason);
          if (!count) walk(element.items, null, reason || "no instances recorded");
          continue;
        }
        const reason = above || this.ownReason(element, instance);
        if (reason) reasons.set(enabledKey(element.id, instance), reason);
        walk(element.items, instance, reason);
      }
    };
    walk(this.bundle.json.elements, null, null);
    return reasons;
  }

  ownReason(element, instance) {
    if (this.state.isEnabled(element.id, instance)) return null;
    const joiner = element.enable_behavior === "any" ? " or " : " and ";
    const described = this.bundle.enableWhen.get(element.id).map(describe).join(joiner);
    return described ? `applies only when ${described}` : "not shown";
  }

  /** An element's answer judged before its timing rules: not applicable (with why), missing, or met. */
  base(element, instance, disabled) {
    const compliance = this.bundle.compliance.get(element.id) ?? null;
    const values = this.state.valuesOf(element.id, instance);
    const reason = disabled.get(enabledKey(element.id, instance));
    if (reason !== undefined) return base("not-applicable", reason);
    if (compliance === null) return base(values.length ? "met" : "missing");
    if (!this.inPopulation) return base("not-applicable", this.outside);
    for (const value of values) {
      if (compliance.exception.some((answer) => sameValue(answer, value))) {
        return base("not-applicable", `documented exception: ${show(element, value)}`);
      }
    }
    for (const condition of compliance.exceptionWhen) {
      if (this.condition(condition, instance)) {
        return base("not-applicable", `documented exception: ${describe(condition)}`);
      }
    }
    if (compliance.appliesWhen !== null && !this.holds(compliance.appliesWhen, instance)) {
      return base("not-applicable", `applies only when ${describeAll(compliance.appliesWhen)}`);
    }
    if (!values.length) return base("missing", "not answered");
    const isMet = (value) => compliance.met.some((answer) => sameValue(answer, value));
    if (compliance.met.length && !values.some(isMet)) {
      const shown = values.map((value) => show(element, value)).join(", ");
      return base("not-met", `answer ${shown} is not a met answer`);
    }
    for (const value of values) {
      const number = numberOf(value);
      if (number === null) continue;
      if (compliance.atLeast !== null && decimalCompare(number, compliance.atLeast) < 0) {
        return base("not-met", `${decimalText(number)} is below ${decimalText(compliance.atLeast)}`);
      }
      if (compliance.atMost !== null && decimalCompare(number, compliance.atMost) > 0) {
        return base("not-met", `${decimalText(number)} is above ${decimalText(compliance.atMost)}`);
      }
    }
    return base("met");
  }

  rule(element, rule, judged) {
    const result = (outcome, status, reason, dueAt = null) => ({ outcome, status, dueAt, reason });
    if (judged.outcome === "not-applicable") return result("not-applicable", null, judged.reason);
    if (rule.appliesWhen !== null && !this.holds(rule.appliesWhen)) {
      return result("not-applicable", null, `applies only when ${describeAll(rule.appliesWhen)}`);
    }
    if (judged.outcome === "not-met") return result("not-met", "not-met", judged.reason);
    const first = (id) => this.state.valuesOf(id)[0] ?? null;
    const event = first(rule.event ?? element.id);
    const zone = this.bundle.timezone;
    let found;
    if (rule.before !== null) {
      found = judgeOrder(rule.before, first(rule.before), event, zone);
    } else {
      const startId = rule.start === "anchor" ? this.bundle.anchor.id : rule.start;
      const { calendar } = this.bundle;
      found = judgeWindow(rule, startId, first(startId), event, zone, calendar, this.now, this.bankHolidays);
    }
    return result(found.outcome, found.status, found.reason, found.dueAt);
  }

  element(element, disabled, judged, rules) {
    const group = this.state.groupOf(element.id);
    if (group !== null) {
      const count = this.state.instances(group).length;
      const each = Array.from({ length: count }, (_, index) => this.base(element, index, disabled));
      return each.length ? combine(each) : base("not-applicable", "no instances recorded");
    }
    const own = judged ?? this.base(element, null, disabled);
    if (own.outcome !== "met" || !rules.length) return base(own.outcome, own.reason);
    const failed = rules.filter((rule) => rule.outcome !== "not-applicable" && rule.outcome !== "met");
    if (!failed.length) return base("met");
    const worst = failed.some((rule) => rule.outcome === "not-met") ? "not-met" : "missing";
    return base(worst, failed.map((rule) => String(rule.reason)).join("; "));
  }

  composites(outcomes, rules) {
    const byId = new Map(Object.entries(outcomes).map(([id, found]) => [id, found.outcome]));
    for (const [id, rule] of Object.entries(rules)) byId.set(id, rule.outcome);
    const result = {};
    for (const composite of this.bundle.composites) {
      const outcome = (member) => {
        if (!byId.has(member)) throw new TypeError(`composite ${composite.id}: ${member} is not judged`);
        return byId.get(member);
      };
      const applicable = composite.members.filter((member) => outcome(member) !== "not-applicable");
      const notMet = applicable.filter((member) => outcome(member) !== "met");
      result[composite.id] = !applicable.length || !this.inPopulation ? null : !notMet.length;
    }
    return result;
  }
}

/** Per-instance outcomes of an item in a repeating group: one not met (or missing) decides. */
function combine(judged) {
  for (const wanted of ["not-met", "missing"]) {
    const found = judged.find((each) => each.outcome === wanted);
    if (found) return base(found.outcome, found.reason);
  }
  if (judged.every((each) => each.outcome === "not-applicable")) {
    return base("not-applicable", judged[0].reason);
  }
  return base("met");
}

/** An answer as a reason shows it: Python's repr of its option's display, or of the value. */
function show(element, value) {
  const option = element.options?.find((each) => each.code === value);
  if (option) return pythonRepr(option.display);
  if (typeof value === "string") return pythonRepr(value);
  if (typeof value === "boolean") return value ? "True" : "False";
  if (typeof value === "number") {
    return element.type === "decimal" ? `Decimal('${decimalText(value)}')` : String(value);
  }
  if (value.kind === "date") return `datetime.date(${dayParts(value.day).join(", ")})`;
  return valueText(value); // a date-time: its UTC isoformat (Python shows its repr)
}
