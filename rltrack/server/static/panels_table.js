// The table panel of workspaces and reports: one rltrack.Table of one run at one step, sorted and paged on the
// server as on the run page (tables.js); in an exported report the first page, as logged, from embedded data.
//   RT.panelTable(body, note, panel, ctx) -> Promise (ctx as in panels.js)
"use strict";
(() => {
  const PAGE_ROWS = 50;
  const TABLE_FILE = /\.(parquet|jsonl)$/;
  const stepOf = (e) => (typeof e.step_text === "string" ? e.step_text : String(e.step));

  // One cell: text, or a media cell's image/video/link (its url a run file, or a data: URI offline).
  function cell(value, type) {
    if (value === null || value === undefined) return "";
    if (type !== "media" || typeof value !== "object") {
      return typeof value === "boolean" ? String(value) : typeof value === "object" ? JSON.stringify(value) : String(value);
    }
    const caption = value.caption || "";
    if (!value.url) return RT.el("span", { class: "muted small" }, value.note || `${value.kind} not available`);
    if (value.kind === "image") return RT.el("img", { class: "thumb", src: value.url, alt: caption || "image", title: caption || null });
    if (value.kind === "video") return RT.el("video", { class: "thumb", src: value.url, controls: true, preload: "metadata", title: caption || null });
    return RT.el("a", { href: value.url, download: "", rel: "noopener" }, caption || value.kind);
  }

  RT.panelTable = async function (body, note, p, ctx) {
    const entries = (await ctx.src.tables(p.run)).filter((e) => e.key === p.key && TABLE_FILE.test(String(e.path)) && !e.plot);
    if (!entries.length) { body.replaceChildren(); note.textContent = `run ${p.run} logged no table under ${p.key}`; return; }
    const g = { step: p.step === null || p.step === undefined ? stepOf(entries[entries.length - 1]) : String(p.step), sort: null, order: "asc", offset: 0, asked: 0 };
    const head = RT.el("thead"), rows = RT.el("tbody"), info = RT.el("span", { class: "rows-info" });
    const prev = RT.el("button", { type: "button", class: "prev", "aria-label": "previous rows" }, "‹");
    const next = RT.el("button", { type: "button", class: "next", "aria-label": "next rows" }, "›");
    const meta = RT.el("p", { class: "muted small" });
    const pager = RT.el("div", { class: "pager small muted" }, prev, " ", info, " ", next);
    body.replaceChildren(meta, RT.el("div", { class: "table-wrap" }, RT.el("table", { class: "logged" }, head, rows)), pager);
    const live = !ctx.src.offline;
    prev.hidden = next.hidden = !live;

    async function load() {
      const e = entries.filter((x) => stepOf(x) === g.step).pop();
      if (!e) { note.textContent = `no table ${p.key} at step ${g.step}`; return; }
      if (e.error) { note.replaceChildren(RT.el("span", { class: "err" }, e.error)); return; }
      meta.textContent = [e.caption, `step ${stepOf(e)}`, `${Number(e.rows).toLocaleString()} rows × ${e.cols} columns`].filter(Boolean).join(" · ");
      const ask = ++g.asked;
      const d = await ctx.src.tableRows(p.run, { key: p.key, step: g.step, sort: g.sort, order: g.sort ? g.order : null, offset: g.offset, limit: PAGE_ROWS });
      if (ask !== g.asked) return; // a later click's answer wins
      for (const [r, c, text] of d.exact_ints || []) d.rows[r][c] = text; // an int past 2**53, as stored
      head.replaceChildren(RT.el("tr", {}, d.columns.map((name, i) => {
        const sorted = g.sort === name;
        const th = RT.el("th", { dataset: { col: name }, "aria-sort": sorted ? (g.order === "desc" ? "descending" : "ascending") : "none",
          title: live ? `${name} (${d.types[i]}): click to sort` : `${name} (${d.types[i]})` },
        name, RT.el("span", { class: "arrow" }, sorted ? (g.order === "desc" ? " ▼" : " ▲") : ""));
        if (live) {
          th.addEventListener("click", () => {
            if (g.sort === name) g.order = g.order === "asc" ? "desc" : "asc"; else { g.sort = name; g.order = "asc"; }
            g.offset = 0;
            load().catch((err) => note.replaceChildren(RT.el("span", { class: "err" }, err.message)));
          });
        }
        return th;
      })));
      rows.replaceChildren(...d.rows.map((cells, r) => RT.el("tr", { dataset: { index: String(d.index ? d.index[r] : r) } },
        cells.map((c, i) => RT.el("td", { class: d.types[i] === "number" ? "num" : null }, cell(c, d.types[i]))))));
      const a = d.total ? d.offset + 1 : 0, b = d.offset + d.rows.length;
      info.textContent = `rows ${a.toLocaleString()}–${b.toLocaleString()} of ${Number(d.total).toLocaleString()}` + (live ? "" : " (as logged; open the report on the server for the rest)");
      g.page = d.limit || PAGE_ROWS;
      prev.disabled = d.offset === 0;
      next.disabled = b >= d.total;
      body.dataset.loaded = `${g.step}|${g.sort || ""}|${g.order}|${g.offset}`;
    }
    const go = (delta) => { g.offset = Math.max(0, g.offset + delta * (g.page || PAGE_ROWS)); load().catch((err) => note.replaceChildren(RT.el("span", { class: "err" }, err.message))); };
    prev.addEventListener("click", () => go(-1));
    next.addEventListener("click", () => go(1));
    await load();
  };
})();
