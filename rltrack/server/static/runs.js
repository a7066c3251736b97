// Runs table of one project: the config keys that vary across the shown runs first (a sweep's parameters
// before the rest), then summary metrics (the sweep's or define_metric's metric first); a column picker;
// sort by any column (on the server); filters, sort and columns kept in the URL. Every string a writer
// controls goes into the page as text or through setAttribute.
"use strict";
(() => {
  const project = decodeURIComponent(location.pathname.split("/")[2] || "");
  const $ = (id) => document.getElementById(id);
  const enc = encodeURIComponent;
  const params = new URLSearchParams(location.search);
  const SUMMARY_DEFAULT = 8; // summary columns shown by default after the metrics
  let sort = params.get("sort") || "-created";
  // Chosen columns ("config.lr", "summary.reward"); null = the defaults for the runs shown.
  let chosen = params.get("cols") !== null ? params.get("cols").split(",").filter(Boolean) : null;
  let info = { metrics: [], swept: [] };
  let data = { total: 0, runs: [] };
  const selected = new Set();
  // The sweep's and define_metric's metrics order the columns; a project without them still loads.
  const metricsReady = RT.json(`/api/projects/${enc(project)}/metrics`).then((m) => { info = m; }).catch(() => {});
  const el = (tag, attrs, ...kids) => {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null && v !== false) n.setAttribute(k, v === true ? "" : String(v));
    for (const c of kids.flat()) if (c !== undefined && c !== null) n.append(c instanceof Node ? c : String(c));
    return n;
  };
  $("title").textContent = project;
  $("workspace-link").setAttribute("href", "/projects/" + enc(project));
  document.title = project + " · rltrack";
  RT.header([[project, "/projects/" + enc(project)], ["runs", null]]);
  for (const id of ["q", "state", "group", "tags", "filter"]) if (params.get(id)) $(id).value = params.get(id);

  // Every config and summary key of the shown runs, in the order the table offers them.
  function columns(runs) {
    const cfgValues = {}, sumCount = {};
    for (const r of runs) {
      for (const [k, v] of Object.entries(RT.flat(r.config))) if (!k.startsWith("_")) (cfgValues[k] ||= new Set()).add(JSON.stringify(v));
      for (const k of Object.keys(RT.flat(r.summary))) if (!k.startsWith("_")) sumCount[k] = (sumCount[k] || 0) + 1;
    }
    const swept = info.swept.filter((k) => k in cfgValues);
    const varying = Object.keys(cfgValues).filter((k) => !swept.includes(k) && cfgValues[k].size > 1).sort();
    const constant = Object.keys(cfgValues).filter((k) => !swept.includes(k) && cfgValues[k].size <= 1).sort();
    const metricKeys = info.metrics.map((m) => m.key).filter((k, i, a) => a.indexOf(k) === i);
    const metrics = metricKeys.filter((k) => k in sumCount);
    const others = Object.keys(sumCount).filter((k) => !metrics.includes(k))
      .sort((a, b) => sumCount[b] - sumCount[a] || a.localeCompare(b));
    const config = [...swept, ...varying, ...(runs.length === 1 ? constant : [])];
    return {
      all: [...swept, ...varying, ...constant].map((k) => "config." + k).concat([...metrics, ...others].map((k) => "summary." + k)),
      defaults: config.map((k) => "config." + k).concat([...metrics, ...others.slice(0, SUMMARY_DEFAULT)].map((k) => "summary." + k)),
      metrics: new Set(metrics.map((k) => "summary." + k)),
      varying: new Set([...swept, ...varying].map((k) => "config." + k)),
    };
  }

  function saveUrl() {
    history.replaceState(null, "", "?" + RT.qs({ sort, q: $("q").value, state: $("state").value, group: $("group").value,
      tags: $("tags").value, filter: $("filter").value, cols: chosen === null ? undefined : chosen.join(",") || "," }));
  }

  async function load() {
    const query = {
      project, sort, limit: 2000,
      q: $("q").value, state: $("state").value, group: $("group").value,
      tag: $("tags").value.split(",").map((s) => s.trim()).filter(Boolean),
      filter: $("filter").value.split(";").map((s) => s.trim()).filter(Boolean),
    };
    saveUrl();
    $("error").textContent = "";
    try { [data] = await Promise.all([RT.json("/api/runs?" + RT.qs(query)), metricsReady]); } catch (e) { $("error").textContent = e.message; return; }
    render();
  }

  function th(label, field, cls) {
    const mark = sort === field ? " ▲" : sort === "-" + field ? " ▼" : "";
    const cell = el("th", { "data-sort": field, title: "sort by " + field, class: cls }, label + mark);
    cell.addEventListener("click", () => { sort = sort === "-" + field ? field : "-" + field; load(); });
    return cell;
  }

  function render() {
    const runs = data.runs;
    const cols = columns(runs);
    const shown = chosen === null ? cols.defaults : chosen;
    renderPicker(cols, shown);
    $("count").textContent = `${data.total} run${data.total === 1 ? "" : "s"}` + (data.total > runs.length ? ` (first ${runs.length} shown)` : "");
    const all = el("input", { type: "checkbox", id: "all", title: "select all" });
    all.addEventListener("change", () => {
      document.querySelectorAll("input.sel").forEach((b) => { b.checked = all.checked; all.checked ? selected.add(b.value) : selected.delete(b.value); });
      update();
    });
    document.querySelector("#runs thead").replaceChildren(el("tr", {}, el("th", {}, all), th("name", "name"), th("state", "state"),
      th("group", "group"), el("th", {}, "tags"), th("created", "created"), el("th", {}, "runtime"),
      shown.map((c) => th(c.replace(/^(config|summary)\./, ""), c, cols.metrics.has(c) ? "metric" : c.startsWith("summary.") ? "summary" : "config"))));
    const rows = runs.map((r) => {
      const flat = { config: RT.flat(r.config), summary: RT.flat(r.summary) };
      const box = el("input", { type: "checkbox", class: "sel", value: r.id, checked: selected.has(r.id) });
      box.addEventListener("change", () => { box.checked ? selected.add(r.id) : selected.delete(r.id); update(); });
      const state = el("span", { class: "state " + r.state }, r.state);
      return el("tr", { "data-run": r.id }, el("td", {}, box),
        el("td", {}, el("a", { href: "/runs/" + enc(r.id) }, r.name), " ", el("span", { class: "muted small" }, r.id)),
        el("td", {}, state), el("td", {}, r.group || ""), el("td", {}, r.tags.map((t) => el("span", { class: "pill" }, t))),
        el("td", {}, RT.time(r.created_ns)), el("td", {}, RT.duration(r.created_ns, r.ended_ns)),
        shown.map((c) => { const [where, ...rest] = c.split("."); const v = flat[where]?.[rest.join(".")]; return el("td", { title: RT.fmt(v) }, RT.fmt(v)); }));
    });
    document.querySelector("#runs tbody").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 7 + shown.length, class: "muted" }, "no runs match"))]));
    document.body.dataset.ready = "1";
    update();
  }

  function renderPicker(cols, shown) {
    const on = new Set(shown);
    const box = (c) => {
      const input = el("input", { type: "checkbox", value: c, checked: on.has(c) });
      input.addEventListener("change", () => {
        const current = chosen === null ? [...shown] : chosen;
        chosen = input.checked ? [...current, c] : current.filter((x) => x !== c);
        chosen = cols.all.filter((x) => chosen.includes(x)).concat(chosen.filter((x) => !cols.all.includes(x)));
        saveUrl(); render();
      });
      const tag = cols.metrics.has(c) ? " (metric)" : cols.varying.has(c) ? " (varies)" : "";
      return el("label", { title: c }, input, c + tag);
    };
    const cfg = cols.all.filter((c) => c.startsWith("config.")), sum = cols.all.filter((c) => c.startsWith("summary."));
    $("column-picker").replaceChildren(el("h4", {}, "config"), ...cfg.map(box), el("h4", {}, "summary"), ...sum.map(box));
  }

  function update() { $("compare").disabled = selected.size < 1; $("compare").textContent = `compare selected (${selected.size})`; }
  $("apply").addEventListener("click", load);
  $("cols-default").addEventListener("click", () => { chosen = null; saveUrl(); render(); });
  document.querySelectorAll(".toolbar input").forEach((i) => i.addEventListener("keydown", (e) => { if (e.key === "Enter") load(); }));
  $("state").addEventListener("change", load);
  $("compare").addEventListener("click", () => { location.href = "/compare?" + RT.qs({ run: [...selected] }); });
  load();
})();
