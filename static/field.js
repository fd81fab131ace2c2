// "My team" offline first. A tap is kept on the phone (IndexedDB, store "queue") before
// anything else, shown at once, and sent to POST /api/v1/field/sync when there is signal:
// now, when the network comes back, every 20 s while something waits, and on the next
// visit if the phone was switched off. The server applies each operation once (its op_id),
// so sending a batch again changes nothing. Sent operations are kept two days (store
// "done") so a page kept offline still shows what was tapped after it was fetched.
// Words come translated in data-words; no inline script (the CSP allows none).
(function () {
  "use strict";
  var root = document.getElementById("field");
  if (!root) { return; }
  var words = JSON.parse(root.getAttribute("data-words") || "{}");
  var user = root.getAttribute("data-user");
  var syncUrl = root.getAttribute("data-sync");
  var csrf = root.getAttribute("data-csrf");
  var rendered = root.getAttribute("data-rendered");
  var bar = document.getElementById("netbar");
  var MAX = 200;
  var KEEP_DONE_MS = 2 * 24 * 3600 * 1000;
  var offline = !navigator.onLine;
  var needLogin = false;
  var flushing = false;
  var sent = 0;  // households whose taps were sent (a double tap is one household)
  var sentHouseholds = {};
  var waiting = 0;

  function say(key, values) {
    var text = words[key] || key;
    Object.keys(values || {}).forEach(function (k) { text = text.replace("{" + k + "}", values[k]); });
    return text;
  }

  // --- IndexedDB --------------------------------------------------------------------
  var dbPromise = null;
  function openDb() {
    if (!dbPromise) {
      dbPromise = new Promise(function (ok, fail) {
        var req = indexedDB.open("vg-field", 1);
        req.onupgradeneeded = function () {
          req.result.createObjectStore("queue", { keyPath: "op_id" });
          req.result.createObjectStore("done", { keyPath: "op_id" });
        };
        req.onsuccess = function () { ok(req.result); };
        req.onerror = function () { fail(req.error); };
      });
    }
    return dbPromise;
  }
  function tx(store, mode, work) {
    return openDb().then(function (db) {
      return new Promise(function (ok, fail) {
        var t = db.transaction(store, mode);
        var result = work(t.objectStore(store));
        t.oncomplete = function () { ok(result && "result" in result ? result.result : undefined); };
        t.onerror = function () { fail(t.error); };
        t.onabort = function () { fail(t.error); };
      });
    });
  }
  function all(store) {
    return tx(store, "readonly", function (s) { return s.getAll(); }).then(function (rows) {
      return (rows || []).filter(function (r) { return r.user === user; })
        .sort(function (a, b) { return a.made - b.made; });
    });
  }
  function put(store, value) { return tx(store, "readwrite", function (s) { s.put(value); }); }
  function move(op) {
    op.answered = Date.now();  // when the server's answer came (replay compares it to the copy)
    return openDb().then(function (db) {
      return new Promise(function (ok, fail) {
        var t = db.transaction(["queue", "done"], "readwrite");
        t.objectStore("queue").delete(op.op_id);
        t.objectStore("done").put(op);
        t.oncomplete = function () { ok(); };
        t.onerror = function () { fail(t.error); };
      });
    });
  }
  function prune() {
    var old = Date.now() - KEEP_DONE_MS;
    return tx("done", "readwrite", function (s) {
      var req = s.openCursor();
      req.onsuccess = function () {
        var c = req.result;
        if (!c) { return; }
        if (c.value.made < old) { c.delete(); }
        c.continue();
      };
    });
  }

  // --- an operation ------------------------------------------------------------------
  function uuid() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    b[6] = (b[6] & 15) | 64;
    b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }
  function two(n) { return (n < 10 ? "0" : "") + n; }
  function phoneTime(d) {
    var off = -d.getTimezoneOffset();
    var sign = off >= 0 ? "+" : "-";
    off = Math.abs(off);
    return d.getFullYear() + "-" + two(d.getMonth() + 1) + "-" + two(d.getDate()) + "T" + two(d.getHours()) + ":" +
      two(d.getMinutes()) + ":" + two(d.getSeconds()) + sign + two(Math.floor(off / 60)) + ":" + two(off % 60);
  }
  function wire(op) {
    return { op_id: op.op_id, task_id: op.task_id, household_id: op.household_id, status: op.status,
      kind: op.kind, note: op.note, at: op.at };
  }

  // --- the page ----------------------------------------------------------------------
  function row(op) { return document.getElementById("h" + op.household_id + "-t" + op.task_id); }
  function show(op, state) {
    var li = row(op);
    if (!li) { return; }
    var chip = li.querySelector(".chip.st");
    if (chip) {
      // Words, not an hourglass: a phone without an emoji font shows a box.
      chip.textContent = state === "queued" ? op.label + " · " + say("waiting") : op.label;
      chip.setAttribute("data-st", op.status);
      chip.classList.toggle("queued", state === "queued");
    }
    li.className = "hh st-" + op.status + (state === "queued" ? " queued" : "");
    if (state !== "rejected") {
      // The status chosen, said and shown on its button (the others let go).
      li.querySelectorAll(".taps button[name=status]").forEach(function (b) {
        b.setAttribute("aria-pressed", b.value === op.status ? "true" : "false");
      });
      var helpButton = li.querySelector("summary.help-btn");
      if (helpButton) { helpButton.classList.toggle("chosen", op.status === "needs_help"); }
    }
    var msg = li.querySelector(".row-msg");
    if (msg) {
      msg.classList.toggle("bad", state === "rejected");
      msg.classList.toggle("queued", state === "queued");
      if (state === "queued") { msg.textContent = op.label + " · " + say("saved"); }
      else if (state === "rejected") { msg.textContent = say("rejected", { reason: (op.error && op.error.message) || "" }); }
      else { msg.textContent = "✓ " + say("recorded", { label: op.label }); }
    }
    var details = li.querySelector("details.help");
    if (details && state !== "rejected") { details.open = false; }
    tally(li.closest(".task-sec"));
  }
  function tally(section) {
    if (!section) { return; }
    var done = section.querySelectorAll(".chip.st:not([data-st=pending])").length;
    var out = section.querySelector(".t-done");
    if (out) { out.textContent = String(done); }
  }
  function clockOf(iso) {
    var d = new Date(Date.parse(iso));
    return isNaN(d) ? "" : two(d.getHours()) + ":" + two(d.getMinutes());
  }
  function paint() {
    if (!bar) { return; }
    var parts = [];
    bar.classList.toggle("off", offline);
    bar.classList.toggle("wait", waiting > 0);
    bar.querySelector(".net-state").textContent = needLogin ? say("login", { n: waiting }) :
      offline ? say("offline", { time: rendered ? clockOf(rendered) : "" }) :
      flushing ? say("sending") : (sent ? say("sent", { n: sent }) : say("online"));
    bar.querySelector(".net-queue").textContent = waiting ? say("queued", { n: waiting }) : "";
    bar.querySelector(".net-send").hidden = !(waiting && !offline);
    bar.hidden = !(offline || waiting || sent || needLogin || parts.length);
  }
  function count() {
    return all("queue").then(function (ops) { waiting = ops.length; paint(); return ops; });
  }

  // --- sending -----------------------------------------------------------------------
  function send(ops) {
    return fetch(syncUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf, "Accept": "application/json" },
      body: JSON.stringify({ ops: ops.map(wire) })
    }).then(function (res) {
      offline = false;
      if (res.status === 401 || res.redirected || res.status === 400) { needLogin = true; throw new Error("login"); }
      if (res.status === 422 && ops.length === 1) {
        return res.json().then(function (body) {
          return { results: [{ op_id: ops[0].op_id, result: "rejected", error: body.error }] };
        });
      }
      if (!res.ok) { throw new Error(String(res.status)); }
      needLogin = false;
      return res.json();
    });
  }
  function settle(ops, body) {
    var byId = {};
    (body.results || []).forEach(function (r) { if (r.op_id) { byId[r.op_id] = r; } });
    return Promise.all(ops.map(function (op) {
      var r = byId[op.op_id];
      if (!r) { return null; }
      op.result = r.result;
      op.error = r.error || null;
      if (r.result !== "rejected") {
        sentHouseholds[op.task_id + ":" + op.household_id] = true;
        sent = Object.keys(sentHouseholds).length;
      }
      return move(op).then(function () { show(op, r.result === "rejected" ? "rejected" : "sent"); });
    }));
  }
  function flush(one) {
    if (flushing || !navigator.onLine) { offline = !navigator.onLine; return count(); }
    flushing = true;
    paint();
    return all("queue").then(function (ops) {
      ops = ops.slice(0, one ? 1 : MAX);
      if (!ops.length) { return null; }
      return send(ops).then(function (body) { return settle(ops, body); }, function (err) {
        if (err && err.message === "422") { return "split"; }  // one bad op: send them one by one
        if (err && err.message !== "login" && err.name === "TypeError") { offline = true; }
        return "stop";
      });
    }).then(function (outcome) {
      flushing = false;
      return count().then(function (ops) {
        if (outcome === "split" && !one) { return flush(true); }
        if (outcome !== "stop" && ops.length) { return flush(one); }
        return null;
      });
    }, function () { flushing = false; return count(); });
  }

  // --- taps ----------------------------------------------------------------------------
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.classList || !form.classList.contains("tap") || !window.indexedDB) { return; }
    var button = event.submitter;
    if (!button || button.name !== "status") { return; }
    event.preventDefault();
    var status = button.value;
    var kind = "";
    var note = "";
    var label = button.getAttribute("data-label") || button.textContent.trim();
    if (status === "needs_help") {
      var checked = form.querySelector("input[name=help_kind]:checked");
      kind = checked ? checked.value : "other";
      var noteInput = form.querySelector("input[name=note]");
      note = noteInput ? noteInput.value.trim() : "";
      if (checked && checked.parentNode) { label += " · " + checked.parentNode.textContent.trim(); }
    }
    var op = {
      op_id: uuid(), task_id: Number(form.getAttribute("data-task")),
      household_id: Number(form.getAttribute("data-household")), status: status, kind: kind, note: note,
      at: phoneTime(new Date()), made: Date.now(), user: user, label: label
    };
    put("queue", op).then(function () {
      show(op, "queued");
      return flush();
    }, function () {
      form.submit();  // no storage on this phone: post the form the plain way
    });
  });

  // What was sent after this copy of the page was fetched (a page kept offline): a tap
  // answered after the copy was made may be missing from it, even one made before.
  function replay() {
    var since = rendered ? Date.parse(rendered) : 0;
    return Promise.all([all("done"), all("queue")]).then(function (lists) {
      lists[0].sort(function (a, b) { return a.made - b.made; }).forEach(function (op) {
        if ((op.answered || op.made) > since && op.result !== "rejected") { show(op, "sent"); }
      });
      lists[1].forEach(function (op) { show(op, "queued"); });
    });
  }

  var sendButton = bar && bar.querySelector(".net-send");
  if (sendButton) { sendButton.addEventListener("click", function () { flush(); }); }
  window.addEventListener("online", function () { offline = false; flush(); });
  window.addEventListener("offline", function () { offline = true; paint(); });
  document.addEventListener("visibilitychange", function () { if (!document.hidden) { flush(); } });
  setInterval(function () { if (waiting) { flush(); } }, 20000);

  if (window.indexedDB) {
    replay().then(prune).then(function () { return flush(); }).catch(function () { paint(); });
  } else {
    paint();
  }
  // The service worker: registered once the page and its files are loaded (so that it
  // takes them from the browser's cache rather than downloading them again); a page it
  // has no copy of yet (opened before it took over) is kept now, for offline use.
  function startWorker() {
    navigator.serviceWorker.register(root.getAttribute("data-sw")).then(function () {
      return navigator.serviceWorker.ready;
    }).then(function (reg) {
      return caches.open("vg-pages").then(function (cache) {
        return cache.match(location.pathname);
      }).then(function (kept) {
        if (!kept && reg.active) { reg.active.postMessage({ keep: location.pathname }); }
      });
    }).catch(function () { return null; });
  }
  if ("serviceWorker" in navigator && window.caches && root.getAttribute("data-sw")) {
    if (document.readyState === "complete") { startWorker(); }
    else { window.addEventListener("load", startWorker); }
  }
})();
