// The checklist page, enhanced: questions appear and disappear as answers change, and calculated values
// update, decided by the browser copy of the care bundle rules (careloop-rules.js, tested against the
// same rule cases as the server). Without JavaScript the page still works: the server re-renders what
// applies on every save. The server stays the judge: nothing here is saved or trusted.

import { evaluate } from "./careloop-rules.js";
import { dayNumber, isoDay, isoUtc, midnight } from "./rules/time.js";

const form = document.querySelector("form.careloop-checklist");

/** The value of one form field (the first, or every one for checkboxes). */
function values(name) {
  const found = [];
  for (const input of form.querySelectorAll(`[name="${CSS.escape(name)}"]`)) {
    if ((input.type === "radio" || input.type === "checkbox") && !input.checked) continue;
    if (input.value.trim()) found.push(input.value.trim());
  }
  return found;
}

/** A date from the three NHS.UK date fields, as YYYY-MM-DD, or null. */
function dateOf(name) {
  const [day, month, year] = ["day", "month", "year"].map((part) => values(`${name}-${part}`)[0] ?? "");
  if (!/^\d{1,2}$/.test(day) || !/^\d{1,2}$/.test(month) || !/^\d{4}$/.test(year)) return null;
  const number = dayNumber(Number(year), Number(month), Number(day));
  const text = isoDay(number);
  return text === `${year}-${month.padStart(2, "0")}-${day.padStart(2, "0")}` ? number : null;
}

/** A date-time (local time of the care bundle's zone) as an ISO instant, or null. */
function dateTimeOf(name, zone) {
  const day = dateOf(name);
  const time = /^(\d{1,2}):(\d{2})$/.exec(values(`${name}-time`)[0] ?? "");
  if (day === null || !time) return null;
  return isoUtc(midnight(day, zone) + (Number(time[1]) * 60 + Number(time[2])) * 60_000_000);
}

function read(element, name, zone) {
  switch (element.type) {
    case "date": {
      const day = dateOf(name);
      return day === null ? [] : [isoDay(day)];
    }
    case "dateTime": {
      const moment = dateTimeOf(name, zone);
      return moment === null ? [] : [moment];
    }
    case "boolean":
      return values(name).slice(0, 1).map((value) => value === "true");
    case "integer":
      return values(name).filter((value) => /^-?\d{1,9}$/.test(value)).slice(0, 1).map(Number);
    case "decimal": // a number, as the rules take it (a string is refused, and the page went stale)
      return values(name)
        .filter((value) => /^-?\d{1,12}(\.\d{1,10})?$/.test(value))
        .slice(0, 1)
        .map(Number);
    case "choice":
      return element.repeats ? values(name) : values(name).slice(0, 1);
    default:
      return values(name).slice(0, 1);
  }
}

/** The answers the form holds now, in the shape ``evaluate`` takes (as service/ward/answers_form.py). */
function answersOf(careBundle) {
  const zone = careBundle.timezone ?? "Europe/London";
  const answers = {};
  const anchor = { id: careBundle.anchor.id, type: careBundle.anchor.type ?? "dateTime" };
  answers[anchor.id] = read(anchor, `e-${anchor.id}`, zone);
  const walk = (elements) => {
    for (const element of elements) {
      if (element.calculated) continue;
      if (element.type === "group" && element.repeats) {
        const count = Number(values(`g-${element.id}-count`)[0] ?? 0);
        answers[element.id] = Array.from({ length: count }, (_, index) => {
          const instance = {};
          const inner = (items) => {
            for (const item of items) {
              if (item.type === "group") inner(item.items ?? []);
              else if (item.type !== "display") instance[item.id] = read(item, `g-${element.id}-${index}-${item.id}`, zone);
            }
          };
          inner(element.items ?? []);
          return instance;
        });
      } else if (element.type === "group") {
        walk(element.items ?? []);
      } else if (element.type !== "display") {
        answers[element.id] = read(element, `e-${element.id}`, zone);
      }
    }
  };
  walk(careBundle.elements);
  return answers;
}

function show(value, element) {
  if (value === null || value === undefined) return "Not known yet";
  if (value === true) return "Yes";
  if (value === false) return "No";
  const unit = element?.unit ? ` ${typeof element.unit === "string" ? element.unit : element.unit.display}` : "";
  return `${value}${unit}`;
}

function calculatedElements(careBundle) {
  const found = {};
  const walk = (elements) => {
    for (const element of elements) {
      if (element.calculated) found[element.id] = element;
      walk(element.items ?? []);
    }
  };
  walk(careBundle.elements);
  return found;
}

/** Every element inside a repeating group: its group's id, and whether it has a condition of its own. */
function groupedElements(careBundle) {
  const found = {};
  const walk = (elements, group) => {
    for (const element of elements) {
      if (group) found[element.id] = { group, conditional: Boolean(element.enable_when?.length) };
      walk(element.items ?? [], element.type === "group" && element.repeats ? element.id : group);
    }
  };
  walk(careBundle.elements, null);
  return found;
}

/**
 * Each form instance's position among the instances the rules judge, which leave out an instance with no
 * answer yet (as the server does): null for such an instance. ``[{}, {a: [1]}]`` -> ``[null, 0]``.
 */
function instancePositions(instances) {
  let judged = 0;
  return instances.map((instance) =>
    Object.values(instance).some((values) => values.length > 0) ? judged++ : null,
  );
}

/** Is this wrapper's element shown? As service/ward/checklist_view.py decides on the server. */
function shown(result, grouped, positions, id, instance) {
  if (instance === "") return result.enabledInstances.has(`${id}#`);
  const group = grouped[id]?.group;
  const position = positions[group]?.[Number(instance)];
  if (position === null) {
    // An instance just added, with no answer yet: its unconditional questions, while its group is shown.
    return result.enabledInstances.has(`${group}#`) && !grouped[id].conditional;
  }
  return result.enabledInstances.has(`${id}#${position ?? instance}`);
}

/** Elements with timing rules: id -> whether one of them counts working days. */
function timedElements(careBundle) {
  const found = {};
  const walk = (elements) => {
    for (const element of elements) {
      const timing = element.compliance?.timing ?? [];
      if (timing.length) found[element.id] = timing.some((rule) => rule.within_working_days != null);
      walk(element.items ?? []);
    }
  };
  walk(careBundle.elements);
  return found;
}

const STATUS_BADGES = { met: ["green", "In time"], "not-met": ["orange", "Not in time"] };

/** ``14:30`` today, ``Tue 3 Jun 14:30`` another day (as service/ward/checklist_view.py ``local_time``). */
function localTime(moment, now, zone) {
  const parts = (date) =>
    Object.fromEntries(
      // en-US: the short names Python's %a and %b give ("Sep", where en-GB says "Sept").
      new Intl.DateTimeFormat("en-US", {
        timeZone: zone, weekday: "short", day: "numeric", month: "short", year: "numeric",
        hour: "2-digit", minute: "2-digit", hourCycle: "h23",
      }).formatToParts(date).map((part) => [part.type, part.value]),
    );
  const at = parts(moment);
  const today = parts(now);
  const time = `${at.hour}:${at.minute}`;
  const sameDay = at.day === today.day && at.month === today.month && at.year === today.year;
  return sameDay ? time : `${at.weekday} ${at.day} ${at.month} ${time}`;
}

/** ``2 h 10 min``, ``3 days 4 h``, ``45 min``, ``less than a minute`` (as ``duration`` on the server). */
function duration(ms) {
  let minutes = Math.floor(ms / 60_000);
  if (minutes < 1) return "less than a minute";
  const days = Math.floor(minutes / 1440);
  minutes -= days * 1440;
  const hours = Math.floor(minutes / 60);
  minutes -= hours * 60;
  if (days) return `${days} day${days !== 1 ? "s" : ""}${hours ? ` ${hours} h` : ""}`;
  if (hours) return `${hours} h${minutes ? ` ${minutes} min` : ""}`;
  return `${minutes} min`;
}

/** The badge of an element's timing rules, as service/ward/checklist_view.py ``badge`` words it. */
function dueBadge(rules, now, zone) {
  if (!rules.some((rule) => rule.status)) return [null, null];
  const open = rules
    .filter((rule) => (rule.status === "due" || rule.status === "overdue") && rule.dueAt)
    .sort((a, b) => Date.parse(a.dueAt) - Date.parse(b.dueAt))[0];
  if (open?.status === "overdue") return ["red", `Overdue by ${duration(now - new Date(open.dueAt))}`];
  if (open) return ["blue", `Due by ${localTime(new Date(open.dueAt), now, zone)}`];
  if (rules.every((rule) => rule.status === "met")) return ["green", "In time"];
  if (rules.some((rule) => rule.status === "not-met")) return ["orange", "Not in time"];
  return ["grey", "Time not known yet"];
}

/**
 * With no network (or on a checklist started offline) the server's due times are not refreshed: show the
 * browser rules' own, except for working-day windows, whose bank holidays the server decides: those say
 * they are recalculated when the checklist is sent.
 */
function showDueTimes(result, timed, now, zone) {
  const byElement = {};
  for (const rule of Object.values(result.rules)) (byElement[rule.element] ??= []).push(rule);
  for (const [id, workingDays] of Object.entries(timed)) {
    const wrapper = form.querySelector(`.careloop-element[data-element="${CSS.escape(id)}"][data-instance=""]`);
    if (!wrapper) continue;
    const [colour, text] = workingDays
      ? ["grey", "Due time recalculated when sent"]
      : dueBadge(byElement[id] ?? [], now, zone);
    let tag = wrapper.querySelector(":scope > .careloop-badge");
    if (!text) {
      tag?.remove();
      continue;
    }
    if (!tag) {
      tag = document.createElement("strong");
      wrapper.append(tag);
    }
    tag.className = `nhsuk-tag nhsuk-tag--${colour} careloop-badge`;
    tag.textContent = text;
  }
}

async function enhance() {
  const response = await fetch(form.dataset.definition, { credentials: "same-origin" });
  if (!response.ok) return;
  const { careBundle, bankHolidays } = await response.json();
  const calculated = calculatedElements(careBundle);
  const timed = timedElements(careBundle);
  const startedOffline = form.dataset.offlineStart === "1";
  const grouped = groupedElements(careBundle);
  const update = () => {
    let result;
    const answers = answersOf(careBundle);
    const now = new Date();
    try {
      result = evaluate(careBundle, answers, now, { bankHolidays });
    } catch {
      return; // a half-typed value: keep the page as it is until it reads
    }
    const positions = {};
    for (const group of new Set(Object.values(grouped).map((item) => item.group))) {
      positions[group] = instancePositions(answers[group] ?? []);
    }
    for (const wrapper of form.querySelectorAll(".careloop-element[data-element]")) {
      const id = wrapper.dataset.element;
      if (id === careBundle.anchor.id) continue;
      wrapper.hidden = !shown(result, grouped, positions, id, wrapper.dataset.instance ?? "");
    }
    for (const output of form.querySelectorAll("[data-calculated]")) {
      const id = output.dataset.calculated;
      output.textContent = show(result.calculated[id], calculated[id]);
    }
    if (startedOffline || !navigator.onLine) showDueTimes(result, timed, now, careBundle.timezone ?? "Europe/London");
    form.dataset.rulesApplied = String(Number(form.dataset.rulesApplied ?? 0) + 1);
  };
  form.addEventListener("input", update);
  form.addEventListener("change", update);
  window.addEventListener("offline", update);
  update();
}

if (form) {
  enhance();
}
