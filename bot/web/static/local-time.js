// Progressive enhancement: shows each session's time in the reader's own time zone as well.
// The page is complete without it (the study's time zone is always shown, and a form picks another zone).
(function () {
  "use strict";
  var zone;
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return; }
  var nodes = document.querySelectorAll("span.local[data-start]");
  for (var i = 0; i < nodes.length; i++) {
    var node = nodes[i];
    if (node.textContent.trim() || !zone || zone === node.getAttribute("data-zone")) { continue; }
    var lang = node.getAttribute("data-lang") === "en" ? "en-US" : "ko-KR";
    var start = new Date(node.getAttribute("data-start"));
    var end = new Date(node.getAttribute("data-end"));
    var day = new Intl.DateTimeFormat(lang, { year: "numeric", month: "2-digit", day: "2-digit", weekday: "short", timeZone: zone });
    var clock = new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: zone });
    node.textContent = node.getAttribute("data-label") + ": " + day.format(start) + " " + clock.format(start) +
      "–" + clock.format(end) + " (" + zone + ")";
  }
})();
