// Sim-vs-real panel of the run page: shared keys overlaid, real episode results at the deployed
// checkpoint's step, videos side by side, and the gap tables of rltrack.sim2real when installed.
// Every string here may come from a writer (keys, run ids, sources, media paths, captions): the DOM is
// built with text nodes and setAttribute, never from HTML strings, and file URLs are encoded per segment.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const SR = { info: null, charts: new Map(), extent: null, origin: {} }; // charts: key -> {key, div, visible, stale, loading, drawn, sim, real}
  const other = new URLSearchParams(location.search).get("vs");
  const url = (page, tail) => `/api/runs/${encodeURIComponent(page.id)}${tail}` + (other ? `?other=${encodeURIComponent(other)}` : "");
  const fileUrl = (runId, path) => `/api/runs/${encodeURIComponent(runId)}/files/` + String(path).split("/").map(encodeURIComponent).join("/");

  // el("td", {class: "x"}, "text", child): attributes via setAttribute, children as text nodes or nodes.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) node.setAttribute(k, String(v));
    for (const c of children.flat()) if (c !== undefined && c !== null) node.append(c instanceof Node ? c : String(c));
    return node;
  }

  // Shared keys drawn lazily: a panel fetches its sim and real series when it comes near the screen (a robot
  // pair can share thousands of telemetry keys), CHUNK cards at a time as the grid's end comes into view.
  const CHUNK = 48, BATCH = 40;
  let observer = null, nearEnd = null, queued = null, firstDrawn = null, onFirst = () => {};

  SR.info = null;
  SR.other = other; // ?vs=<run>: a separate run holding the real side
  SR.infoUrl = (page) => url(page, "/simreal");
  // `pending`: the /simreal request run.js started beside its own (the page lays out its panels without
  // waiting for this section's series).
  SR.load = function (page, pending = null) {
    loading = load(page, pending);
    return loading;
  };
  let loading = Promise.resolve();
  async function load(page, pending) {
    try { SR.info = await (pending || RT.json(url(page, "/simreal"))); } catch (e) { return; }
    if (!SR.info.available) return;
    $("simreal").hidden = false;
    const vids = SR.info.videos;
    $("simreal-videos").replaceChildren(...["sim", "real"].map((side) => {
      const run = SR.info[side + "_run"], source = SR.info[side];
      const v = vids[side][vids[side].length - 1];
      // "sim (sim)" said the source twice: the source is named only where it is not the side's own name.
      const label = run === page.id ? (source === side ? side : `${side}: ${source}`) : `${side}: ${run} · ${source}`;
      const card = el("div", { class: "card", "data-side": side }, el("h3", {}, label));
      if (v) {
        card.append(el("video", { controls: "", muted: "", preload: "metadata", src: fileUrl(run, v.path) }),
          el("div", { class: "small muted" }, `${v.key} · step ${v.step}`));
      } else card.append(el("div", { class: "muted small" }, "no video"));
      return card;
    }));
    const grid = $("simreal-charts");
    if (window.Plotly) grid.querySelectorAll(".js-plotly-plot").forEach((d) => Plotly.purge(d)); // loaded again: let go
    grid.replaceChildren();
    SR.charts.clear();
    if (observer) observer.disconnect();
    if (nearEnd) nearEnd.disconnect();
    firstDrawn = new Promise((resolve) => { onFirst = resolve; });
    observer = new IntersectionObserver((entries) => {
      for (const e of entries) { const p = SR.charts.get(e.target.dataset.simrealKey); if (p) p.visible = e.isIntersecting; }
      schedule(page);
    }, { rootMargin: "200px 0px" });
    for (const key of SR.info.shared) SR.charts.set(key, { key, div: null, visible: false, stale: true, loading: false, drawn: false });
    const keys = SR.info.shared;
    let next = 0;
    const sentinel = el("div", { class: "sentinel" });
    const build = () => {
      const stop = Math.min(keys.length, next + CHUNK);
      for (const key of keys.slice(next, stop)) {
        const p = SR.charts.get(key);
        p.div = el("div", { class: "chart", "data-simreal-key": key });
        sentinel.before(el("div", { class: "card" }, p.div));
        observer.observe(p.div);
      }
      next = stop;
      if (next >= keys.length) { nearEnd.disconnect(); sentinel.remove(); }
    };
    nearEnd = new IntersectionObserver((entries) => { if (entries.some((e) => e.isIntersecting)) build(); }, { rootMargin: "600px 0px" });
    grid.append(sentinel);
    nearEnd.observe(sentinel);
    if (keys.length) build(); else { grid.replaceChildren(el("p", { class: "muted" }, "the two sources share no key")); onFirst(); }
    loadGap(page);
  }

  // Resolves once the panels on screen at load are drawn (the page's data-ready waits for it, not its layout).
  SR.ready = async () => { await loading; await (firstDrawn || Promise.resolve()); };

  function schedule(page) {
    if (!queued) queued = new Promise((resolve) => setTimeout(() => { queued = null; loadVisible(page).then(resolve, resolve); }, 0));
    return queued;
  }

  async function loadVisible(page) {
    const due = [...SR.charts.values()].filter((p) => p.visible && p.div && p.stale && !p.loading);
    if (!due.length) { onFirst(); return; }
    due.forEach((p) => { p.loading = true; });
    try {
      for (let i = 0; i < due.length; i += BATCH) {
        const part = due.slice(i, i + BATCH);
        // Telemetry is fetched on its clock (t_ns), episode summaries and logger values on the page's axis.
        const signals = part.filter((p) => signal(p.key)).map((p) => p.key);
        const others = part.filter((p) => !signal(p.key)).map((p) => p.key);
        const fetchSide = (side, keys, x) => (keys.length ? page.fetchSeries(SR.info[side], keys, SR.info[side + "_run"], x) : {});
        const [sim, real, simSig, realSig] = await Promise.all([fetchSide("sim", others), fetchSide("real", others),
          fetchSide("sim", signals, "t_ns"), fetchSide("real", signals, "t_ns")]);
        Object.assign(sim, simSig);
        Object.assign(real, realSig);
        await page.plotlyReady;
        // Each side's clock starts at its first sample: both runs of the robot start at 0 s.
        let moved = false;
        for (const [side, got] of [["sim", simSig], ["real", realSig]]) {
          for (const s of Object.values(got)) {
            if (s.t_ns.length && (SR.origin[side] === undefined || s.t_ns[0] < SR.origin[side])) { SR.origin[side] = s.t_ns[0]; moved = true; }
          }
        }
        if (moved) SR.charts.forEach((p) => { if (p.drawn && signal(p.key) && !part.includes(p)) drawOne(page, p); });
        // The steps both sides span: a panel whose points all sit at one step (eval episodes at the deployed
        // step) keeps this x-range instead of zooming to "20.479k–20.4805k".
        let widened = false;
        if (page.opts().axis === "step") {
          for (const key of others) {
            for (const s of [sim[key], real[key]]) {
              if (!s || !s.step.length) continue;
              const lo = s.step[0], hi = s.step[s.step.length - 1];
              if (!SR.extent || lo < SR.extent[0] || hi > SR.extent[1]) {
                SR.extent = SR.extent ? [Math.min(SR.extent[0], lo), Math.max(SR.extent[1], hi)] : [lo, hi];
                widened = true;
              }
            }
          }
        }
        for (const p of part) { Object.assign(p, { sim: sim[p.key], real: real[p.key], stale: false }); drawOne(page, p); }
        if (widened) SR.charts.forEach((p) => { if (p.drawn && p.narrow && !part.includes(p)) drawOne(page, p); });
      }
    } catch (e) {
      $("error").textContent = e.message; // the page still becomes ready: an error is shown, not a hang
      onFirst();
      return;
    } finally { due.forEach((p) => { p.loading = false; }); }
    onFirst();
    return schedule(page); // panels that scrolled into view meanwhile
  }

  // New data (live polling, another x-axis): panels on screen are fetched again, the others when next seen.
  SR.refresh = function (page) {
    if (!SR.info || !SR.info.available) return Promise.resolve();
    SR.charts.forEach((p) => { p.stale = true; });
    SR.extent = null; // widened again by what is fetched (on the step axis only)
    SR.origin = {};
    return schedule(page);
  };

  // Options that need no new data (smoothing, log scale): the panels drawn so far are drawn again.
  SR.draw = function (page) {
    SR.charts.forEach((p) => { if (p.drawn) drawOne(page, p); });
  };

  // Telemetry (sim2real's signals): per-step samples of a control loop, not one value per training step.
  const signal = (key) => !!SR.info && (SR.info.signals || []).includes(key);

  // One side of a telemetry key: seconds since that side's first sample (wall time on the wall axis), a
  // min/max band when dense.
  function clockTraces(series, side, color, opts) {
    const wall = opts.axis === "wall";
    const origin = SR.origin[side] ?? (series.t_ns[0] || 0);
    const xs = wall ? series.t_ns.map((t) => new Date(t / 1e6)) : series.t_ns.map((t) => (t - origin) / 1e9);
    return RT.charts.series(xs, series.value, { name: side, color, smooth: opts.smooth, isDate: wall, strips: false }).traces;
  }

  function drawOne(page, p) {
    const { sim, real, key } = p;
    if (!sim || !real) return;
    const opts = page.opts();
    const ckpt = SR.info.checkpoint_step;
    if (signal(key)) {
      const traces = [...clockTraces(sim, "sim", RT.COLORS[0], opts), ...clockTraces(real, "real", RT.COLORS[1], opts)];
      const layout = RT.layout(key, { ...opts, legend: true });
      if (opts.axis !== "wall") Object.assign(layout.xaxis, { type: "linear", title: { text: "seconds since each side's first sample", font: { size: 11 } } });
      finish(p, traces, layout, opts);
      p.narrow = false;
      return;
    }
    const traces = page.traces(sim, "sim", RT.COLORS[0], opts);
    if (key.startsWith("episode/") && ckpt !== null && opts.axis === "step") {
      // Real episodes evaluate one deployed checkpoint: draw them all at that checkpoint's step.
      const ys = real.value.filter((y) => y !== null);
      const mean = ys.reduce((a, b) => a + b, 0) / Math.max(ys.length, 1);
      const episodes = ys.length === 1 ? "1 episode" : `${ys.length} episodes`;
      traces.push({ x: ys.map(() => ckpt), y: ys, type: "scatter", mode: "markers", name: `real (${episodes} @ step ${ckpt.toLocaleString("en-US")})`, marker: { color: RT.COLORS[1], size: 6, opacity: 0.5 } });
      traces.push({ x: [ckpt], y: [mean], type: "scatter", mode: "markers", name: "real mean", marker: { color: RT.COLORS[1], size: 13, symbol: "diamond", line: { color: "#000", width: 1 } } });
    } else {
      traces.push(...page.traces(real, "real", RT.COLORS[1], opts));
    }
    const layout = RT.layout(key, { ...opts, legend: true });
    const xs = new Set(traces.flatMap((t) => Array.from(t.x || [], Number)).filter((x) => isFinite(x)));
    p.narrow = opts.axis === "step" && xs.size <= 2;
    if (p.narrow && SR.extent) {
      const lo = Math.min(SR.extent[0], ...xs), hi = Math.max(SR.extent[1], ...xs);
      const pad = (hi - lo) * 0.03 || Math.max(1, Math.abs(hi) * 0.05);
      Object.assign(layout.xaxis, { range: [lo - pad, hi + pad], autorange: false });
    }
    finish(p, traces, layout, opts);
  }

  function finish(p, traces, layout, opts) {
    // The y-range from both sides' data: a constant is drawn at its value, log only over positive values.
    const [lo, hi] = RT.charts.extent(...traces.map((t) => t.y)) || [null, null];
    const y = RT.charts.yaxis(lo, hi, opts.log);
    layout.yaxis = y.axis;
    if (y.logOff) layout.annotations = [{ text: "log scale off: values ≤ 0", xref: "paper", yref: "paper", x: 1, y: 1.02, xanchor: "right", yanchor: "bottom", showarrow: false, font: { size: 10, color: "#c92a2a" } }];
    Plotly.react(p.div, traces, layout, RT.PLOT_CONFIG);
    p.drawn = true;
  }

  // One table per section of report.table(): the cells arrive formatted by sim2real's own formatter,
  // so the page shows exactly the digits `rltrack compare` prints.
  function gapTable(section) {
    const head = el("tr", {}, section.header.map((h) => el("th", {}, h)));
    const rows = section.rows.map((r) => el("tr", {}, r.map((c, i) => el("td", i ? { class: "num" } : {}, c))));
    return el("div", { class: "gap-table" }, el("h4", {}, section.title), el("table", {}, el("thead", {}, head), el("tbody", {}, rows)));
  }

  async function loadGap(page) {
    const box = $("gap");
    box.replaceChildren(el("span", { class: "muted" }, "computing gap numbers…"));
    let data;
    try { data = await RT.json(url(page, "/simreal/gap")); } catch (e) { box.replaceChildren(el("span", { class: "err" }, e.message)); return; }
    if (!data.available) { box.replaceChildren(el("span", { class: "muted" }, data.reason)); return; }
    const notes = data.report.not_computed || [];
    box.replaceChildren(
      el("h3", {}, "Gap numbers (rltrack.sim2real, real − sim)"),
      el("p", { class: "gap-sides" }, data.heading.flatMap((line, i) => (i ? [el("br"), line] : [line]))),
      el("div", { class: "gap-tables" }, data.sections.map(gapTable)),
      notes.length ? el("p", { class: "muted small" }, "not computed: " + notes.map((n) => `${n.measure} (${n.reason})`).join("; ")) : "",
    );
    box.dataset.ready = "1";
  }
  RT.simreal = SR;
})();
