// Compare view: the selected runs overlaid per key; grouped by a config value, each group draws its
// mean and a min-max band.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const ids = new URLSearchParams(location.search).getAll("run");
  const MAX_CHARTS = 60;
  const state = { runs: [], keys: [], data: {}, colors: new Map() };
  window.COMPAREPAGE = state;
  const opts = () => ({ axis: "step", smooth: Number($("smooth").value), log: $("log").checked, legend: true });

  function varyingConfigKeys(runs) {
    const values = {};
    runs.forEach((r) => Object.entries(RT.flat(r.config)).forEach(([k, v]) => (values[k] ||= new Set()).add(JSON.stringify(v))));
    return Object.keys(values).filter((k) => values[k].size > 1 || runs.length === 1).sort();
  }

  function hexToRgba(hex, a) {
    const n = parseInt(hex.slice(1), 16);
    return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${a})`;
  }

  function traces(data, o) {
    const out = [];
    if (data.groups.length) {
      data.groups.forEach((g) => {
        // A group's colour is the workspace's for the same grouping: hash of "key=value".
        const color = RT.runColor(`${$("groupby").value}=${RT.fmt(g.value) || "(none)"}`);
        const name = RT.ptext(`${$("groupby").value}=${RT.fmt(g.value)} (${g.runs.length})`); // plotly reads tags in names
        out.push({ x: g.step, y: g.max, type: "scatter", mode: "lines", line: { width: 0 }, showlegend: false, hoverinfo: "skip", legendgroup: name });
        out.push({ x: g.step, y: g.min, type: "scatter", mode: "lines", line: { width: 0 }, fill: "tonexty", fillcolor: hexToRgba(color, 0.18), showlegend: false, hoverinfo: "skip", legendgroup: name });
        out.push({ x: g.step, y: RT.ema(g.mean, o.smooth), type: "scatter", mode: "lines", name, line: { color, width: 2 }, legendgroup: name });
      });
      return out;
    }
    data.runs.forEach((r) => {
      out.push({ x: r.step, y: RT.ema(r.value, o.smooth), type: "scatter", mode: r.value.length < 40 ? "lines+markers" : "lines",
        name: RT.ptext(r.name), line: { color: state.colors.get(r.id), width: 1.6 }, marker: { size: 4 } });
    });
    return out;
  }

  async function load() {
    const root = $("charts");
    const f = $("keyfilter").value.trim().toLowerCase();
    const keys = state.keys.filter((k) => !f || k.toLowerCase().includes(f)).slice(0, MAX_CHARTS);
    // Each change of the key filter draws the charts again: the old ones let go of plotly's resize listener.
    if (window.Plotly) root.querySelectorAll(".js-plotly-plot").forEach((d) => Plotly.purge(d));
    root.innerHTML = "";
    const divs = {};
    for (const [prefix, group] of RT.groupKeys(keys)) {
      root.append(RT.el("h3", {}, prefix));
      const grid = document.createElement("div");
      grid.className = "grid";
      for (const key of group) {
        const div = RT.el("div", { class: "chart", dataset: { key } });
        grid.appendChild(RT.el("div", { class: "card" }, div));
        divs[key] = div;
      }
      root.appendChild(grid);
    }
    const groupBy = $("groupby").value;
    await Promise.all(keys.map(async (key) => {
      state.data[key] = await RT.json("/api/compare?" + RT.qs({ run: ids, key, group_by: groupBy, max_points: 1500 }));
    }));
    draw(divs);
    document.body.dataset.ready = "1";
  }

  function draw(divs) {
    const o = opts();
    for (const [key, div] of Object.entries(divs)) {
      if (!state.data[key]) continue;
      const tr = traces(state.data[key], o);
      const layout = RT.layout(key, o);
      // The y-range from the data (a constant drawn at its value), log only over positive values.
      const [lo, hi] = RT.charts.extent(...tr.map((t) => t.y)) || [null, null];
      const y = RT.charts.yaxis(lo, hi, o.log);
      layout.yaxis = y.axis;
      if (y.logOff) layout.annotations = [{ text: "log scale off: values ≤ 0", xref: "paper", yref: "paper", x: 1, y: 1.02, xanchor: "right", yanchor: "bottom", showarrow: false, font: { size: 10, color: "#c92a2a" } }];
      Plotly.react(div, tr, layout, RT.PLOT_CONFIG);
    }
    state.divs = divs;
  }

  async function start() {
    RT.header([["compare", null]]);
    if (!ids.length) { $("error").textContent = "no runs selected: pick runs in a project's runs table"; return; }
    try { state.runs = await Promise.all(ids.map((id) => RT.json(`/api/runs/${encodeURIComponent(id)}`))); }
    catch (e) { $("error").textContent = e.message; return; }
    const keys = new Set();
    state.runs.forEach((r) => (r.keys[r.primary_source] || []).forEach((k) => keys.add(k)));
    state.keys = [...keys].sort();
    state.colors = RT.runColors(state.runs.map((r) => r.id));
    $("legend").replaceChildren(...state.runs.flatMap((r) => [RT.el("span", { class: "pill", style: `background:${hexToRgba(state.colors.get(r.id), 0.2)}` },
      RT.el("a", { href: RT.runUrl(r.id) }, r.name)), " "]));
    if (state.runs.length) RT.header([[state.runs[0].project, RT.projectUrl(state.runs[0].project)], ["compare", null]]);
    $("groupby").append(...varyingConfigKeys(state.runs).map((k) => RT.el("option", { value: k }, k)));
    const g = new URLSearchParams(location.search).get("group_by");
    if (g) $("groupby").value = g;
    $("groupby").addEventListener("change", load);
    $("keyfilter").addEventListener("change", load);
    $("smooth").addEventListener("input", () => draw(state.divs || {}));
    $("log").addEventListener("change", () => draw(state.divs || {}));
    await load();
  }
  window.addEventListener("load", start);
})();
