// Which items are enabled, by the R4 enableWhen rules: a port of fhir_adapters/sdc/enablement.py and of
// enabled_items() in fhir_adapters/sdc/validate.py, run over the QuestionnaireResponse the answers make
// (fhir_adapters/questionnaire_response.py response_items).
//
// R4 semantics: a disabled question counts as unanswered; an item under a disabled item is disabled;
// a condition reads one occurrence of its question: inside a repeating group, the occurrence in the same
// instance (none if that instance does not answer it), else the nearest on the ancestor axis, then the
// preceding, then the following one.

import { comparable, operatorHolds, wellFormed } from "./values.js";

const NOT_DONE = 0;
const IN_PROGRESS = 1;
const DONE = 2;

/** The key of an item in the enabled map: ``id#instance`` (instance "" outside a repeating group). */
export const enabledKey = (id, instance) => `${id}#${instance ?? ""}`;

/**
 * The response items for ``answers`` (anchor first, the Questionnaire's nesting; a group only when
 * something inside is answered; one item per instance of a repeating group).
 */
function responseItems(items, answers) {
  const found = [];
  for (const item of items) {
    if (item.type === "group" && item.repeats) {
      for (const instance of answers.get(item.linkId) ?? []) {
        const children = responseItems(item.children, toMap(instance));
        if (children.length) found.push({ item, children, values: null });
      }
    } else if (item.type === "group") {
      const children = responseItems(item.children, answers);
      if (children.length) found.push({ item, children, values: null });
    } else if (item.type !== "display" && answers.get(item.linkId)?.length) {
      found.push({ item, children: [], values: answers.get(item.linkId) });
    }
  }
  return found;
}

const toMap = (instance) => (instance instanceof Map ? instance : new Map(Object.entries(instance)));

class ResponseNode {
  constructor(item, index, parent) {
    this.item = item;
    this.index = index;
    this.end = index;
    this.parent = parent;
    this.values = []; // comparable forms of the well-formed answers
    this.enabled = true;
    this.state = NOT_DONE;
  }
}

/** Answers "is this item enabled here?" (Enablement in enablement.py). */
class Enablement {
  constructor(byLinkId, parentOf) {
    this.byLinkId = byLinkId;
    this.parentOf = parentOf;
  }

  of(node) {
    if (node.state === DONE) return node.enabled;
    if (node.state === IN_PROGRESS) return true; // a cycle of conditions: do not disable on it
    node.state = IN_PROGRESS;
    const parent = node.parent !== null ? this.of(node.parent) : true;
    const own = parent !== false ? this.own(node.item, node.index, node.parent, node.index, node.end) : true;
    node.enabled = parent !== false && own !== false;
    node.state = DONE;
    return node.enabled;
  }

  /** Whether an item absent from the response would be enabled where it belongs. */
  missing(item, position, owner) {
    return this.own(item, position, owner, -1, -1);
  }

  own(item, position, owner, low, high) {
    if (!item.conditions.length) return true;
    const holds = (condition) => this.holds(condition, position, owner, low, high);
    return item.enableAll ? item.conditions.every(holds) : item.conditions.some(holds);
  }

  holds(condition, position, owner, low, high) {
    const occurrences = this.byLinkId.get(condition.question);
    let target = null;
    const scope = occurrences ? this.instanceHolding(condition.question, owner) : null;
    if (scope !== null) {
      const inside = occurrences.filter((node) => scope.index < node.index && node.index <= scope.end);
      target = inside.length ? nearest(inside, condition.question, position, owner, low, high) : null;
    } else if (occurrences) {
      if (occurrences.length === 1) {
        const [only] = occurrences;
        target = inside(only.index, low, high) ? null : only;
      } else {
        target = nearest(occurrences, condition.question, position, owner, low, high);
      }
    }
    const values = target !== null && this.of(target) !== false ? target.values : [];
    return operatorHolds(condition.operator, condition.expected, values);
  }

  /** The nearest repeating group instance above ``owner`` whose definition contains ``question``. */
  instanceHolding(question, owner) {
    const definedIn = new Set();
    for (let parent = this.parentOf.get(question); parent; parent = this.parentOf.get(parent.linkId)) {
      definedIn.add(parent.linkId);
    }
    for (let node = owner; node !== null; node = node.parent) {
      if (node.item.type === "group" && node.item.repeats && definedIn.has(node.item.linkId)) return node;
    }
    return null;
  }
}

/** Within (low, high]: the node being judged's own descendants. */
const inside = (index, low, high) => low < index && index <= high;

function nearest(occurrences, linkId, position, owner, low, high) {
  for (let ancestor = owner; ancestor !== null; ancestor = ancestor.parent) {
    if (ancestor.item.linkId === linkId) return ancestor;
  }
  let preceding = null;
  for (const occurrence of occurrences) {
    if (occurrence.index < position) preceding = occurrence;
    else if (preceding === null && occurrence.index > position && !inside(occurrence.index, low, high)) {
      return occurrence;
    }
  }
  return preceding;
}

/**
 * Which items are enabled, for every item of the Questionnaire: a Map of ``id#instance`` -> boolean
 * (instance: the occurrence number of the enclosing repeating group; "" outside one and for a
 * repeating group itself). Items absent from the response are judged where they would belong.
 * @param {object} bundle a compiled care bundle
 * @param {Map<string, Array>} answers element id -> typed values; a repeating group id -> instances
 */
export function enabledItems(bundle, answers) {
  const nodes = [];
  const byLinkId = new Map();
  const pending = []; // [owner node or null, parent item or null, linkId -> nodes]

  const container = (raw, owner, parent) => {
    const found = new Map();
    pending.push([owner, parent, found]);
    for (const data of raw) {
      const node = new ResponseNode(data.item, nodes.length, owner);
      nodes.push(node);
      if (!byLinkId.has(data.item.linkId)) byLinkId.set(data.item.linkId, []);
      byLinkId.get(data.item.linkId).push(node);
      if (data.values) {
        const type = bundle.element(data.item.linkId).type;
        node.values = data.values.filter((v) => wellFormed(type, v)).map((v) => comparable(type, v));
        // The help item nests under each answer of its question.
        if (data.item.children.length) pending.push([node, data.item, new Map()]);
      } else {
        container(data.children, node, data.item);
      }
      node.end = nodes.length - 1;
      if (!found.has(data.item.linkId)) found.set(data.item.linkId, []);
      found.get(data.item.linkId).push(node);
    }
  };
  container(responseItems(bundle.items, answers), null, null);

  const enablement = new Enablement(byLinkId, bundle.parentOf);
  for (const node of nodes) enablement.of(node);

  const result = new Map();
  const set = (key, enabled) => result.set(key, result.get(key) === true || enabled);
  const instanceOf = (node) => {
    for (; node !== null; node = node.parent) {
      if (node.item.type === "group" && node.item.repeats) {
        return byLinkId.get(node.item.linkId).indexOf(node);
      }
    }
    return null;
  };
  const absent = (item, owner, instance, at, up) => {
    const own = up ? enablement.missing(item, at, owner) : up;
    const enabled = up && own !== false;
    set(enabledKey(item.linkId, instance), enabled);
    for (const child of item.children) absent(child, owner, instance, at, enabled);
  };
  for (const [owner, parent, found] of pending) {
    const instance = instanceOf(owner);
    const children = parent !== null ? parent.children : bundle.items;
    let lastEnd = owner !== null ? owner.index : -1;
    for (const child of children) {
      const occurrences = found.get(child.linkId);
      if (!occurrences) {
        absent(child, owner, instance, lastEnd + 0.5, owner === null || owner.enabled !== false);
        continue;
      }
      lastEnd = occurrences[occurrences.length - 1].end;
      set(enabledKey(child.linkId, instance), occurrences.some((node) => node.enabled !== false));
    }
  }
  return result;
}
