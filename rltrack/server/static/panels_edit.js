// The form that adds or edits one typed panel (panels.js), on the project page and in the report editor.
//   RT.panelForm(panel | null, env) -> element
//     env: {keys: [logged keys], runs: [{id, name}], configKeys: [config keys], allowKey: offer "line (one key)",
//           mediaKeys: async () -> [keys], tableKeys: async (run) -> [keys], onSave(panel), onCancel()}
// The server validates what is saved (a bad regex or an unknown key is its message, shown by the caller).
"use strict";
(() => {
  const el = RT.el;
  const TYPES = [["regex", "line (keys matching a regex)"], ["compare", "compare table"], ["simreal", "sim vs real"],
    ["media", "media"], ["table", "table"]];
  const blank = (v) => (v === "" ? null : v);
  const stepOf = (v) => (v.trim() === "" ? null : Number(v));
  let uid = 0;

  function field(label, input, cls) { return el("label", { class: "pf-field " + (cls || "") }, label + " ", input); }
  function datalist(values) { const id = "pf-list-" + ++uid; return [id, el("datalist", { id }, values.map((v) => el("option", { value: v })))]; }
  function multi(cls, values, chosen) {
    const s = el("select", { class: cls, multiple: true, size: Math.min(6, Math.max(2, values.length)) },
      values.map((v) => el("option", { value: v, selected: chosen.includes(v) }, v)));
    return s;
  }
  const picked = (s) => [...s.selectedOptions].map((o) => o.value);

  RT.panelForm = function (panel, env) {
    const p = panel ? { ...panel } : {};
    const kind = panel ? RT.panels.kind(panel) : "regex";
    const type = el("select", { class: "pf-type", "aria-label": "panel type" },
      (env.allowKey ? [["key", "line (one key)"], ...TYPES] : TYPES).map(([v, t]) => el("option", { value: v }, t)));
    type.value = kind;
    const fields = el("span", { class: "pf-fields" });
    const title = el("input", { class: "pf-title", size: 20, maxlength: 200, placeholder: "title (optional)", value: p.title || "" });
    const save = el("button", { type: "button", class: "pf-save" }, panel ? "Apply" : "Add");
    const cancel = el("button", { type: "button", class: "pf-cancel" }, "Cancel");
    const form = el("div", { class: "panel-form" }, type, fields, save, cancel);
    let read = () => null;

    const [keyList, keyData] = datalist(env.keys);
    const runSelect = (value) => {
      const s = el("select", { class: "pf-run", "aria-label": "run" }, env.runs.map((r) => el("option", { value: r.id }, `${r.name} (${r.id})`)));
      if (value && !env.runs.some((r) => r.id === value)) s.prepend(el("option", { value }, value));
      if (value) s.value = value;
      return s;
    };
    const sourceAndLog = () => {
      const source = el("input", { class: "pf-source", size: 8, placeholder: "primary", value: p.source || "" });
      const log = el("select", { class: "pf-log", "aria-label": "y scale" }, el("option", { value: "" }, "page's y scale"),
        el("option", { value: "log" }, "log y"), el("option", { value: "linear" }, "linear y"));
      log.value = p.log_y === null || p.log_y === undefined ? "" : p.log_y ? "log" : "linear";
      return [source, log, () => ({ source: blank(source.value.trim()), log_y: log.value ? log.value === "log" : null })];
    };

    function build() {
      const k = type.value;
      if (k === "key") {
        const key = el("input", { class: "pf-key", list: keyList, size: 24, value: p.key || "" });
        const [source, log, opts] = sourceAndLog();
        fields.replaceChildren(keyData, field("key", key), field("source", source), log);
        read = () => ({ key: key.value.trim(), ...opts() });
      } else if (k === "regex") {
        const regex = el("input", { class: "pf-regex", size: 24, placeholder: "^train/", value: p.regex || "" });
        const [source, log, opts] = sourceAndLog();
        fields.replaceChildren(field("regex", regex), field("source", source), log, title);
        read = () => ({ type: "line", regex: regex.value, ...opts(), title: blank(title.value) });
      } else if (k === "compare") {
        const keys = multi("pf-keys", env.keys, p.keys || []);
        const config = multi("pf-config", env.configKeys, p.config || []);
        fields.replaceChildren(field("summary keys", keys), field("config (none picked = the varying ones)", config), title);
        read = () => ({ type: "compare", keys: picked(keys), config: picked(config).length ? picked(config) : null, title: blank(title.value) });
      } else if (k === "simreal") {
        const run = runSelect(p.run);
        const keys = multi("pf-keys", env.keys, p.keys || []);
        fields.replaceChildren(field("run", run), field("keys (none = the first 12 shared)", keys), title);
        read = () => ({ type: "simreal", run: run.value, keys: picked(keys).length ? picked(keys) : null, title: blank(title.value) });
      } else if (k === "media") {
        const key = el("input", { class: "pf-key", size: 20, value: p.key || "" });
        const step = el("input", { class: "pf-step", size: 6, placeholder: "latest", value: p.step ?? "" });
        fields.replaceChildren(field("media key", key), field("step", step), title);
        env.mediaKeys().then((ks) => { const [id, list] = datalist(ks); key.setAttribute("list", id); fields.append(list); }).catch(() => {});
        read = () => ({ type: "media", key: key.value.trim(), step: stepOf(step.value), title: blank(title.value) });
      } else {
        const run = runSelect(p.run);
        const key = el("input", { class: "pf-key", size: 20, value: p.key || "" });
        const step = el("input", { class: "pf-step", size: 6, placeholder: "latest", value: p.step ?? "" });
        const fill = () => env.tableKeys(run.value).then((ks) => {
          const [id, list] = datalist(ks);
          key.setAttribute("list", id); fields.append(list);
          if (!key.value && ks.length) key.value = ks[0];
        }).catch(() => {});
        run.addEventListener("change", fill);
        fields.replaceChildren(field("run", run), field("table key", key), field("step", step), title);
        fill();
        read = () => ({ type: "table", run: run.value, key: key.value.trim(), step: stepOf(step.value), title: blank(title.value) });
      }
    }
    type.addEventListener("change", () => { for (const f of Object.keys(p)) if (f !== "title") delete p[f]; build(); });
    save.addEventListener("click", () => env.onSave(read()));
    cancel.addEventListener("click", () => env.onCancel());
    build();
    return form;
  };
})();
