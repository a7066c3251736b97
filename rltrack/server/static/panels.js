// Typed panels of saved workspaces and reports (rltrack/server/workspace.py): a line chart of every key a
// regex matches, a compare table, sim vs real, media and a logged table. One drawing code for the project
// page, a report, a share link and the exported offline report; only where the data comes from differs:
//   RT.panels.live(api, proj)  -> data from the server (project: "/api", "/api/projects/<p>";
//                                 share link: both "/api/shared/<token>")
//   RT.panels.offline(D, all)  -> data embedded in an exported report (D = its "panels"[block index],
//                                 all = its "series", which a regex panel's D.series_of points into)
//   RT.panels.card(panel, tools) -> {card, body}; RT.panels.draw(card, panel, ctx) -> Promise
//     ctx: {src, ids (visible runs), byId (run id -> run), layout, resolved ({keys, more} of a regex panel)}
// Every string here may come from a writer (titles, keys, captions, run names): text nodes and setAttribute
// only, text for plotly through RT.ptext.
"use strict";
(() => {
  const P = {};
  const el = RT.el;
  const enc = encodeURIComponent;
  const DASHES = ["solid", "dot", "dash", "longdash", "dashdot", "longdashdot"];
  P.POINTS = 600;

  // Plotly keeps a window "resize" listener per chart (responsive) until the chart is purged: a chart dropped from
  // the page without it stays in memory (300 moves of the smoothing slider over 12 pinned panels: 3,600
  // listeners, 400 MB). Every chart leaves the page through here.
  P.purge = (node) => { if (window.Plotly) node.querySelectorAll(".js-plotly-plot").forEach((d) => Plotly.purge(d)); };
  const put = (body, ...kids) => { P.purge(body); body.replaceChildren(...kids); };

  // ---- what a panel is -------------------------------------------------------------------------------------
  P.kind = (p) => (p.type === "compare" || p.type === "simreal" || p.type === "media" || p.type === "table" ? p.type
    : typeof p.regex === "string" ? "regex" : "key");
  P.typed = (p) => P.kind(p) !== "key"; // everything but a per-key line entry draws as a panel of its own
  const LABEL = { key: "line", regex: "line (regex)", compare: "compare", simreal: "sim vs real", media: "media", table: "table" };
  P.label = (p) => LABEL[P.kind(p)];
  P.title = function (p) {
    if (p.title) return p.title;
    const k = P.kind(p);
    if (k === "key") return p.key;
    if (k === "regex") return "/" + p.regex + "/";
    if (k === "compare") return "compare " + (p.keys || []).join(", ");
    if (k === "simreal") return "sim vs real · " + p.run;
    if (k === "media") return p.key + (p.step === null || p.step === undefined ? "" : " @ step " + p.step);
    return p.key + " · " + p.run;
  };

  // ---- where the data comes from ---------------------------------------------------------------------------
  const seg = (path) => String(path).split("/").map(enc).join("/");
  P.live = function (api, proj) {
    const run = (id, tail, q) => `${api}/runs/${enc(id)}${tail}` + (q ? "?" + RT.qs(q) : "");
    return {
      offline: false,
      series: (key, ids, source, x, points) => RT.json(`${proj}/series?` + RT.qs({ key, runs: ids.join(","), source, points, x })),
      compare: (ids, keys, config) => RT.json(`${proj}/compare?` + RT.qs({ runs: ids.join(","), keys: JSON.stringify(keys), config: config ? JSON.stringify(config) : null })),
      media: (key, ids, step) => RT.json(`${proj}/media?` + RT.qs({ key, runs: ids.join(","), step })),
      simreal: (id) => RT.json(run(id, "/simreal")),
      gap: (id) => RT.json(run(id, "/simreal/gap")),
      runSeries: (id, source, keys, x) => (keys.length ? RT.json(run(id, "/series", { key: keys, source, x, max_points: 1000 })).then((d) => d.series) : Promise.resolve({})),
      tables: (id) => RT.json(run(id, "/tables")),
      tableRows: (id, q) => RT.json(run(id, "/tables/rows", q)),
      fileJson: (url) => RT.json(url),
      fileUrl: (id, path) => `${api}/runs/${enc(id)}/files/` + seg(path),
    };
  };
  const missing = () => Promise.reject(new Error("not in this export: open the report on the server"));
  // all: the file's "series" by "<key>|<source>": a regex panel's D.series_of names its keys' entries there
  // (each series is in the file once, however many panels draw it).
  P.offline = function (D, all) {
    const has = D !== undefined && D !== null && !D.error;
    const series = (key) => {
      const s = !has ? null : D.series && D.series[key] ? D.series[key] : D.series_of && all ? all[D.series_of[key]] : null;
      return Promise.resolve(s || { runs: [] });
    };
    return {
      offline: true,
      embedded: has,
      series,
      compare: () => (has ? Promise.resolve(D) : missing()),
      media: () => (has ? Promise.resolve(D) : missing()),
      simreal: () => (has && D.info ? Promise.resolve(D.info) : missing()),
      gap: () => (has && D.gap ? Promise.resolve(D.gap) : missing()),
      // sim vs real: D.series = {key: {sim: series, real: series}} (report_embed.py).
      runSeries: (id, source, keys, x, side) => Promise.resolve(Object.fromEntries(keys
        .filter((k) => has && D.series && D.series[k] && D.series[k][side]).map((k) => [k, D.series[k][side]]))),
      tables: () => (has && D.entry ? Promise.resolve([D.entry]) : missing()),
      tableRows: () => (has && D.rows ? Promise.resolve(D.rows) : missing()),
      fileJson: () => missing(),
      fileUrl: () => null,
    };
  };

  // ---- the card --------------------------------------------------------------------------------------------
  P.card = function (p, tools) {
    const body = el("div", { class: "pbody" });
    const head = el("header", {}, el("span", { class: "ptitle", title: P.title(p) }, P.title(p)),
      el("span", { class: "ptype muted small" }, P.label(p)), tools || "");
    const note = el("div", { class: "pnote muted small" });
    const card = el("div", { class: "card pcard", dataset: { ptype: P.kind(p) } }, head, note, body);
    return { card, body, note };
  };

  P.draw = async function (card, p, ctx) {
    const body = card.querySelector(".pbody"), note = card.querySelector(".pnote");
    card.dataset.loaded = "";
    note.textContent = "";
    try {
      // The server could not resolve it (a run gone from the project, a regex out of time): say so, draw nothing.
      if (ctx.resolved && ctx.resolved.error) throw new Error(ctx.resolved.error);
      const kind = P.kind(p);
      if (kind === "regex") await drawRegex(body, note, p, ctx);
      else if (kind === "key") await drawRegex(body, note, { ...p, regex: null }, { ...ctx, resolved: { keys: [p.key] } });
      else if (kind === "compare") await drawCompare(body, note, p, ctx);
      else if (kind === "simreal") await drawSimreal(body, note, p, ctx);
      else if (kind === "media") await drawMedia(body, note, p, ctx);
      else await RT.panelTable(body, note, p, ctx);
      card.dataset.loaded = "1";
    } catch (e) {
      note.replaceChildren(el("span", { class: "err" }, e.message));
      card.dataset.loaded = "error";
    }
  };

  // ---- line charts of every key a regex matches ------------------------------------------------------------
  P.xsOf = function (r, layout, byId) {
    if (layout.x_axis === "wall") return r.t_ns.map((t) => new Date(t / 1e6));
    if (layout.x_axis === "relative") { const start = byId.get(r.id)?.created_ns || r.t_ns[0] || 0; return r.t_ns.map((t) => (t - start) / 1e9); }
    return r.step;
  };
  const nameOf = (ctx, id) => { const r = ctx.byId.get(id); return r ? r.name : id; };

  async function drawRegex(body, note, p, ctx) {
    const L = ctx.layout;
    const keys = (ctx.resolved && ctx.resolved.keys) || [];
    const more = (ctx.resolved && ctx.resolved.more) || 0;
    const x = L.x_axis === "step" ? "step" : "t_ns";
    const got = ctx.ids.length ? await Promise.all(keys.map((k) => ctx.src.series(k, ctx.ids, p.source || null, x, P.POINTS))) : keys.map(() => ({ runs: [] }));
    const traces = [];
    let lo = Infinity, hi = -Infinity, drawn = 0;
    keys.forEach((key, ki) => {
      const runs = (got[ki].runs || []).filter((s) => s.count > 0);
      if (L.group_by) {
        // Grouped as the workspace's charts are: one mean line and min-max band per value of the config key.
        const g = RT.groupTraces(runs, { label: (r) => { const run = ctx.byId.get(r.id); return RT.fmt(run ? RT.flat(run.config)[L.group_by] : undefined) || "(none)"; },
          xs: (r) => P.xsOf(r, L, ctx.byId), log: p.log_y ?? L.log_y, smoothing: L.smoothing, wall: L.x_axis === "wall", groupBy: L.group_by,
          color: (label) => RT.runColor(L.group_by + "=" + label) });
        g.forEach((t) => { t.meta = key; if (keys.length > 1) { t.name = RT.ptext(key) + " · " + t.name; t.line.dash = DASHES[ki % DASHES.length]; } });
        traces.push(...g);
        drawn += g.filter((t) => !t.hoverinfo).length;
        const ext = RT.charts.extent(...g.filter((t) => !t.hoverinfo).map((t) => t.y));
        if (ext) { lo = Math.min(lo, ext[0]); hi = Math.max(hi, ext[1]); }
        return;
      }
      for (const r of runs) {
        // One run: a colour per key; several: the run's own colour, a dash per key.
        const color = ctx.ids.length === 1 ? RT.COLORS[ki % RT.COLORS.length] : RT.runColor(r.id);
        const name = keys.length > 1 ? `${nameOf(ctx, r.id)} · ${key}` : nameOf(ctx, r.id);
        const s = RT.charts.series(P.xsOf(r, L, ctx.byId), r.value, { name, color, smooth: L.smoothing, isDate: L.x_axis === "wall" });
        s.traces.forEach((t) => { if (t.line && ctx.ids.length > 1) t.line.dash = DASHES[ki % DASHES.length]; t.meta = key; });
        traces.push(...s.traces);
        drawn += 1;
        if (s.lo !== null) { lo = Math.min(lo, s.lo); hi = Math.max(hi, s.hi); }
      }
    });
    const y = RT.charts.yaxis(lo <= hi ? lo : null, hi, p.log_y ?? L.log_y);
    const chart = el("div", { class: "chart", dataset: { keys: JSON.stringify(keys), traces: String(drawn) } });
    put(body, chart, el("p", { class: "pkeys muted small" }, keys.length ? `${keys.length} key${keys.length === 1 ? "" : "s"}: ${keys.join(", ")}` + (more ? ` (+${more} more not drawn)` : "") : ""));
    note.textContent = !keys.length ? "no logged key matches" : drawn ? (y.logOff ? "log scale off: values are not all positive" : "") : "no visible run logged these keys";
    Plotly.newPlot(chart, traces, {
      margin: { l: 56, r: 10, t: 8, b: 36 }, showlegend: traces.length > 1, legend: { orientation: "h", y: -0.2, font: { size: 11 } },
      hovermode: "closest", xaxis: { type: L.x_axis === "wall" ? "date" : "linear", title: { text: RT.axisTitle[L.x_axis], font: { size: 11 } } },
      yaxis: y.axis,
    }, RT.PLOT_CONFIG);
  }

  // ---- compare: one row per visible run ----------------------------------------------------------------
  const cellText = (v) => (v === null || v === undefined ? "" : RT.fmt(v));
  async function drawCompare(body, note, p, ctx) {
    if (!ctx.ids.length && !ctx.src.offline) { put(body); note.textContent = "no visible run"; return; }
    const d = await ctx.src.compare(ctx.ids, p.keys || [], p.config ?? null);
    const stats = (d.keys || []).map((k) => [k, ["last", "min", "max"].filter((s) => d.runs.some((r) => r.summary && r.summary[k] && s in r.summary[k]))]);
    const head = el("tr", {}, el("th", {}, "run"), el("th", {}, "id"), (d.config_keys || []).map((c) => el("th", { class: "cfg", dataset: { col: c } }, c)),
      stats.flatMap(([k, ss]) => ss.map((s) => el("th", { class: "num", dataset: { col: k, stat: s } }, ss.length > 1 ? `${k} (${s})` : k))));
    const rows = d.runs.map((r) => el("tr", { dataset: { run: r.id } },
      el("td", {}, el("span", { class: "swatch", style: `background:${RT.runColor(r.id)}` }), r.name),
      el("td", { class: "small muted" }, r.id),
      (d.config_keys || []).map((c) => el("td", { dataset: { col: c } }, cellText((r.config || {})[c]))),
      stats.flatMap(([k, ss]) => ss.map((s) => el("td", { class: "num", dataset: { col: k, stat: s } }, cellText(((r.summary || {})[k] || {})[s]))))));
    put(body, el("div", { class: "table-wrap" }, el("table", { class: "compare" }, el("thead", {}, head), el("tbody", {}, rows))));
    note.textContent = d.runs.length ? "" : "no visible run";
  }

  // ---- sim vs real: each key's two sides overlaid, and the run page's gap numbers -----------------------------
  async function drawSimreal(body, note, p, ctx) {
    const info = await ctx.src.simreal(p.run);
    if (!info.available) { put(body); note.textContent = `run ${p.run} has no second source to compare`; return; }
    const keys = (p.keys && p.keys.length ? p.keys : info.shared.slice(0, 12)).filter((k) => info.shared.includes(k));
    const signals = new Set(info.signals || []);
    // Telemetry on each side's clock, episode summaries and logger values on the step axis (as the run page).
    const epi = keys.filter((k) => !signals.has(k)), sig = keys.filter((k) => signals.has(k));
    const [sim, real, simSig, realSig] = await Promise.all([
      ctx.src.runSeries(info.sim_run, info.sim, epi, "step", "sim"), ctx.src.runSeries(info.real_run, info.real, epi, "step", "real"),
      ctx.src.runSeries(info.sim_run, info.sim, sig, "t_ns", "sim"), ctx.src.runSeries(info.real_run, info.real, sig, "t_ns", "real")]);
    Object.assign(sim, simSig); Object.assign(real, realSig);
    const grid = el("div", { class: "grid sr-grid" });
    const gap = el("div", { class: "sr-gap" }, el("span", { class: "muted" }, "computing gap numbers…"));
    put(body, grid, gap);
    for (const key of keys) {
      const div = el("div", { class: "chart", dataset: { key } });
      grid.append(el("div", { class: "card" }, div));
      if (!sim[key] || !real[key]) { div.append(el("p", { class: "muted small" }, `${key}: not in this export`)); continue; }
      drawSides(div, key, sim[key], real[key], signals.has(key), info.checkpoint_step, ctx.layout);
    }
    note.textContent = keys.length ? "" : "the two sources share none of these keys";
    try { gapTables(gap, await ctx.src.gap(p.run)); } catch (e) { gap.replaceChildren(el("span", { class: "err" }, e.message)); }
  }

  function drawSides(div, key, sim, real, signal, ckpt, L) {
    const traces = [];
    const side = (s, name, color) => {
      const xs = signal ? s.t_ns.map((t) => (t - (s.t_ns[0] || 0)) / 1e9) : s.step;
      traces.push(...RT.charts.series(xs, s.value, { name, color, smooth: L.smoothing, strips: !signal }).traces);
    };
    side(sim, "sim", RT.COLORS[0]);
    if (!signal && key.startsWith("episode/") && ckpt !== null && ckpt !== undefined) {
      // Real episodes evaluate one deployed checkpoint: drawn at that checkpoint's step, as on the run page.
      const ys = real.value.filter((y) => y !== null);
      traces.push({ x: ys.map(() => ckpt), y: ys, type: "scatter", mode: "markers", name: `real (${ys.length} episode${ys.length === 1 ? "" : "s"} @ step ${ckpt})`,
        marker: { color: RT.COLORS[1], size: 6, opacity: 0.6 } });
    } else side(real, "real", RT.COLORS[1]);
    const [lo, hi] = RT.charts.extent(...traces.map((t) => t.y)) || [null, null];
    const layout = RT.layout(key, { axis: "step", legend: true, log: false });
    if (signal) layout.xaxis.title.text = "seconds since each side's first sample";
    layout.yaxis = RT.charts.yaxis(lo, hi, L.log_y).axis;
    div.dataset.traces = String(traces.length);
    Plotly.newPlot(div, traces, layout, RT.PLOT_CONFIG);
  }

  // The cells arrive formatted by sim2real's own formatter: the numbers `rltrack compare` prints.
  function gapTables(box, data) {
    if (!data.available) { box.replaceChildren(el("span", { class: "muted" }, data.reason || "no gap numbers")); return; }
    const table = (s) => el("div", { class: "gap-table" }, el("h4", {}, s.title),
      el("table", {}, el("thead", {}, el("tr", {}, s.header.map((h) => el("th", {}, h)))),
        el("tbody", {}, s.rows.map((r) => el("tr", {}, r.map((c, i) => el("td", i ? { class: "num" } : {}, c)))))));
    const notes = (data.report && data.report.not_computed) || [];
    box.replaceChildren(el("h4", {}, "Gap numbers (rltrack.sim2real, real − sim)"),
      el("p", { class: "gap-sides small" }, (data.heading || []).flatMap((line, i) => (i ? [el("br"), line] : [line]))),
      el("div", { class: "gap-tables" }, data.sections.map(table)),
      notes.length ? el("p", { class: "muted small" }, "not computed: " + notes.map((n) => `${n.measure} (${n.reason})`).join("; ")) : "");
    box.dataset.ready = "1";
  }

  // ---- media of each visible run at one step ---------------------------------------------------------------
  async function drawMedia(body, note, p, ctx, step) {
    const want = step === undefined ? (p.step ?? null) : step;
    if (!ctx.ids.length && !ctx.src.offline) { put(body); note.textContent = "no visible run"; return; }
    const d = await ctx.src.media(p.key, ctx.ids, want);
    const grid = el("div", { class: "media-grid" });
    const steps = d.steps || [];
    const tools = el("div", { class: "ptools small" });
    if (steps.length > 1 && !ctx.src.offline) {
      const sel = el("select", { class: "media-step", "aria-label": "step" }, el("option", { value: "" }, "latest"),
        ...steps.map((s) => el("option", { value: String(s) }, `step ${s}`)));
      sel.value = want === null ? "" : String(want);
      sel.addEventListener("change", () => {
        drawMedia(body, note, p, ctx, sel.value === "" ? null : Number(sel.value)).catch((e) => note.replaceChildren(el("span", { class: "err" }, e.message)));
      });
      tools.append(el("label", {}, "step ", sel));
    }
    put(body, tools, grid);
    for (const it of d.items || []) grid.append(mediaItem(it, ctx));
    note.textContent = (d.items || []).length ? "" : "no visible run logged media under this key" + (want === null ? "" : ` at step ${want}`);
  }

  function mediaItem(it, ctx) {
    const label = el("div", { class: "small" }, el("span", { class: "swatch", style: `background:${RT.runColor(it.run)}` }),
      nameOf(ctx, it.run), el("span", { class: "muted" }, ` · step ${it.step}`));
    const caption = it.caption ? el("div", { class: "caption small" }, it.caption) : "";
    const box = el("figure", { class: "media-item", dataset: { run: it.run, step: String(it.step), kind: it.kind } }, label);
    if (!it.url && !it.histogram) box.append(el("p", { class: "muted small not-embedded" }, it.note || `${it.kind} file missing`));
    else if (it.kind === "image") box.append(el("img", { src: it.url, alt: it.caption || it.name || "image", loading: "lazy", decoding: "async",
      // A square box until it loads (then its own shape): lazy loading needs to know which images are far off screen.
      width: 256, height: 256 }));
    else if (it.kind === "video") box.append(el("video", { src: it.url, controls: true, muted: true, preload: "metadata" }));
    else if (it.kind === "audio") box.append(el("audio", { src: it.url, controls: true, preload: "metadata" }));
    else if (it.kind === "histogram") {
      const div = el("div", { class: "chart hist-bars" });
      box.append(div);
      const h = it.histogram ? Promise.resolve(it.histogram) : ctx.src.fileJson(it.url);
      h.then((hh) => histBars(div, hh, RT.runColor(it.run))).catch((e) => div.replaceChildren(el("span", { class: "err small" }, e.message)));
    } else box.append(el("a", { href: it.url, download: "", rel: "noopener" }, it.name || it.kind));
    box.append(caption);
    return box;
  }

  function histBars(div, h, color) {
    const widths = h.edges.slice(0, -1).map((e, j) => h.edges[j + 1] - e);
    Plotly.newPlot(div, [{ type: "bar", x: h.edges.slice(0, -1).map((e, j) => e + widths[j] / 2), y: h.counts, width: widths,
      marker: { color }, hovertemplate: "%{x:.4~g}: %{y}<extra></extra>" }],
    { margin: { l: 40, r: 6, t: 6, b: 24 }, bargap: 0, showlegend: false }, RT.PLOT_CONFIG);
    div.dataset.loaded = "1";
  }

  RT.panels = P;
})();
