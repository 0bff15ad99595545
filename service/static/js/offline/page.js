// On every page: the service worker, the replay of what was saved on this tablet (on load and whenever the
// network returns), the line that says where the work is, the list of unsent work on the worklist, and a
// sign-out that never loses unsent work nor leaves it to the next user.

import { Stopped, currentSession, replay } from "./queue.js";
import { UNSENT, clearSent, drafts, queued } from "./store.js";

const meta = (name) => document.querySelector(`meta[name="${name}"]`)?.content ?? null;
export const owner = meta("careloop-user");
export const keepSeconds = Number(meta("careloop-keep") ?? 0);

const STATE_TEXT = {
  editing: "Saved on this tablet",
  queued: "Saved on this tablet: waiting to be sent",
  sending: "Sending",
  sent: "Sent",
  invalid: "Not accepted when sent: the answers need checking",
  conflict: "Someone else changed it: review both versions",
  refused: "Not accepted when sent",
};
export const stateText = (state) => STATE_TEXT[state] ?? state;

/** The status line at the top of the page (one per page, read out politely). */
export function say(text, { problem = false } = {}) {
  let line = document.getElementById("careloop-tablet-status");
  if (!line) {
    line = document.createElement("p");
    line.id = "careloop-tablet-status";
    line.setAttribute("role", "status");
    line.setAttribute("aria-live", "polite");
    document.querySelector("main")?.prepend(line);
  }
  line.className = `careloop-tablet-status${problem ? " careloop-tablet-status--problem" : ""}`;
  line.textContent = text;
  line.dataset.state = text;
  return line;
}

async function worker() {
  if (!("serviceWorker" in navigator)) return null;
  try {
    const registration = await navigator.serviceWorker.register("/ward/sw.js", { scope: "/ward/" });
    return registration;
  } catch (error) {
    return null; // not HTTPS (outside localhost), or a private window: the pages still work online
  }
}

/** Ask the service worker to do ``message``; resolves when it has (or at once without one). */
export async function tellWorker(message) {
  const registration = await navigator.serviceWorker?.getRegistration("/ward/");
  const target = registration?.active ?? registration?.installing ?? registration?.waiting;
  if (!target) return null;
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = (event) => resolve(event.data);
    target.postMessage(message, [channel.port2]);
  });
}

/** Send the queue; say how it went. Resolves with the replay's result, or null when it stopped. */
export async function sendQueued({ interactive = null } = {}) {
  if (!owner) return null;
  const waiting = await queued(owner);
  let result = null;
  if (waiting.length) say("Sending the changes saved on this tablet");
  try {
    result = await replay(owner, { interactive });
    const problems = Object.keys(result.problems).length;
    if (problems) say(`${problems} checklist${problems > 1 ? "s were" : " was"} not accepted when sent: open ${problems > 1 ? "them" : "it"} to check`, { problem: true });
    else if (result.sent.length) say("Sent");
  } catch (error) {
    if (!(error instanceof Stopped)) throw error;
    const count = (await queued(owner)).length;
    if (error.reason === "signed-out") say("Sign in again to send the changes saved on this tablet. They are kept.", { problem: true });
    else if (count) say(`Saved on this tablet: ${count} change${count > 1 ? "s" : ""} will be sent when the network returns`);
  }
  document.dispatchEvent(new CustomEvent("careloop:replayed", { detail: result }));
  await showTabletWork();
  return result;
}

/** On the worklist: the work on this tablet the server does not have yet. */
async function showTabletWork() {
  const place = document.querySelector("[data-tablet-work]");
  if (!place || !owner) return;
  const unsent = (await drafts(owner)).filter((record) => UNSENT.has(record.state));
  place.hidden = unsent.length === 0;
  const list = place.querySelector("ul");
  list.replaceChildren(
    ...unsent.map((record) => {
      const item = document.createElement("li");
      const link = document.createElement("a");
      link.href = record.url;
      link.textContent = `${record.title ?? "Checklist"}, ${record.patient ?? ""}`;
      item.append(link, ` – ${stateText(record.state)}`);
      return item;
    }),
  );
}

/** Sign out: send first; what still cannot be sent is named, and kept on the tablet for this user only. */
function guardSignOut() {
  const form = document.querySelector("form.nhsuk-header__account-form");
  if (!form || !owner) return;
  form.addEventListener("submit", async (event) => {
    if (form.dataset.checked === "1") return;
    event.preventDefault();
    if (navigator.onLine) await sendQueued();
    const unsent = (await drafts(owner)).filter((record) => UNSENT.has(record.state));
    if (unsent.length && !(await confirmUnsent(unsent))) return;
    await clearSent(owner, keepSeconds);
    await tellWorker({ type: "forget" });
    form.dataset.checked = "1";
    form.requestSubmit();
  });
}

function confirmUnsent(unsent) {
  return new Promise((resolve) => {
    const dialog = document.createElement("dialog");
    dialog.className = "careloop-dialog";
    dialog.setAttribute("aria-labelledby", "careloop-unsent-title");
    const heading = document.createElement("h2");
    heading.id = "careloop-unsent-title";
    heading.textContent = `${unsent.length} checklist${unsent.length > 1 ? "s are" : " is"} not sent yet`;
    const list = document.createElement("ul");
    for (const record of unsent) {
      const item = document.createElement("li");
      item.textContent = `${record.title ?? "Checklist"}, ${record.patient ?? ""}: ${stateText(record.state)}`;
      list.append(item);
    }
    const text = document.createElement("p");
    text.textContent =
      "If you sign out, they stay on this tablet, locked to you: nobody else who signs in sees them, and they are sent when you sign in again.";
    const keep = document.createElement("button");
    keep.className = "nhsuk-button";
    keep.textContent = "Sign out and keep them for me";
    const stay = document.createElement("button");
    stay.className = "nhsuk-button nhsuk-button--secondary";
    stay.textContent = "Stay signed in";
    const group = document.createElement("div");
    group.className = "nhsuk-button-group";
    group.append(keep, stay);
    dialog.append(heading, list, text, group);
    document.body.append(dialog);
    const close = (value) => {
      dialog.close();
      dialog.remove();
      resolve(value);
    };
    keep.addEventListener("click", () => close(true));
    stay.addEventListener("click", () => close(false));
    dialog.addEventListener("cancel", () => close(false));
    dialog.showModal();
  });
}

const PREPARED = "careloop-offline-prepared";
/** How often the worklist and start page refresh what the service worker keeps for starting offline. */
const PREPARE_EVERY_MS = 10 * 60 * 1000;

async function prepareOffline() {
  const last = JSON.parse(sessionStorage.getItem(PREPARED) ?? "null");
  if (last && last.owner === owner && Date.now() - last.at < PREPARE_EVERY_MS) {
    document.documentElement.dataset.offlineReady = "1";
    return;
  }
  let session;
  try {
    session = await currentSession();
  } catch (error) {
    return;
  }
  if (!session || session.user !== owner) return;
  await tellWorker({ type: "prepare", urls: [...session.pages, ...session.definitions, ...session.blankForms] });
  sessionStorage.setItem(PREPARED, JSON.stringify({ owner, at: Date.now() }));
  document.documentElement.dataset.offlineReady = "1";
}

async function main() {
  if (!owner) {
    // Nobody is signed in on this page (the sign-in page): no page of anyone is kept any longer.
    await tellWorker({ type: "forget" });
    return;
  }
  guardSignOut();
  const registration = await worker();
  await clearSent(null, keepSeconds);
  await showTabletWork();
  window.addEventListener("online", () => sendQueued());
  if (document.querySelector("form.careloop-checklist")) return; // the checklist page sends its own
  if (navigator.onLine) {
    await sendQueued();
    if (registration && document.querySelector("[data-tablet-work], form[data-offline-start-form]")) {
      await navigator.serviceWorker.ready;
      await prepareOffline();
    }
  }
}

main();
