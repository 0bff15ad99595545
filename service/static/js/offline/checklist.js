// The checklist page on a tablet: every answer goes to IndexedDB as it is typed, so a reload, a closed tab
// or a crash shows the checklist as it was; "Complete" and "Save" queue the change and send it (at once
// when the network is there, later when it is not); the page says where the work is. A refused change
// (the answers need checking, or someone else changed the checklist) is shown by the server's own page:
// the form is posted as a page would, and the server shows its errors, or both versions merged.

import { owner, say, sendQueued, stateText } from "./page.js";
import { draft, enqueue, formFields, restoreFields, updateDraft } from "./store.js";

const form = document.querySelector("form.careloop-checklist");
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;
const QUEUED_ACTIONS = new Set(["save", "complete", "amend"]);

const field = (name) => form.elements.namedItem(name);
const pageVersion = () => Number(field("version").value);

function describePatient() {
  return document.querySelector(".careloop-patient [data-fill='patient'], .careloop-patient .nhsuk-summary-list__value")?.textContent.trim() ?? "";
}

/** Post the form as a page does (no queue): the server answers with its own page. */
function postNatively(action) {
  form.dataset.native = "1";
  const submitter = form.querySelector(`button[name="action"][value="${action}"]`);
  if (submitter) {
    form.requestSubmit(submitter);
  } else {
    const hidden = document.createElement("input");
    hidden.type = "hidden";
    hidden.name = "action";
    hidden.value = action;
    form.append(hidden);
    form.requestSubmit();
  }
}

function offerReview(record) {
  const line = say(
    record.state === "conflict"
      ? "Someone else changed this checklist while your changes waited on this tablet."
      : `${stateText(record.state)}.`,
    { problem: true },
  );
  const button = document.createElement("button");
  button.type = "button";
  button.className = "nhsuk-button nhsuk-button--secondary careloop-tablet-status__action";
  button.textContent = record.state === "conflict" ? "Review both versions" : "Show the problems";
  button.addEventListener("click", async () => {
    restoreFields(form, record.fields);
    field("version").value = String(record.version);
    if (record.base !== undefined && field("base")) field("base").value = record.base;
    await updateDraft(owner, record.checklist, (old) => (old ? { ...old, state: "editing" } : undefined));
    postNatively(record.action && QUEUED_ACTIONS.has(record.action) ? record.action : "save");
  });
  line.append(" ", button);
}

async function main(checklist) {
  const blank = form.dataset.offlineStart === "1";
  let record = await draft(owner, checklist);
  if (blank) {
    if (!record) {
      say("This checklist is not on this tablet.", { problem: true });
      form.hidden = true;
      return;
    }
    form.setAttribute("action", `/ward/checklists/${checklist}`);
    for (const [name, text] of Object.entries(record.show ?? {})) {
      const place = document.querySelector(`[data-fill="${name}"]`);
      if (place) place.textContent = text;
    }
  }
  if (form.dataset.refused === "1") {
    // The server refused what was posted and shows it: keep it, based on the version it shows.
    record = await updateDraft(owner, checklist, (old) => ({
      ...(old ?? {}),
      fields: formFields(form),
      version: pageVersion(),
      base: field("base")?.value ?? "",
      state: "editing",
      url: location.pathname,
      title: document.querySelector("h1")?.textContent.trim(),
      patient: old?.patient ?? describePatient(),
      savedAt: Date.now(),
    }));
  } else if (record && record.state === "sent" && record.version <= pageVersion() && !blank) {
    await updateDraft(owner, checklist, () => null);
    record = null;
  } else if (record && (record.state === "invalid" || record.state === "conflict" || record.state === "refused")) {
    restoreFields(form, record.fields);
    offerReview(record);
  } else if (record && record.fields?.length && (record.version >= pageVersion() || blank)) {
    restoreFields(form, record.fields);
    say(stateText(record.state));
  } else if (record && record.fields?.length && record.state !== "sent") {
    // Saved on this tablet on a version older than the one the server shows now.
    offerReview({ ...record, state: "conflict" });
  }
  if (blank && !record.fields?.length && record.anchor) {
    const anchor = form.dataset.anchor;
    restoreFields(form, Object.entries(record.anchor).map(([part, text]) => [`e-${anchor}-${part}`, text]));
  }
  form.dispatchEvent(new Event("change", { bubbles: true }));

  let writing = Promise.resolve();
  const keep = () => {
    const fields = formFields(form);
    writing = writing.then(() =>
      updateDraft(owner, checklist, (old) => ({
        ...(old ?? {}),
        fields,
        version: old && blank ? old.version : pageVersion(),
        base: old && blank ? old.base : (field("base")?.value ?? ""),
        state: old && ["queued", "sending"].includes(old.state) ? old.state : "editing",
        url: old?.url ?? location.pathname,
        title: old?.title ?? document.querySelector("h1")?.textContent.trim(),
        patient: old?.patient ?? describePatient(),
        savedAt: Date.now(),
      })),
    );
    return writing;
  };
  form.addEventListener("input", keep);
  form.addEventListener("change", keep);

  form.addEventListener("submit", async (event) => {
    if (form.dataset.native === "1") return;
    const action = event.submitter?.value ?? "save";
    if (!QUEUED_ACTIONS.has(action)) {
      if (navigator.onLine) return;
      event.preventDefault();
      say("Adding or removing a group needs the network. Your answers are saved on this tablet.", { problem: true });
      return;
    }
    event.preventDefault();
    await keep();
    const current = await draft(owner, checklist);
    await enqueue({
      owner,
      checklist,
      url: form.getAttribute("action"),
      action,
      fields: formFields(form),
      version: current.version,
      base: current.base,
    });
    await updateDraft(owner, checklist, (old) => ({ ...old, state: "queued", action }));
    say(action === "complete" ? "Completed on this tablet: sending" : "Saved on this tablet: sending");
    const result = await sendQueued({ interactive: checklist });
    const mine = await draft(owner, checklist);
    if (result?.sent.includes(checklist) && mine?.state !== "invalid" && mine?.state !== "conflict") {
      location.assign(mine?.url ?? location.pathname);
    } else if (result && result.problems[checklist] && mine) {
      // Online, and refused: the server's own page shows the errors, or both versions merged.
      await updateDraft(owner, checklist, (old) => ({ ...old, state: "editing" }));
      field("version").value = String(mine.version);
      postNatively(action);
    } else if (!result) {
      say(
        action === "complete"
          ? "Completed on this tablet. It will be sent when the network returns."
          : "Saved on this tablet. It will be sent when the network returns.",
      );
    }
  });

  document.addEventListener("careloop:replayed", async () => {
    const now = await draft(owner, checklist);
    if (now && !blank && (now.state === "sent" || now.state === "editing") && now.version > pageVersion()) {
      // Sent from this page in the background: what is typed next is based on the version stored now.
      field("version").value = String(now.version);
      if (field("base")) field("base").value = now.base ?? "";
    }
    if (now && ["invalid", "conflict", "refused"].includes(now.state) && !document.querySelector(".careloop-tablet-status__action")) {
      offerReview(now);
    }
  });
  if (navigator.onLine) await sendQueued();
}

if (form && owner) {
  const id = form.dataset.offlineStart === "1" ? location.hash.slice(1) : (UUID.exec(form.getAttribute("action") ?? "") ?? [""])[0];
  if (UUID.test(id)) main(id);
}
