// Starting a checklist with no network: the start page checks what it can, makes the checklist's UUID on the
// tablet, queues the start (sent later to the same view with action=start, so a replay starts one checklist)
// and opens the empty form of the care bundle the service worker kept, filled in from what was typed.
// Online, the page posts as it always does (the server checks and confirms the patient).

import { owner, say } from "./page.js";
import { enqueue, updateDraft } from "./store.js";

const form = document.querySelector("form[data-offline-start-form]");

const value = (name) => new FormData(form).get(name)?.toString().trim() ?? "";

/** Modulus 11, as the server checks NHS and CHI numbers (fhir_adapters/identifiers.py). */
function modulus11(digits) {
  if (!/^\d{10}$/.test(digits)) return false;
  const total = [...digits.slice(0, 9)].reduce((sum, digit, index) => sum + Number(digit) * (10 - index), 0);
  const check = 11 - (total % 11);
  if (check === 10) return false;
  return (check === 11 ? 0 : check) === Number(digits[9]);
}

function problems() {
  const found = [];
  if (!value("choice")) found.push("Select a care bundle");
  const kind = value("patient_kind");
  const number = value("patient_value").replace(/\s/g, "");
  if (!kind) found.push("Select how the patient is identified");
  else if (kind !== "local" && !modulus11(number)) found.push("Enter a valid 10-digit number");
  else if (kind === "local" && !number) found.push("Enter the hospital number");
  const [day, month, year, time] = ["day", "month", "year", "time"].map((part) => value(`anchor-${part}`));
  if (!/^\d{1,2}$/.test(day) || !/^\d{1,2}$/.test(month) || !/^\d{4}$/.test(year) || !/^\d{1,2}:\d{2}$/.test(time)) {
    found.push("Enter the date and time");
  }
  return found;
}

function patientText() {
  const kind = value("patient_kind");
  const number = value("patient_value");
  const digits = number.replace(/\s/g, "");
  const spaced = `${digits.slice(0, 3)} ${digits.slice(3, 6)} ${digits.slice(6)}`;
  if (kind === "nhs-number") return `NHS number ${spaced}`;
  if (kind === "chi-number") return `CHI number ${spaced}`;
  return `Hospital number ${number}`;
}

async function startOffline() {
  const found = problems();
  if (found.length) {
    say(`There is a problem: ${found.join("; ")}`, { problem: true });
    return;
  }
  const checklist = crypto.randomUUID();
  const [unit, careBundle] = value("choice").split(":");
  const chosen = form.querySelector(`input[name="choice"]:checked`);
  const title = chosen ? form.querySelector(`label[for="${chosen.id}"]`)?.textContent.trim() : careBundle;
  const blank = `/ward/start/offline/${encodeURIComponent(unit)}/${encodeURIComponent(careBundle)}`;
  const fields = [];
  for (const [name, entry] of new FormData(form)) {
    if (name !== "csrf_token" && name !== "action" && typeof entry === "string") fields.push([name, entry]);
  }
  fields.push(["checklist_id", checklist]);
  const anchor = Object.fromEntries(["day", "month", "year", "time"].map((part) => [part, value(`anchor-${part}`)]));
  await updateDraft(owner, checklist, () => ({
    url: `${blank}#${checklist}`,
    title,
    patient: patientText(),
    show: {
      patient: patientText(),
      anchor: `${anchor.day}/${anchor.month}/${anchor.year} ${anchor.time}`,
      status: "Started on this tablet: not sent yet",
    },
    anchor,
    fields: [],
    version: 1,
    base: "{}",
    state: "queued",
    savedAt: Date.now(),
  }));
  await enqueue({ owner, checklist, url: form.getAttribute("action"), action: "start", fields, version: 0, base: "" });
  location.assign(`${blank}#${checklist}`);
}

if (form && owner) {
  form.addEventListener("submit", (event) => {
    if (navigator.onLine) return;
    event.preventDefault();
    startOffline();
  });
}
