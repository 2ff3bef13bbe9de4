// Sealbook's one script. Reading works without it: times are rendered in UTC by the server.
// With it, every <time datetime="..."> shows the reader's own time zone, with UTC on hover.
(function () {
  "use strict";
  function localise() {
    var fmt;
    try {
      fmt = new Intl.DateTimeFormat(undefined, {
        year: "numeric", month: "short", day: "2-digit",
        hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short"
      });
    } catch (e) { return; }
    var nodes = document.querySelectorAll("time[datetime]");
    for (var i = 0; i < nodes.length; i++) {
      var t = nodes[i];
      var d = new Date(t.getAttribute("datetime"));
      if (isNaN(d.getTime())) continue;
      t.title = t.getAttribute("datetime").replace("T", " ") + " (UTC)";
      t.textContent = fmt.format(d);
    }
    var tz = document.querySelectorAll("input[data-timezone]");
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
    for (var j = 0; j < tz.length; j++) { if (!tz[j].value) tz[j].value = zone; }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", localise);
  } else { localise(); }
})();
