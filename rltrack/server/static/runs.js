// Runs table of one project: filters, server-side sort, selection for the compare view.
"use strict";
(() => {
  const project = decodeURIComponent(location.pathname.split("/")[2] || "");
  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  let sort = params.get("sort") || "-created";
  const selected = new Set();
  $("title").textContent = project;
  document.title = project + " · rltrack";
  RT.header([[project, null]]);
  for (const id of ["q", "state", "group", "tags", "filter"]) if (params.get(id)) $(id).value = params.get(id);

  const columnKeys = (runs, field) => {
    const counts = {};
    runs.forEach((r) => Object.keys(RT.flat(r[field])).forEach((k) => { if (!k.startsWith("_")) counts[k] = (counts[k] || 0) + 1; }));
    return Object.keys(counts).sort((a, b) => counts[b] - counts[a] || a.localeCompare(b)).slice(0, 8);
  };

  async function load() {
    const query = {
      project, sort, limit: 2000,
      q: $("q").value, state: $("state").value, group: $("group").value,
      tag: $("tags").value.split(",").map((s) => s.trim()).filter(Boolean),
      filter: $("filter").value.split(";").map((s) => s.trim()).filter(Boolean),
    };
    history.replaceState(null, "", "?" + RT.qs({ sort, q: query.q, state: query.state, group: query.group, tags: $("tags").value, filter: $("filter").value }));
    $("error").textContent = "";
    let data;
    try { data = await RT.json("/api/runs?" + RT.qs(query)); } catch (e) { $("error").textContent = e.message; return; }
    render(data);
  }

  function header(label, field) {
    const mark = sort === field ? " ▲" : sort === "-" + field ? " ▼" : "";
    return `<th data-sort="${RT.esc(field)}" title="sort by ${RT.esc(field)}">${RT.esc(label)}${mark}</th>`;
  }

  function render(data) {
    const runs = data.runs;
    const cfg = columnKeys(runs, "config"), sum = columnKeys(runs, "summary");
    $("count").textContent = `${data.total} runs` + (data.total > runs.length ? ` (first ${runs.length} shown)` : "");
    document.querySelector("#runs thead").innerHTML = "<tr><th><input type=checkbox id=all></th>" + header("name", "name") + header("state", "state") +
      header("group", "group") + "<th>tags</th>" + header("created", "created") + "<th>runtime</th>" +
      cfg.map((k) => header(k, "config." + k)).join("") + sum.map((k) => header(k, "summary." + k)).join("") + "</tr>";
    document.querySelector("#runs tbody").innerHTML = runs.map((r) => {
      const c = RT.flat(r.config), s = RT.flat(r.summary);
      return `<tr><td><input type=checkbox class=sel value="${RT.esc(r.id)}" ${selected.has(r.id) ? "checked" : ""}></td>
        <td><a href="/runs/${encodeURIComponent(r.id)}">${RT.esc(r.name)}</a> <span class="muted small">${RT.esc(r.id)}</span></td>
        <td>${RT.state(r.state)}</td><td>${RT.esc(r.group || "")}</td><td>${r.tags.map((t) => `<span class=pill>${RT.esc(t)}</span>`).join("")}</td>
        <td>${RT.time(r.created_ns)}</td><td>${RT.duration(r.created_ns, r.ended_ns)}</td>` +
        cfg.map((k) => `<td>${RT.esc(RT.fmt(c[k]))}</td>`).join("") + sum.map((k) => `<td>${RT.esc(RT.fmt(s[k]))}</td>`).join("") + "</tr>";
    }).join("") || `<tr><td colspan="7" class="muted">no runs match</td></tr>`;
    document.querySelectorAll("th[data-sort]").forEach((th) => th.addEventListener("click", () => {
      const f = th.dataset.sort; sort = sort === "-" + f ? f : "-" + f; load();
    }));
    document.querySelectorAll("input.sel").forEach((box) => box.addEventListener("change", () => {
      box.checked ? selected.add(box.value) : selected.delete(box.value); update();
    }));
    $("all").addEventListener("change", (e) => {
      document.querySelectorAll("input.sel").forEach((b) => { b.checked = e.target.checked; e.target.checked ? selected.add(b.value) : selected.delete(b.value); });
      update();
    });
    update();
  }
  function update() { $("compare").disabled = selected.size < 1; $("compare").textContent = `compare selected (${selected.size})`; }
  $("apply").addEventListener("click", load);
  document.querySelectorAll(".toolbar input").forEach((i) => i.addEventListener("keydown", (e) => { if (e.key === "Enter") load(); }));
  $("state").addEventListener("change", load);
  $("compare").addEventListener("click", () => { location.href = "/compare?" + RT.qs({ run: [...selected] }); });
  load();
})();
