// Service worker of the field capture pages, served as /campo/sw.js (header Service-Worker-Allowed: /campo) so
// that it controls /campo and everything under it. It keeps the app shell (the capture page, the field home and
// the static assets they use) so the page opens with no signal; the captures themselves live in IndexedDB
// (field-queue.js), never here.
//
// Pages: network first, the cached copy only when the network fails. A page that now answers with a redirect
// (signed out) drops its cached copy, so a shared phone does not keep showing the previous person's page. The
// CSRF token inside a cached page may be stale: the queue never uses it, it asks /api/campo/sesion before every
// sync. /api/ requests and every non-GET request go straight to the network, untouched.
const VERSION = "campo-v3"; // new files (vendored libraries, the live scan): the install refetches them all
const SHELL_CACHE = `${VERSION}-paginas`;
const ASSET_CACHE = `${VERSION}-archivos`;
const SHELL = ["/campo/captura", "/campo"];
const ASSETS = [
  "/static/css/app.css",
  "/static/js/field-queue.js",
  "/static/js/photo-shrink.js", // imported by field-queue.js: without it the queue would not load offline
  "/static/js/camera.js",
  "/static/js/dom.js", // imported by camera.js and live-scan.js
  "/static/js/signature.js",
  // imported by signature.js and field-queue.js: without them the pad and the queue would not load offline
  "/static/vendor/signature_pad/signature_pad.js",
  "/static/vendor/idb/index.js",
  // the live scan reads the QR offline too: its script, zxing-wasm's glue and the .wasm (about 1 MB)
  "/static/js/live-scan.js",
  "/static/vendor/zxing-wasm/es/reader/index.js",
  "/static/vendor/zxing-wasm/es/share.js",
  "/static/vendor/zxing-wasm/reader/zxing_reader.wasm",
  "/static/manifest.webmanifest",
  "/static/img/icon.svg",
  "/static/img/icon-192.png",
  "/static/img/icon-512.png",
];

async function precache() {
  const assets = await caches.open(ASSET_CACHE);
  // One missing file must not stop the others from being kept.
  await Promise.all(ASSETS.map((url) => assets.add(url).catch(() => undefined)));
  const pages = await caches.open(SHELL_CACHE);
  await Promise.all(SHELL.map((url) => keepPage(pages, new Request(url, { credentials: "same-origin" }))));
}

async function keepPage(cache, request) {
  try {
    const response = await fetch(request);
    await remember(cache, request.url, response);
  } catch {
    // offline while installing: the page is kept the next time it is opened with a signal
  }
}

async function remember(cache, url, response) {
  const key = pageKey(url);
  if (response.ok && !response.redirected && response.type === "basic") {
    await cache.put(key, response.clone());
  } else if (response.redirected || response.status === 401 || response.status === 403) {
    await cache.delete(key);
  }
}

function pageKey(url) {
  const parsed = new URL(url);
  return parsed.origin + parsed.pathname;
}

self.addEventListener("install", (event) => {
  event.waitUntil(precache().then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    const names = await caches.keys();
    await Promise.all(names.filter((name) => !name.startsWith(VERSION)).map((name) => caches.delete(name)));
    await self.clients.claim();
  })());
});

async function page(request) {
  const cache = await caches.open(SHELL_CACHE);
  try {
    const response = await fetch(request);
    await remember(cache, request.url, response);
    return response;
  } catch {
    const kept = (await cache.match(pageKey(request.url))) || (await cache.match(pageKey(new URL("/campo/captura", request.url).href)));
    return kept || new Response("Sin conexión", { status: 503, headers: { "Content-Type": "text/plain; charset=utf-8" } });
  }
}

async function asset(request, event) {
  const cache = await caches.open(ASSET_CACHE);
  const kept = await cache.match(request, { ignoreSearch: true });
  const fresh = fetch(request).then(async (response) => {
    if (response.ok) await cache.put(request, response.clone());
    return response;
  });
  if (kept) {
    event.waitUntil(fresh.catch(() => undefined)); // stale while revalidating
    return kept;
  }
  return fresh;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin || url.pathname.startsWith("/api/")) return;
  if (request.mode === "navigate" && url.pathname.startsWith("/campo")) {
    event.respondWith(page(request));
  } else if (url.pathname.startsWith("/static/")) {
    event.respondWith(asset(request, event));
  }
});
