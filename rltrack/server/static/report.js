// A report: a saved page of markdown text and panels over one set of runs (its layout). Three places run this
// same code: the report page (/projects/<p>/reports/<id>, editable), a share link (/share/<token>, read-only,
// data from /api/shared/<token>/...), and the exported offline HTML file, where the data sits in
// <script id="report-data" type="application/json"> and nothing is fetched. Markdown arrives as HTML made by the
// server's renderer (rltrack/server/markdown.py: everything escaped, a few tags added); every other string a
// writer chose (names, keys) goes in as text.
"use strict";
(() => {
  const enc = encodeURIComponent;
  const el = RT.el;
  const $ = (id) => document.getElementById(id);
  const parts = location.pathname.split("/");
  const embedded = () => document.getElementById("report-data");
  const R = { d: null, runs: [], byId: new Map(), keys: [], resolved: [], editing: false, draft: null, drawn: 0 };
  window.REPORT = R;

  function source() {
    if (embedded()) {
      const data = JSON.parse(embedded().textContent);
      // A typed panel's data sits under "panels" by its block's index (report_html.py).
      return { mode: "offline", dashboard: async () => data.dashboard, workspace: async () => data.workspace,
        // A series the export's points budget left out says so (report_embed.py), never an empty chart.
        series: async (panel, ids, layout, index) => {
          const D = (data.panels || {})[String(index)];
          if (D && D.error) throw new Error(D.error);
          return data.series[panel.key + "|" + (panel.source || "")] || { runs: [] };
        },
        panel: (index) => RT.panels.offline((data.panels || {})[String(index)], data.series || {}),
        resolved: (p, index) => {
          const D = (data.panels || {})[String(index)];
          return D ? { keys: D.keys || [], more: D.more || 0, error: D.error || null } : { keys: [], error: "not in this export" };
        } };
    }
    const share = parts[1] === "share" ? decodeURIComponent(parts[2] || "") : null;
    const base = share ? `/api/shared/${enc(share)}` : `/api/projects/${enc(decodeURIComponent(parts[2] || ""))}`;
    const id = share ? null : decodeURIComponent(parts[4] || "");
    const live = RT.panels.live(share ? base : "/api", base);
    return {
      mode: share ? "shared" : "edit", base, id,
      dashboard: () => RT.json(share ? base : `${base}/dashboards/${enc(id)}`),
      workspace: (d) => RT.json(share ? `${base}/workspace` : `${base}/workspace?w=${enc(JSON.stringify(d.layout))}`),
      // What each panel block draws (a regex panel's keys, or why it cannot be drawn), in panel-block order: a share
      // link's workspace answer holds it; the report page asks for its blocks.
      resolve: async (d, ws) => (share ? ws.panels || [] : (await RT.json(`${base}/panels?` + RT.qs({
        p: JSON.stringify(d.blocks.filter((b) => "panel" in b).map((b) => b.panel)), w: JSON.stringify(d.layout) }))).panels),
      panel: () => live,
      resolved: (p, index, ordinal) => R.resolved[ordinal] || { keys: [] },
      series: (panel, ids, layout) => RT.json(`${base}/series?` + RT.qs({ key: panel.key, source: panel.source, runs: ids.join(","),
        points: 600, x: layout.x_axis === "step" ? "step" : "t_ns" })),
    };
  }
  let SRC = null;


  function visibleIds() {
    const L = R.d.layout;
    const base = L.runs ? L.runs.filter((id) => R.byId.has(id)) : R.runs.slice(0, L.recent).map((r) => r.id);
    const hidden = new Set(L.hidden);
    return base.filter((id) => !hidden.has(id));
  }

  // ---- drawing ---------------------------------------------------------------------------------------------
  function xsOf(r, L) {
    if (L.x_axis === "wall") return r.t_ns.map((t) => new Date(t / 1e6));
    if (L.x_axis === "relative") { const start = R.byId.get(r.id)?.created_ns || r.t_ns[0] || 0; return r.t_ns.map((t) => (t - start) / 1e9); }
    return r.step;
  }
  function draw(card, panel, data) {
    const L = R.d.layout, div = card.querySelector(".chart"), note = card.querySelector(".note");
    const traces = [];
    let lo = Infinity, hi = -Infinity;
    const runs = (data.runs || []).filter((r) => r.count > 0);
    if (L.group_by) {
      // Grouped as in the workspace: one mean line and min-max band per value of the config key.
      traces.push(...RT.groupTraces(runs, {
        label: (r) => { const run = R.byId.get(r.id); return RT.fmt(run ? RT.flat(run.config)[L.group_by] : undefined) || "(none)"; },
        xs: (r) => xsOf(r, L), log: panel.log_y ?? L.log_y, smoothing: L.smoothing, wall: L.x_axis === "wall",
        groupBy: L.group_by, color: (label) => RT.runColor(L.group_by + "=" + label),
      }));
      const ext = RT.charts.extent(...traces.filter((t) => !t.hoverinfo).map((t) => t.y));
      if (ext) [lo, hi] = ext;
    }
    for (const r of L.group_by ? [] : runs) {
      const run = R.byId.get(r.id);
      const s = RT.charts.series(xsOf(r, L), r.value, { name: run ? run.name : r.id, color: RT.runColor(r.id), smooth: L.smoothing, isDate: L.x_axis === "wall" });
      traces.push(...s.traces);
      if (s.lo !== null) { lo = Math.min(lo, s.lo); hi = Math.max(hi, s.hi); }
    }
    const y = RT.charts.yaxis(lo <= hi ? lo : null, hi, panel.log_y ?? L.log_y);
    note.textContent = runs.length ? (y.logOff ? "log scale off: values are not all positive" : "") : "no run of this report logged this key";
    Plotly.newPlot(div, traces, {
      margin: { l: 56, r: 10, t: 8, b: 36 }, showlegend: true, legend: { orientation: "h", y: -0.2, font: { size: 11 } },
      hovermode: "closest", xaxis: { type: L.x_axis === "wall" ? "date" : "linear", title: { text: RT.axisTitle[L.x_axis], font: { size: 11 } } },
      yaxis: y.axis,
    }, { responsive: true, displaylogo: false });
    div.dataset.loaded = "1";
    div.dataset.traces = String(traces.length);
  }
  async function drawAll() {
    const ids = visibleIds();
    const typed = [...document.querySelectorAll("#r-blocks .pcard")].map((card) => {
      const panel = JSON.parse(card.dataset.panel), index = Number(card.dataset.block);
      const ordinal = R.d.blocks.slice(0, index).filter((b) => "panel" in b).length; // its place among the panel blocks
      return RT.panels.draw(card, panel, { src: SRC.panel(index), ids, byId: R.byId, layout: R.d.layout, resolved: SRC.resolved(panel, index, ordinal) })
        .then(() => { R.drawn += 1; });
    });
    for (const card of document.querySelectorAll("#r-blocks .panel")) {
      const panel = JSON.parse(card.dataset.panel);
      try {
        draw(card, panel, ids.length ? await SRC.series(panel, ids, R.d.layout, Number(card.dataset.block)) : { runs: [] });
      } catch (e) { card.querySelector(".note").textContent = e.message; card.querySelector(".chart").dataset.loaded = "error"; }
      R.drawn += 1;
    }
    await Promise.all(typed);
  }

  // ---- page ------------------------------------------------------------------------------------------------
  function viewBlock(b, index) {
    if ("markdown" in b) {
      const div = el("div", { class: "md block" });
      div.innerHTML = b.html; // the server's renderer escaped everything; only its own few tags are markup
      return div;
    }
    const p = b.panel;
    if (RT.panels.typed(p)) {
      const { card } = RT.panels.card(p);
      card.dataset.panel = JSON.stringify(p);
      card.dataset.block = String(index);
      return el("div", { class: "block" }, card);
    }
    return el("div", { class: "block panel", "data-panel": JSON.stringify(p), "data-block": String(index) },
      el("div", { class: "card" }, el("header", {}, el("span", { class: "key" }, p.key), el("span", { class: "muted small" }, p.source || "")),
        el("div", { class: "chart", "data-key": p.key }), el("div", { class: "note muted small" })));
  }

  function editBlock(b, i) {
    const move = (to) => { const [x] = R.draft.splice(i, 1); R.draft.splice(Math.max(0, Math.min(R.draft.length, to)), 0, x); render(); };
    const tools = el("div", { class: "edit-tools" },
      el("span", { class: "small muted" }, "markdown" in b ? "text" : "panel"),
      button("↑", () => move(i - 1), "move up"), button("↓", () => move(i + 1), "move down"),
      button("remove", () => { R.draft.splice(i, 1); render(); }, "remove this block"));
    if ("panel" in b && RT.panels.typed(b.panel)) {
      const edit = button("edit", () => { R.form = i; render(); }, "edit this panel");
      tools.append(el("span", { class: "ptitle small" }, `${RT.panels.label(b.panel)}: ${RT.panels.title(b.panel)}`), edit);
      const box = el("div", { class: "block", "data-block": i }, tools);
      if (R.form === i) box.append(panelForm(b.panel, (p) => { R.draft[i] = { panel: p }; R.form = null; render(); }));
      return box;
    }
    if ("markdown" in b) {
      const area = el("textarea", { class: "md-edit", "data-block": i });
      area.value = b.markdown;
      area.addEventListener("input", () => { b.markdown = area.value; });
      return el("div", { class: "block" }, tools, area);
    }
    const select = el("select", { class: "panel-key", "data-block": i },
      ...R.keys.map((k) => el("option", { value: k.key }, k.key)));
    if (!R.keys.some((k) => k.key === b.panel.key)) select.prepend(el("option", { value: b.panel.key }, b.panel.key));
    select.value = b.panel.key;
    // The key's sources (sim, real, ...) and its y scale; "" = each run's primary source / the report's setting.
    const sources = (R.keys.find((k) => k.key === b.panel.key) || { sources: [] }).sources;
    const source = el("select", { class: "panel-source", title: "source" }, el("option", { value: "" }, "primary source"),
      ...sources.map((s) => el("option", { value: s }, s)));
    source.value = b.panel.source || "";
    source.addEventListener("change", () => { b.panel = { ...b.panel, source: source.value || null }; });
    const scale = el("select", { class: "panel-log", title: "y scale" }, el("option", { value: "" }, "report's y scale"),
      el("option", { value: "log" }, "log y"), el("option", { value: "linear" }, "linear y"));
    scale.value = b.panel.log_y === null || b.panel.log_y === undefined ? "" : b.panel.log_y ? "log" : "linear";
    scale.addEventListener("change", () => { b.panel = { ...b.panel, log_y: scale.value ? scale.value === "log" : null }; });
    select.addEventListener("change", () => { b.panel = { key: select.value, source: null, log_y: b.panel.log_y }; render(); });
    tools.append(select, source, scale);
    return el("div", { class: "block" }, tools);
  }

  // The panel form (panels_edit.js) over what this report's runs logged.
  function panelForm(panel, onSave) {
    const ids = visibleIds(), flat = new Set();
    R.runs.forEach((r) => Object.keys(RT.flat(r.config)).forEach((k) => flat.add(k)));
    return RT.panelForm(panel, {
      keys: R.keys.map((k) => k.key), runs: R.runs.map((r) => ({ id: r.id, name: r.name })), configKeys: [...flat].sort(), allowKey: true,
      mediaKeys: async () => {
        const lists = await Promise.all(ids.slice(0, 20).map((id) => RT.json(`/api/runs/${enc(id)}/media`).catch(() => [])));
        return [...new Set(lists.flat().filter((m) => m.kind !== "table").map((m) => m.key))].sort();
      },
      tableKeys: async (run) => [...new Set((await RT.json(`/api/runs/${enc(run)}/tables`)).filter((e) => !e.plot).map((e) => e.key))].sort(),
      onSave, onCancel: () => { R.form = null; render(); },
    });
  }

  const button = (text, onClick, title, id) => {
    const b = el("button", { type: "button", title, id });
    b.textContent = text;
    b.addEventListener("click", onClick);
    return b;
  };
  const say = (text, bad) => { const s = $("r-status"); if (s) { s.textContent = text; s.className = "small " + (bad ? "err" : "muted"); } };

  function toolbar() {
    const d = R.d;
    if (R.editing) {
      const name = el("input", { id: "r-name", size: 30, maxlength: 200, value: R.draftName ?? d.name });
      name.addEventListener("input", () => { R.draftName = name.value; });
      return el("div", { class: "toolbar" }, el("label", {}, "title ", name),
        button("Save", save, "save the report", "r-save"), button("Cancel", () => { R.editing = false; render(); drawAll(); }, "drop the changes", "r-cancel"),
        button("Add text", () => { R.draft.push({ markdown: "" }); render(); }, "add a markdown block", "r-add-text"),
        button("Add panel", () => { R.form = "new"; render(); }, "add a chart, compare table, sim vs real, media or table", "r-add-panel"),
        el("span", { id: "r-status", class: "small muted" }));
    }
    const link = el("input", { id: "r-link", readonly: true, size: 36, hidden: true });
    return el("div", { class: "toolbar" },
      button("Edit", () => { R.editing = true; R.form = null; R.draftName = d.name; R.draft = d.blocks.map((b) => ("markdown" in b ? { markdown: b.markdown } : { panel: { ...b.panel } })); render(); }, "edit text and panels", "r-edit"),
      el("a", { id: "r-export", href: `${SRC.base}/dashboards/${enc(d.id)}/export.html`, download: "" }, "Export HTML"),
      button("Share link", async () => {
        try {
          const made = await RT.send("POST", `${SRC.base}/dashboards/${enc(d.id)}/shares`, {});
          link.hidden = false; link.value = location.origin + made.url; link.select();
          say("read-only link made: copy it now (it is not shown again)");
        } catch (e) { say(e.message, true); }
      }, "a read-only link to this report", "r-share"),
      link, button("links", () => RT.shareLinks($("r-shares"), `${SRC.base}/dashboards/${enc(d.id)}/shares`, say).catch((e) => say(e.message, true)),
        "the working share links, to revoke", "r-links"),
      RT.twoStep("Delete", "Really delete?", async () => {
        try { await RT.send("DELETE", `${SRC.base}/dashboards/${enc(d.id)}`); location.assign(`/projects/${enc(d.project)}`); } catch (e) { say(e.message, true); }
      }, { id: "r-delete", title: "delete this report and its share links" }),
      el("a", { href: `/projects/${enc(d.project)}`, class: "small" }, "workspace"),
      el("span", { id: "r-status", class: "small muted" }), el("span", { id: "r-shares" }));
  }

  async function save() {
    try {
      R.d = await RT.send("PUT", `${SRC.base}/dashboards/${enc(R.d.id)}`, { name: R.draftName, layout: R.d.layout, blocks: R.draft, version: R.d.version });
      R.editing = false;
      await resolve(null);
      render();
      say(`saved (version ${R.d.version})`);
      await drawAll();
    } catch (e) { say(e.message, true); }
  }

  function render() {
    const d = R.d, main = $("report");
    const when = d.updated_ns ? new Date(d.updated_ns / 1e6).toLocaleString() : "";
    const meta = [d.project, when && "updated " + when, d.updated_by && "by " + d.updated_by,
      SRC.mode === "shared" && "shared, read-only", SRC.mode === "offline" && "exported report"].filter(Boolean).join(" · ");
    RT.panels.purge(main); // every edit draws the page again: the old charts must let go (panels.js)
    main.replaceChildren(el("h1", { id: "r-title" }, d.name), el("p", { id: "r-meta", class: "muted small" }, meta));
    if (SRC.mode === "edit") main.append(toolbar());
    if (SRC.mode === "shared") main.append(el("div", { class: "toolbar" }, el("a", { id: "r-export", href: `${SRC.base}/export.html`, download: "" }, "Export HTML")));
    const blocks = el("div", { id: "r-blocks" });
    if (R.editing) R.draft.forEach((b, i) => blocks.append(editBlock(b, i)));
    else d.blocks.forEach((b, i) => blocks.append(viewBlock(b, i)));
    main.append(blocks);
    if (R.editing && R.form === "new") {
      main.append(panelForm(null, (p) => {
        // A line of one key keeps the report's older block shape.
        R.draft.push({ panel: RT.panels.kind(p) === "key" ? { key: p.key, source: p.source, log_y: p.log_y } : p });
        R.form = null; render();
      }));
    }
  }

  // What the panel blocks draw (again after a save: new regex panels).
  async function resolve(ws) {
    if (SRC.mode === "offline" || !R.d.blocks.some((b) => b.panel && RT.panels.typed(b.panel))) return;
    try { R.resolved = await SRC.resolve(R.d, ws); } catch (e) { say(e.message, true); $("error").textContent = e.message; }
  }

  async function main() {
    SRC = source();
    try {
      R.d = await SRC.dashboard();
      const ws = await SRC.workspace(R.d);
      R.runs = ws.runs; R.keys = ws.keys || []; RT.usePageRuns(ws.runs.map((r) => r.id));
      await resolve(ws);
      R.runs.forEach((r) => R.byId.set(r.id, r));
    } catch (e) { $("error").textContent = e.message; document.body.dataset.ready = "1"; return; }
    document.title = R.d.name + " · rltrack report";
    RT.header([[R.d.project, SRC.mode === "edit" ? `/projects/${enc(R.d.project)}` : null], [R.d.name, null]]);
    render();
    await drawAll();
    document.body.dataset.ready = "1";
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", main);
  else main();
})();
