// The mapping editor: pair fields by drag and drop or by keyboard, flag type
// mismatches, preview, dry run, and save the mapping as the pair's hlbridge.toml.
(function () {
  "use strict";
  var editor = document.getElementById("mapping-editor");
  if (!editor) { return; }
  var pair = editor.getAttribute("data-pair");
  var rows = document.getElementById("mapping-rows");
  var template = document.getElementById("row-template");
  var rest = document.getElementById("config-rest");
  var configText = document.getElementById("config-text");
  var pairMessage = document.getElementById("pair-message");
  var status = document.getElementById("mapping-status");
  var STANDARD = ["first_name", "last_name", "email", "phone", "company", "address",
    "city", "postal_code", "country", "website", "tags", "birth_date", "dnd"];
  var TEXT_KINDS = ["text", "email", "country"];
  var selected = { ghl: null, sellsy: null };
  var MISMATCH_REFUSAL = "Fix the type mismatches first";

  function csrf() {
    var input = document.querySelector("#mapping-form input[name=csrf_token]");
    return input ? input.value : "";
  }

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    if (cls) { e.className = cls; }
    return e;
  }

  function fieldButtons(side) {
    return Array.prototype.slice.call(document.querySelectorAll("button.field[data-side=" + side + "]"));
  }

  function info(btn) {
    return {
      side: btn.getAttribute("data-side"),
      key: btn.getAttribute("data-key"),
      kind: btn.getAttribute("data-kind"),
      custom: btn.getAttribute("data-custom") === "true",
      canonical: btn.getAttribute("data-canonical"),
      label: btn.getAttribute("data-label")
    };
  }

  // Whether a GHL kind and a Sellsy kind can carry the same values (the engine's rule).
  function compatible(g, s) {
    if (g === "unsupported" || s === "unsupported" || g === "missing" || s === "missing") { return false; }
    if (g === s) { return true; }
    return g === "text" && (s === "number" || s === "date");
  }

  // Why two fields cannot be paired, or "" when they can.
  function refusal(g, s) {
    if (g.custom !== s.custom) {
      return "A standard field pairs only with its counterpart, a custom field only with a custom field: " + g.key + " and " + s.key + " cannot be paired.";
    }
    if (!g.custom && g.canonical !== s.canonical) {
      return "Standard fields pair only with their counterpart: " + g.key + " goes with the Sellsy field of the same meaning, not " + s.key + ".";
    }
    return "";
  }

  function mismatch(g, s) {
    if (!g.custom) { return ""; }
    return compatible(g.kind, s.kind) ? "" : "Type mismatch: GHL " + g.kind + " vs Sellsy " + s.kind + ".";
  }

  function checkRow(tr) {
    var cell = tr.querySelector(".row-check");
    var problem = tr.getAttribute("data-custom") === "true" &&
      !compatible(tr.getAttribute("data-kind-ghl"), tr.getAttribute("data-kind-sellsy"))
      ? "Type mismatch: GHL " + tr.getAttribute("data-kind-ghl") + " vs Sellsy " + tr.getAttribute("data-kind-sellsy")
      : "";
    cell.textContent = problem || "ok";
    cell.className = "row-check" + (problem ? " mismatch" : "");
    cell.setAttribute("data-testid", "check-" + tr.getAttribute("data-ghl"));
    tr.classList.toggle("has-mismatch", !!problem);
  }

  function addRow(g, s) {
    var why = refusal(g, s);
    if (why) { say(pairMessage, why, true); return false; }
    // One row per GHL field and per Sellsy field: a new pairing replaces older ones.
    Array.prototype.slice.call(rows.querySelectorAll("tr.mapping-row")).forEach(function (tr) {
      if (tr.getAttribute("data-ghl") === g.key || tr.getAttribute("data-sellsy") === s.key) {
        tr.parentNode.removeChild(tr);
      }
    });
    var tr = template.content.firstElementChild.cloneNode(true);
    tr.setAttribute("data-ghl", g.key);
    tr.setAttribute("data-sellsy", s.key);
    tr.setAttribute("data-custom", g.custom ? "true" : "false");
    tr.setAttribute("data-canonical", g.custom ? "" : g.canonical);
    tr.setAttribute("data-kind-ghl", g.kind);
    tr.setAttribute("data-kind-sellsy", s.kind);
    tr.setAttribute("data-testid", "mapping-row-" + g.key);
    tr.querySelector(".row-ghl").textContent = g.label + " ";
    tr.querySelector(".row-ghl").appendChild(el("small", g.key));
    tr.querySelector(".row-sellsy").textContent = s.label + " ";
    tr.querySelector(".row-sellsy").appendChild(el("small", s.key));
    tr.querySelector(".row-direction").setAttribute("aria-label", "Direction for " + g.key);
    tr.querySelector(".row-conflict").setAttribute("aria-label", "Conflict policy for " + g.key);
    var t = tr.querySelector(".row-transform");
    t.setAttribute("aria-label", "Transform for " + g.key);
    // A standard text field, or a pair of custom text fields.
    t.disabled = TEXT_KINDS.indexOf(g.kind) < 0 || (g.custom && TEXT_KINDS.indexOf(s.kind) < 0);
    tr.querySelector(".row-remove").setAttribute("aria-label", "Remove the pairing of " + g.key);
    rows.appendChild(tr);
    checkRow(tr);
    var m = mismatch(g, s);
    say(pairMessage, "Paired " + g.key + " with " + s.key + (m ? ". " + m : "."), !!m);
    refresh();
    return true;
  }

  function say(target, text, bad) {
    target.textContent = text;
    target.className = bad ? "error" : "";
  }

  function select(btn) {
    var f = info(btn);
    fieldButtons(f.side).forEach(function (b) { b.setAttribute("aria-pressed", b === btn ? "true" : "false"); });
    selected[f.side] = btn;
    if (f.side === "ghl") { markCompatible(f); }
    var other = f.side === "ghl" ? "Sellsy" : "GHL";
    say(pairMessage, "Selected " + f.key + ". Now select a " + other + " field, then press Pair.", false);
  }

  // While a GHL field is selected, Sellsy fields it cannot pair with are flagged.
  function markCompatible(g) {
    fieldButtons("sellsy").forEach(function (b) {
      var s = info(b);
      var bad = refusal(g, s) !== "" || mismatch(g, s) !== "";
      b.classList.toggle("incompatible", bad);
      b.title = bad ? (refusal(g, s) || mismatch(g, s)) : "";
    });
  }

  function pairSelected() {
    if (!selected.ghl || !selected.sellsy) {
      say(pairMessage, "Select a GHL field and a Sellsy field first.", true);
      return;
    }
    if (addRow(info(selected.ghl), info(selected.sellsy))) {
      selected.ghl.setAttribute("aria-pressed", "false");
      selected.sellsy.setAttribute("aria-pressed", "false");
      selected = { ghl: null, sellsy: null };
      fieldButtons("sellsy").forEach(function (b) { b.classList.remove("incompatible"); b.title = ""; });
    }
  }

  function q(s) { return "\"" + String(s).replace(/\\/g, "\\\\").replace(/"/g, "\\\"") + "\""; }

  // The pair's configuration: the other settings, then the field mapping.
  function buildConfig() {
    var out = (rest.value || "").replace(/\s+$/, "");
    var lines = [];
    var present = {};
    var all = rows.querySelectorAll("tr.mapping-row");
    for (var i = 0; i < all.length; i++) {
      var tr = all[i];
      var dir = tr.querySelector(".row-direction").value;
      var conflict = tr.querySelector(".row-conflict").value;
      var tsel = tr.querySelector(".row-transform");
      var transform = tsel.disabled ? "" : tsel.value;
      var opts = [];
      if (dir !== "both") { opts.push("direction = " + q(dir)); }
      if (conflict !== "newest_wins") { opts.push("conflict = " + q(conflict)); }
      if (transform) { opts.push("transform = " + q(transform)); }
      if (tr.getAttribute("data-custom") === "true") {
        lines.push("[custom_fields." + q(tr.getAttribute("data-ghl")) + "]");
        lines.push("sellsy = " + q(tr.getAttribute("data-sellsy")));
        lines = lines.concat(opts);
        lines.push("");
      } else {
        var c = tr.getAttribute("data-canonical");
        present[c] = true;
        if (opts.length) {
          lines.push("[fields." + c + "]");
          lines = lines.concat(opts);
          lines.push("");
        }
      }
    }
    STANDARD.forEach(function (c) {
      if (!present[c]) { lines.push("[fields." + c + "]", "enabled = false", ""); }
    });
    var text = (out ? out + "\n\n" : "") + lines.join("\n");
    return text.replace(/\n+$/, "\n");
  }

  function mismatches() {
    return rows.querySelectorAll("tr.has-mismatch").length;
  }

  function refresh() {
    configText.textContent = buildConfig();
    // A refusal of Save for mismatches goes once they are fixed.
    if (status.textContent.indexOf(MISMATCH_REFUSAL) === 0 && !mismatches()) { say(status, "", false); }
  }

  function call(method, path, body) {
    return fetch(path, {
      method: method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (res) {
      return res.text().then(function (t) {
        var data = null;
        try { data = JSON.parse(t); } catch (e) { data = { detail: t }; }
        if (!res.ok) { throw new Error((data && (data.detail || data.error)) || ("HTTP " + res.status)); }
        return data;
      });
    });
  }

  function show(target, nodes) {
    target.textContent = "";
    nodes.forEach(function (n) { target.appendChild(n); });
  }

  function valueText(v) {
    if (v === null || v === undefined) { return "(empty)"; }
    return typeof v === "string" ? v : JSON.stringify(v);
  }

  function previewTable(rec) {
    var wrap = el("div", null, "scroll");
    var table = el("table");
    table.setAttribute("data-testid", "preview-" + rec.side + "-" + rec.id);
    var cap = el("caption", (rec.side === "ghl" ? "GHL" : "Sellsy") + " contact " + rec.id + " (" + (rec.name || "no name") + ") → written to " + (rec.target === "ghl" ? "GHL" : "Sellsy"));
    table.appendChild(cap);
    var head = el("tr");
    head.appendChild(el("th", "Field")); head.appendChild(el("th", "Value written"));
    head.firstChild.setAttribute("scope", "col"); head.lastChild.setAttribute("scope", "col");
    var thead = el("thead"); thead.appendChild(head); table.appendChild(thead);
    var body = el("tbody");
    var keys = Object.keys(rec.would_write || {});
    if (!keys.length) {
      var tr0 = el("tr"); var td0 = el("td", "Nothing flows to this side."); td0.colSpan = 2; tr0.appendChild(td0); body.appendChild(tr0);
    }
    keys.forEach(function (k) {
      var tr = el("tr");
      tr.setAttribute("data-testid", "preview-value-" + rec.side + "-" + rec.id + "-" + k);
      tr.appendChild(el("td", k));
      tr.appendChild(el("td", valueText(rec.would_write[k])));
      body.appendChild(tr);
    });
    table.appendChild(body);
    wrap.appendChild(table);
    var det = el("details");
    det.appendChild(el("summary", "Request body"));
    det.appendChild(el("pre", JSON.stringify(rec.body, null, 2)));
    wrap.appendChild(det);
    return wrap;
  }

  function preview() {
    var out = document.getElementById("preview-result");
    show(out, [el("p", "Reading sample records…")]);
    call("POST", "/api/pairs/" + encodeURIComponent(pair) + "/preview", { config: buildConfig() })
      .then(function (data) {
        var recs = data.records || [];
        if (!recs.length) { show(out, [el("p", "Neither account has a contact to preview yet.")]); return; }
        show(out, recs.map(previewTable));
      })
      .catch(function (e) { show(out, [el("p", "Preview refused: " + e.message, "error")]); });
  }

  function countsTable(report) {
    var table = el("table");
    table.setAttribute("data-testid", "dry-run-counts");
    var head = el("tr");
    ["Side", "Read", "Would create", "Would update", "Would archive", "Would delete"].forEach(function (h) {
      var th = el("th", h); th.setAttribute("scope", "col"); head.appendChild(th);
    });
    var thead = el("thead"); thead.appendChild(head); table.appendChild(thead);
    var body = el("tbody");
    [["GHL", report.ghl], ["Sellsy", report.sellsy]].forEach(function (p) {
      var tr = el("tr");
      var c = p[1] || {};
      [p[0], c.read, c.created, c.updated, c.archived, c.deleted].forEach(function (v) { tr.appendChild(el("td", v)); });
      body.appendChild(tr);
    });
    table.appendChild(body);
    return table;
  }

  function dryRun() {
    var out = document.getElementById("dry-run-result");
    show(out, [el("p", "Running a dry run…")]);
    call("POST", "/api/pairs/" + encodeURIComponent(pair) + "/dry-run", { config: buildConfig() })
      .then(function (data) {
        var r = data.report || {};
        var nodes = [el("p", data.line), countsTable(r)];
        var samples = r.samples || [];
        var list = el("ul", null, "samples");
        samples.forEach(function (s) {
          var li = el("li", s.action + " on " + s.target + " from " + s.source_id + (s.target_id ? " → " + s.target_id : "") + ": ");
          li.appendChild(el("code", JSON.stringify(s.changes)));
          list.appendChild(li);
        });
        nodes.push(el("h3", "Sample diff (" + samples.length + ")"));
        nodes.push(samples.length ? list : el("p", "No change planned."));
        (r.errors || []).forEach(function (e) { nodes.push(el("p", e, "error")); });
        show(out, nodes);
      })
      .catch(function (e) { show(out, [el("p", "Dry run refused: " + e.message, "error")]); });
  }

  function save() {
    if (mismatches()) {
      say(status, MISMATCH_REFUSAL + " (see the Check column).", true);
      return;
    }
    say(status, "Saving…", false);
    call("PUT", "/api/pairs/" + encodeURIComponent(pair) + "/config", { config: buildConfig() })
      .then(function () { say(status, "Saved. The pair's next cycle uses this mapping.", false); })
      .catch(function (e) { say(status, "Not saved: " + e.message, true); });
  }

  // Drag and drop: a field of one side dropped on a field of the other pairs them.
  document.addEventListener("dragstart", function (ev) {
    var b = ev.target.closest ? ev.target.closest("button.field") : null;
    if (!b) { return; }
    ev.dataTransfer.setData("text/plain", b.getAttribute("data-side") + "\n" + b.getAttribute("data-key"));
    ev.dataTransfer.effectAllowed = "link";
    if (b.getAttribute("data-side") === "ghl") { markCompatible(info(b)); }
  });
  document.addEventListener("dragover", function (ev) {
    var b = ev.target.closest ? ev.target.closest("button.field") : null;
    if (b) { ev.preventDefault(); b.classList.add("drop-target"); }
  });
  document.addEventListener("dragleave", function (ev) {
    var b = ev.target.closest ? ev.target.closest("button.field") : null;
    if (b) { b.classList.remove("drop-target"); }
  });
  document.addEventListener("drop", function (ev) {
    var b = ev.target.closest ? ev.target.closest("button.field") : null;
    if (!b) { return; }
    ev.preventDefault();
    b.classList.remove("drop-target");
    var parts = (ev.dataTransfer.getData("text/plain") || "").split("\n");
    var from = fieldButtons(parts[0]).filter(function (x) { return x.getAttribute("data-key") === parts[1]; })[0];
    var to = info(b);
    if (!from || parts[0] === to.side) { say(pairMessage, "Drop a field on a field of the other account.", true); return; }
    var f = info(from);
    if (f.side === "ghl") { addRow(f, to); } else { addRow(to, f); }
  });

  editor.addEventListener("click", function (ev) {
    var t = ev.target.closest ? ev.target.closest("button") : null;
    if (!t) { return; }
    if (t.classList.contains("field")) { select(t); }
    else if (t.id === "pair-button") { pairSelected(); }
    else if (t.classList.contains("row-remove")) {
      var tr = t.closest("tr");
      var key = tr.getAttribute("data-ghl");
      tr.parentNode.removeChild(tr);
      say(pairMessage, "Removed the pairing of " + key + ".", false);
      refresh();
    }
    else if (t.id === "preview-button") { preview(); }
    else if (t.id === "dry-run-button") { dryRun(); }
    else if (t.id === "save-mapping") { save(); }
  });
  // Arrow keys, Home and End move the focus within a side's (visible) fields.
  editor.addEventListener("keydown", function (ev) {
    var b = ev.target.closest ? ev.target.closest("button.field") : null;
    if (!b || ["ArrowDown", "ArrowUp", "Home", "End"].indexOf(ev.key) < 0) { return; }
    var list = fieldButtons(b.getAttribute("data-side")).filter(function (x) { return !x.parentNode.hidden; });
    var i = list.indexOf(b);
    var j = ev.key === "Home" ? 0 : ev.key === "End" ? list.length - 1
      : Math.max(0, Math.min(list.length - 1, i + (ev.key === "ArrowDown" ? 1 : -1)));
    ev.preventDefault();
    list[j].focus();
  });
  editor.addEventListener("change", refresh);
  editor.addEventListener("input", function (ev) {
    if (ev.target.classList && ev.target.classList.contains("field-filter")) {
      var needle = ev.target.value.toLowerCase();
      var list = document.getElementById(ev.target.getAttribute("data-list"));
      Array.prototype.forEach.call(list.querySelectorAll("li"), function (li) {
        li.hidden = needle !== "" && li.textContent.toLowerCase().indexOf(needle) < 0;
      });
    } else { refresh(); }
  });
  document.getElementById("mapping-form").addEventListener("submit", function (ev) { ev.preventDefault(); });
  Array.prototype.forEach.call(rows.querySelectorAll("tr.mapping-row"), checkRow);
  refresh();
})();
