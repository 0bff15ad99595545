// Calculated values: a port of service/checklists/calculations.py.
//
// Each function reads the enabled answers of elements above it; a value that cannot be worked out (an
// input not answered) is null. Dates are local dates in the care bundle's zone; sums and differences are
// exact decimals (0.69 - 0.61 is 0.08), returned as the nearest JS number.

import { dayParts, localDate } from "./time.js";
import {
  comparable,
  decimalAdd,
  decimalNumber,
  decimalSubtract,
  operatorHolds,
  sameValue,
  typeValue,
} from "./values.js";

/**
 * Work out one calculation.
 * @param {object} bundle the compiled care bundle
 * @param {{fn: string, elements: string[], answer: *, conditions: object[]}} calculation
 * @param {(id: string) => Array} valuesOf enabled answers of an element (every instance for group items)
 * @param {(id: string) => number} instancesOf enabled instances of a repeating group holding an answer
 * @returns {number|boolean|null}
 */
export function calculate(bundle, calculation, valuesOf, instancesOf) {
  const { fn } = calculation;
  if (fn === "all" || fn === "any") {
    const holds = (condition) => conditionHolds(bundle, condition, valuesOf(condition.element));
    return fn === "all" ? calculation.conditions.every(holds) : calculation.conditions.some(holds);
  }
  if (fn === "count") return count(bundle, calculation, valuesOf, instancesOf);
  const firsts = calculation.elements.map((id) => valuesOf(id)[0] ?? null);
  if (firsts.some((value) => value === null)) return null;
  if (fn === "years_between" || fn === "months_between") {
    const [earlier, later] = firsts.map((value) => dayParts(localDate(value, bundle.timezone)));
    const [ey, em, ed] = earlier;
    const [ly, lm, ld] = later;
    if (fn === "years_between") return ly - ey - (lm < em || (lm === em && ld < ed) ? 1 : 0);
    return ly * 12 + lm - (ey * 12 + em) - (ld < ed ? 1 : 0);
  }
  if (fn === "sum") return decimalNumber(firsts.slice(1).reduce(decimalAdd, firsts[0]));
  if (fn === "difference") return decimalNumber(decimalSubtract(firsts[1], firsts[0]));
  throw new TypeError(`unknown calculation ${fn}`);
}

function count(bundle, calculation, valuesOf, instancesOf) {
  let total = 0;
  for (const id of calculation.elements) {
    const element = bundle.element(id);
    if (element.type === "group" && element.repeats === true) {
      total += instancesOf(id);
      continue;
    }
    const values = valuesOf(id);
    if (calculation.answer === null) {
      total += values.length;
    } else {
      const wanted = typeValue(element.type, calculation.answer, id);
      total += values.filter((value) => sameValue(value, wanted)).length;
    }
  }
  return total;
}

/** One condition on the (enabled) answers of the element it names. */
export function conditionHolds(bundle, condition, values) {
  const type = bundle.element(condition.element).type;
  return operatorHolds(
    condition.operator,
    condition.expected,
    values.map((value) => comparable(type, value)),
  );
}
