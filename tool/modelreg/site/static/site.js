/* modelreg catalog: client-side search and filters, and the "as of" control.
   Plain JavaScript, no libraries, no network: the pages are readable without it. */
(function () {
  "use strict";

  function parse(el, name) {
    try { return JSON.parse(el.getAttribute(name) || "[]"); } catch (e) { return []; }
  }

  function initFilters() {
    var table = document.getElementById("models");
    var form = document.querySelector("form.filters");
    if (!table || !form) { return; }
    var search = document.getElementById("q");
    var selects = Array.prototype.slice.call(form.querySelectorAll("select[data-filter]"));
    var count = document.getElementById("count");
    var rows = Array.prototype.map.call(table.tBodies[0].rows, function (row) {
      var facets = {};
      selects.forEach(function (s) { facets[s.dataset.filter] = parse(row, "data-" + s.dataset.filter); });
      return { el: row, text: row.getAttribute("data-search") || "", facets: facets };
    });
    function apply() {
      var words = search.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
      var shown = 0;
      rows.forEach(function (row) {
        var ok = words.every(function (w) { return row.text.indexOf(w) !== -1; });
        selects.forEach(function (s) {
          if (ok && s.value) { ok = row.facets[s.dataset.filter].indexOf(s.value) !== -1; }
        });
        row.el.hidden = !ok;
        if (ok) { shown += 1; }
      });
      count.textContent = shown + " of " + rows.length + " model(s)";
    }
    form.addEventListener("submit", function (e) { e.preventDefault(); });
    search.addEventListener("input", apply);
    selects.forEach(function (s) { s.addEventListener("change", apply); });
    var initial = new URLSearchParams(window.location.search).get("q");
    if (initial) { search.value = initial; }
    form.hidden = false;
    apply();
  }

  function initAsOf() {
    var input = document.getElementById("as-of-input");
    var table = document.getElementById("as-of-table");
    if (!input || !table) { return; }
    var summary = document.getElementById("as-of-summary");
    var rows = Array.prototype.map.call(table.tBodies[0].rows, function (row) {
      return { cell: row.querySelector(".as-of-cell"), spans: parse(row, "data-spans").map(function (s) {
        return { from: Date.parse(s.from), until: s.until ? Date.parse(s.until) : Infinity, version: s.version };
      }) };
    });
    function apply() {
      var when = input.value ? Date.parse(input.value + (input.value.length === 16 ? ":00Z" : "Z")) : NaN;
      var held = 0;
      rows.forEach(function (row) {
        var hit = null;
        if (!isNaN(when)) {
          row.spans.forEach(function (s) { if (s.from <= when && when < s.until) { hit = s.version; } });
        }
        row.cell.textContent = isNaN(when) ? "" : (hit ? "v" + hit : "none");
        if (hit) { held += 1; }
      });
      summary.textContent = isNaN(when) ? "Pick a time to see what was in production then."
        : held + " of " + rows.length + " model(s) had a production version at " + input.value.replace("T", " ") + " UTC";
    }
    Array.prototype.forEach.call(document.querySelectorAll(".as-of-col, .as-of-cell"), function (el) { el.hidden = false; });
    input.closest("form").addEventListener("submit", function (e) { e.preventDefault(); });
    input.addEventListener("input", apply);
    input.addEventListener("change", apply);
    input.closest("form").hidden = false;
    apply();
  }

  initFilters();
  initAsOf();
}());
