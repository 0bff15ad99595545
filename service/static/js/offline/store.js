// What the tablet keeps in IndexedDB (through the `idb` package), always under the signed-in user's opaque
// key (`owner`), so no user ever reads another's:
//   drafts  [owner, checklist] -> the latest answers typed on this tablet and where they stand:
//           {owner, checklist, url, title, patient, fields: [[name, value]...], version, base, start,
//            state: editing | queued | sending | sent | invalid | conflict | refused, errors, action,
//            savedAt, sentAt}
//   queue   seq -> one change to send, oldest first:
//           {seq, owner, checklist, url, action, fields, version, base, queuedAt}
// A draft in any state but `sent` is work the server does not have yet.

import { openDB } from "/assets/idb/index.js";

const NAME = "careloop-tablet";
let opened = null;

export function database() {
  opened ??= openDB(NAME, 1, {
    upgrade(db) {
      db.createObjectStore("drafts", { keyPath: ["owner", "checklist"] }).createIndex("owner", "owner");
      db.createObjectStore("queue", { keyPath: "seq", autoIncrement: true }).createIndex("owner", "owner");
    },
  });
  return opened;
}

export const UNSENT = new Set(["editing", "queued", "sending", "invalid", "conflict", "refused"]);

export async function draft(owner, checklist) {
  return (await database()).get("drafts", [owner, checklist]);
}

export async function drafts(owner) {
  return (await database()).getAllFromIndex("drafts", "owner", owner);
}

/** Change a draft in one transaction: ``change(old)`` returns the new record (or null to delete it). */
export async function updateDraft(owner, checklist, change) {
  const tx = (await database()).transaction("drafts", "readwrite");
  const old = await tx.store.get([owner, checklist]);
  const next = change(old);
  if (next === null) await tx.store.delete([owner, checklist]);
  else if (next !== undefined) await tx.store.put({ ...next, owner, checklist });
  await tx.done;
  return next;
}

/** The user's queued changes, oldest first. */
export async function queued(owner) {
  const entries = await (await database()).getAllFromIndex("queue", "owner", owner);
  return entries.sort((a, b) => a.seq - b.seq);
}

/**
 * Queue a change. One not yet being sent, of the same checklist and to the same URL, is replaced in its
 * place in the queue (its base version kept): the tablet sends the latest answers once, not each step.
 */
export async function enqueue(entry) {
  const tx = (await database()).transaction("queue", "readwrite");
  const mine = await tx.store.index("owner").getAll(entry.owner);
  const waiting = mine.find(
    (old) => old.checklist === entry.checklist && old.url === entry.url && old.state !== "sending",
  );
  if (waiting) {
    await tx.store.put({ ...waiting, action: entry.action, fields: entry.fields, queuedAt: Date.now() });
  } else {
    await tx.store.add({ ...entry, state: "waiting", queuedAt: Date.now() });
  }
  await tx.done;
}

export async function putEntry(entry) {
  await (await database()).put("queue", entry);
}

export async function dropEntry(seq) {
  await (await database()).delete("queue", seq);
}

/**
 * At sign-out: the user's sent drafts go; unsent work stays, under their key only. Also drops any user's
 * sent drafts older than ``keepSeconds``.
 */
export async function clearSent(owner, keepSeconds) {
  const tx = (await database()).transaction("drafts", "readwrite");
  const oldest = Date.now() - keepSeconds * 1000;
  for (const record of await tx.store.getAll()) {
    if (record.state === "sent" && (record.owner === owner || (record.sentAt ?? 0) < oldest)) {
      await tx.store.delete([record.owner, record.checklist]);
    }
  }
  await tx.done;
}

/** The form's fields as name/value pairs (the CSRF token, version, base and action travel apart). */
export function formFields(form) {
  const skip = new Set(["csrf_token", "version", "base", "action", "reason"]);
  const pairs = [];
  for (const [name, value] of new FormData(form)) {
    if (!skip.has(name) && typeof value === "string") pairs.push([name, value]);
  }
  const reason = form.elements.namedItem("reason");
  if (reason) pairs.push(["reason", reason.value]);
  return pairs;
}

/** Put saved fields back into a form. */
export function restoreFields(form, fields) {
  const byName = new Map();
  for (const [name, value] of fields) byName.set(name, [...(byName.get(name) ?? []), value]);
  for (const input of form.querySelectorAll("input[name], textarea[name], select[name]")) {
    const name = input.name;
    if (["csrf_token", "version", "base", "action"].includes(name) || input.type === "hidden") continue;
    const values = byName.get(name) ?? [];
    if (input.type === "radio" || input.type === "checkbox") input.checked = values.includes(input.value);
    else if (input.type !== "submit" && input.type !== "button") input.value = values[0] ?? "";
  }
}
