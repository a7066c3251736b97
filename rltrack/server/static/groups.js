// Groups of runs drawn as one band, shared by the workspace (project.js) and reports (report.js): runs with one
// value of the group-by config key draw the mean and the min-max band of their series, interpolated onto one x
// grid (only where a run has data: no extrapolation).
//   RT.groupTraces(runs, {label, xs, log, smoothing, wall, groupBy, color}) -> plotly traces
//     runs: [{id, value, ...}] as the series routes return them; label(run) -> the group's label;
//     xs(run) -> its x values; color(label) -> the group's colour.
"use strict";
(() => {
  const GRID_POINTS = 200; // common x grid of a group's mean and band
  const HOVER = "<b>%{fullData.name}</b><br>%{x}: %{y:.4~g}<extra></extra>";
  const rgba = (hex, a) => { const n = parseInt(hex.slice(1), 16); return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${a})`; };
  const positive = (ys, log) => (log ? ys.map((y) => (y !== null && y > 0 ? y : null)) : ys);

  function band(curves) {
    let lo = Infinity, hi = -Infinity;
    for (const c of curves) { lo = Math.min(lo, c.x[0]); hi = Math.max(hi, c.x[c.x.length - 1]); }
    const distinct = [...new Set(curves.flatMap((c) => c.x))].sort((a, b) => a - b);
    const grid = distinct.length <= GRID_POINTS ? distinct : Array.from({ length: GRID_POINTS }, (_, i) => lo + ((hi - lo) * i) / (GRID_POINTS - 1));
    const at = curves.map(() => 0);
    const out = { x: [], mean: [], min: [], max: [] };
    for (const g of grid) {
      let sum = 0, n = 0, mn = Infinity, mx = -Infinity;
      curves.forEach((c, ci) => {
        if (g < c.x[0] || g > c.x[c.x.length - 1]) return;
        while (at[ci] < c.x.length - 1 && c.x[at[ci] + 1] < g) at[ci] += 1;
        const i = at[ci], j = Math.min(i + 1, c.x.length - 1);
        const t = c.x[j] === c.x[i] || g <= c.x[i] ? 0 : (g - c.x[i]) / (c.x[j] - c.x[i]);
        const v = c.y[i] + (c.y[j] - c.y[i]) * Math.min(1, t);
        sum += v; n += 1; mn = Math.min(mn, v); mx = Math.max(mx, v);
      });
      if (n) { out.x.push(g); out.mean.push(sum / n); out.min.push(mn); out.max.push(mx); }
    }
    return out;
  }

  RT.positive = positive;
  RT.HOVER = HOVER;
  RT.groupTraces = function (runs, { label, xs, log, smoothing, wall, groupBy, color }) {
    const groups = new Map();
    for (const r of runs) {
      const name = label(r);
      if (!groups.has(name)) groups.set(name, []);
      groups.get(name).push(r);
    }
    const out = [];
    for (const [name, members] of groups) {
      const curves = members.map((r) => ({ x: xs(r).map(Number), y: positive(r.value, log) }))
        .map((c) => { const keep = c.y.map((y, i) => (y !== null && isFinite(y) ? i : -1)).filter((i) => i >= 0); return { x: keep.map((i) => c.x[i]), y: keep.map((i) => c.y[i]) }; })
        .filter((c) => c.x.length);
      if (!curves.length) continue;
      const b = band(curves);
      const x = wall ? b.x.map((t) => new Date(t)) : b.x;
      const c = color(name);
      // plotly reads tags in trace names: the label (a writer's config value) is drawn as text.
      const text = RT.esc(`${groupBy}=${name} (${members.length} run${members.length === 1 ? "" : "s"})`);
      out.push({ type: "scatter", x, y: b.max, mode: "lines", line: { width: 0, color: c }, hoverinfo: "skip", name: text + " max", showlegend: false });
      out.push({ type: "scatter", x, y: b.min, mode: "lines", line: { width: 0, color: c }, fill: "tonexty", fillcolor: rgba(c, 0.18), hoverinfo: "skip", name: text + " min", showlegend: false });
      out.push({ type: "scatter", x, y: RT.ema(b.mean, smoothing), mode: b.x.length < 40 ? "lines+markers" : "lines", name: text, line: { color: c, width: 2 }, marker: { size: 5, color: c }, hovertemplate: HOVER });
    }
    return out;
  };
})();
