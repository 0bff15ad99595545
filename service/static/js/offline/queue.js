// The replay queue: changes saved on the tablet are sent to the server, oldest first, each with its checklist
// UUID and the version it was based on, through the same ward views a page posts to (asking for JSON). A
// replay of a change the server already has is recognised by the lifecycle and changes nothing, so sending
// again after a lost response is safe. One tab sends at a time (a Web Lock).
//
// Outcomes, per change: done (the draft takes the new version; changes queued after it are based on it);
// invalid (the server's form errors are kept on the draft, the user is taken back to them); conflict
// (someone else changed the checklist: the draft waits for the user to review both versions); refused
// (anything else the server will not take). No network, a server error or an ended sign-in stop the run and
// keep everything queued.

import { dropEntry, putEntry, queued, updateDraft } from "./store.js";

const SESSION_URL = "/ward/session";

export class Stopped extends Error {
  constructor(reason) {
    super(reason);
    this.reason = reason; // "offline" | "signed-out" | "server"
  }
}

/** Who the server says is signed in, and a fresh CSRF token; null when nobody is. */
export async function currentSession() {
  let response;
  try {
    response = await fetch(SESSION_URL, { headers: { Accept: "application/json" }, credentials: "same-origin" });
  } catch (error) {
    throw new Stopped("offline");
  }
  if (response.status === 401) return null;
  if (!response.ok) throw new Stopped("server");
  return response.json();
}

async function send(entry, csrf, interactive) {
  const body = new URLSearchParams(entry.fields);
  body.set("action", entry.action);
  if (entry.action !== "start") {
    body.set("version", String(entry.version));
    body.set("base", entry.base ?? "");
  }
  const headers = { Accept: "application/json", "X-CSRFToken": csrf };
  if (interactive === entry.checklist) headers["X-Careloop-Interactive"] = "1";
  let response;
  try {
    response = await fetch(entry.url, { method: "POST", body, headers, credentials: "same-origin", redirect: "error" });
  } catch (error) {
    throw new Stopped("offline");
  }
  if (response.status === 401) throw new Stopped("signed-out");
  if (response.status >= 500) throw new Stopped("server");
  let reply = {};
  try {
    reply = await response.json();
  } catch (error) {
    reply = {};
  }
  return { status: response.status, ...reply };
}

const sameChange = (a, b) => a.action === b.action && JSON.stringify(a.fields) === JSON.stringify(b.fields);

async function settle(owner, entry, reply, rest) {
  const done = ["started", "saved", "completed", "amended"].includes(reply.outcome);
  if (done) {
    for (const next of rest.filter((other) => other.checklist === entry.checklist)) {
      if (next.version === entry.version && sameChange(next, entry) && entry.action !== "start") {
        await dropEntry(next.seq); // the same change queued twice: the server has it once
      } else {
        await putEntry({ ...next, version: reply.version, base: reply.base });
      }
    }
    const more = rest.some((other) => other.checklist === entry.checklist);
    await updateDraft(owner, entry.checklist, (old) => {
      if (!old) return undefined;
      const typedSince =
        entry.action === "start"
          ? old.fields.length > 0
          : JSON.stringify(old.fields) !== JSON.stringify(entry.fields);
      return {
        ...old,
        version: reply.version,
        base: reply.base,
        url: reply.url ?? old.url,
        state: more ? "queued" : typedSince ? "editing" : "sent",
        errors: null,
        sentAt: Date.now(),
      };
    });
    await dropEntry(entry.seq);
    return;
  }
  const state = reply.outcome === "invalid" ? "invalid" : reply.outcome === "conflict" ? "conflict" : "refused";
  // The draft keeps the answers; the other changes of this checklist queued behind it wait with it.
  for (const next of rest.filter((other) => other.checklist === entry.checklist)) await dropEntry(next.seq);
  await updateDraft(owner, entry.checklist, (old) => ({
    ...(old ?? { fields: entry.fields, version: entry.version, base: entry.base, url: entry.url }),
    state,
    action: entry.action,
    errors: reply.errors ?? (reply.outcome === "csrf" ? null : { _form: reply.message ?? `The server refused it (${reply.status})` }),
    savedAt: Date.now(),
  }));
  await dropEntry(entry.seq);
}

/**
 * Send ``owner``'s queue; ``interactive``: the checklist whose page waits for its change (its reply sets the
 * page's "saved" or "completed" banner). Returns ``{sent: [checklist...], problems: {checklist: state}}``; throws
 * :class:`Stopped` when it cannot go on (everything not yet sent stays queued).
 */
export async function replay(owner, { interactive = null } = {}) {
  const run = async () => {
    const result = { sent: [], problems: {} };
    let entries = await queued(owner);
    if (!entries.length) return result;
    let session = await currentSession();
    if (!session) throw new Stopped("signed-out");
    if (session.user !== owner) return result; // someone else is signed in: not theirs to send
    while (entries.length) {
      const [entry, ...rest] = entries;
      await putEntry({ ...entry, state: "sending" });
      await updateDraft(owner, entry.checklist, (old) => (old ? { ...old, state: "sending" } : undefined));
      let reply;
      try {
        reply = await send(entry, session.csrf, interactive);
        if (reply.outcome === "csrf") {
          session = await currentSession(); // signed in again since: the token of the new session
          if (!session) throw new Stopped("signed-out");
          reply = await send(entry, session.csrf, interactive);
        }
      } catch (error) {
        await putEntry({ ...entry, state: "waiting" });
        await updateDraft(owner, entry.checklist, (old) => (old ? { ...old, state: "queued" } : undefined));
        throw error;
      }
      await settle(owner, entry, reply, rest);
      if (["started", "saved", "completed", "amended"].includes(reply.outcome)) result.sent.push(entry.checklist);
      else result.problems[entry.checklist] = reply.outcome;
      entries = await queued(owner);
    }
    return result;
  };
  return navigator.locks ? navigator.locks.request("careloop-replay", run) : run();
}
