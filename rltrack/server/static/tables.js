// Run page, what a run logged beyond scalars: tables (sorted and paged by the server, so a 100k-row table costs
// one page), rltrack.plot charts drawn with plotly, alerts and saved files. Every string a writer chose goes into
// the DOM as text (RT.el) and into plotly through RT.ptext; links only ever point at the run's files route.
// API: RT.extras.start(page) once the run's detail is known, RT.extras.refresh(page) while the run is live.
"use strict";
(() => {
  const X = {};
  const PAGE_ROWS = 100;
  // Cells drawn per page at most: a table of 4,000 columns shows 5 rows a page, not 400,000 cells.
  const PAGE_CELLS = 20000;
  const LEVEL_CLASS = { INFO: "info", WARN: "warn", ERROR: "error" };
  const TABLE_FILE = /\.(parquet|jsonl)$/;
  const groups = new Map(); // source + "\n" + key -> {card, entries, step, sort, order, offset, plot}
  let page = null;

  const api = (tail, params) => `/api/runs/${encodeURIComponent(page.id)}${tail}` + (params ? "?" + RT.qs(params) : "");
  const $ = (id) => document.getElementById(id);
  const bytes = (n) => (n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KiB` : n < 1073741824
    ? `${(n / 1048576).toFixed(1)} MiB` : `${(n / 1073741824).toFixed(2)} GiB`);

  // A "table" row whose file is not a table file (an upload named .html) is listed under Media as a file link.
  X.isTableFile = (m) => m.kind === "table" && TABLE_FILE.test(String(m.path));

  // ---- one cell as DOM -------------------------------------------------------------------------------
  function cellNode(value, type) {
    if (value === null || value === undefined) return "";
    if (type !== "media" || typeof value !== "object") {
      const text = typeof value === "boolean" ? String(value) : typeof value === "object" ? JSON.stringify(value) : String(value);
      return RT.el("span", { title: text.length > 40 ? text : null }, text);
    }
    const caption = value.caption || "";
    if (!value.url) return RT.el("span", { class: "muted small" }, `${value.kind} file missing`);
    if (value.kind === "image") {
      return RT.el("a", { href: value.url, target: "_blank", rel: "noopener" },
        RT.el("img", { class: "thumb", src: value.url, alt: caption || "image", title: caption || null, loading: "lazy" }));
    }
    if (value.kind === "video") {
      return RT.el("video", { class: "thumb", src: value.url, controls: true, preload: "metadata", title: caption || null });
    }
    return RT.el("a", { href: value.url, download: "", rel: "noopener" }, caption || value.kind);
  }

  // ---- tables ----------------------------------------------------------------------------------------
  // A step is kept as the server's decimal text: a step past 2^53 (a nanosecond timestamp) is not a JS number.
  const stepOf = (e) => (typeof e.step_text === "string" ? e.step_text : String(e.step));

  function stepSelect(g, onChange) {
    const sel = RT.el("select", { class: "table-step", "aria-label": "step" });
    sel.addEventListener("change", () => { g.step = sel.value; g.picked = true; onChange(); });
    return sel;
  }

  function fillSteps(g) {
    const steps = [...new Set(g.entries.map(stepOf))];
    if (!g.picked || !steps.includes(g.step)) g.step = steps[steps.length - 1];
    g.stepLabel.hidden = steps.length < 2;
    if (g.select.options.length !== steps.length) {
      g.select.replaceChildren(...steps.map((s) => RT.el("option", { value: s }, s)));
    }
    g.select.value = g.step;
  }

  const current = (g) => g.entries.filter((e) => stepOf(e) === g.step).pop();

  function tableCard(g) {
    g.select = stepSelect(g, () => { g.offset = 0; loadTable(g); });
    g.stepLabel = RT.el("label", { class: "small muted" }, "step ", g.select);
    g.head = RT.el("thead");
    g.body = RT.el("tbody");
    g.info = RT.el("span", { class: "rows-info" });
    g.prev = RT.el("button", { type: "button", class: "prev", "aria-label": "previous rows" }, "‹");
    g.next = RT.el("button", { type: "button", class: "next", "aria-label": "next rows" }, "›");
    // A very wide table comes in pages of fewer rows (the answer's limit): step by what the server pages in.
    g.prev.addEventListener("click", () => { g.offset = Math.max(0, g.offset - (g.pageRows || PAGE_ROWS)); loadTable(g); });
    g.next.addEventListener("click", () => { g.offset += g.pageRows || PAGE_ROWS; loadTable(g); });
    g.note = RT.el("p", { class: "muted small" });
    g.wrap = RT.el("div", { class: "table-wrap" }, RT.el("table", { class: "logged" }, g.head, g.body));
    g.card = RT.el("div", { class: "card table-card", dataset: { key: g.key, source: g.source } },
      RT.el("h3", {}, g.key, g.other ? RT.el("span", { class: "muted" }, ` · ${g.source}`) : ""),
      g.stepLabel, g.note, g.wrap, RT.el("div", { class: "pager small muted" }, g.prev, " ", g.info, " ", g.next));
    return g.card;
  }

  function header(g, columns, types) {
    const row = RT.el("tr");
    columns.forEach((name, i) => {
      const sorted = g.sort === name;
      const th = RT.el("th", { dataset: { col: name }, "aria-sort": sorted ? (g.order === "desc" ? "descending" : "ascending") : "none",
        title: `${name} (${types[i]}): click to sort` },
      name, RT.el("span", { class: "arrow" }, sorted ? (g.order === "desc" ? " ▼" : " ▲") : ""));
      th.addEventListener("click", () => {
        if (g.sort === name) g.order = g.order === "asc" ? "desc" : "asc"; else { g.sort = name; g.order = "asc"; }
        g.offset = 0;
        loadTable(g);
      });
      row.append(th);
    });
    g.head.replaceChildren(row);
  }

  async function loadTable(g) {
    const e = current(g);
    if (!e) return;
    const m = e.caption ? [e.caption] : [];
    if (e.error) {
      g.note.replaceChildren(RT.el("span", { class: "err" }, e.error), ...(e.url ? [" ", RT.el("a", { href: e.url, download: "", rel: "noopener" }, "file")] : []));
      g.head.replaceChildren(); g.body.replaceChildren(); g.info.textContent = "";
      g.prev.disabled = g.next.disabled = true;
      return;
    }
    g.note.textContent = [...m, `${e.rows.toLocaleString()} rows × ${e.cols} columns`].join(" · ");
    const ask = ++g.asked;
    let data;
    try {
      data = await RT.json(api("/tables/rows", { key: g.key, source: g.source, step: g.step, sort: g.sort,
        order: g.sort ? g.order : null, offset: g.offset, limit: Math.max(1, Math.min(PAGE_ROWS, Math.floor(PAGE_CELLS / Math.max(1, e.cols)))) }));
    } catch (err) { // a file whose header reads but whose rows do not: said in its card, the page goes on
      if (ask === g.asked) g.note.replaceChildren(RT.el("span", { class: "err" }, err.message));
      return;
    }
    if (ask !== g.asked) return; // a later click's answer wins
    g.pageRows = data.limit || PAGE_ROWS;
    if (g.sort && !data.columns.includes(g.sort)) g.sort = null;
    for (const [r, c, text] of data.exact_ints || []) data.rows[r][c] = text; // a timestamp's last digits, as stored
    header(g, data.columns, data.types);
    g.body.replaceChildren(...data.rows.map((cells, r) => RT.el("tr", { dataset: { index: data.index[r] } },
      cells.map((c, i) => RT.el("td", { class: data.types[i] === "number" ? "num" : null }, cellNode(c, data.types[i]))))));
    const a = data.total ? data.offset + 1 : 0, b = data.offset + data.rows.length;
    g.info.textContent = `rows ${a.toLocaleString()}–${b.toLocaleString()} of ${data.total.toLocaleString()}`;
    g.prev.disabled = data.offset === 0;
    g.next.disabled = b >= data.total;
    g.card.dataset.loaded = `${g.step}|${g.sort || ""}|${g.order}|${g.offset}`;
  }

  // ---- plots (rltrack.plot) -------------------------------------------------------------------------------
  function plotCard(g) {
    g.select = stepSelect(g, () => loadPlot(g));
    g.stepLabel = RT.el("label", { class: "small muted" }, "step ", g.select);
    g.div = RT.el("div", { class: "chart", dataset: { key: g.key } });
    g.note = RT.el("p", { class: "muted small" });
    g.card = RT.el("div", { class: "card plot-card", dataset: { key: g.key, source: g.source } }, g.div, g.stepLabel, g.note);
    return g.card;
  }

  const numbers = (xs) => xs.map((x) => (typeof x === "number" ? x : typeof x === "boolean" ? Number(x) : null));

  function plotTraces(spec, cols) {
    const f = spec.fields, color = RT.runColor(page.id);
    if (spec.type === "bar") {
      return [{ type: "bar", x: cols[f.label].map((l) => RT.ptext(l)), y: numbers(cols[f.value]), marker: { color } }];
    }
    if (spec.type === "histogram") return [{ type: "histogram", x: numbers(cols[f.value]), marker: { color } }];
    const mode = spec.type === "scatter" ? "markers" : cols[f.x].length < 40 ? "lines+markers" : "lines";
    if (!f.stroke) return [{ type: "scatter", mode, x: numbers(cols[f.x]), y: numbers(cols[f.y]), line: { color }, marker: { color } }];
    const lines = new Map();
    cols[f.stroke].forEach((s, i) => {
      const name = String(s ?? "");
      if (!lines.has(name)) lines.set(name, { x: [], y: [] });
      lines.get(name).x.push(cols[f.x][i]); lines.get(name).y.push(cols[f.y][i]);
    });
    return [...lines].map(([name, l], i) => ({ type: "scatter", mode, name: RT.ptext(name), x: numbers(l.x), y: numbers(l.y),
      line: { color: RT.COLORS[i % RT.COLORS.length] } }));
  }

  async function loadPlot(g) {
    const e = current(g);
    if (!e) return;
    if (!e.plot) { g.note.replaceChildren(RT.el("span", { class: "err" }, e.error || "not a plot at this step")); return; }
    const spec = e.plot, f = spec.fields;
    const column = [...new Set(Object.keys(f).filter((k) => k !== "xname").map((k) => f[k]))];
    const ask = ++g.asked;
    let data;
    try { data = await RT.json(api("/tables/data", { key: g.key, source: g.source, step: g.step, column })); } catch (err) {
      if (ask === g.asked) g.note.replaceChildren(RT.el("span", { class: "err" }, err.message));
      return;
    }
    await page.plotlyReady;
    if (ask !== g.asked) return;
    const traces = plotTraces(spec, data.columns);
    const layout = RT.layout(spec.title || g.key, { axis: "step", legend: traces.length > 1 });
    const xTitle = spec.type === "bar" ? f.label : spec.type === "histogram" ? f.value : spec.xname || f.x;
    layout.xaxis = { title: { text: RT.ptext(xTitle), font: { size: 11 } }, type: spec.type === "bar" ? "category" : "-" };
    layout.yaxis = { title: { text: RT.ptext(spec.type === "bar" ? f.value : spec.type === "histogram" ? "count" : f.y), font: { size: 11 } } };
    layout.hovermode = "closest";
    layout.uirevision = g.key;
    Plotly.react(g.div, traces, layout, RT.PLOT_CONFIG);
    g.note.textContent = [spec.type, e.caption && e.caption !== spec.title ? e.caption : "", data.sampled
      ? `every ${Math.ceil(data.total / data.columns[column[0]].length)}th of ${data.total.toLocaleString()} rows` : ""].filter(Boolean).join(" · ");
    g.card.dataset.loaded = String(g.step);
  }

  // ---- the sections ----------------------------------------------------------------------------------
  async function renderTables() {
    const list = (await RT.json(api("/tables"))).filter((e) => TABLE_FILE.test(String(e.path)));
    const seen = new Set();
    for (const e of list) {
      const id = e.source + "\n" + e.key;
      let g = groups.get(id);
      if (!g) {
        g = { key: e.key, source: e.source, other: e.source !== page.detail.primary_source, entries: [], sort: null,
          order: "asc", offset: 0, asked: 0, picked: false, isPlot: !!e.plot };
        groups.set(id, g);
        (g.isPlot ? $("plots") : $("tables")).append(g.isPlot ? plotCard(g) : tableCard(g));
      }
      if (!seen.has(id)) { seen.add(id); g.fresh = []; }
      g.fresh.push(e);
    }
    const work = [];
    for (const g of groups.values()) {
      if (!g.fresh) continue;
      const changed = g.fresh.length !== g.entries.length;
      g.entries = g.fresh; g.fresh = null;
      const before = g.step;
      fillSteps(g);
      if (changed && (before !== g.step || !g.card.dataset.loaded)) work.push(g.isPlot ? loadPlot(g) : loadTable(g));
    }
    $("tables-section").hidden = !$("tables").children.length;
    $("plots-section").hidden = !$("plots").children.length;
    await Promise.all(work);
  }

  async function renderAlerts() {
    const alerts = await RT.json(api("/alerts"));
    $("alerts-section").hidden = !alerts.length;
    $("alerts").replaceChildren(...alerts.map((a) => RT.el("li", { class: "alert " + (LEVEL_CLASS[a.level] || "info") },
      RT.el("span", { class: "level" }, a.level), " ", RT.el("strong", { class: "title" }, a.title), " ",
      RT.el("span", { class: "text" }, a.text), " ",
      RT.el("span", { class: "muted small" }, [a.step !== null ? `step ${a.step}` : "", RT.time(a.t_ns)].filter(Boolean).join(" · ")))));
  }

  async function renderFiles() {
    const data = await RT.json(api("/files"));
    $("files-section").hidden = !data.files.length;
    const head = RT.el("tr", {}, ["file", "size", "modified"].map((h) => RT.el("th", {}, h)));
    const rows = data.files.map((f) => RT.el("tr", {},
      RT.el("td", {}, f.url ? RT.el("a", { href: f.url, download: "", rel: "noopener" }, f.path) : f.path),
      RT.el("td", { class: "num", title: `${f.size} bytes` }, bytes(f.size)), RT.el("td", {}, RT.time(f.modified_ns))));
    $("files").replaceChildren(RT.el("table", { class: "files" }, RT.el("thead", {}, head), RT.el("tbody", {}, rows)),
      data.truncated ? RT.el("p", { class: "muted small" }, `only the first ${data.files.length.toLocaleString()} files are listed`) : "");
  }

  X.refresh = async function () {
    const results = await Promise.allSettled([renderTables(), renderAlerts(), renderFiles()]);
    const failed = results.find((r) => r.status === "rejected");
    if (failed) $("error").textContent = failed.reason.message;
  };

  X.start = async function (runPage) {
    page = runPage;
    await X.refresh();
    document.body.dataset.extrasReady = "1";
  };
  RT.extras = X;
})();
