// Sim-vs-real panel of the run page: shared keys overlaid, real episode results at the deployed
// checkpoint's step, videos side by side, and the gap numbers of rltrack.sim2real when installed.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const SR = { info: null, sim: {}, real: {}, charts: new Map() };
  const other = new URLSearchParams(location.search).get("vs");
  const url = (page, tail) => `/api/runs/${encodeURIComponent(page.id)}${tail}` + (other ? `?other=${encodeURIComponent(other)}` : "");

  SR.load = async function (page) {
    try { SR.info = await RT.json(url(page, "/simreal")); } catch (e) { return; }
    if (!SR.info.available) return;
    $("simreal").hidden = false;
    const vids = SR.info.videos;
    $("simreal-videos").innerHTML = ["sim", "real"].map((side) => {
      const v = vids[side][vids[side].length - 1];
      return `<div class="card" data-side="${side}"><h3>${side} (${RT.esc(SR.info[side + "_run"] === page.id ? SR.info[side] : SR.info[side + "_run"] + " · " + SR.info[side])})</h3>` +
        (v ? `<video controls muted preload="auto" src="${v.url}"></video><div class="small muted">${RT.esc(v.key)} · step ${v.step}</div>` : '<div class="muted small">no video</div>') + "</div>";
    }).join("");
    const grid = $("simreal-charts");
    grid.innerHTML = "";
    SR.charts.clear();
    for (const key of SR.info.shared) {
      const card = document.createElement("div");
      card.className = "card";
      const div = document.createElement("div");
      div.className = "chart";
      div.dataset.simrealKey = key;
      card.appendChild(div);
      grid.appendChild(card);
      SR.charts.set(key, div);
    }
    if (!SR.info.shared.length) grid.innerHTML = '<p class="muted">the two sources share no key</p>';
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

  async function loadGap(page) {
    const box = $("gap");
    box.innerHTML = '<span class="muted">computing gap numbers…</span>';
    let data;
    try { data = await RT.json(url(page, "/simreal/gap")); } catch (e) { box.innerHTML = `<span class="err">${RT.esc(e.message)}</span>`; return; }
    if (!data.available) { box.innerHTML = `<span class="muted">${RT.esc(data.reason)}</span>`; return; }
    const r = data.report;
    const table = (head, rows) => `<table><thead><tr>${head.map((h) => `<th>${RT.esc(h)}</th>`).join("")}</tr></thead><tbody>${rows.join("")}</tbody></table>`;
    const cells = (vals) => `<tr>${vals.map((v) => `<td>${RT.esc(RT.fmt(v))}</td>`).join("")}</tr>`;
    const episodes = Object.entries(r.episodes || {}).filter(([, g]) => g).map(([name, g]) =>
      cells([name, g.sim_mean, g.real_mean, g.difference, g.ci_low === null ? "" : `[${RT.fmt(g.ci_low)}, ${RT.fmt(g.ci_high)}]`, `${g.n_sim} / ${g.n_real}`]));
    const signals = Object.entries(r.signals || {}).map(([key, g]) =>
      cells([key, g.sim_mean, g.real_mean, g.wasserstein_norm, g.ks_statistic, g.ks_p_value, `${g.n_sim} / ${g.n_real}`]));
    const timing = Object.entries(r.timing || {}).map(([key, t]) => cells([key, t.rate_hz, t.jitter_s, t.dropped_estimate]));
    box.innerHTML = '<h3>Gap numbers (rltrack.sim2real, real − sim)</h3><div class="cols">' +
      (episodes.length ? `<div>${table(["episodes", "sim mean", "real mean", "difference", "95% CI", "n sim / real"], episodes)}</div>` : "") +
      (signals.length ? `<div>${table(["signal", "sim mean", "real mean", "W1 (norm.)", "KS", "KS p", "n sim / real"], signals)}</div>` : "") +
      (timing.length ? `<div>${table(["real loop", "rate Hz", "jitter s", "dropped"], timing)}</div>` : "") + "</div>" +
      (r.not_computed && r.not_computed.length ? `<p class="muted small">not computed: ${r.not_computed.map((n) => RT.esc(n.measure + " (" + n.reason + ")")).join("; ")}</p>` : "");
  }
  RT.simreal = SR;
})();
