// The check-in PWA's service worker (orders.views.checkin_service_worker renders this template; its scope is
// the door's pages). It keeps the page's assets (versioned: a new release replaces them) and the door pages
// last opened, so that /checkin/ opens without a network; scans and ticket lists live in IndexedDB
// (static/js/checkin-offline.js), and the JSON API is never cached here.
const VERSION = "{{ version }}";
const ASSETS = {{ assets|safe }};
const SCOPE = "{{ scope|escapejs }}";
const STATIC_CACHE = `checkin-static-${VERSION}`;
const PAGES_CACHE = "checkin-pages";
const OFFLINE_PAGE = `<!doctype html><html lang="{{ LANGUAGE_CODE }}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{{ offline.title|escapejs }}</title></head><body style="font-family: system-ui, sans-serif; padding: 1.5rem"><h1 style="font-size: 1.25rem">{{ offline.title|escapejs }}</h1><p>{{ offline.text|escapejs }}</p><p><a href="${SCOPE}">{{ offline.link|escapejs }}</a></p></body></html>`;

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(STATIC_CACHE).then((cache) => cache.addAll(ASSETS)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((key) => key.startsWith("checkin-static-") && key !== STATIC_CACHE)
      .map((key) => caches.delete(key))))
    .then(() => self.clients.claim()));
});

// A door page: from the network while there is one (kept for later), else as last seen on this device.
const page = async (request) => {
  const cache = await caches.open(PAGES_CACHE);
  const key = request.url.split("#")[0];
  try {
    const response = await fetch(request);
    if (response.redirected && !new URL(response.url).pathname.startsWith(SCOPE)) {
      await caches.delete(PAGES_CACHE);  // signed out (sent to log in): nothing of theirs stays here
    } else if (response.ok && !response.redirected) {
      await cache.put(key, response.clone());
    }
    return response;
  } catch (error) {
    const kept = await cache.match(key, {ignoreVary: true});
    return kept || new Response(OFFLINE_PAGE, {status: 503, headers: {"Content-Type": "text/html; charset=utf-8"}});
  }
};

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate" && url.pathname.startsWith(SCOPE)) {
    event.respondWith(page(request));
  } else if (ASSETS.includes(url.pathname)) {
    event.respondWith(caches.match(url.pathname, {ignoreSearch: true, ignoreVary: true})
      .then((kept) => kept || fetch(request)));
  }
});
