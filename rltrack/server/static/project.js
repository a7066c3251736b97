// Project workspace: one panel per key with every visible run overlaid. The page's whole state is one JSON
// layout (rltrack/server/workspace.py; schema at /api/workspace/schema) kept in the URL as ?w=<json>.
// Scale: one bootstrap request, then one request per panel on screen (one key of every visible run,
// downsampled on the server); panels off screen are fetched when scrolled to.
// Saved workspaces: ?d=<id> names the one opened (dashboards.js draws Save/Open). At /share/<token> the page
// is read-only: its data comes from /api/shared/<token>/..., which serves only that workspace's runs and keys.
"use strict";
(() => {
  const SHARE = location.pathname.startsWith("/share/") ? decodeURIComponent(location.pathname.split("/")[2] || "") : null;
  let project = SHARE ? "" : decodeURIComponent(location.pathname.split("/")[2] || "");
  const $ = (id) => document.getElementById(id);
  const enc = encodeURIComponent;
  const MAX_ROWS = 200; // run selector rows drawn at once (search narrows the rest)
  const COLLAPSE_ABOVE = 48; // keys beyond which sections start folded
  const runColor = (id) => RT.runColor(id); // per run id, told apart from the page's other runs (common.js)
  // DOM without HTML parsing: every writer-controlled string goes in as text or through setAttribute.
  const el = (tag, attrs, ...kids) => {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null && v !== false) n.setAttribute(k, v === true ? "" : String(v));
    for (const c of kids.flat()) if (c !== undefined && c !== null) n.append(c instanceof Node ? c : String(c));
    return n;
  };
  // plotly reads tags in trace names: a run's name is drawn as text.
  const plotText = (s) => RT.esc(s);

  const S = { L: null, defaults: null, project, shared: !!SHARE, saved: null, runs: [], byId: new Map(), keys: [], metrics: [], panels: new Map(), onScreen: new Set(), observer: null, timings: [] };
  window.WORKSPACE = S; // for tests and the console: the layout is S.L

  // ---- layout <-> URL -------------------------------------------------------------------------------------
  function layoutFromUrl() { return new URLSearchParams(location.search).get("w") || ""; }
  const apiBase = () => (SHARE ? "/api/shared/" + enc(SHARE) : "/api/projects/" + enc(project));
  // Typed panels' data (panels.js): runs under `${api}/runs/<id>/...`, project answers under proj.
  const panelSource = () => RT.panels.live(SHARE ? apiBase() : "/api", apiBase());
  function saveUrl() {
    if (SHARE) return; // a shared workspace is what its owner saved: a viewer's changes stay on screen only
    const diff = {};
    for (const [k, v] of Object.entries(S.L)) if (JSON.stringify(v) !== JSON.stringify(S.defaults[k])) diff[k] = v;
    const parts = [];
    if (S.saved) parts.push("d=" + enc(S.saved.id));
    if (Object.keys(diff).length) parts.push("w=" + enc(JSON.stringify(diff)));
    history.replaceState(null, "", location.pathname + (parts.length ? "?" + parts.join("&") : ""));
  }
  S.saveUrl = saveUrl;

  // ---- which runs are visible -----------------------------------------------------------------------------
  function baseIds() { return S.L.runs ? S.L.runs.filter((id) => S.byId.has(id)) : S.runs.slice(0, S.L.recent).map((r) => r.id); }
  function visibleIds() { const hidden = new Set(S.L.hidden); return baseIds().filter((id) => !hidden.has(id)); }
  function setVisible(id, on) {
    const base = baseIds();
    if (on) {
      S.L.hidden = S.L.hidden.filter((h) => h !== id);
      if (!base.includes(id)) S.L.runs = [...base, id];
    } else if (S.L.runs) S.L.runs = S.L.runs.filter((r) => r !== id);
    else S.L.hidden = [...S.L.hidden, id];
    changed({ refetch: true });
  }
  function matching() {
    const q = S.L.search.trim().toLowerCase();
    return q ? S.runs.filter((r) => r.name.toLowerCase().includes(q) || r.id.toLowerCase().includes(q)) : S.runs;
  }
  const groupColor = (label) => runColor(S.L.group_by + "=" + label);
  const groupValue = (run) => {
    const flat = RT.flat(run.config);
    return S.L.group_by in flat ? flat[S.L.group_by] : undefined;
  };

  // ---- run selector (also the legend: colour swatches) ----------------------------------------------------
  function renderRuns() {
    RT.usePageRuns(baseIds()); // the shown runs never share a colour (hidden ones keep theirs)
    const visible = new Set(visibleIds());
    const rows = matching();
    const tbody = document.querySelector("#runs tbody");
    $("group-col").textContent = S.L.group_by || "state";
    tbody.replaceChildren(...rows.slice(0, MAX_ROWS).map((r) => {
      const on = visible.has(r.id);
      const box = el("input", { type: "checkbox", class: "vis", value: r.id, title: "show this run", checked: on });
      box.addEventListener("change", () => setVisible(r.id, box.checked));
      const third = S.L.group_by ? RT.fmt(groupValue(r)) : r.state;
      // Grouped, a run's swatch is its group's colour: the selector stays the charts' legend.
      const color = S.L.group_by ? groupColor(third || "(none)") : runColor(r.id);
      return el("tr", { class: on ? "" : "off", "data-run": r.id },
        el("td", {}, box),
        el("td", {}, el("span", { class: "swatch", style: `background:${color}` }), SHARE ? el("span", { title: r.id }, r.name) : el("a", { href: "/runs/" + enc(r.id), title: r.id }, r.name)),
        el("td", { class: "small muted" }, third));
    }));
    $("runs-more").textContent = rows.length > MAX_ROWS ? `${rows.length - MAX_ROWS} more: narrow the search` : "";
    $("count").textContent = `${visible.size} of ${S.runs.length} run${S.runs.length === 1 ? "" : "s"} visible`;
  }

  // ---- panels ----------------------------------------------------------------------------------------------
  // A regex filter is evaluated on the server only (bounded there): its answer's `shown` names the matching keys.
  function shownKeys() {
    if (S.L.key_regex && S.L.key_filter.trim()) {
      const shown = new Set(S.shown || []);
      return S.keys.filter((k) => !k.key.startsWith("_") && shown.has(k.key));
    }
    const f = S.L.key_filter.trim().toLowerCase();
    return S.keys.filter((k) => !k.key.startsWith("_") && (!f || k.key.toLowerCase().includes(f)));
  }
  S.shownKeys = shownKeys;
  // Per-key line options are the panels without a type of their own (typed panels draw in the Pinned section).
  const isKeyEntry = (p) => RT.panels.kind(p) === "key";
  const panelOpts = (key) => S.L.panels.find((p) => isKeyEntry(p) && p.key === key) || { key, source: null, log_y: null };
  function setPanelOpt(key, field, value) {
    const at = S.L.panels.findIndex((p) => isKeyEntry(p) && p.key === key);
    const p = { ...panelOpts(key), [field]: value };
    const list = S.L.panels.filter((_, i) => i !== at);
    if (p.source !== null || p.log_y !== null) list.splice(at < 0 ? list.length : at, 0, p);
    S.L.panels = list;
    saveUrl();
  }

  function renderPanels() {
    S.observer?.disconnect();
    S.panels.clear(); S.onScreen.clear();
    const root = $("panels");
    RT.panels.purge(root); // each change of the key filter draws the sections again: the old charts must let go
    root.replaceChildren();
    const keys = shownKeys();
    if (!keys.length) { root.append(el("p", { class: "muted" }, S.keys.length ? "no key matches the filter" : "no values logged yet")); return; }
    const info = new Map(keys.map((k) => [k.key, k]));
    for (const [prefix, group] of RT.groupKeys(keys.map((k) => k.key))) {
      const details = el("details", { "data-prefix": prefix, open: !S.L.collapsed.includes(prefix) },
        el("summary", {}, `${prefix} (${group.length})`));
      details.addEventListener("toggle", () => {
        const rest = S.L.collapsed.filter((p) => p !== prefix);
        S.L.collapsed = details.open ? rest : [...rest, prefix];
        saveUrl();
      });
      const grid = el("div", { class: "grid" });
      for (const key of group) grid.append(panelCard(info.get(key)));
      details.append(grid);
      root.append(details);
    }
    S.observer = new IntersectionObserver((entries) => {
      for (const e of entries) {
        const key = e.target.dataset.key;
        if (e.isIntersecting) { S.onScreen.add(key); const p = S.panels.get(key); if (p && p.stale) load(p); } else S.onScreen.delete(key);
      }
    }, { rootMargin: "300px 0px" });
    S.panels.forEach((p) => S.observer.observe(p.div));
  }

  function panelCard(k) {
    const div = el("div", { class: "chart", "data-key": k.key });
    const head = el("header", {}, el("span", { class: "key", title: k.key }, k.key));
    if (k.sources.length > 1) {
      const sel = el("select", { class: "source", title: "source of this panel" },
        el("option", { value: "" }, "primary source"), ...k.sources.map((s) => el("option", { value: s }, s)));
      sel.value = panelOpts(k.key).source || "";
      sel.addEventListener("change", () => { setPanelOpt(k.key, "source", sel.value || null); reload(k.key); });
      head.append(sel);
    }
    if (!SHARE) {
      const pin = el("button", { type: "button", class: "link pin", title: "pin a copy of this chart above the sections" }, "pin");
      pin.addEventListener("click", () => RT.pinned.pin(k.key, panelOpts(k.key)));
      head.append(pin);
    }
    const note = el("div", { class: "note muted small" });
    const card = el("div", { class: "card" }, head, div, note);
    S.panels.set(k.key, { key: k.key, div, note, stale: true, token: 0, data: null });
    return card;
  }

  async function load(p) {
    // The data held is for the old query (another x-axis, source or run set): never redraw from it.
    p.stale = false; p.data = null;
    const ids = visibleIds();
    const token = ++p.token;
    if (!ids.length) { p.data = { runs: [] }; draw(p); return; }
    const query = { key: p.key, runs: ids.join(","), source: panelOpts(p.key).source, points: pointsFor(p.div), x: S.L.x_axis === "step" ? "step" : "t_ns" };
    const t0 = performance.now();
    let data;
    try {
      data = await RT.json(`${apiBase()}/series?` + RT.qs(query));
    } catch (e) {
      if (token === p.token) { p.note.textContent = e.message; p.div.dataset.loaded = "error"; }
      return;
    }
    if (token !== p.token) return; // a newer request for this panel is on its way
    const t1 = performance.now();
    await scriptsDone; // plotly.js is parsed
    await nextFrame(); // one panel per frame: the page answers input between panels
    if (token !== p.token) return;
    p.data = data;
    draw(p);
    S.timings.push({ key: p.key, fetch_ms: Math.round(t1 - t0), draw_ms: Math.round(performance.now() - t1), at_ms: Math.round(performance.now()) });
  }
  // Draws wait for their turn, one per animation frame.
  let frameQueue = Promise.resolve();
  const nextFrame = () => (frameQueue = frameQueue.then(() => new Promise((resolve) => requestAnimationFrame(() => resolve()))));
  // About one point per two pixels of the chart: more would not show.
  const pointsFor = (div) => Math.max(50, Math.min(1000, Math.round((div.clientWidth || 440) / 2)));
  function reload(key) { const p = S.panels.get(key); if (p) load(p); }

  function xsOf(r) {
    if (S.L.x_axis === "wall") return r.t_ns.map((t) => new Date(t / 1e6));
    if (S.L.x_axis === "relative") { const start = S.byId.get(r.id)?.created_ns || r.t_ns[0] || 0; return r.t_ns.map((t) => (t - start) / 1e9); }
    return r.step;
  }

  function draw(p) {
    const logWanted = panelOpts(p.key).log_y ?? S.L.log_y;
    const runs = (p.data.runs || []).filter((r) => r.count > 0);
    const traces = S.L.group_by ? groupTraces(runs, logWanted) : runs.flatMap((r) => runTraces(r, logWanted));
    const ys = traces.filter((t) => !t.hoverinfo).flatMap((t) => t.y);
    let lo = Infinity, hi = -Infinity;
    for (const y of ys) if (y !== null && isFinite(y) && (!logWanted || y > 0)) { if (y < lo) lo = y; if (y > hi) hi = y; }
    const yaxis = RT.charts ? RT.charts.yaxis(lo <= hi ? lo : null, hi, logWanted).axis : { type: logWanted ? "log" : "linear" };
    const layout = {
      margin: { l: 56, r: 10, t: 8, b: 32 }, showlegend: false, hovermode: "closest",
      xaxis: { type: S.L.x_axis === "wall" ? "date" : "linear", title: { text: RT.axisTitle[S.L.x_axis], font: { size: 11 } }, automargin: true },
      yaxis, uirevision: p.key + "|" + S.L.x_axis,
    };
    p.note.textContent = runs.length ? "" : "no visible run logged this key" + (panelOpts(p.key).source ? " under this source" : "");
    Plotly.react(p.div, traces, layout, { responsive: true, displaylogo: false });
    p.div.dataset.loaded = "1";
    p.div.dataset.runs = String(runs.length);
  }

  const HOVER = "<b>%{fullData.name}</b><br>%{x}: %{y:.4~g}<extra></extra>";
  const positive = (ys, log) => (log ? ys.map((y) => (y !== null && y > 0 ? y : null)) : ys);

  function runTraces(r, log) {
    const run = S.byId.get(r.id);
    const color = runColor(r.id);
    const xs = xsOf(r);
    const ys = positive(r.value, log);
    const few = new Set(r.step).size < 40;
    const trace = { type: "scatter", x: xs, y: RT.ema(ys, S.L.smoothing), name: plotText(run ? run.name : r.id), mode: few ? "lines+markers" : "lines",
      line: { color, width: 1.5 }, marker: { size: 5, color }, hovertemplate: HOVER, meta: r.id };
    if (!S.L.smoothing) return [trace];
    return [{ type: "scatter", x: xs, y: ys, mode: "lines", line: { color, width: 1 }, opacity: 0.2, hoverinfo: "skip", name: trace.name }, trace];
  }

  // A group (runs with one value of the group-by config key) draws the mean and min-max band of its runs (groups.js).
  function groupTraces(runs, log) {
    return RT.groupTraces(runs, {
      label: (r) => { const run = S.byId.get(r.id); return RT.fmt(run ? groupValue(run) : undefined) || "(none)"; },
      xs: xsOf, log, smoothing: S.L.smoothing, wall: S.L.x_axis === "wall", groupBy: S.L.group_by, color: groupColor,
    });
  }

  // ---- changes ---------------------------------------------------------------------------------------------
  // refetch: the runs, source or x-axis changed (new data); otherwise panels redraw from the data they hold.
  function changed({ refetch = false, rebuild = false } = {}) {
    saveUrl();
    renderRuns();
    if (rebuild) { renderPanels(); refetch = true; }
    RT.pinned.redraw(refetch);
    for (const p of S.panels.values()) {
      // A stale panel's data may be for another x-axis: it is drawn when it is fetched again.
      if (refetch) { p.stale = true; if (S.onScreen.has(p.key)) load(p); } else if (p.data && !p.stale) draw(p);
    }
  }

  function initControls() {
    const flat = {};
    S.runs.forEach((r) => Object.entries(RT.flat(r.config)).forEach(([k, v]) => (flat[k] ||= new Set()).add(JSON.stringify(v))));
    const varying = Object.keys(flat).filter((k) => flat[k].size > 1).sort();
    if (S.L.group_by && !varying.includes(S.L.group_by)) varying.unshift(S.L.group_by);
    $("groupby").append(...varying.map((k) => el("option", { value: k }, k)));
    $("groupby").value = S.L.group_by || "";
    $("axis").value = S.L.x_axis; $("smooth").value = S.L.smoothing; $("smooth-v").textContent = String(S.L.smoothing);
    $("log").checked = S.L.log_y; $("keyfilter").value = S.L.key_filter; $("search").value = S.L.search;
    $("key-regex").checked = !!S.L.key_regex;
    if (![...$("recent").options].some((o) => Number(o.value) === S.L.recent)) $("recent").append(el("option", {}, String(S.L.recent)));
    $("recent").value = String(S.L.recent);
    let timer = null;
    const debounce = (fn) => () => { clearTimeout(timer); timer = setTimeout(fn, 150); };
    $("axis").addEventListener("change", () => { S.L.x_axis = $("axis").value; changed({ refetch: true }); });
    $("smooth").addEventListener("input", () => { S.L.smoothing = Number($("smooth").value); $("smooth-v").textContent = $("smooth").value; changed(); });
    $("log").addEventListener("change", () => { S.L.log_y = $("log").checked; changed(); });
    $("groupby").addEventListener("change", () => { S.L.group_by = $("groupby").value || null; changed(); });
    $("keyfilter").addEventListener("input", debounce(() => { S.L.key_filter = $("keyfilter").value; keysChanged(); }));
    $("key-regex").addEventListener("change", () => { S.L.key_regex = $("key-regex").checked; keysChanged(); });
    $("search").addEventListener("input", debounce(() => { S.L.search = $("search").value; saveUrl(); renderRuns(); }));
    $("recent").addEventListener("change", () => { S.L.recent = Number($("recent").value); S.L.runs = null; S.L.hidden = []; changed({ refetch: true }); });
    $("jump").addEventListener("change", jump);
    $("key-list").replaceChildren(...S.keys.filter((k) => !k.key.startsWith("_")).slice(0, 5000).map((k) => el("option", { value: k.key })));
    $("show-matching").addEventListener("click", () => { S.L.runs = matching().slice(0, 1000).map((r) => r.id); S.L.hidden = []; changed({ refetch: true }); });
    $("hide-all").addEventListener("click", () => { S.L.runs = []; S.L.hidden = []; changed({ refetch: true }); });
  }

  // The key search: scrolls to a key's panel (its folded section opened, a filter hiding it cleared) and flashes it.
  function jump() {
    const key = $("jump").value.trim();
    if (!key) return;
    if (!S.panels.has(key) && S.keys.some((k) => k.key === key)) {
      S.L.key_filter = ""; $("keyfilter").value = "";
      changed({ rebuild: true });
    }
    const p = S.panels.get(key);
    if (!p) { $("jump").setCustomValidity(`no key ${key} in this workspace`); $("jump").reportValidity(); return; }
    $("jump").setCustomValidity("");
    const details = p.div.closest("details");
    if (details && !details.open) details.open = true;
    const card = p.div.closest(".card");
    card.scrollIntoView({ block: "center" });
    card.classList.add("flash");
    setTimeout(() => card.classList.remove("flash"), 1500);
  }

  // A regex key filter (or leaving one) asks the server which keys match; a substring filters here.
  let keysAsked = 0;
  async function keysChanged() {
    if (!S.L.key_regex && !S.regexKeys) { changed({ rebuild: true }); return; }
    const ask = ++keysAsked;
    $("keyfilter").classList.remove("bad");
    $("keyfilter").title = "";
    try {
      const boot = await RT.json(`${apiBase()}/workspace` + (SHARE ? "" : "?w=" + enc(JSON.stringify(S.L))));
      if (ask !== keysAsked) return;
      S.keys = boot.keys; S.shown = boot.shown; S.resolved = boot.panels || []; S.regexKeys = !!S.L.key_regex;
    } catch (e) {
      if (ask !== keysAsked) return;
      $("keyfilter").classList.add("bad");
      $("keyfilter").title = e.message;
      $("error").textContent = e.message;
      return;
    }
    $("error").textContent = "";
    changed({ rebuild: true });
  }
  S.refetchWorkspace = async () => {
    const boot = await RT.json(`${apiBase()}/workspace` + (SHARE ? "" : "?w=" + enc(JSON.stringify(S.L))));
    S.resolved = boot.panels || [];
    return boot;
  };
  S.panelSource = panelSource;
  S.visibleIds = visibleIds;

  // The first screen: panels within the viewport are fetched before the page says it is ready.
  async function firstScreen() {
    const h = window.innerHeight;
    const first = [...S.panels.values()].filter((p) => { const b = p.div.getBoundingClientRect(); return b.height > 0 && b.top < h; });
    first.forEach((p) => S.onScreen.add(p.key));
    await Promise.all(first.map((p) => (p.stale ? load(p) : null)));
  }

  // project.js runs before plotly.js is parsed (both deferred, this one first), so the workspace request
  // is on its way while the browser compiles plotly; charts wait until the deferred scripts have all run.
  // (readyState is already "interactive" while deferred scripts run, so it cannot tell: DOMContentLoaded can.)
  const scriptsDone = new Promise((resolve) => (document.readyState === "complete" ? resolve() : document.addEventListener("DOMContentLoaded", resolve)));

  async function main() {
    if (SHARE) document.body.dataset.shared = "1";
    else {
      $("title").textContent = project;
      document.title = project + " · rltrack";
      RT.header([[project, null]]);
      $("table-link").setAttribute("href", `/projects/${enc(project)}/runs`);
    }
    let boot;
    try {
      let w = layoutFromUrl();
      const opened = new URLSearchParams(location.search).get("d");
      if (opened && !SHARE) {
        // A saved workspace: ?w= (changes since it was opened) wins over its saved layout.
        // A saved workspace deleted since: say so, and show the project as it is.
        S.saved = await RT.json(`${apiBase()}/dashboards/${enc(opened)}`).catch((e) => { $("error").textContent = e.message; return null; });
        if (!w && S.saved) w = JSON.stringify(S.saved.layout);
      }
      boot = await RT.json(`${apiBase()}/workspace` + (w && !SHARE ? "?w=" + enc(w) : ""));
    } catch (e) { $("error").textContent = e.message; document.body.dataset.ready = "1"; return; }
    if (SHARE) {
      project = S.project = boot.project;
      $("title").textContent = boot.name;
      document.title = boot.name + " · " + project + " · rltrack";
      RT.header([[project, null], ["shared, read-only", null]]);
      $("table-link").remove();
    }
    S.L = boot.layout; S.defaults = boot.defaults; S.runs = boot.runs; S.keys = boot.keys; S.metrics = boot.metrics;
    S.resolved = boot.panels || []; S.regexKeys = !!S.L.key_regex; S.shown = boot.shown;
    S.runs.forEach((r) => S.byId.set(r.id, r));
    if (!layoutFromUrl().includes("collapsed") && shownKeys().length > COLLAPSE_ABOVE) {
      S.L.collapsed = RT.groupKeys(shownKeys().map((k) => k.key)).slice(1).map(([prefix]) => prefix);
    }
    initControls();
    renderRuns();
    renderPanels();
    document.dispatchEvent(new CustomEvent("rltrack:workspace"));
    await scriptsDone;
    document.body.dataset.interactive = "1";
    await Promise.all([firstScreen(), RT.pinned.start(S)]);
    document.body.dataset.ready = "1";
  }
  main();
})();
