// Charts that tell the truth, shared by the pages: the y-range comes from the data (a constant is drawn at its
// value), log scale only over positive values, markers where x values are few, points sharing one step as a
// strip at that step, and dense series (telemetry) as a min/max envelope around a mean line instead of a block.
// API (stable, used by run.js and free for the other pages):
//   RT.charts.series(xs, ys, {name, color, smooth, isDate, strips}) -> {traces, lo, hi, distinct, strip}
//   RT.charts.yaxis(lo, hi, wantLog) -> {axis, logOff}        RT.charts.extent(values) -> [lo, hi] | null
"use strict";
(() => {
  const C = {};
  //: Points above which a series is drawn as a min/max band and a mean line (a line through more zig-zags
  //: than the chart has pixels is a solid block).
  C.ENVELOPE_ABOVE = 600;
  C.ENVELOPE_BUCKETS = 300;
  //: Distinct x values below which the points get markers (a line alone hides how few there are).
  C.MARKERS_BELOW = 40;

  const num = (x) => (x instanceof Date ? x.getTime() : Number(x));

  // Finite [min, max] of one or more arrays; null when nothing finite.
  C.extent = function (...arrays) {
    let lo = Infinity, hi = -Infinity;
    for (const ys of arrays) for (const y of ys || []) if (y !== null && isFinite(y)) { if (y < lo) lo = y; if (y > hi) hi = y; }
    return lo <= hi ? [lo, hi] : null;
  };

  C.distinct = function (xs) {
    const seen = new Set();
    for (const x of xs) { seen.add(num(x)); if (seen.size > C.MARKERS_BELOW * 4) break; }
    return seen.size;
  };

  // Per x-bucket min, max and mean of the values: the envelope of a dense series.
  C.envelope = function (xs, ys, buckets, isDate) {
    const n = xs.length;
    const x0 = num(xs[0]), x1 = num(xs[n - 1]);
    const width = (x1 - x0) / buckets || 1;
    const out = { x: [], lo: [], hi: [], mean: [] };
    let b = -1, lo = 0, hi = 0, sum = 0, cnt = 0, xsum = 0, last = -2;
    const flush = () => {
      if (!cnt) return;
      // Empty buckets between two full ones are a pause in the data: a break, not a band drawn across it.
      if (last >= 0 && b - last > 2) { out.x.push(isDate ? new Date(x0 + (last + 1) * width) : x0 + (last + 1) * width); out.lo.push(null); out.hi.push(null); out.mean.push(null); }
      last = b;
      const xm = xsum / cnt;
      out.x.push(isDate ? new Date(xm) : xm); out.lo.push(lo); out.hi.push(hi); out.mean.push(sum / cnt);
    };
    for (let i = 0; i < n; i++) {
      const y = ys[i];
      if (y === null || !isFinite(y)) continue;
      const x = num(xs[i]);
      const bi = Math.min(buckets - 1, Math.floor((x - x0) / width));
      if (bi !== b) { flush(); b = bi; lo = y; hi = y; sum = 0; cnt = 0; xsum = 0; }
      if (y < lo) lo = y; if (y > hi) hi = y;
      sum += y; cnt += 1; xsum += x;
    }
    flush();
    return out;
  };

  C.rgba = function (hex, a) {
    const n = parseInt(hex.slice(1), 16);
    return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${a})`;
  };

  // The traces of one series. `name` is a writer's string: escaped for plotly, which reads tags in names.
  // `strips`: the x values are steps (on a time axis, equal x values are a clock's resolution, not one step).
  C.series = function (xs, ys, { name, color, smooth = 0, isDate = false, strips = true } = {}) {
    const label = RT.ptext(name);
    const distinct = C.distinct(xs);
    const [lo, hi] = C.extent(ys) || [null, null];
    const base = { type: "scatter", name: label };
    // Several points at one x (episodes evaluated at one deployed step): markers in a strip, no line.
    if (strips && xs.length > 1 && distinct <= Math.max(1, xs.length / 2) && distinct < C.MARKERS_BELOW) {
      return { traces: [{ ...base, x: xs, y: ys, mode: "markers", marker: { color, size: 7, opacity: 0.6 } }], lo, hi, distinct, strip: true };
    }
    if (xs.length > C.ENVELOPE_ABOVE) {
      const env = C.envelope(xs, ys, C.ENVELOPE_BUCKETS, isDate);
      // The band is one closed outline per stretch of data (max forwards, min backwards), broken at pauses.
      const bx = [], by = [];
      let from = 0;
      for (let i = 0; i <= env.x.length; i++) {
        if (i < env.x.length && env.mean[i] !== null) continue;
        if (i > from) {
          bx.push(...env.x.slice(from, i), ...env.x.slice(from, i).reverse(), null);
          by.push(...env.hi.slice(from, i), ...env.lo.slice(from, i).reverse(), null);
        }
        from = i + 1;
      }
      return {
        traces: [
          { type: "scatter", mode: "lines", x: bx, y: by, name: label + " min–max", fill: "toself", fillcolor: C.rgba(color, 0.25),
            line: { width: 0, color }, hoverinfo: "skip", showlegend: false, legendgroup: label },
          { ...base, x: env.x, y: RT.ema(env.mean, smooth), mode: "lines", line: { color, width: 1.4 }, legendgroup: label },
        ],
        lo, hi, distinct, strip: false, envelope: true,
      };
    }
    const mode = distinct < C.MARKERS_BELOW ? "lines+markers" : "lines";
    if (smooth > 0) {
      return {
        traces: [
          { ...base, x: xs, y: ys, mode: "lines", name: label + " (raw)", line: { color, width: 1 }, opacity: 0.25, showlegend: false, hoverinfo: "skip" },
          { ...base, x: xs, y: RT.ema(ys, smooth), mode, line: { color, width: 1.6 }, marker: { size: 5 } },
        ],
        lo, hi, distinct, strip: false,
      };
    }
    return { traces: [{ ...base, x: xs, y: ys, mode, line: { color, width: 1.6 }, marker: { size: 5 } }], lo, hi, distinct, strip: false };
  };

  // The y-axis for values in [lo, hi]: plotly's autorange, except for a constant (plotly would draw 3e-4 as a
  // flat line at "0" on -1…1) and for log scale over values that are not all positive (log is turned off).
  C.yaxis = function (lo, hi, wantLog) {
    const axis = { type: "linear", exponentformat: "e", hoverformat: ".4~g" };
    if (lo === null) return { axis: { ...axis, type: wantLog ? "log" : "linear" }, logOff: false };
    const logOff = wantLog && lo <= 0;
    const log = wantLog && !logOff;
    axis.type = log ? "log" : "linear";
    const mag = Math.max(Math.abs(lo), Math.abs(hi));
    if (hi - lo <= mag * 1e-9) {
      const v = (lo + hi) / 2;
      if (log) axis.range = [Math.log10(v) - 0.05, Math.log10(v) + 0.05];
      else if (v === 0) axis.range = [-1, 1];
      else axis.range = [v - Math.abs(v) * 0.1, v + Math.abs(v) * 0.1];
      axis.autorange = false;
      axis.nticks = 5;
    }
    return { axis, logOff };
  };

  RT.charts = C;
})();
