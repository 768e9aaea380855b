// Tandem inbox: fetch the rows every few seconds and announce new urgent escalations.
// Served by Tandem itself (CSP script-src 'self'); no library, no other origin.
(function () {
  "use strict";
  var table = document.getElementById("inbox");
  var body = document.getElementById("inbox-rows");
  var announcer = document.getElementById("announcer");
  if (!table || !body || !announcer) { return; }
  if (new URLSearchParams(window.location.search).has("cursor")) { return; }
  var url = table.getAttribute("data-poll-url") + window.location.search;
  var every = 1000 * (parseInt(table.getAttribute("data-poll-seconds"), 10) || 5);
  var seen = {};
  body.querySelectorAll("tr[data-escalation-id]").forEach(function (row) {
    seen[row.getAttribute("data-escalation-id")] = true;
  });

  function announce(rows) {
    var urgent = rows.filter(function (row) {
      return row.getAttribute("data-priority") === "urgent" &&
        row.getAttribute("data-status") === "open";
    });
    if (!urgent.length) { return; }
    var words = urgent.map(function (row) {
      var cells = row.querySelectorAll("td");
      return cells[1].textContent.trim() + " for " + cells[0].textContent.trim();
    });
    announcer.textContent = "New urgent escalation: " + words.join("; ") + ".";
    announcer.classList.add("shown");
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (response.status === 401) { window.location.reload(); return null; }
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (html === null || html === undefined) { return; }
        var doc = new DOMParser().parseFromString("<table><tbody>" + html + "</tbody></table>", "text/html");
        var rows = Array.prototype.slice.call(doc.querySelectorAll("tbody > tr"));
        var fresh = rows.filter(function (row) {
          var id = row.getAttribute("data-escalation-id");
          return id && !seen[id];
        });
        // Keep keyboard focus where it was when the rows are swapped.
        var focused = document.activeElement && body.contains(document.activeElement)
          ? document.activeElement.getAttribute("href") : null;
        body.replaceChildren.apply(body, rows.map(function (row) { return document.importNode(row, true); }));
        fresh.forEach(function (row) {
          seen[row.getAttribute("data-escalation-id")] = true;
          var live = body.querySelector('tr[data-escalation-id="' + row.getAttribute("data-escalation-id") + '"]');
          if (live) { live.classList.add("new"); }
        });
        if (focused) {
          var again = body.querySelector('a[href="' + focused + '"]');
          if (again) { again.focus(); }
        }
        announce(fresh);
      })
      .catch(function () { /* offline for a moment: the next poll tries again */ })
      .then(function () { window.setTimeout(poll, every); });
  }
  window.setTimeout(poll, every);
}());
