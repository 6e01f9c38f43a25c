/* modelreg catalog: client-side search and filters, the "as of" control and the compare page.
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

  /* The compare page: two versions side by side, computed from the data the build embedded
     (a JSON data block, never executed). Text goes in through textContent only. */
  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    if (cls) { node.className = cls; }
    return node;
  }

  function fmt(value) {
    if (value === undefined || value === null) { return "-"; }
    if (typeof value === "number") { return String(Number(value.toPrecision(6))); }
    return String(value);
  }

  function delta(a, b) {
    if (typeof a !== "number" || typeof b !== "number") { return ""; }
    var d = Number((b - a).toPrecision(6));
    var text = (d > 0 ? "+" : (d < 0 ? "\u2212" : "\u00b1")) + String(Math.abs(d));
    if (a !== 0 && d !== 0) { text += " (" + (d > 0 ? "+" : "\u2212") + Math.abs(d / a * 100).toFixed(1) + "%)"; }
    return text;
  }

  function fill(table, head, rows) {
    while (table.firstChild) { table.removeChild(table.firstChild); }
    var thead = table.appendChild(el("thead")).appendChild(el("tr"));
    head.forEach(function (h) { var th = thead.appendChild(el("th", h)); th.scope = "col"; });
    var body = table.appendChild(el("tbody"));
    if (!rows.length) {
      var td = body.appendChild(el("tr")).appendChild(el("td", "Neither version records any."));
      td.colSpan = head.length;
      return 0;
    }
    var changed = 0;
    rows.forEach(function (r) {
      var tr = body.appendChild(el("tr", null, r.changed ? "changed" : "same"));
      tr.setAttribute("data-key", r.key);
      var th = tr.appendChild(el("th", r.key));
      th.scope = "row";
      r.cells.forEach(function (c) { tr.appendChild(el("td", c[0], c[1])); });
      if (r.changed) { changed += 1; }
    });
    return changed;
  }

  function keys(a, b) {
    var seen = {};
    Object.keys(a || {}).concat(Object.keys(b || {})).forEach(function (k) { seen[k] = true; });
    return Object.keys(seen).sort();
  }

  function short(sha) { return sha ? sha.slice(0, 12) : "-"; }

  function fileChange(fa, fb) {
    if (!fa) { return "added"; }
    if (!fb) { return "removed"; }
    return fa.sha256 === fb.sha256 ? "same" : "changed";
  }

  function describeDeleted(v) {
    return v.status === "deleted" ? "deleted" + (v.deleted && v.deleted.reason ? ": " + v.deleted.reason : "") : v.status;
  }

  function compare(a, b, out) {
    var overview = [["Stage", a.stage, b.stage], ["Status", describeDeleted(a), describeDeleted(b)],
      ["Aliases", a.aliases.join(", ") || "-", b.aliases.join(", ") || "-"], ["Parent", a.parent || "-", b.parent || "-"],
      ["Chat template sha256", a.chat_template || "-", b.chat_template || "-"], ["Created", a.created_at, b.created_at]];
    var n = fill(out.overview, ["", a.id, b.id, "Change"], overview.map(function (r) {
      var changed = fmt(r[1]) !== fmt(r[2]);
      return { key: r[0], changed: changed, cells: [[fmt(r[1])], [fmt(r[2])], [changed ? "changed" : "same", "delta"]] };
    }));
    n += fill(out.metrics, ["Metric", a.id, b.id, "\u0394 (B \u2212 A)"], keys(a.metrics, b.metrics).map(function (k) {
      var x = a.metrics[k], y = b.metrics[k];
      var d = (x === undefined || y === undefined) ? (x === undefined ? "only in B" : "only in A") : delta(x, y);
      return { key: k, changed: x !== y, cells: [[fmt(x), "num"], [fmt(y), "num"], [d, "delta"]] };
    }));
    n += fill(out.params, ["Parameter", a.id, b.id, "Change"], keys(a.parameters, b.parameters).map(function (k) {
      var x = a.parameters[k], y = b.parameters[k];
      var d = x === undefined ? "added" : (y === undefined ? "removed" : (x === y ? "same" : "changed"));
      var nx = Number(x), ny = Number(y);
      if (d === "changed" && x !== "" && y !== "" && !isNaN(nx) && !isNaN(ny)) { d = delta(nx, ny); }
      return { key: k, changed: x !== y, cells: [[fmt(x)], [fmt(y)], [d, "delta"]] };
    }));
    n += fill(out.files, ["Path", a.id + " sha256", a.id + " size", b.id + " sha256", b.id + " size", "Change"],
      keys(a.files, b.files).map(function (k) {
        var x = a.files[k], y = b.files[k];
        var what = fileChange(x, y);
        if (what === "changed" && x.size !== y.size) { what += ", size " + delta(x.size, y.size).split(" ")[0] + " B"; }
        return { key: k, changed: what !== "same", cells: [[short(x && x.sha256), "sha"], [x ? fmt(x.size) : "-", "num"],
          [short(y && y.sha256), "sha"], [y ? fmt(y.size) : "-", "num"], [what, "delta"]] };
      }));
    n += fill(out.card, ["Field", a.id, b.id, "Change"], keys(a.card, b.card).map(function (k) {
      var x = a.card[k], y = b.card[k];
      var d = x === undefined ? "added" : (y === undefined ? "removed" : (x === y ? "same" : "changed"));
      return { key: k, changed: x !== y, cells: [[fmt(x), "text"], [fmt(y), "text"], [d, "delta"]] };
    }));
    return n;
  }

  function initCompare() {
    var form = document.getElementById("compare-form");
    var source = document.getElementById("compare-data");
    if (!form || !source) { return; }
    var data = JSON.parse(source.textContent);
    var byId = {};
    data.versions.forEach(function (v) { byId[v.id] = v; });
    var pick = { a: document.getElementById("compare-a"), b: document.getElementById("compare-b") };
    var out = { overview: document.getElementById("compare-overview"), metrics: document.getElementById("compare-metrics"),
      params: document.getElementById("compare-params"), files: document.getElementById("compare-files"),
      card: document.getElementById("compare-card") };
    var summary = document.getElementById("compare-summary");
    var query = new URLSearchParams(window.location.search);
    ["b", "a"].forEach(function (side) {
      var wanted = query.get(side);
      pick[side].value = byId[wanted] ? wanted : (side === "a" ? before(pick.b.value) : data.b);
    });
    function before(id) {  // A by default: the version of B's model just before B
      var v = byId[id], found = data.a;
      data.versions.forEach(function (w) {
        if (v && w.model === v.model && w.version < v.version) { found = w.id; }
      });
      return found;
    }
    function apply() {
      var a = byId[pick.a.value], b = byId[pick.b.value];
      if (!a || !b) { summary.textContent = "Pick two versions."; return; }
      var changed = compare(a, b, out);
      document.getElementById("compare-out").hidden = false;
      summary.textContent = a.id === b.id ? "The same version on both sides."
        : changed + " difference(s) between " + a.id + " and " + b.id + ".";
      try {  // a shareable address; file:// pages may refuse it, which changes nothing else
        window.history.replaceState(null, "", "?a=" + encodeURIComponent(a.id) + "&b=" + encodeURIComponent(b.id));
      } catch (e) { /* keep the address as it is */ }
    }
    pick.a.addEventListener("change", apply);
    pick.b.addEventListener("change", apply);
    document.getElementById("compare-swap").addEventListener("click", function (e) {
      e.preventDefault();
      var x = pick.a.value;
      pick.a.value = pick.b.value;
      pick.b.value = x;
      apply();
    });
    form.addEventListener("submit", function (e) { e.preventDefault(); });
    form.hidden = false;
    apply();
  }

  initFilters();
  initAsOf();
  initCompare();
}());
