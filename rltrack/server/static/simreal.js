// Sim-vs-real panel of the run page: shared keys overlaid, real episode results at the deployed
// checkpoint's step, videos side by side, and the gap tables of rltrack.sim2real when installed.
// Every string here may come from a writer (keys, run ids, sources, media paths, captions): the DOM is
// built with text nodes and setAttribute, never from HTML strings, and file URLs are encoded per segment.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const SR = { info: null, sim: {}, real: {}, charts: new Map() };
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

  SR.load = async function (page) {
    try { SR.info = await RT.json(url(page, "/simreal")); } catch (e) { return; }
    if (!SR.info.available) return;
    $("simreal").hidden = false;
    const vids = SR.info.videos;
    $("simreal-videos").replaceChildren(...["sim", "real"].map((side) => {
      const run = SR.info[side + "_run"], source = SR.info[side];
      const v = vids[side][vids[side].length - 1];
      const card = el("div", { class: "card", "data-side": side }, el("h3", {}, `${side} (${run === page.id ? source : run + " · " + source})`));
      if (v) {
        card.append(el("video", { controls: "", muted: "", preload: "auto", src: fileUrl(run, v.path) }),
          el("div", { class: "small muted" }, `${v.key} · step ${v.step}`));
      } else card.append(el("div", { class: "muted small" }, "no video"));
      return card;
    }));
    const grid = $("simreal-charts");
    grid.replaceChildren();
    SR.charts.clear();
    for (const key of SR.info.shared) {
      const div = el("div", { class: "chart" });
      div.dataset.simrealKey = key;
      grid.appendChild(el("div", { class: "card" }, div));
      SR.charts.set(key, div);
    }
    if (!SR.info.shared.length) grid.replaceChildren(el("p", { class: "muted" }, "the two sources share no key"));
    await SR.refresh(page);
    loadGap(page);
  };

  SR.refresh = async function (page) {
    if (!SR.info || !SR.info.available || !SR.info.shared.length) return;
    SR.sim = await page.fetchSeries(SR.info.sim, SR.info.shared, SR.info.sim_run);
    SR.real = await page.fetchSeries(SR.info.real, SR.info.shared, SR.info.real_run);
    SR.draw(page);
  };

  SR.draw = function (page) {
    if (!SR.info || !SR.info.available) return;
    const opts = page.opts();
    const ckpt = SR.info.checkpoint_step;
    for (const [key, div] of SR.charts) {
      const sim = SR.sim[key], real = SR.real[key];
      if (!sim || !real) continue;
      const traces = page.traces(sim, "sim", RT.COLORS[0], opts);
      if (key.startsWith("episode/") && ckpt !== null && opts.axis === "step") {
        // Real episodes evaluate one deployed checkpoint: draw them all at that checkpoint's step.
        const ys = real.value.filter((y) => y !== null);
        const mean = ys.reduce((a, b) => a + b, 0) / Math.max(ys.length, 1);
        traces.push({ x: ys.map(() => ckpt), y: ys, type: "scatter", mode: "markers", name: `real (${ys.length} episodes @ step ${ckpt})`, marker: { color: RT.COLORS[1], size: 6, opacity: 0.5 } });
        traces.push({ x: [ckpt], y: [mean], type: "scatter", mode: "markers", name: "real mean", marker: { color: RT.COLORS[1], size: 13, symbol: "diamond", line: { color: "#000", width: 1 } } });
      } else {
        traces.push(...page.traces(real, "real", RT.COLORS[1], opts));
      }
      Plotly.react(div, traces, RT.layout(key, { ...opts, legend: true }), RT.PLOT_CONFIG);
    }
  };

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
