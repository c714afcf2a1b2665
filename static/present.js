// Presentation mode (a projector at the front of a class): bigger text and lanes, set by a toggle
// and remembered in localStorage. The class goes on <html>, so style.css does the rest; this runs
// in the body before the page is painted, so a remembered mode shows from the first frame.
(function () {
  "use strict";
  var KEY = "lab-present";
  var root = document.documentElement;
  function set(on) {
    root.classList.toggle("present", on);
    document.querySelectorAll("button.present-toggle").forEach(function (b) {
      b.setAttribute("aria-pressed", on ? "true" : "false");
    });
  }
  var stored = null;
  try { stored = localStorage.getItem(KEY); } catch (e) { /* storage off: the toggle still works */ }
  set(stored === "on");
  document.addEventListener("DOMContentLoaded", function () { set(root.classList.contains("present")); });
  document.addEventListener("click", function (e) {
    var button = e.target.closest && e.target.closest("button.present-toggle");
    if (!button) return;
    var on = !root.classList.contains("present");
    set(on);
    try { localStorage.setItem(KEY, on ? "on" : "off"); } catch (err) { /* not remembered */ }
  });
})();
