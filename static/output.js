// The output pane (templates/_output.html): clicking a printed line (or Enter on it) marks its
// moment on the timeline with a vertical line across the lanes. The line is placed in percent of
// the time axis, like every shape (app/drawing/placement.py): its ms over the axis' ms (#output's
// data-scale-ms, rendered with each full redraw), or, in a zoomed window, its place between the
// window's ends (#timeline's data-from-ns and data-to-ns). A full redraw replaces the lanes, so the
// marker is put back after each swap. No state but the picked line's time.
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  var pickedMs = null;

  function place() {
    var wrap = document.querySelector("#timeline .lanes-wrap");
    var pane = document.getElementById("output");
    if (!wrap || !pane || pickedMs === null) return;
    var timeline = document.getElementById("timeline");
    var from = 0, scale = parseFloat(pane.dataset.scaleMs);
    if (timeline && timeline.classList.contains("zoomed")) {
      from = parseFloat(timeline.dataset.fromNs) / 1e6;
      scale = parseFloat(timeline.dataset.toNs) / 1e6 - from;
    }
    if (!(scale > 0)) return;
    var svg = wrap.querySelector("svg.moment");
    if (!svg) {
      svg = document.createElementNS(SVG, "svg");
      svg.setAttribute("class", "moment");
      svg.setAttribute("aria-hidden", "true");
      var line = document.createElementNS(SVG, "line");
      line.setAttribute("y1", "0");
      line.setAttribute("y2", "100%");
      svg.appendChild(line);
      wrap.appendChild(svg);
    }
    var x = Math.min(100, Math.max(0, 100 * (pickedMs - from) / scale)).toFixed(3) + "%";
    var l = svg.querySelector("line");
    l.setAttribute("x1", x);
    l.setAttribute("x2", x);
  }

  function pick(li) {
    document.querySelectorAll("#output-lines li.picked").forEach(function (other) { other.classList.remove("picked"); });
    li.classList.add("picked");
    pickedMs = parseFloat(li.dataset.ms);
    place();
    var timeline = document.getElementById("timeline");
    if (timeline && timeline.scrollIntoView) timeline.scrollIntoView({block: "nearest"});
  }

  document.addEventListener("click", function (e) {
    var li = e.target.closest && e.target.closest("#output-lines li.out");
    if (li) pick(li);
  });
  document.addEventListener("keydown", function (e) {
    if (e.key !== "Enter" && e.key !== " ") return;
    var li = e.target.closest && e.target.closest("#output-lines li.out");
    if (li) { e.preventDefault(); pick(li); }
  });
  document.addEventListener("htmx:oobAfterSwap", place);
  document.addEventListener("htmx:afterSettle", place);
})();
