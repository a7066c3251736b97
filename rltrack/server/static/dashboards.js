// Saved workspaces on the project page: Open / Save / Save as… / New report / Share link, stored on the server
// (/api/projects/<p>/dashboards). A save names the version it edits: if a teammate saved since, the server
// answers 409 naming them, and nothing is overwritten. Not drawn on a share link's read-only page.
"use strict";
(() => {
  const enc = encodeURIComponent;
  const $ = (id) => document.getElementById(id);
  const el = RT.el;

  // A browser login's writes carry the session's CSRF token (the server's accounts gate asks for it).
  function headers() {
    const h = { "content-type": "application/json" };
    const c = document.cookie.split("; ").find((x) => x.startsWith("rltrack_csrf="));
    if (c) h["x-csrf-token"] = decodeURIComponent(c.slice("rltrack_csrf=".length));
    return h;
  }
  async function send(method, url, body) {
    const r = await fetch(url, { method, headers: headers(), body: JSON.stringify(body || {}) });
    const out = await r.json().catch(() => ({ detail: r.statusText }));
    if (!r.ok) throw Object.assign(new Error(out.detail || r.statusText), { status: r.status });
    return out;
  }
  RT.send = send;

  // A button that asks once more before it acts (no confirm() dialog: a second click within 4 s).
  RT.twoStep = function (text, again, act, attrs) {
    const b = el("button", { type: "button", ...attrs }, text);
    let armed = null;
    b.addEventListener("click", async () => {
      if (!armed) { b.textContent = again; armed = setTimeout(() => { armed = null; b.textContent = text; }, 4000); return; }
      clearTimeout(armed); armed = null; b.textContent = text;
      await act();
    });
    return b;
  };

  // The working share links of a dashboard (ids, who made them, when; never the tokens), each revocable.
  RT.shareLinks = async function (box, url, say) {
    const { shares } = await RT.json(url);
    const live = shares.filter((s) => !s.revoked_ns);
    box.replaceChildren(...live.map((s) => el("span", { class: "share-item small", "data-share": s.id },
      `link ${s.id} · ${new Date(s.created_ns / 1e6).toLocaleString()}${s.created_by ? " · " + s.created_by : ""} `,
      RT.twoStep("revoke", "really revoke?", async () => {
        try { await send("DELETE", `${url}/${enc(s.id)}`); say("link revoked: it answers 404 now"); await RT.shareLinks(box, url, say); } catch (e) { say(e.message, true); }
      }, { class: "link revoke", title: "stop this link from working" }))));
    if (!live.length) box.append(el("span", { class: "small muted" }, "no working share link"));
  };

  function init() {
    const S = window.WORKSPACE;
    if (!S || S.shared || $("dash")) return;
    const base = `/api/projects/${enc(S.project)}/dashboards`;
    const status = el("span", { id: "dash-status", class: "small muted" });
    const say = (text, bad) => { status.textContent = text; status.className = "small " + (bad ? "err" : "muted"); };
    const open = el("select", { id: "dash-open", title: "open a saved workspace or report" });
    const name = el("input", { id: "dash-name", size: 18, placeholder: "workspace name", maxlength: 200 });
    const save = el("button", { id: "dash-save", type: "button", title: "save over the workspace you opened" }, "Save");
    const saveAs = el("button", { id: "dash-save-as", type: "button", title: "save as a new workspace" }, "Save as…");
    const report = el("button", { id: "dash-report", type: "button", title: "a report of these runs with text and panels" }, "New report");
    const share = el("button", { id: "dash-share", type: "button", title: "a read-only link to the saved workspace" }, "Share link");
    const link = el("input", { id: "dash-link", readonly: true, size: 28, hidden: true, title: "read-only link: copy it now" });
    const links = el("button", { id: "dash-links", type: "button", class: "link", title: "the working share links, to revoke" }, "links");
    const shares = el("span", { id: "dash-shares" });
    const remove = RT.twoStep("Delete", "Really delete?", async () => {
      try {
        await send("DELETE", `${base}/${enc(S.saved.id)}`);
        current(null); shares.replaceChildren(); link.hidden = true;
        say("deleted (its share links no longer work)");
        await list();
      } catch (e) { say(e.message, true); }
    }, { id: "dash-delete", title: "delete the saved workspace and its share links" });
    const box = el("span", { id: "dash", class: "dash" }, open, name, save, saveAs, report, share, links, remove, link, status, shares);
    document.querySelector(".toolbar").prepend(box);

    function current(d) {
      S.saved = d;
      name.value = d ? d.name : "";
      save.disabled = !d; share.disabled = !d; links.disabled = !d; remove.disabled = !d;
      S.saveUrl();
    }
    async function list() {
      const { dashboards } = await RT.json(base);
      const group = (kind, label) => {
        const items = dashboards.filter((d) => d.kind === kind);
        return items.length ? el("optgroup", { label }, ...items.map((d) => el("option", { value: d.id, "data-kind": kind, "data-url": d.url },
          `${d.name}${d.updated_by ? " · " + d.updated_by : ""}`))) : null;
      };
      open.replaceChildren(el("option", { value: "" }, `open saved… (${dashboards.length})`), group("workspace", "workspaces"), group("report", "reports"));
      open.value = "";
    }
    open.addEventListener("change", async () => {
      const option = open.selectedOptions[0];
      if (!option || !option.value) return;
      if (option.dataset.kind === "report") { location.assign(option.dataset.url); return; }
      try {
        const d = await RT.json(`${base}/${enc(option.value)}`);
        location.assign(`/projects/${enc(S.project)}?d=${enc(d.id)}&w=${enc(JSON.stringify(d.layout))}`);
      } catch (e) { say(e.message, true); }
    });
    save.addEventListener("click", async () => {
      if (!S.saved) return;
      try {
        current(await send("PUT", `${base}/${enc(S.saved.id)}`, { name: name.value || S.saved.name, layout: S.L, version: S.saved.version }));
        say(`saved (version ${S.saved.version})`);
        await list();
      } catch (e) { say(e.message, true); }
    });
    saveAs.addEventListener("click", async () => {
      const title = name.value.trim();
      if (!title) { say("give the workspace a name first", true); name.focus(); return; }
      try {
        current(await send("POST", base, { kind: "workspace", name: title, layout: S.L }));
        say("saved as a new workspace");
        await list();
      } catch (e) { say(e.message, true); }
    });
    report.addEventListener("click", async () => {
      // The pinned panels (every type), then the first key panels the workspace shows open (folded sections
      // left out), with their source and y scale.
      const keys = S.shownKeys().map((k) => k.key).filter((k) => !S.L.collapsed.includes(RT.prefix(k))).slice(0, 4);
      const opts = (key) => S.L.panels.find((p) => RT.panels.kind(p) === "key" && p.key === key) || {};
      const title = name.value.trim() || `${S.project} report`;
      const pinned = S.L.panels.filter((p) => RT.panels.typed(p)).map((p) => ({ panel: p }));
      const blocks = [{ markdown: `Notes on these runs.` }, ...pinned, ...keys.map((key) => ({ panel: { key, source: opts(key).source ?? null, log_y: opts(key).log_y ?? null } }))];
      try {
        const d = await send("POST", base, { kind: "report", name: title, layout: S.L, blocks });
        location.assign(d.url);
      } catch (e) { say(e.message, true); }
    });
    share.addEventListener("click", async () => {
      if (!S.saved) return;
      try {
        const made = await send("POST", `${base}/${enc(S.saved.id)}/shares`, {});
        link.hidden = false;
        link.value = location.origin + made.url;
        link.select();
        say("read-only link made: copy it now (it is not shown again)");
      } catch (e) { say(e.message, true); }
    });
    links.addEventListener("click", () => {
      if (S.saved) RT.shareLinks(shares, `${base}/${enc(S.saved.id)}/shares`, say).catch((e) => say(e.message, true));
    });
    current(S.saved);
    list().catch((e) => say(e.message, true));
  }

  if (window.WORKSPACE && window.WORKSPACE.L) init();
  else document.addEventListener("rltrack:workspace", init, { once: true });
})();
