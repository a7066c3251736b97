// Run page: one chart per key grouped by prefix, x-axis/smoothing/log controls, live polling, media, config.
"use strict";
(() => {
  const runId = decodeURIComponent(location.pathname.split("/")[2] || "");
  const $ = (id) => document.getElementById(id);
  const POLL_MS = 750, KEYS_PER_REQUEST = 40;
  const page = { id: runId, detail: null, series: {}, source: null, charts: new Map(), polls: 0 };
  window.RUNPAGE = page;

  page.opts = () => ({ axis: $("axis").value, smooth: Number($("smooth").value), log: $("log").checked });

  async function fetchSeries(source, keys, id = runId) {
    const axis = page.opts().axis === "step" ? "step" : "t_ns";
    const out = {};
    for (let i = 0; i < keys.length; i += KEYS_PER_REQUEST) {
      const part = keys.slice(i, i + KEYS_PER_REQUEST);
      const data = await RT.json(`/api/runs/${encodeURIComponent(id)}/series?` + RT.qs({ key: part, source, x: axis, max_points: 1500 }));
      Object.assign(out, data.series);
    }
    return out;
  }
  page.fetchSeries = fetchSeries;

  page.traces = function (series, name, color, opts, extra = {}) {
    const x = RT.xs(series, opts.axis, page.detail.created_ns);
    const traces = [];
    if (opts.smooth > 0) {
      traces.push({ x, y: series.value, type: "scatter", mode: "lines", name: name + " (raw)", line: { color, width: 1 }, opacity: 0.25, showlegend: false, hoverinfo: "skip", ...extra });
      traces.push({ x, y: RT.ema(series.value, opts.smooth), type: "scatter", mode: "lines", name, line: { color, width: 1.6 }, ...extra });
    } else {
      traces.push({ x, y: series.value, type: "scatter", mode: series.value.length < 40 ? "lines+markers" : "lines", name, line: { color, width: 1.6 }, marker: { size: 4 }, ...extra });
    }
    return traces;
  };

  function visibleKeys() {
    const all = (page.detail.keys[page.source] || []);
    const f = $("keyfilter").value.trim().toLowerCase();
    return f ? all.filter((k) => k.toLowerCase().includes(f)) : all;
  }

  function layoutCharts(keys) {
    const root = $("charts");
    const wanted = keys.join("\n");
    if (root.dataset.keys === wanted) return;
    root.dataset.keys = wanted;
    root.innerHTML = "";
    page.charts.clear();
    for (const [prefix, group] of RT.groupKeys(keys)) {
      const det = document.createElement("details");
      det.open = true;
      det.innerHTML = `<summary>${RT.esc(prefix)} <span class="muted small">(${group.length})</span></summary>`;
      const grid = document.createElement("div");
      grid.className = "grid";
      for (const key of group) {
        const card = document.createElement("div");
        card.className = "card";
        const div = document.createElement("div");
        div.className = "chart";
        div.dataset.key = key;
        card.appendChild(div);
        grid.appendChild(card);
        page.charts.set(key, div);
      }
      det.appendChild(grid);
      root.appendChild(det);
    }
  }

  // Zooming asks the server for the zoomed range at full detail (downsampled again there).
  page.zoom = {};
  function toServerX(value, axis) {
    if (axis === "wall") return Date.parse(value) * 1e6;
    if (axis === "relative") return page.detail.created_ns + Number(value) * 1e9;
    return Number(value);
  }
  async function onZoom(key, ev) {
    const opts = page.opts();
    if (ev["xaxis.autorange"]) { delete page.zoom[key]; draw(); return; }
    const range = ev["xaxis.range"] || (ev["xaxis.range[0]"] !== undefined ? [ev["xaxis.range[0]"], ev["xaxis.range[1]"]] : null);
    if (!range) return;
    const xMin = toServerX(range[0], opts.axis), xMax = toServerX(range[1], opts.axis);
    const data = await RT.json(`/api/runs/${encodeURIComponent(runId)}/series?` + RT.qs({
      key, source: page.source, x: opts.axis === "step" ? "step" : "t_ns", max_points: 1500, x_min: Math.floor(xMin), x_max: Math.ceil(xMax) }));
    page.zoom[key] = data.series[key];
    draw();
  }

  function draw() {
    const opts = page.opts();
    for (const [key, div] of page.charts) {
      const s = page.zoom[key] || page.series[key];
      if (!s) continue;
      Plotly.react(div, page.traces(s, key, RT.COLORS[0], opts), RT.layout(key, opts), RT.PLOT_CONFIG);
      div.dataset.count = String((page.series[key] || s).count);
      if (!div.dataset.bound) { div.dataset.bound = "1"; div.on("plotly_relayout", (ev) => onZoom(key, ev)); }
    }
  }

  async function refresh() {
    const keys = visibleKeys();
    layoutCharts(keys);
    page.series = await fetchSeries(page.source, keys);
    draw();
  }

  function renderInfo() {
    const d = page.detail;
    $("title").textContent = d.name;
    document.title = d.name + " · rltrack";
    $("state").innerHTML = RT.state(d.state);
    RT.header([[d.project, "/projects/" + encodeURIComponent(d.project)], [d.name, null]]);
    $("info").innerHTML = [`id ${RT.esc(d.id)}`, d.group ? `group ${RT.esc(d.group)}` : "", d.job_type ? RT.esc(d.job_type) : "",
      `created ${RT.time(d.created_ns)}`, `runtime ${RT.duration(d.created_ns, d.ended_ns)}`, `sources ${d.sources.map(RT.esc).join(", ")}`,
      d.tags.map((t) => `<span class=pill>${RT.esc(t)}</span>`).join(""), d.reason ? `<span class=err>${RT.esc(d.reason)}</span>` : "",
      d.notes ? RT.esc(d.notes) : ""].filter(Boolean).join(" · ");
    $("config").innerHTML = RT.kv(d.config);
    $("summary").innerHTML = RT.kv(d.sources.length > 1 ? d.summaries : d.summary);
    $("metadata").innerHTML = RT.kv(d.metadata);
    const sel = $("source");
    if (sel.options.length !== d.sources.length) {
      sel.innerHTML = d.sources.map((s) => `<option ${s === page.source ? "selected" : ""}>${RT.esc(s)}</option>`).join("");
    }
    $("live").textContent = d.state === "running" ? "live" : "";
  }

  async function loadMedia() {
    const items = await RT.json(`/api/runs/${encodeURIComponent(runId)}/media`);
    const groups = {};
    items.forEach((m) => (groups[m.source + " · " + m.key] ||= []).push(m));
    const names = Object.keys(groups);
    $("media-section").hidden = names.length === 0;
    const root = $("media");
    if (root.dataset.n === String(items.length)) return;
    root.dataset.n = String(items.length);
    root.innerHTML = "";
    for (const name of names) {
      const list = groups[name];
      const card = document.createElement("div");
      card.className = "card";
      card.innerHTML = `<h3>${RT.esc(name)}</h3><div class="holder"></div><label class="small muted">step <input type=range min=0 max=${list.length - 1} value=${list.length - 1}> <span class=stepv></span></label>`;
      const holder = card.querySelector(".holder"), slider = card.querySelector("input"), label = card.querySelector(".stepv");
      const show = () => {
        const m = list[Number(slider.value)];
        label.textContent = `${m.step}` + (m.caption ? ` · ${m.caption}` : "");
        if (m.kind === "video") holder.innerHTML = `<video controls preload="auto" src="${m.url}" data-key="${RT.esc(m.key)}"></video>`;
        else if (m.kind === "image") holder.innerHTML = `<img class="media" src="${m.url}" alt="${RT.esc(m.key)}">`;
        else holder.innerHTML = `<a href="${m.url}">${RT.esc(m.path)}</a>`;
      };
      slider.addEventListener("input", show);
      show();
      root.appendChild(card);
    }
  }

  async function loadArtifacts() {
    let data;
    try { data = await RT.json(`/api/runs/${encodeURIComponent(runId)}/artifacts`); } catch (e) { return; }
    if (!data.available || (!data.logged.length && !data.used.length)) return;
    $("artifacts-section").hidden = false;
    const rows = (list, role) => list.map((a) => `<tr><td>${role}</td><td>${RT.esc(a.ref)}</td><td>${RT.esc(a.type || "")}</td>
      <td>${(a.aliases || []).map((x) => `<span class=pill>${RT.esc(x)}</span>`).join("")}</td><td>${RT.esc(RT.fmt(a.size))}</td>
      <td>${a.run_id ? `<a href="/runs/${encodeURIComponent(a.run_id)}">${RT.esc(a.run_id)}</a>` : ""}</td><td>${RT.esc(a.digest || "").slice(0, 12)}</td></tr>`).join("");
    $("artifacts").innerHTML = `<table><thead><tr><th>role</th><th>version</th><th>type</th><th>aliases</th><th>bytes</th><th>logged by</th><th>digest</th></tr></thead>
      <tbody>${rows(data.logged, "logged")}${rows(data.used, "used")}</tbody></table>`;
  }

  async function poll() {
    try {
      const before = page.detail;
      page.detail = await RT.json(`/api/runs/${encodeURIComponent(runId)}`);
      renderInfo();
      await refresh();
      page.polls += 1;
      if (page.polls % 5 === 0) await loadMedia();
      if (RT.simreal) await RT.simreal.refresh(page);
      if (page.detail.state === "running" || (before && before.state === "running")) setTimeout(poll, POLL_MS);
    } catch (e) { $("error").textContent = e.message; setTimeout(poll, 3 * POLL_MS); }
  }

  async function start() {
    try { page.detail = await RT.json(`/api/runs/${encodeURIComponent(runId)}`); } catch (e) { $("error").textContent = e.message; return; }
    page.source = page.detail.primary_source;
    renderInfo();
    $("axis").addEventListener("change", async () => { page.zoom = {}; await refresh(); if (RT.simreal) await RT.simreal.refresh(page); });
    $("log").addEventListener("change", () => { draw(); if (RT.simreal) RT.simreal.draw(page); });
    $("smooth").addEventListener("input", () => { $("smooth-v").textContent = $("smooth").value; draw(); if (RT.simreal) RT.simreal.draw(page); });
    $("source").addEventListener("change", () => { page.source = $("source").value; refresh(); });
    $("keyfilter").addEventListener("input", () => refresh());
    await refresh();
    await loadMedia();
    if (RT.simreal) await RT.simreal.load(page);
    loadArtifacts();
    document.body.dataset.ready = "1";
    if (page.detail.state === "running") setTimeout(poll, POLL_MS);
  }
  window.addEventListener("load", start);
})();
