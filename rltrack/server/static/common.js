// Shared helpers of the rltrack pages: fetching JSON, formatting, smoothing, grouping keys.
"use strict";
const RT = {};
RT.json = async function (url) {
  const r = await fetch(url, { cache: "no-store" });
  const body = await r.json().catch(() => ({ detail: r.statusText }));
  if (!r.ok) throw new Error(body.detail || r.statusText);
  return body;
};
RT.qs = (params) => {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === "") continue;
    if (Array.isArray(v)) v.forEach((x) => u.append(k, x)); else u.append(k, v);
  }
  return u.toString();
};
RT.esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
// Text for plotly (titles, trace names, annotations): plotly reads tags (<b>, <a href>) and entities there, but
// not &quot;, so only & < > are escaped; the text then shows exactly as the writer wrote it.
RT.ptext = (s) => String(s ?? "").replace(/[&<>]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;" })[c]);
RT.time = (ns) => (ns ? new Date(ns / 1e6).toLocaleString() : "");
RT.duration = (a, b) => {
  if (!a) return "";
  const s = Math.max(0, ((b || Date.now() * 1e6) - a) / 1e9);
  if (s < 1) return "<1s"; // a run that took 0.3 s did not take "0s"
  if (s < 60) return s.toFixed(0) + "s";
  if (s < 3600) return (s / 60).toFixed(1) + "m";
  return (s / 3600).toFixed(1) + "h";
};
RT.fmt = (v) => {
  if (v === null || v === undefined) return "";
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(4)));
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
};
RT.state = (s) => `<span class="state ${RT.esc(s)}">${RT.esc(s)}</span>`;
RT.flat = function (obj, prefix = "", out = {}) {
  for (const [k, v] of Object.entries(obj || {})) {
    const key = prefix ? prefix + "." + k : k;
    if (v && typeof v === "object" && !Array.isArray(v)) RT.flat(v, key, out); else out[key] = v;
  }
  return out;
};
RT.kv = (obj) => {
  const flat = RT.flat(obj);
  const keys = Object.keys(flat).sort();
  if (!keys.length) return '<div class="muted">none</div><div></div>';
  return keys.map((k) => `<div>${RT.esc(k)}</div><div>${RT.esc(RT.fmt(flat[k]))}</div>`).join("");
};
// The same key-value grid into `el` as DOM, the first `limit` rows and a button for the rest (a robot's summary
// holds thousands of keys: laying them all out would delay the first chart).
RT.kvInto = function (el, obj, limit = 200) {
  const flat = RT.flat(obj);
  const keys = Object.keys(flat).sort();
  const rows = (list) => list.flatMap((k) => [RT.el("div", {}, k), RT.el("div", {}, RT.fmt(flat[k]))]);
  if (!keys.length) { el.replaceChildren(RT.el("div", { class: "muted" }, "none"), RT.el("div")); return; }
  el.replaceChildren(...rows(keys.slice(0, limit)));
  if (keys.length > limit) {
    const more = RT.el("button", { type: "button", class: "link" }, `show all ${keys.length.toLocaleString()}`);
    more.addEventListener("click", () => el.replaceChildren(...rows(keys)));
    el.append(RT.el("div", { class: "muted" }, `… ${(keys.length - limit).toLocaleString()} more`), RT.el("div", {}, more));
  }
};
// Debiased exponential moving average (as TensorBoard and wandb draw it); null gaps are kept.
RT.ema = function (ys, weight) {
  if (!weight) return ys;
  let last = 0, n = 0;
  return ys.map((y) => {
    if (y === null || !isFinite(y)) return y;
    last = last * weight + (1 - weight) * y; n += 1;
    return last / (1 - Math.pow(weight, n));
  });
};
// Charts are grouped by the key's first segment; known RL prefixes come first.
RT.PREFIX_ORDER = ["rollout", "train", "episode", "eval", "time", "system"];
RT.prefix = (key) => (key.includes("/") ? key.split("/")[0] : "other");
RT.groupKeys = function (keys) {
  const groups = {};
  keys.forEach((k) => (groups[RT.prefix(k)] ||= []).push(k));
  const rank = (p) => { const i = RT.PREFIX_ORDER.indexOf(p); return i < 0 ? RT.PREFIX_ORDER.length + (p === "other" ? 1 : 0) : i; };
  return Object.keys(groups).sort((a, b) => rank(a) - rank(b) || a.localeCompare(b)).map((p) => [p, groups[p].sort()]);
};
// x values for the chosen axis: training step, wall-clock time, or seconds since the run started.
RT.xs = function (series, axis, startNs) {
  if (axis === "wall") return series.t_ns.map((t) => new Date(t / 1e6));
  if (axis === "relative") return series.t_ns.map((t) => (t - startNs) / 1e9);
  return series.step;
};
RT.axisTitle = { step: "step", wall: "wall time", relative: "seconds since start" };
RT.layout = (title, opts) => ({
  title: { text: RT.ptext(title), font: { size: 13 }, x: 0.01, xanchor: "left" },
  margin: { l: 50, r: 10, t: 30, b: 36 },
  xaxis: { title: { text: RT.axisTitle[opts.axis] || "step", font: { size: 11 } }, type: opts.axis === "wall" ? "date" : "linear" },
  yaxis: { type: opts.log ? "log" : "linear" },
  showlegend: !!opts.legend, legend: { orientation: "h", y: -0.25, font: { size: 11 } },
  hovermode: "x unified", uirevision: title + "|" + opts.axis,
});
RT.PLOT_CONFIG = { responsive: true, displaylogo: false };
RT.COLORS = ["#3b5bdb", "#e8590c", "#2b8a3e", "#c2255c", "#7048e8", "#0c8599", "#e67700", "#5c940d", "#862e9c", "#495057"];
// Stable colour per run: FNV-1a hash of the run id into a palette, so a run keeps its colour on every page
// (workspace, runs table, run page, compare) whatever else is shown beside it.
// Run colours, picked so that any two differ by a CIELAB distance of at least 34 (the old palette held
// five greens and pairs 5 apart: four sweep trials could all be drawn green) and each reads on white
// (contrast >= 2.6, no greys, no near-blacks). tests/rltrack/server/test_run_colors.py checks both.
RT.PALETTE = ["#3b5bdb", "#e8590c", "#00aa00", "#00aabb", "#ff0099", "#555511", "#0000ff", "#773355", "#ee22ff",
  "#dd8877", "#9999dd", "#bb9900", "#880088", "#008855", "#dd0044", "#773300", "#dd77bb", "#224488", "#88aa44",
  "#cc77ff"];
RT.hash = (s) => { let h = 0x811c9dc5; for (let i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 0x01000193); } return h >>> 0; };
RT.runColor = (id) => (RT.pageColors && RT.pageColors.get(String(id))) || RT.PALETTE[RT.hash(String(id)) % RT.PALETTE.length];
// A page that draws many runs together (workspace, report, share link) sets its runs once, so that two of
// them whose ids hash to one colour are told apart on every chart, table and legend of that page.
RT.usePageRuns = (ids) => { RT.pageColors = RT.runColors(ids); };
// Colours for runs drawn together (compare): each keeps its own colour unless two hash to the same one; then
// the later id (sorted, so the order on the page does not matter) takes the next free palette slot.
RT.runColors = (ids) => {
  const out = new Map(), used = new Set(), P = RT.PALETTE.length;
  [...new Set(ids.map(String))].sort().forEach((id) => {
    let i = RT.hash(id) % P;
    for (let probe = 0; probe < P && used.has(i); probe++) i = (i + 1) % P;
    used.add(i);
    out.set(id, RT.PALETTE[i]);
  });
  return out;
};
RT.header = (crumbs) => {
  const h = document.querySelector("header.top .crumbs");
  if (!h) return;
  h.replaceChildren();
  crumbs.forEach(([t, href], i) => {
    if (i) h.append(" / ");
    h.append(href ? RT.el("a", { href }, t) : String(t ?? ""));
  });
};
// DOM built without HTML parsing: attributes through setAttribute, text through text nodes, so a string a
// writer chose (run name, key, path, caption) can never become markup. RT.el("a", {href: u}, "text", child).
RT.el = function (tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = String(v);
    else if (k === "dataset") Object.entries(v).forEach(([dk, dv]) => { node.dataset[dk] = String(dv); });
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) if (c !== undefined && c !== null && c !== false) node.append(c instanceof Node ? c : String(c));
  return node;
};
// URLs from writer-controlled parts: every path segment percent-encoded ("/" inside a media path kept as a separator).
RT.runUrl = (id) => "/runs/" + encodeURIComponent(id);
RT.projectUrl = (name) => "/projects/" + encodeURIComponent(name);
RT.fileUrl = (runId, path) => `/api/runs/${encodeURIComponent(runId)}/files/` + String(path).split("/").map(encodeURIComponent).join("/");
// Who is logged in, at the right of the header, with a log-out button: only when the server has accounts and the
// page was opened through a browser session (a token or an open server shows nothing; share pages have no header).
RT.account = async function () {
  const top = document.querySelector("header.top");
  // An exported report opened from disk has no server to ask (and its CSP forbids connecting anywhere).
  if (!top || top.querySelector(".account") || location.protocol === "file:") return;
  let info;
  try { info = await RT.json("/api/auth/me"); } catch (e) { return; }
  if (!info.accounts || !info.user || info.via !== "session") return;
  const out = RT.el("button", { type: "button", class: "linkish" }, "log out");
  out.addEventListener("click", async () => {
    await fetch("/api/auth/logout", { method: "POST", credentials: "same-origin", body: "{}",
      headers: { "content-type": "application/json", "x-csrf-token": info.csrf || "" } });
    location.assign("/login");
  });
  top.append(RT.el("span", { class: "account" }, RT.el("span", { class: "who" }, String(info.user)), " · ", out));
};
document.addEventListener("DOMContentLoaded", () => { RT.account(); });
window.RT = RT;
