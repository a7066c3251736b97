// Run page: one panel per key in sections by prefix, drawn and fetched only while on screen (a robot's
// 5,000 keys cost what the visible dozen cost), histogram panels, live polling, media, config.
"use strict";
(() => {
  const runId = decodeURIComponent(location.pathname.split("/")[2] || "");
  const $ = (id) => document.getElementById(id);
  const api = (tail) => `/api/runs/${encodeURIComponent(runId)}${tail}`;
  const POLL_MS = 750, KEYS_PER_REQUEST = 40, MAX_POINTS = 1500;
  //: Keys up to which every section starts open; beyond, only the first (a robot's telemetry has thousands).
  const OPEN_SECTIONS_UP_TO = 48;
  const t0 = performance.now();
  // Plotly keeps a window "resize" listener (and through it the chart, its data and DOM) per chart until purged.
  const purge = (node) => { if (window.Plotly) node.querySelectorAll(".js-plotly-plot").forEach((d) => Plotly.purge(d)); };
  const page = {
    id: runId, detail: null, source: null, polls: 0, zoom: {},
    panels: new Map(), // key -> {key, kind, div, card, visible, drawn, stale, loading, series}
    charts: new Map(), // key -> div of the panels drawn so far
    extent: null, // [lo, hi] of x over the series fetched on the step axis: a strip keeps the run's range
    origin: {}, // source -> first t_ns seen: telemetry's time axis starts there (the robot's own clock)
    histograms: [], media: [], elsewhere: new Set(), opened: new Map(),
  };
  window.RUNPAGE = page;

  page.opts = () => ({ axis: $("axis").value, smooth: Number($("smooth").value), log: $("log").checked });
  // Telemetry (a robot's source) is drawn on its own clock in seconds, not on training steps.
  page.telemetry = (source) => source !== "sim";

  async function fetchSeries(source, keys, id = runId, x = null) {
    const axis = x || (page.opts().axis === "step" ? "step" : "t_ns");
    const out = {};
    for (let i = 0; i < keys.length; i += KEYS_PER_REQUEST) {
      const part = keys.slice(i, i + KEYS_PER_REQUEST);
      const data = await RT.json(`/api/runs/${encodeURIComponent(id)}/series?` + RT.qs({ key: part, source, x: axis, max_points: MAX_POINTS }));
      Object.assign(out, data.series);
    }
    return out;
  }
  page.fetchSeries = fetchSeries;

  // Traces of one series on the page's axis (also used by the sim-vs-real section).
  page.traces = function (series, name, color, opts) {
    return RT.charts.series(RT.xs(series, opts.axis, page.detail.created_ns), series.value,
      { name, color, smooth: opts.smooth, isDate: opts.axis === "wall", strips: opts.axis === "step" }).traces;
  };

  // ---- which keys, in which sections -------------------------------------------------------------
  function pageKeys() {
    const scalars = (page.detail.keys[page.source] || []).filter((k) => !page.elsewhere.has(k));
    const hist = page.histograms.filter((k) => !scalars.includes(k));
    const f = $("keyfilter").value.trim().toLowerCase();
    const all = [...scalars.map((k) => [k, "scalar"]), ...hist.map((k) => [k, "histogram"])];
    return f ? all.filter(([k]) => k.toLowerCase().includes(f)) : all;
  }

  // The first sighting after a layout: which panels are on screen is known only once the observer reported.
  let sighted = Promise.resolve(), onSight = () => {};
  const observer = new IntersectionObserver((entries) => {
    for (const e of entries) {
      const panel = page.panels.get(e.target.dataset.key);
      if (panel) panel.visible = e.isIntersecting;
    }
    onSight();
    schedule();
  }, { rootMargin: "200px 0px" });

  // Panels are plain objects for every key; a section's cards are built when it first opens, so a closed
  // section of 2,000 keys costs no DOM, and an open one's offscreen cards skip rendering (content-visibility).
  function layoutPanels() {
    const entries = pageKeys();
    const root = $("charts");
    const wanted = page.source + "\n" + entries.map(([k, kind]) => kind + ":" + k).join("\n");
    if (root.dataset.keys === wanted) return false;
    root.dataset.keys = wanted;
    observer.disconnect();
    nearEnd.disconnect();
    sighted = new Promise((resolve) => { onSight = resolve; });
    purge(root); // a new key (live), the key filter or the source lays the panels out again: the old charts let go
    root.replaceChildren();
    page.panels.clear();
    page.charts.clear();
    page.jumpList = entries.map(([k]) => k);
    $("keylist").replaceChildren();
    const kinds = new Map(entries);
    let shown = 0, built = 0;
    for (const [prefix, group] of RT.groupKeys([...kinds.keys()])) {
      const det = RT.el("details", { dataset: { prefix } },
        RT.el("summary", {}, prefix, " ", RT.el("span", { class: "muted small" }, `(${group.length})`)));
      const grid = RT.el("div", { class: "grid" });
      det.append(grid);
      const section = { det, grid, keys: group, built: false };
      for (const key of group) {
        page.panels.set(key, { key, kind: kinds.get(key), section, div: null, card: null, visible: false, drawn: false,
          stale: true, loading: false, series: null });
      }
      det.addEventListener("toggle", () => {
        page.opened.set(prefix, det.open); // kept when new keys arrive and the sections are laid out again
        if (det.open && !section.next) buildSection(section);
      });
      det.open = page.opened.get(prefix) ?? (shown === 0 || entries.length <= OPEN_SECTIONS_UP_TO);
      if (det.open) built += buildSection(section);
      shown += group.length;
      root.append(det);
    }
    if (page.elsewhere.size) root.prepend(RT.el("p", { class: "muted small" }, page.elsewhere.size === 1 ? "1 key is drawn in Sim vs real above." : `${page.elsewhere.size} keys are drawn in Sim vs real above.`));
    if (!entries.length) root.append(RT.el("p", { class: "muted" }, "no keys" + ($("keyfilter").value ? " match the filter" : "")));
    if (!built) onSight();
    return true;
  }

  // Cards are added CHUNK at a time: the next chunk when the grid's end comes near the screen (or a jump needs it).
  const CHUNK = 60;
  const nearEnd = new IntersectionObserver((entries) => {
    for (const e of entries) if (e.isIntersecting && e.target.section) buildSection(e.target.section);
  }, { rootMargin: "600px 0px" });

  function buildSection(section, upTo = 0) {
    if (!section.sentinel) {
      section.sentinel = RT.el("div", { class: "sentinel" });
      section.sentinel.section = section;
      section.det.append(section.sentinel);
      nearEnd.observe(section.sentinel);
    }
    const start = section.next || 0;
    const stop = Math.min(section.keys.length, Math.max(start + CHUNK, upTo + 1));
    for (const key of section.keys.slice(start, stop)) {
      const p = page.panels.get(key);
      p.div = RT.el("div", { class: p.kind === "histogram" ? "chart hist" : "chart", dataset: { key, kind: p.kind } });
      p.card = RT.el("div", { class: p.kind === "histogram" ? "card hist-card" : "card" }, p.div);
      section.grid.append(p.card);
      observer.observe(p.div);
    }
    section.next = stop;
    section.built = stop >= section.keys.length;
    if (section.built) { nearEnd.unobserve(section.sentinel); section.sentinel.remove(); }
    return stop - start;
  }

  // ---- fetching and drawing what is on screen -------------------------------------------------------
  let scheduled = null;
  function schedule() {
    if (!scheduled) scheduled = new Promise((resolve) => setTimeout(() => { scheduled = null; loadVisible().then(resolve, resolve); }, 0));
    return scheduled;
  }

  async function loadVisible() {
    const due = [...page.panels.values()].filter((p) => p.visible && p.div && p.stale && !p.loading);
    if (!due.length) { markAllVisibleDrawn(); return; }
    due.forEach((p) => { p.loading = true; });
    const scalars = due.filter((p) => p.kind === "scalar");
    const work = due.filter((p) => p.kind === "histogram").map((p) => loadHistogram(p).finally(() => { p.loading = false; }));
    for (let i = 0; i < scalars.length; i += KEYS_PER_REQUEST) {
      const part = scalars.slice(i, i + KEYS_PER_REQUEST);
      work.push(fetchPanels(part).finally(() => part.forEach((p) => { p.loading = false; })));
    }
    try { await Promise.all(work); } catch (e) { $("error").textContent = e.message; return; }
    schedule(); // panels that scrolled into view meanwhile
  }

  async function fetchPanels(panels) {
    const source = page.source, tele = page.telemetry(source);
    const axis = page.opts().axis === "step" && !tele ? "step" : "t_ns";
    const series = await fetchSeries(source, panels.map((p) => p.key), runId, axis);
    if (source !== page.source) return;
    let widened = false;
    for (const p of panels) {
      const s = series[p.key];
      if (!s) continue;
      p.series = s;
      if (s.t_ns.length && (page.origin[source] === undefined || s.t_ns[0] < page.origin[source])) page.origin[source] = s.t_ns[0];
      if (axis === "step" && s.step.length) widened = widen(s.step[0], s.step[s.step.length - 1]) || widened;
    }
    // One panel per task: the first chart shows while the others are still being drawn.
    await plotlyReady;
    for (const p of panels) {
      if (!p.series || page.panels.get(p.key) !== p) continue;
      draw(p);
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    // A strip drawn before a longer series arrived gets the wider range now.
    if (widened) for (const p of page.panels.values()) if (p.drawn && p.strip && !panels.includes(p)) draw(p);
  }

  function widen(lo, hi) {
    const old = page.extent;
    page.extent = old ? [Math.min(old[0], lo), Math.max(old[1], hi)] : [lo, hi];
    return !old || old[0] !== page.extent[0] || old[1] !== page.extent[1];
  }

  function xOf(series, opts, tele) {
    if (tele && opts.axis !== "wall") {
      const origin = page.origin[page.source] ?? (series.t_ns[0] || 0);
      return series.t_ns.map((t) => (t - origin) / 1e9);
    }
    return RT.xs(series, opts.axis, page.detail.created_ns);
  }

  function draw(p) {
    const opts = page.opts(), tele = page.telemetry(page.source);
    const s = page.zoom[p.key] || p.series;
    const xs = xOf(s, opts, tele);
    const built = RT.charts.series(xs, s.value, { name: p.key, color: RT.runColor(runId), smooth: opts.smooth,
      isDate: opts.axis === "wall", strips: opts.axis === "step" && !tele });
    const y = RT.charts.yaxis(built.lo, built.hi, opts.log);
    const layout = RT.layout(p.key, opts);
    layout.yaxis = y.axis;
    if (tele && opts.axis !== "wall") layout.xaxis.title.text = `${page.source} time (s)`;
    const annotations = [];
    if (y.logOff) annotations.push("log scale off: values ≤ 0");
    if (built.envelope) annotations.push(`min–max band of ${Math.max(s.count || 0, s.value.length).toLocaleString()} points`);
    if (built.strip) {
      annotations.push(`${s.value.length} points at ${built.distinct === 1 ? "one step" : built.distinct + " steps"}`);
      if (opts.axis === "step" && !tele && page.extent && !page.zoom[p.key]) {
        const lo = Math.min(page.extent[0], ...xs), hi = Math.max(page.extent[1], ...xs);
        const pad = (hi - lo) * 0.03 || Math.max(1, Math.abs(hi) * 0.05);
        layout.xaxis.range = [lo - pad, hi + pad];
        layout.xaxis.autorange = false;
      }
    }
    if (annotations.length) {
      layout.annotations = [{ text: RT.ptext(annotations.join(" · ")), xref: "paper", yref: "paper", x: 1, y: 1.02, xanchor: "right",
        yanchor: "bottom", showarrow: false, font: { size: 10, color: y.logOff ? "#c92a2a" : "#6b7385" } }];
    }
    Plotly.react(p.div, built.traces, layout, RT.PLOT_CONFIG);
    p.drawn = true; p.stale = false; p.strip = built.strip;
    p.div.dataset.count = String((p.series || s).count);
    page.charts.set(p.key, p.div);
    if (!document.body.dataset.firstChartMs) document.body.dataset.firstChartMs = String(Math.round(performance.now() - t0));
    if (!p.div.dataset.bound) { p.div.dataset.bound = "1"; p.div.on("plotly_relayout", (ev) => onZoom(p, ev)); }
  }

  function markAllVisibleDrawn() {
    if (document.body.dataset.visibleDrawnMs) return;
    if ([...page.panels.values()].some((p) => p.visible && !p.drawn)) return;
    document.body.dataset.visibleDrawnMs = String(Math.round(performance.now() - t0));
  }

  // Zooming asks the server for the zoomed range at full detail (downsampled again there).
  function toServerX(value, axis, tele) {
    if (axis === "wall") return Date.parse(value) * 1e6;
    if (tele) return (page.origin[page.source] || 0) + Number(value) * 1e9;
    if (axis === "relative") return page.detail.created_ns + Number(value) * 1e9;
    return Number(value);
  }
  async function onZoom(p, ev) {
    if (p.kind !== "scalar") return;
    const opts = page.opts(), tele = page.telemetry(page.source);
    if (ev["xaxis.autorange"]) { delete page.zoom[p.key]; draw(p); return; }
    const range = ev["xaxis.range"] || (ev["xaxis.range[0]"] !== undefined ? [ev["xaxis.range[0]"], ev["xaxis.range[1]"]] : null);
    if (!range) return;
    const xMin = toServerX(range[0], opts.axis, tele), xMax = toServerX(range[1], opts.axis, tele);
    const data = await RT.json(api("/series?") + RT.qs({
      key: p.key, source: page.source, x: opts.axis === "step" && !tele ? "step" : "t_ns", max_points: MAX_POINTS,
      x_min: Math.floor(xMin), x_max: Math.ceil(xMax) }));
    page.zoom[p.key] = data.series[p.key];
    draw(p);
  }

  // ---- histograms: counts by step as a heatmap, and one step's histogram under a slider ---------------
  async function loadHistogram(p) {
    const data = await RT.json(api("/histograms?") + RT.qs({ key: p.key, source: page.source }));
    await plotlyReady;
    p.series = data;
    drawHistogram(p);
  }

  function drawHistogram(p) {
    const data = p.series;
    if (!data.steps.length) {
      purge(p.div); p.heat = null;
      p.div.replaceChildren(RT.el("p", { class: "muted small" }, `${p.key}: no readable histogram file`));
      p.drawn = true; p.stale = false;
      return;
    }
    const centers = data.edges.slice(0, -1).map((e, i) => (e + data.edges[i + 1]) / 2);
    const z = centers.map((_, b) => data.counts.map((row) => row[b]));
    if (!p.heat) {
      p.heat = RT.el("div", { class: "heat" });
      p.bars = RT.el("div", { class: "bars", dataset: { histStep: "" } });
      p.slider = RT.el("input", { type: "range", min: 0, step: 1, "aria-label": "step" });
      p.stepLabel = RT.el("span", { class: "stepv" });
      p.div.replaceChildren(p.heat, p.bars, RT.el("label", { class: "small muted" }, "step ", p.slider, " ", p.stepLabel));
      p.slider.addEventListener("input", () => drawOne(p));
    }
    p.slider.max = String(data.steps.length - 1);
    if (!p.div.dataset.picked) p.slider.value = String(data.steps.length - 1);
    const heatLayout = RT.layout(p.key, { axis: "step" });
    heatLayout.yaxis = { title: { text: "value", font: { size: 11 } }, exponentformat: "e" };
    heatLayout.hovermode = "closest";
    heatLayout.margin = { l: 56, r: 10, t: 30, b: 36 };
    Plotly.react(p.heat, [{ type: "heatmap", x: data.steps, y: centers, z, colorscale: [[0, "#ffffff"], [0.1, "#dbe4ff"], [0.4, "#748ffc"], [1, "#1c2a7a"]],
      colorbar: { thickness: 10, title: { text: "count", side: "right", font: { size: 10 } } },
      hovertemplate: "step %{x}<br>value %{y:.4~g}<br>count %{z:.4~g}<extra></extra>" }], heatLayout, RT.PLOT_CONFIG);
    p.drawn = true; p.stale = false;
    page.charts.set(p.key, p.div);
    drawOne(p);
  }

  function drawOne(p) {
    const data = p.series, i = Number(p.slider.value);
    if (String(i) !== p.slider.max) p.div.dataset.picked = "1";
    const h = data.histograms[i], step = data.steps[i];
    p.stepLabel.textContent = `${step}`;
    p.bars.dataset.histStep = String(step);
    const widths = h.edges.slice(0, -1).map((e, j) => h.edges[j + 1] - e);
    const layout = { margin: { l: 56, r: 10, t: 6, b: 28 }, bargap: 0, showlegend: false, yaxis: { title: { text: "count", font: { size: 10 } } },
      xaxis: { range: [data.edges[0], data.edges[data.edges.length - 1]], exponentformat: "e" } };
    Plotly.react(p.bars, [{ type: "bar", x: h.edges.slice(0, -1).map((e, j) => e + widths[j] / 2), y: h.counts, width: widths,
      marker: { color: RT.runColor(runId) }, hovertemplate: "%{x:.4~g}: %{y}<extra></extra>" }], layout, RT.PLOT_CONFIG);
    Plotly.relayout(p.heat, { shapes: [{ type: "line", x0: step, x1: step, yref: "paper", y0: 0, y1: 1, line: { color: "#e8590c", width: 1.5 } }] });
  }

  // ---- info, media, artifacts ------------------------------------------------------------------------
  // Where a branched run came from (init(fork_from=/resume_from=)): links to the runs its metadata names.
  // The metadata is a writer's JSON: only a string id and an integer step are used, each as text.
  function lineage(md) {
    const link = (id) => RT.el("a", { href: RT.runUrl(id), class: "lineage" }, id);
    const at = (b) => (Number.isInteger(b.step) ? ` at step ${b.step}` : "");
    const ok = (b) => b && typeof b === "object" && typeof b.run === "string" && b.run;
    const out = [];
    if (ok(md.fork)) out.push([RT.el("span", {}, "forked from "), link(md.fork.run), at(md.fork)]);
    if (ok(md.rewound)) {
      out.push([RT.el("span", {}, "history of "), link(md.rewound.run), ` before its rewind${at(md.rewound)}`,
        md.rewound.interrupted === true ? RT.el("span", { class: "err" }, " (interrupted: may be partial)") : ""]);
    }
    const rewinds = Array.isArray(md.rewinds) ? md.rewinds.filter((r) => r && typeof r.archive === "string" && r.archive) : [];
    if (rewinds.length) {
      out.push([RT.el("span", {}, "rewound"), ...rewinds.flatMap((r, i) => [i ? "," : "", at(r), " (before: ", link(r.archive), ")"])]);
    }
    return out;
  }

  function renderInfo() {
    const d = page.detail;
    $("title").textContent = d.name;
    document.title = d.name + " · rltrack";
    $("state").replaceChildren(RT.el("span", { class: "state " + d.state }, d.state));
    RT.header([[d.project, RT.projectUrl(d.project)], [d.name, null]]);
    const parts = [`id ${d.id}`, d.group ? `group ${d.group}` : "", d.job_type || "", `created ${RT.time(d.created_ns)}`,
      `runtime ${RT.duration(d.created_ns, d.ended_ns)}`, `sources ${d.sources.join(", ")}`].filter(Boolean);
    const info = [];
    parts.forEach((t) => info.push(t));
    if (d.tags.length) info.push(d.tags.map((t) => RT.el("span", { class: "pill" }, t)));
    if (d.reason) info.push(RT.el("span", { class: "err" }, d.reason));
    if (d.notes) info.push(d.notes);
    info.push(...lineage(d.metadata || {}));
    $("info").replaceChildren(...info.flatMap((x, i) => (i ? [" · ", x] : [x])).flat());
    RT.kvInto($("config"), d.config);
    RT.kvInto($("summary"), d.sources.length > 1 ? d.summaries : d.summary);
    // Alerts and saved files have their own sections (tables.js): not repeated here as JSON.
    const { alerts, files, ...metadata } = d.metadata || {};
    RT.kvInto($("metadata"), metadata);
    const sel = $("source");
    if (sel.options.length !== d.sources.length) {
      sel.replaceChildren(...d.sources.map((s) => RT.el("option", { value: s, selected: s === page.source }, s)));
    }
    $("live").textContent = d.state === "running" ? "live" : "";
  }

  async function loadMediaList(pending = null) {
    page.media = await (pending || RT.json(api("/media")));
    const hist = new Set(page.media.filter((m) => m.kind === "histogram" && m.source === page.source).map((m) => m.key));
    page.histograms = [...hist].sort();
  }

  function mediaHolder(m) {
    const url = RT.fileUrl(runId, m.path);
    if (m.kind === "video") return RT.el("video", { controls: true, preload: "metadata", src: url, dataset: { key: m.key } });
    if (m.kind === "image") return RT.el("img", { class: "media", src: url, alt: m.key, loading: "lazy", decoding: "async" });
    return RT.el("a", { href: url, download: "", rel: "noopener" }, m.path);
  }

  function renderMedia() {
    // Tables and plots have their own sections (tables.js).
    const items = page.media.filter((m) => m.kind !== "histogram" && !(RT.extras && RT.extras.isTableFile(m)));
    const groups = new Map();
    items.forEach((m) => { const g = m.source + " · " + m.key; if (!groups.has(g)) groups.set(g, []); groups.get(g).push(m); });
    $("media-section").hidden = groups.size === 0;
    const root = $("media");
    if (root.dataset.n === String(items.length)) return;
    root.dataset.n = String(items.length);
    root.replaceChildren();
    for (const [name, list] of groups) {
      const holder = RT.el("div", { class: "holder" });
      const slider = RT.el("input", { type: "range", min: 0, max: list.length - 1, value: list.length - 1, "aria-label": "step" });
      const label = RT.el("span", { class: "stepv" });
      const show = () => {
        const m = list[Number(slider.value)];
        label.textContent = `${m.step}` + (m.caption ? ` · ${m.caption}` : "");
        holder.replaceChildren(mediaHolder(m));
      };
      slider.addEventListener("input", show);
      show();
      root.append(RT.el("div", { class: "card" }, RT.el("h3", {}, name), holder, RT.el("label", { class: "small muted" }, "step ", slider, " ", label)));
    }
  }

  async function loadArtifacts() {
    let data;
    try { data = await RT.json(api("/artifacts")); } catch (e) { return; }
    if (!data.available || (!data.logged.length && !data.used.length)) return;
    $("artifacts-section").hidden = false;
    const row = (a, role) => RT.el("tr", {}, RT.el("td", {}, role), RT.el("td", {}, a.ref), RT.el("td", {}, a.type || ""),
      RT.el("td", {}, (a.aliases || []).map((x) => RT.el("span", { class: "pill" }, x))), RT.el("td", {}, RT.fmt(a.size)),
      RT.el("td", {}, a.run_id ? RT.el("a", { href: RT.runUrl(a.run_id) }, a.run_id) : ""), RT.el("td", {}, (a.digest || "").slice(0, 12)));
    const head = ["role", "version", "type", "aliases", "bytes", "logged by", "digest"].map((h) => RT.el("th", {}, h));
    $("artifacts").replaceChildren(RT.el("table", {}, RT.el("thead", {}, RT.el("tr", {}, head)),
      RT.el("tbody", {}, data.logged.map((a) => row(a, "logged")), data.used.map((a) => row(a, "used")))));
  }

  // ---- updates ---------------------------------------------------------------------------------------
  // Histograms are files, re-read on every 5th poll only; scalars on every poll.
  function invalidate(histogramsToo = true) {
    page.panels.forEach((p) => { if (histogramsToo || p.kind !== "histogram") p.stale = true; });
    return schedule();
  }

  async function relayout() {
    if (!layoutPanels()) return invalidate(page.polls % 5 === 0);
    await sighted;
    return schedule();
  }

  function jump() {
    const key = $("jump").value.trim();
    let p = page.panels.get(key);
    if (!p && key) { $("keyfilter").value = ""; layoutPanels(); p = page.panels.get(key); }
    if (!p) { $("jump").setCustomValidity("no such key"); $("jump").reportValidity(); return; }
    $("jump").setCustomValidity("");
    buildSection(p.section, p.section.keys.indexOf(key));
    p.section.det.open = true;
    p.card.scrollIntoView({ block: "center" });
    p.card.classList.add("flash");
    setTimeout(() => p.card.classList.remove("flash"), 1500);
  }

  async function poll() {
    try {
      const before = page.detail;
      page.detail = await RT.json(api(""));
      renderInfo();
      page.polls += 1;
      if (page.polls % 5 === 0) { await loadMediaList(); renderMedia(); if (RT.extras) await RT.extras.refresh(); }
      await relayout();
      if (RT.simreal) await RT.simreal.refresh(page);
      if (page.detail.state === "running" || (before && before.state === "running")) setTimeout(poll, POLL_MS);
    } catch (e) { $("error").textContent = e.message; setTimeout(poll, 3 * POLL_MS); }
  }

  // plotly.js loads async: the page lays out its panels and fetches their series while the browser compiles it.
  const plotlyReady = new Promise((resolve) => {
    const wait = () => {
      const el = document.getElementById("plotly-js");
      if (window.Plotly || !el) resolve(); else el.addEventListener("load", resolve);
    };
    if (window.Plotly) resolve(); else if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", wait); else wait();
  });
  page.plotlyReady = plotlyReady;

  // Asked for as this script runs, in the page's head: the server answers while the browser compiles plotly.js.
  const early = { detail: RT.json(api("")), media: RT.json(api("/media")) };
  early.detail.catch(() => {});
  early.media.catch(() => {});

  async function start() {
    const media = early.media;
    try { page.detail = await early.detail; } catch (e) { $("error").textContent = e.message; return; }
    page.source = page.detail.primary_source;
    renderInfo();
    // The sim-vs-real section draws the keys both sources share: the panels below leave them out. Only which
    // keys those are is awaited (one small request beside the media list); its charts draw lazily on their own.
    const simInfo = RT.simreal && (page.detail.sources.length > 1 || RT.simreal.other) ? RT.json(RT.simreal.infoUrl(page)) : null;
    if (simInfo) simInfo.catch(() => {});
    await loadMediaList(media);
    if (simInfo) {
      const info = await simInfo.catch(() => null);
      if (info && info.available) {
        const own = (info.sim === page.source && info.sim_run === runId) || (info.real === page.source && info.real_run === runId);
        page.elsewhere = new Set(own ? info.shared : []);
        RT.simreal.load(page, simInfo);
      }
    }
    $("axis").addEventListener("change", async () => { page.zoom = {}; await invalidate(); if (RT.simreal) await RT.simreal.refresh(page); });
    $("log").addEventListener("change", () => { page.charts.forEach((_, k) => { const p = page.panels.get(k); if (p && p.kind === "scalar" && p.series) draw(p); }); if (RT.simreal) RT.simreal.draw(page); });
    $("smooth").addEventListener("input", () => {
      $("smooth-v").textContent = $("smooth").value;
      page.charts.forEach((_, k) => { const p = page.panels.get(k); if (p && p.kind === "scalar" && p.series) draw(p); });
      if (RT.simreal) RT.simreal.draw(page);
    });
    $("source").addEventListener("change", async () => {
      page.source = $("source").value; page.zoom = {}; page.extent = null;
      await loadMediaList();
      relayout();
    });
    let typing = null;
    $("keyfilter").addEventListener("input", () => { clearTimeout(typing); typing = setTimeout(relayout, 150); });
    $("jump").addEventListener("change", jump);
    // The key list is built when first needed: 5,000 options cost nothing until someone searches.
    $("jump").addEventListener("focus", () => {
      if (!$("keylist").children.length) $("keylist").replaceChildren(...(page.jumpList || []).map((k) => RT.el("option", { value: k })));
    });
    $("jump").addEventListener("keydown", (e) => { if (e.key === "Enter") jump(); });
    layoutPanels();
    await sighted;
    await schedule();
    renderMedia();
    loadArtifacts();
    if (RT.extras) RT.extras.start(page);
    await plotlyReady;
    if (RT.simreal) await RT.simreal.ready();
    document.body.dataset.ready = "1";
    if (page.detail.state === "running") setTimeout(poll, POLL_MS);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
