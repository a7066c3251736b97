// The project page's "Pinned" section: the layout's typed panels (panels.js) in layout order, above the
// per-key sections, with Add panel / edit / move / remove (not on a share link: it is read-only). A change
// goes into the layout (S.L.panels, so the URL's ?w= and saved workspaces hold it) and is checked by the
// server, which also says which keys a regex panel matches; a refused change is undone and its message shown.
//   RT.pinned.start(S) once the workspace is loaded; RT.pinned.redraw(refetch) when runs or options change;
//   RT.pinned.pin(key, opts) pins one key's chart.
"use strict";
(() => {
  const el = RT.el;
  const $ = (id) => document.getElementById(id);
  const X = { S: null, cards: [] };
  const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

  const typedIndexes = () => X.S.L.panels.map((p, i) => [p, i]).filter(([p]) => RT.panels.typed(p));
  // The server's word on layout panel i (the workspace answer's panels are in layout order): its keys, or an error.
  const resolvedOf = (i) => (X.S.resolved || [])[i] || { keys: [] };
  // Series the regex panels fetched, by query. An option change (smoothing, log scale, grouping) redraws them
  // from these instead of asking again: the smoothing slider's every input event fetched each panel's every key
  // (30 moves over 12 panels of 2 keys: 720 requests). Emptied when the data may differ (refetch, a change of
  // panels), and bounded.
  let held = new Map();
  const HELD_MAX = 400;
  const heldSource = (src) => ({
    ...src,
    series: (...args) => {
      const k = JSON.stringify(args);
      if (!held.has(k)) {
        if (held.size >= HELD_MAX) held = new Map();
        held.set(k, src.series(...args).catch((e) => { held.delete(k); throw e; }));
      }
      return held.get(k);
    },
  });
  const ctx = (p, i) => ({ src: heldSource(X.S.panelSource()), ids: X.S.visibleIds(), byId: X.S.byId, layout: X.S.L, resolved: resolvedOf(i) });
  const say = (text, bad) => { const s = $("pinned-status"); s.textContent = text; s.className = "small " + (bad ? "err" : "muted"); };

  function env(onSave) {
    const S = X.S;
    const flat = new Set();
    S.runs.forEach((r) => Object.keys(RT.flat(r.config)).forEach((k) => flat.add(k)));
    return {
      keys: S.keys.map((k) => k.key).filter((k) => !k.startsWith("_")),
      runs: S.runs.map((r) => ({ id: r.id, name: r.name })),
      configKeys: [...flat].sort(),
      allowKey: false,
      // Media and table keys are not in the workspace's key list: the visible runs' own lists name them.
      mediaKeys: async () => {
        const lists = await Promise.all(S.visibleIds().slice(0, 20).map((id) => RT.json(`/api/runs/${encodeURIComponent(id)}/media`).catch(() => [])));
        return [...new Set(lists.flat().filter((m) => m.kind !== "table").map((m) => m.key))].sort();
      },
      tableKeys: async (run) => [...new Set((await RT.json(`/api/runs/${encodeURIComponent(run)}/tables`)).filter((e) => !e.plot).map((e) => e.key))].sort(),
      onSave, onCancel: () => { $("pinned-form").replaceChildren(); },
    };
  }

  // A new list of panels: the server checks it (and resolves regex keys); refused, the old list stays.
  async function commit(panels, done) {
    const S = X.S, before = S.L.panels;
    S.L.panels = panels;
    try {
      await S.refetchWorkspace();
    } catch (e) {
      S.L.panels = before;
      say(e.message, true);
      return false;
    }
    S.saveUrl();
    held = new Map();
    say(done);
    $("pinned-form").replaceChildren();
    render();
    await drawAll();
    return true;
  }

  function tools(p, i) {
    const S = X.S;
    const move = (to) => {
      const list = [...S.L.panels];
      const order = typedIndexes().map(([, j]) => j);
      const at = order.indexOf(i), other = order[at + to];
      if (other === undefined) return;
      [list[i], list[other]] = [list[other], list[i]];
      commit(list, "moved");
    };
    const b = (text, title, act, cls) => { const x = el("button", { type: "button", class: "link " + (cls || ""), title }, text); x.addEventListener("click", act); return x; };
    return el("span", { class: "ptools" },
      b("↑", "move up", () => move(-1), "p-up"), b("↓", "move down", () => move(1), "p-down"),
      b("edit", "edit this panel", () => {
        $("pinned-form").replaceChildren(RT.panelForm(p, env((np) => commit(S.L.panels.map((q, j) => (j === i ? np : q)), "panel changed"))));
      }, "p-edit"),
      b("remove", "remove this panel", () => commit(S.L.panels.filter((_, j) => j !== i), "panel removed"), "p-remove"));
  }

  function render() {
    const list = typedIndexes();
    const root = $("pinned");
    X.cards = list.map(([p, i]) => {
      const c = RT.panels.card(p, X.S.shared ? null : tools(p, i));
      c.card.dataset.index = String(i);
      return { p, i, card: c.card };
    });
    RT.panels.purge(root); // the old cards' charts (see panels.js)
    root.replaceChildren(...X.cards.map((c) => c.card));
    $("pinned-box").dataset.count = String(list.length);
    $("pinned-box").hidden = X.S.shared && !list.length;
  }

  // The first EAGER panels draw at once (the page is ready when they are); the rest of a long list (up to 100)
  // draw as they come near the screen, and again when they come back after a change (as the key panels do).
  const EAGER = 12;
  let observer = null;
  async function drawAll(onlyLines) {
    observer?.disconnect();
    observer = new IntersectionObserver((entries) => {
      for (const e of entries) {
        const c = X.cards.find((x) => x.card === e.target);
        if (e.isIntersecting && c && c.stale) { c.stale = false; observer.unobserve(c.card); RT.panels.draw(c.card, c.p, ctx(c.p, c.i)); }
      }
    }, { rootMargin: "600px 0px" });
    const due = X.cards.filter((c) => !onlyLines || RT.panels.kind(c.p) === "regex");
    due.forEach((c, n) => { c.stale = n >= EAGER; });
    X.cards.forEach((c) => { if (c.stale) observer.observe(c.card); }); // undrawn ones outside `due` stay watched
    await Promise.all(due.filter((c) => !c.stale).map((c) => RT.panels.draw(c.card, c.p, ctx(c.p, c.i))));
  }

  X.start = async function (S) {
    X.S = S;
    if (!S.shared) {
      const add = el("button", { type: "button", id: "add-panel", title: "a compare table, sim vs real, media, a table, or a line chart of a regex's keys" }, "Add panel");
      add.addEventListener("click", () => {
        $("pinned-form").replaceChildren(RT.panelForm(null, env((np) => commit([...S.L.panels, np], "panel added"))));
      });
      $("pinned-tools").prepend(add);
    }
    render();
    X.started = true;
    await drawAll();
  };
  // Other runs shown: a regex panel's keys are those the shown runs logged, so the server resolves them again first.
  let asked = 0;
  X.redraw = async function (refetch) {
    if (!X.started) return;
    if (refetch) held = new Map();
    if (refetch && X.cards.some((c) => RT.panels.kind(c.p) === "regex")) {
      const ask = ++asked;
      try { await X.S.refetchWorkspace(); } catch (e) { say(e.message, true); }
      if (ask !== asked) return;
    }
    await drawAll(!refetch);
  };
  X.pin = function (key, opts) {
    const p = { type: "line", regex: "^" + escapeRe(key) + "$", source: opts.source ?? null, log_y: opts.log_y ?? null, title: key };
    commit([...X.S.L.panels, p], `pinned ${key}`);
  };
  RT.pinned = X;
})();
