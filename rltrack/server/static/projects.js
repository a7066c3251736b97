// Projects: each links to its workspace (charts of every run) and its runs table.
"use strict";
(async () => {
  const tbody = document.querySelector("#projects tbody");
  const td = (...kids) => { const c = document.createElement("td"); c.append(...kids); return c; };
  const link = (href, text) => { const a = document.createElement("a"); a.setAttribute("href", href); a.textContent = text; return a; };
  const note = (text, cls) => { const c = td(text); c.colSpan = 4; c.className = cls; const r = document.createElement("tr"); r.append(c); return r; };
  try {
    const projects = await RT.json("/api/projects");
    tbody.replaceChildren(...projects.map((p) => {
      const base = "/projects/" + encodeURIComponent(p.name);
      const row = document.createElement("tr");
      const state = document.createElement("span");
      if (p.running) { state.className = "state running"; state.textContent = "running"; }
      row.append(
        td(link(base, p.name), " ", link(base + "/runs", "runs table")),
        td(`${p.runs}`), td(...(p.running ? [state, " " + p.running] : [])), td(RT.time(p.last_created_ns)));
      return row;
    }));
    if (!projects.length) tbody.append(note("no runs yet: log one with rltrack.init()", "muted"));
  } catch (e) { tbody.replaceChildren(note(e.message, "err")); }
  document.body.dataset.ready = "1";
})();
