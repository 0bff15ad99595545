// Careloop's service worker (scope /ward/): the ward pages open with no network (decision 0010).
//
// The server prepends `const CARELOOP = {version, shell, offlinePage, signIn}` (service/ward/offline.py).
// - The app shell (scripts, styles, icons) is cached when the worker installs, in a cache named by the
//   shell's version: a new release installs a new cache and the old one is deleted when it activates.
// - Ward pages are fetched from the network first. Each one the server sends says whose it is
//   (X-Careloop-User) and how long it may be kept (X-Careloop-Keep); it is kept under that user only, and
//   served from there when the network is gone, while it is younger than that. A page of another user is
//   never served: the pages of everyone but the user last seen are deleted, and all of them at sign-out.
// - Care bundle definitions are kept by URL (their version is in it), network first.
// Nothing is posted from here: the page's replay queue (offline/queue.js) sends what was saved offline.

/* global CARELOOP */
const SHELL = `careloop-shell-${CARELOOP.version}`;
const PAGES = "careloop-pages-";
const DEFINITIONS = "careloop-definitions";
const STATE = "careloop-state";
const STATE_URL = "/ward/__careloop-state__";
const STORED_AT = "X-Careloop-Stored-At";

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(SHELL)
      .then((cache) => cache.addAll(CARELOOP.shell))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith("careloop-shell-") && name !== SHELL) await caches.delete(name);
      }
      await self.clients.claim();
      await sweep();
    })(),
  );
});

async function state() {
  const stored = await (await caches.open(STATE)).match(STATE_URL);
  return stored ? stored.json() : { user: null, keep: 0 };
}

async function setState(value) {
  const body = JSON.stringify(value);
  await (await caches.open(STATE)).put(STATE_URL, new Response(body, { headers: { "Content-Type": "application/json" } }));
}

/** Delete the pages of every user but ``keepUser`` (all of them when null). */
async function dropPages(keepUser) {
  for (const name of await caches.keys()) {
    if (name.startsWith(PAGES) && name !== PAGES + keepUser) await caches.delete(name);
  }
}

/** The user whose page this is now: every other user's pages go. */
async function seen(user, keep) {
  const current = await state();
  if (current.user !== user || current.keep !== keep) {
    await setState({ user, keep });
    if (current.user !== user) await dropPages(user);
  }
}

async function forget() {
  await setState({ user: null, keep: 0 });
  await dropPages(null);
}

const isFresh = (response, keep) =>
  Number(response.headers.get(STORED_AT) ?? 0) + keep * 1000 > Date.now();

/** Delete kept pages older than the keep time. */
async function sweep() {
  const { user, keep } = await state();
  if (!user) return dropPages(null);
  const cache = await caches.open(PAGES + user);
  for (const request of await cache.keys()) {
    const response = await cache.match(request);
    if (!response || !isFresh(response, keep)) await cache.delete(request);
  }
}

/** Keep a ward page the server sent, under the user it says; true if it was kept. */
async function keepPage(url, response) {
  const user = response.headers.get("X-Careloop-User");
  const keep = Number(response.headers.get("X-Careloop-Keep") ?? 0);
  const html = (response.headers.get("Content-Type") ?? "").startsWith("text/html");
  if (!user || !keep || response.status !== 200 || !html) return false;
  await seen(user, keep);
  const headers = new Headers(response.headers);
  headers.set(STORED_AT, String(Date.now()));
  const body = await response.blob();
  await (await caches.open(PAGES + user)).put(url, new Response(body, { status: 200, headers }));
  return true;
}

async function keptPage(url) {
  const { user, keep } = await state();
  if (!user) return null;
  const cache = await caches.open(PAGES + user);
  const response = await cache.match(url);
  if (!response) return null;
  if (isFresh(response, keep)) return response;
  await cache.delete(url);
  return null;
}

async function page(request) {
  const url = request.url.split("#")[0];
  try {
    const response = await fetch(request);
    if (request.method === "GET") await keepPage(url, response.clone());
    return response;
  } catch (error) {
    return (await keptPage(url)) ?? (await caches.match(CARELOOP.offlinePage)) ?? Response.error();
  }
}

async function definition(request) {
  const cache = await caches.open(DEFINITIONS);
  try {
    const response = await fetch(request);
    if (response.ok) await cache.put(request, response.clone());
    return response;
  } catch (error) {
    return (await cache.match(request)) ?? Response.error();
  }
}

async function asset(request) {
  return (await caches.match(request, { cacheName: SHELL })) ?? fetch(request);
}

const isDefinition = (path) => /^\/ward\/care-bundles\/[^/]+\/[^/]+\.json$/.test(path);

self.addEventListener("fetch", (event) => {
  const { request } = event;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate" && url.pathname.startsWith("/ward/")) {
    event.respondWith(page(request));
  } else if (isDefinition(url.pathname)) {
    event.respondWith(definition(request));
  } else if (url.pathname.startsWith("/static/") || url.pathname.startsWith("/assets/")) {
    event.respondWith(asset(request));
  }
});

/** Keep what the user may open next with no network: their care bundles and the empty form of each. */
async function prepare(urls) {
  const definitions = await caches.open(DEFINITIONS);
  const offered = new Set();
  for (const url of urls) {
    const absolute = new URL(url, self.location.origin).href;
    let response;
    try {
      response = await fetch(absolute, { credentials: "same-origin" });
    } catch (error) {
      return;
    }
    if (isDefinition(new URL(absolute).pathname)) {
      if (response.ok) {
        offered.add(absolute);
        await definitions.put(absolute, response);
      }
    } else {
      await keepPage(absolute, response);
    }
  }
  // A new care bundle version replaces the old one: a definition no longer offered, and not used by a
  // checklist kept on this tablet (whose page asks for it again), goes.
  const { user } = await state();
  const pages = user ? await caches.open(PAGES + user) : null;
  const used = new Set();
  for (const request of pages ? await pages.keys() : []) {
    const text = await (await pages.match(request)).text();
    for (const match of text.matchAll(/data-definition="([^"]+)"/g)) {
      used.add(new URL(match[1], self.location.origin).href);
    }
  }
  for (const request of await definitions.keys()) {
    if (!offered.has(request.url) && !used.has(request.url)) await definitions.delete(request);
  }
}

self.addEventListener("message", (event) => {
  const { type, urls } = event.data ?? {};
  const reply = (value) => event.ports[0]?.postMessage(value);
  const work =
    type === "forget"
      ? forget()
      : type === "prepare"
        ? prepare(urls ?? []).then(sweep)
        : type === "sweep"
          ? sweep()
          : Promise.resolve();
  event.waitUntil(work.then(() => reply({ done: type }), (error) => reply({ failed: String(error) })));
});
