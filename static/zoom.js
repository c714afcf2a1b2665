// Zoom, pan and details on the run page's timeline: what only the browser can do (gestures).
// The server draws every window (/runs/{id}?from_ms=A&to_ms=B, the URL to share); this script
// only turns a gesture into that URL and goes there, and shows a clicked shape's data- attributes.
// Everything is delegated from document: live frames replace #timeline without re-running it.
(function () {
  "use strict";
  var DRAG_PX = 5; // less movement than this is a click, not a drag
  var WHEEL_IDLE_MS = 300; // a wheel or pinch gesture is over after this long without events

  function timeline() { return document.getElementById("timeline"); }

  // The window drawn, in ns since the run's start, and the whole run's axis.
  function state(tl) {
    return { from: +tl.dataset.fromNs, to: +tl.dataset.toNs, run: +tl.dataset.runNs, id: tl.dataset.run };
  }

  // ns as ms for a URL, to about a thousandth of `width` (a drag need not say 37.500002 ms).
  function msParam(ns, width) {
    var digits = width ? Math.min(6, Math.max(0, Math.ceil(-Math.log10(width / 1e9)))) : 6;
    return (Math.round(ns) / 1e6).toFixed(digits).replace(/(\.\d*?)0+$/, "$1").replace(/\.$/, "");
  }

  function go(from, to) {
    var tl = timeline(), s = state(tl), width = Math.max(to - from, 1000); // 1 µs: the narrowest window
    from = Math.max(0, from);
    to = from + width;
    var url = "/runs/" + s.id;
    if (!(from <= 0 && to >= s.run)) url += "?from_ms=" + msParam(from, width) + "&to_ms=" + msParam(to, width);
    location.assign(url);
  }

  // Where a clientX falls on the lanes' time axis, in ns since the run's start.
  function nsAt(clientX) {
    var tl = timeline(), s = state(tl), box = tl.querySelector(".axis .track").getBoundingClientRect();
    return s.from + (s.to - s.from) * (clientX - box.left) / box.width;
  }

  function say(text) { // what a gesture will show, until the page goes there
    var bar = timeline().querySelector(".zoom-bar"), out = bar.querySelector(".zoom-preview");
    if (!out) { out = document.createElement("span"); out.className = "zoom-preview"; bar.appendChild(out); }
    out.textContent = text;
  }

  // ---- Drag: across the lanes selects a window to zoom into; on the axis or the overview, pans.
  var drag = null;
  document.addEventListener("pointerdown", function (e) {
    var tl = timeline();
    if (!tl || e.button !== 0 || !tl.contains(e.target) || e.target.closest("a, .zoom-bar")) return;
    var mode = e.target.closest(".overview") ? "overview" : e.target.closest(".axis") ? "pan"
      : e.target.closest(".lanes-wrap") ? "select" : null;
    if (!mode) return;
    drag = { mode: mode, x: e.clientX, moved: false, target: e.target };
  });
  document.addEventListener("pointermove", function (e) {
    if (!drag) return;
    if (Math.abs(e.clientX - drag.x) >= DRAG_PX) drag.moved = true;
    if (!drag.moved) return;
    e.preventDefault();
    var tl = timeline(), s = state(tl), w = dragWindow(e.clientX);
    if (drag.mode === "select") {
      var wrap = tl.querySelector(".lanes-wrap"), box = tl.querySelector(".axis .track").getBoundingClientRect();
      var band = wrap.querySelector(".zoom-band");
      if (!band) { band = document.createElement("div"); band.className = "zoom-band"; wrap.appendChild(band); }
      var px = function (ns) { return box.left - wrap.getBoundingClientRect().left + box.width * (ns - s.from) / (s.to - s.from); };
      band.style.left = px(w[0]) + "px"; // CSSOM, which the page's CSP allows (style attributes it does not)
      band.style.width = (px(w[1]) - px(w[0])) + "px";
    }
    say("→ " + msParam(w[0]) + "–" + msParam(w[1]) + " ms");
  });
  document.addEventListener("pointerup", function (e) {
    if (!drag) return;
    var d = drag;
    drag = null;
    if (d.moved) { var w = dragWindow(e.clientX, d); go(w[0], w[1]); return; }
    var shape = d.target.closest && d.target.closest("[data-s]");
    if (shape) open(shape);
  });

  function dragWindow(clientX, d) {
    d = d || drag;
    var s = state(timeline()), a = nsAt(d.x), b = nsAt(clientX);
    if (d.mode === "select") return [Math.min(a, b), Math.max(a, b)];
    var shift = a - b; // dragging the axis right shows earlier times
    if (d.mode === "overview") { // the overview stands for the whole run: move the window by as much
      var track = timeline().querySelector(".overview .track").getBoundingClientRect();
      shift = (clientX - d.x) / track.width * Math.max(s.run, s.to);
    }
    shift = Math.max(shift, -s.from);
    return [s.from + shift, s.to + shift];
  }

  // ---- Wheel: ctrl+wheel (a trackpad's pinch arrives so) zooms about the pointer; shift+wheel or a
  // sideways wheel pans. A plain wheel still scrolls the page.
  var pending = null, timer = 0;
  document.addEventListener("wheel", function (e) {
    var tl = timeline();
    if (!tl || !tl.contains(e.target) || !e.target.closest(".lanes-wrap, .axis, .overview")) return;
    var sideways = Math.abs(e.deltaX) > Math.abs(e.deltaY);
    if (!e.ctrlKey && !e.metaKey && !e.shiftKey && !sideways) return;
    e.preventDefault();
    var s = state(tl), w = pending || [s.from, s.to], width = w[1] - w[0];
    if (e.ctrlKey || e.metaKey) {
      var at = w[0] + width * (nsAt(e.clientX) - s.from) / (s.to - s.from), k = Math.exp(e.deltaY / 300);
      w = [at - (at - w[0]) * k, at + (w[1] - at) * k];
    } else {
      var shift = width * (sideways ? e.deltaX : e.deltaY) / 1000;
      w = [w[0] + shift, w[1] + shift];
    }
    if (w[0] < 0) w = [0, w[1] - w[0]];
    pending = w;
    say("→ " + msParam(w[0]) + "–" + msParam(w[1]) + " ms");
    clearTimeout(timer);
    timer = setTimeout(function () { var p = pending; pending = null; go(p[0], p[1]); }, WHEEL_IDLE_MS);
  }, { passive: false });

  // ---- Details: a click on a shape (above), or Enter on one reached with Tab; Escape closes.
  document.addEventListener("keydown", function (e) {
    var panel = document.getElementById("details");
    if (e.key === "Escape" && panel && !panel.hidden) { panel.hidden = true; return; }
    if (e.key !== "Enter" || !e.target.closest) return;
    var shape = e.target.closest("#timeline [data-s]");
    if (shape) { e.preventDefault(); open(shape); }
  });

  function laneName(lane) {
    var label = lane && lane.querySelector(".lane-label");
    return label ? label.firstChild.textContent.trim() : "?";
  }

  function open(shape) {
    var panel = document.getElementById("details");
    if (!panel) return;
    var start = parseFloat(shape.dataset.s), end = parseFloat(shape.dataset.e);
    var digits = (shape.dataset.s.split(".")[1] || "").length;
    var rows, heading, title = shape.querySelector("title");
    if (shape.classList.contains("arrow")) {
      var from = laneName(document.getElementById("lane-" + shape.dataset.fl));
      var to = laneName(document.getElementById("lane-" + shape.dataset.tl));
      heading = "notify → the wait it ended";
      rows = [["from", "notify on " + from + " at " + shape.dataset.s + " ms"],
              ["to", "woken on " + to + " at " + shape.dataset.e + " ms"],
              ["after", (end - start).toFixed(digits) + " ms"]];
    } else {
      var category = (shape.getAttribute("class") || "").match(/c-(\w+)/);
      heading = shape.dataset.n;
      rows = [["lane", laneName(shape.closest(".lane"))], ["name", shape.dataset.n],
              ["category", category ? category[1] : ""], ["start", shape.dataset.s + " ms"],
              ["end", shape.dataset.e + " ms"], ["duration", (end - start).toFixed(digits) + " ms"]];
    }
    // textContent only: names come from the experiment's code and are never parsed as HTML.
    panel.textContent = "";
    var h = document.createElement("h3"), close = document.createElement("button"), dl = document.createElement("dl");
    h.textContent = heading;
    close.type = "button"; close.className = "details-close"; close.textContent = "close";
    close.addEventListener("click", function () { panel.hidden = true; shape.focus(); });
    rows.forEach(function (r) {
      var dt = document.createElement("dt"), dd = document.createElement("dd");
      dt.textContent = r[0]; dd.textContent = r[1]; dl.appendChild(dt); dl.appendChild(dd);
    });
    panel.appendChild(close); panel.appendChild(h);
    if (title) { var p = document.createElement("p"); p.textContent = title.textContent; panel.appendChild(p); }
    panel.appendChild(dl);
    panel.hidden = false;
  }
})();
