/* Task pages: the dispatch form's kind switch and live preview; the progress
   page's self-refresh and its coverage chart. Vanilla JS, no build. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // --- dispatch ----------------------------------------------------------------
  var form = document.getElementById("dispatch-form");
  if (form) {
    var titles = JSON.parse(form.dataset.titles || "{}");
    var title = form.querySelector("#title");
    var unitSelect = form.querySelector("#unit_id");
    var preview = document.getElementById("preview");
    var titleTouched = false;
    var defaultDeadline = { sweep: "60", campaign: "10080", survey: "4320", notice: "1440" };
    title.addEventListener("input", function () { titleTouched = true; });

    var isProposed = function (value) {
      for (var k in titles) { if (titles[k] === value) return true; }
      return !value;
    };

    var currentKind = function () {
      var checked = form.querySelector("input[name=preset]:checked");
      return checked ? checked.dataset.kind : "sweep";
    };

    var applyKind = function (changed) {
      var checked = form.querySelector("input[name=preset]:checked");
      var kind = currentKind();
      if (changed && checked && (!titleTouched || isProposed(title.value))) {
        title.value = titles[checked.value] || title.value;
        titleTouched = false;
      }
      var longTerm = kind !== "sweep";
      var pills = form.querySelectorAll(".pills .pill");
      var selectedVisible = false;
      pills.forEach(function (pill) {
        var show = longTerm ? pill.classList.contains("for-long") : pill.classList.contains("for-sweep");
        pill.classList.toggle("hidden", !show);
        var input = pill.querySelector("input");
        if (show && input.checked) selectedVisible = true;
      });
      if (changed || !selectedVisible) {
        var want = form.querySelector("input[name=deadline][value='" + defaultDeadline[kind] + "']");
        if (want && (!selectedVisible || changed)) want.checked = true;
      }
      form.querySelector("#questions").hidden = kind !== "survey";
      customDeadline();
    };

    var customDeadline = function () {
      var custom = form.querySelector("input[name=deadline][value=custom]");
      form.querySelector(".custom-deadline").hidden = !(custom && custom.checked);
    };

    var filterGrids = function () {
      var opt = unitSelect.options[unitSelect.selectedIndex];
      var path = opt ? opt.dataset.path : "";
      form.querySelectorAll(".grid-choice").forEach(function (label) {
        var inside = label.dataset.path.indexOf(path) === 0;
        label.classList.toggle("hidden", !inside);
        if (!inside) label.querySelector("input").checked = false;
      });
    };

    var template = function (id) {
      var t = document.getElementById(id);
      return t ? t.innerHTML.trim() : "";
    };

    var seq = 0;
    var timer = null;
    var updatePreview = function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var params = new URLSearchParams();
        params.set("unit_id", unitSelect.value);
        form.querySelectorAll("input[name=flags]:checked").forEach(function (c) { params.append("flags", c.value); });
        form.querySelectorAll("input[name=grid_ids]:checked").forEach(function (c) { params.append("grid_ids", c.value); });
        var mine = ++seq;
        preview.textContent = template("preview-wait");
        preview.className = "preview";
        fetch(form.dataset.previewUrl + "?" + params.toString(), {
          credentials: "same-origin", headers: { Accept: "application/json" }
        }).then(function (res) {
          return res.json().then(function (body) { return { ok: res.ok, body: body }; });
        }).then(function (r) {
          if (mine !== seq) return;
          if (!r.ok) {
            preview.textContent = (r.body.error && r.body.error.message) || "";
            preview.className = "preview error";
            return;
          }
          if (!r.body.households) {
            preview.textContent = template("preview-none");
            preview.className = "preview zero";
            return;
          }
          preview.textContent = template("preview-text")
            .replace("{households}", r.body.households).replace("{teams}", r.body.teams);
          preview.className = "preview";
        }).catch(function () {
          if (mine === seq) preview.textContent = "";
        });
      }, 150);
    };

    form.querySelectorAll("input[name=preset]").forEach(function (r) {
      r.addEventListener("change", function () { applyKind(true); });
    });
    form.querySelectorAll("input[name=deadline]").forEach(function (r) {
      r.addEventListener("change", customDeadline);
    });
    unitSelect.addEventListener("change", function () { filterGrids(); updatePreview(); });
    form.querySelectorAll("input[name=flags], input[name=grid_ids]").forEach(function (c) {
      c.addEventListener("change", updatePreview);
    });
    form.addEventListener("submit", function () {
      var send = document.getElementById("send");
      setTimeout(function () { send.disabled = true; }, 0);  // one tap, one task
    });
    applyKind(false);
    filterGrids();
    updatePreview();
  }

  // --- progress ----------------------------------------------------------------
  var SVG = "http://www.w3.org/2000/svg";
  var el = function (name, attrs, text) {
    var node = document.createElementNS(SVG, name);
    for (var k in attrs) node.setAttribute(k, attrs[k]);
    if (text !== undefined) node.textContent = text;
    return node;
  };

  var drawChart = function (box, points, total) {
    if (!box || !points || points.length < 2) return;
    // Drawn at the box's own width so the labels keep their size on a phone and a desktop.
    var W = Math.max(280, Math.min(box.clientWidth || 640, 900)), H = W < 500 ? 170 : 220;
    var L = 40, R = 12, T = 10, B = 26;
    var deadline = Number(box.dataset.deadline || 0);
    var maxT = Math.max(points[points.length - 1].t, 60);
    // Show the way to the deadline while it is ahead (not a month for campaigns).
    if (deadline > maxT && deadline < maxT * 4) maxT = deadline;
    var maxN = Math.max(total, 1);
    var x = function (t) { return L + (W - L - R) * t / maxT; };
    var y = function (n) { return T + (H - T - B) * (1 - n / maxN); };
    var svg = el("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": box.dataset.ariaLabel || "" });
    svg.appendChild(el("line", { x1: L, y1: y(0), x2: W - R, y2: y(0), "class": "axis" }));
    svg.appendChild(el("line", { x1: L, y1: T, x2: L, y2: y(0), "class": "axis" }));
    [0, 0.5, 1].forEach(function (f) {
      svg.appendChild(el("text", { x: L - 4, y: y(maxN * f) + 4, "text-anchor": "end" }, Math.round(f * 100) + "%"));
    });
    var minutes = Math.round(maxT / 60);
    svg.appendChild(el("text", { x: L, y: H - 6 }, "0"));
    svg.appendChild(el("text", { x: W - R, y: H - 6, "text-anchor": "end" },
      minutes + " " + (box.dataset.labelMin || "min")));
    if (deadline > 0 && deadline <= maxT) {
      svg.appendChild(el("line", { x1: x(deadline), y1: T, x2: x(deadline), y2: y(0), "class": "deadline" }));
      svg.appendChild(el("text", { x: x(deadline) - 4, y: T + 10, "text-anchor": "end" }, box.dataset.labelDeadline || ""));
    }
    // Step line: the count holds until the next report.
    var d = "M" + x(0) + "," + y(0);
    var prev = points[0];
    points.forEach(function (p) {
      d += " L" + x(p.t).toFixed(1) + "," + y(prev.n).toFixed(1) + " L" + x(p.t).toFixed(1) + "," + y(p.n).toFixed(1);
      prev = p;
    });
    var last = points[points.length - 1];
    svg.appendChild(el("path", { d: d + " L" + x(last.t) + "," + y(0) + " Z", "class": "area" }));
    svg.appendChild(el("path", { d: d, "class": "line" }));
    box.replaceChildren(svg);
  };

  // Bring ``node`` (on the page) to look like ``fresh`` (just received), changing only
  // what differs: a part that did not change is left alone, and a part holding the
  // focus is never replaced — its children are brought along the same way — so a
  // cadre who tabbed to a ☎ link keeps it, and the scroll stays where it was.
  var keyOf = function (n, i) {
    return n.nodeType === 1 && n.id ? "#" + n.id : n.nodeName + ":" + i;
  };
  var morph = function (node, fresh) {
    if (node.isEqualNode(fresh)) return;
    var focused = document.activeElement;
    if (!focused || focused === document.body || !node.contains(focused)) {
      node.replaceWith(fresh);
      return;
    }
    if (node.nodeName !== fresh.nodeName) return;  // the focused part stays as it is
    Array.prototype.slice.call(node.attributes).forEach(function (a) {
      if (!fresh.hasAttribute(a.name)) node.removeAttribute(a.name);
    });
    Array.prototype.slice.call(fresh.attributes).forEach(function (a) {
      if (node.getAttribute(a.name) !== a.value) node.setAttribute(a.name, a.value);
    });
    morphChildren(node, fresh);
  };
  var morphChildren = function (parent, fresh) {
    var old = {};
    Array.prototype.slice.call(parent.childNodes).forEach(function (n, i) { old[keyOf(n, i)] = n; });
    var wanted = Array.prototype.slice.call(fresh.childNodes);
    var keep = [];
    wanted.forEach(function (f, i) {
      var k = keyOf(f, i);
      keep.push(old[k] || null);
      delete old[k];
    });
    for (var k in old) {
      if (old[k].contains(document.activeElement)) continue;  // gone: left until focus moves
      old[k].remove();
    }
    var at = parent.firstChild;
    wanted.forEach(function (f, i) {
      var n = keep[i];
      if (n) {
        if (n !== at) parent.insertBefore(n, at);  // only when order changed
        at = n.nextSibling;
        morph(n, f);
      } else {
        parent.insertBefore(f, at);
      }
    });
  };

  var live = document.getElementById("live");
  var chart = document.getElementById("chart");
  if (chart) {
    chart.dataset.ariaLabel = chart.textContent.trim();
    drawChart(chart, JSON.parse(chart.dataset.points || "[]"), Number(chart.dataset.total));
  }
  if (live && live.dataset.closed !== "1") {
    var interval = Math.max(1, Number(live.dataset.interval || 10)) * 1000;
    var busy = false;
    var refresh = function () {
      if (busy || document.hidden) return;
      busy = true;
      fetch(live.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (res) { if (!res.ok) throw new Error(res.status); return res.json(); })
        .then(function (data) {
          var box = document.createElement("div");
          box.innerHTML = data.html;
          morphChildren(live, box);
          live.dataset.updated = String(Date.now());
          if (chart) {
            chart.dataset.total = data.chart_total;
            drawChart(chart, data.timeline, data.chart_total);
          }
          if (data.closed) { live.dataset.closed = "1"; clearInterval(handle); }
        })
        .catch(function () { /* weak signal: try again next time */ })
        .then(function () { busy = false; });
    };
    var handle = setInterval(refresh, interval);
    document.addEventListener("visibilitychange", function () { if (!document.hidden) refresh(); });
  }
})();
