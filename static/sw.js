// The service worker of the "my team" pages (served at /sw.js with the current file names).
// - Pages under /field: from the network first; the latest copy is kept, and served when
//   there is no network (the page says "offline · data of 18:42").
// - The files below (content-hashed names, never changed in place): kept at install, from
//   the cache first.
// - Everything else (the sync API, other pages): the network, untouched.
// Taps are not kept here: static/field.js queues them in IndexedDB.
var VERSION = "__VERSION__";
var FILES = [] /* __FILES__ */;
var STATIC = "vg-static-" + VERSION;
var PAGES = "vg-pages";

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(STATIC).then(function (cache) { return cache.addAll(FILES); }).then(function () {
      return self.skipWaiting();
    })
  );
});

function isPage(url) {
  return url.origin === self.location.origin && (url.pathname === "/field" || url.pathname.indexOf("/field/") === 0);
}

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (keys) {
      return Promise.all(keys.filter(function (k) {
        return k.indexOf("vg-static-") === 0 && k !== STATIC;
      }).map(function (k) { return caches.delete(k); }));
    }).then(function () {
      // The page that registered this worker was fetched before it: it asks for a copy
      // to be kept ("keep" below), once, when it finds none.
      return self.clients.claim();
    })
  );
});

self.addEventListener("fetch", function (event) {
  var req = event.request;
  if (req.method !== "GET") { return; }
  var url = new URL(req.url);
  if (url.origin !== self.location.origin) { return; }
  if (FILES.indexOf(url.pathname) !== -1) {
    event.respondWith(caches.match(req).then(function (hit) { return hit || fetch(req); }));
    return;
  }
  if (req.mode === "navigate" && isPage(url)) {
    event.respondWith(
      fetch(req).then(function (res) {
        if (res.ok && !res.redirected) {
          var copy = res.clone();
          event.waitUntil(caches.open(PAGES).then(function (cache) { return cache.put(url.pathname, copy); }));
        }
        return res;
      }).catch(function () {
        return caches.open(PAGES).then(function (cache) {
          return cache.match(url.pathname).then(function (hit) {
            return hit || cache.match("/field").then(function (home) {
              return home || Response.error();
            });
          });
        });
      })
    );
  }
});

function keep(path) {
  return fetch(path, { credentials: "same-origin" }).then(function (res) {
    if (!res.ok || res.redirected) { return null; }
    return caches.open(PAGES).then(function (cache) { return cache.put(path, res); });
  }).catch(function () { return null; });
}

self.addEventListener("message", function (event) {
  // Logging out: the pages kept for offline use belong to the person who fetched them.
  if (event.data === "forget-pages") { event.waitUntil(caches.delete(PAGES)); return; }
  // A page opened before this worker took over (its request never came here): keep a
  // copy of it now and take it over, so that it reloads with no network.
  var path = event.data && event.data.keep;
  if (typeof path === "string" && isPage(new URL(path, self.location.origin))) {
    event.waitUntil(keep(new URL(path, self.location.origin).pathname).then(function () {
      return self.clients.claim();
    }));
  }
});
