"""The live panel in a REAL notebook (nbclient + ipykernel) under what users do to it.

Hostile HTML keys, 10,000 keys, NaN/inf and an int past float's range, a kernel interrupt (SIGINT, as
Jupyter's stop button sends) in the middle of a training loop, ``finish()`` twice and ``init()`` twice: the
panel keeps updating, shows what was logged, never crashes the kernel, and no panel thread outlives its run.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("anywidget")

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
HOSTILE = "<img src=x onerror=alert(1)>"


def _execute(cells: list[str], tmp_path: Path) -> Any:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(textwrap.dedent(c)) for c in cells]
    client = nbclient.NotebookClient(
        nb, timeout=90, kernel_name="python3", store_widget_state=True, allow_errors=True,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    return nb


def _printed(cell: Any) -> Any:
    text = "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream"
                   and o.get("name") == "stdout")
    return json.loads(text.strip().splitlines()[-1])


def _views(cell: Any) -> list[str]:
    return [o["data"][WIDGET_VIEW]["model_id"] for o in cell.outputs
            if o.get("output_type") == "display_data" and WIDGET_VIEW in o.get("data", {})]


def test_the_panel_survives_hostile_values_interrupts_and_reinit(tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    nb = _execute([
        f"""
        import json, math, os, signal, threading, time
        import rltrack
        from rltrack._nbpanel import panel_of
        os.environ.pop("RLTRACK_QUIET", None)
        panels = lambda: sorted(t.name for t in threading.enumerate() if t.name.startswith("rltrack-panel-"))
        run = rltrack.init(dir={store!r}, id="hostile", project="nb", system_metrics=False)
        # An int past float's range sits in the writer's queue: the panel's tick must not die on it.
        t_end, i = time.perf_counter() + 1.5, 0
        while time.perf_counter() < t_end:
            run.log({{{HOSTILE!r}: float(i), "big": 10**400, "nan": math.nan, "ninf": -math.inf, "neg": -10**400}})
            i += 1
        time.sleep(0.6)
        panel = panel_of(run)
        print(json.dumps({{"updates": panel.updates, "errors": panel.errors, "names": panel.widget.names,
                          "values": panel.widget.values, "alive": panels()}}))
        """,
        """
        many = rltrack.init(dir=STORE, id="many", project="nb", system_metrics=False)
        many.log({f"k{i:05d}": float(i) for i in range(10_000)})
        many.flush()
        start = time.perf_counter()
        for _ in range(20):
            panel_of(many).update()
        cost = (time.perf_counter() - start) / 20
        print(json.dumps({"names": panel_of(many).widget.names, "cost_s": cost, "alive": panels()}))
        """.replace("STORE", repr(store)),
        """
        # Jupyter's stop button: SIGINT to the kernel while a training loop runs.
        threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()
        step = 0
        while True:
            many.log({"k00000": float(step)})
            step += 1
        """,
        """
        ticks = panel_of(many).updates
        time.sleep(0.8)
        alive_after_interrupt = panels()
        still_ticking = panel_of(many).updates > ticks
        run.finish()
        run.finish()  # twice: nothing more happens
        many.finish()
        print(json.dumps({"alive_after_interrupt": alive_after_interrupt, "still_ticking": still_ticking,
                          "status": [panel_of(run).widget.status, panel_of(many).widget.status],
                          "values": panel_of(run).widget.values, "alive": panels()}))
        """,
        f"""
        first = rltrack.init(dir={store!r}, id="first", project="nb", system_metrics=False)
        first.log({{"x": 1.0}})
        second = rltrack.init(dir={store!r}, id="second", project="nb", system_metrics=False, reinit=True)
        second.log({{"x": 2.0}})
        between = panels()
        second.finish()
        print(json.dumps({{"between": between, "first": panel_of(first).widget.status, "alive": panels(),
                          "states": [rltrack.Api({store!r}).run(r).state for r in ("first", "second")]}}))
        """,
    ], tmp_path)
    hostile, many, interrupted, after, reinit = nb.cells

    live = _printed(hostile)
    assert live["errors"] == 0 and live["updates"] >= 3  # it kept ticking with 10**400 in the queue
    assert live["names"] == [HOSTILE, "big", "nan", "ninf", "neg"]
    assert {k: live["values"][k] for k in ("big", "nan", "ninf", "neg")} == {
        "big": "inf", "nan": "nan", "ninf": "-inf", "neg": "-inf"}
    assert live["alive"] == ["rltrack-panel-hostile"]

    wide = _printed(many)
    assert wide["names"] == [f"k{i:05d}" for i in range(6)]
    assert wide["cost_s"] < 0.05, f"one panel update with 10,000 keys took {wide['cost_s']:.3f} s"
    assert wide["alive"] == ["rltrack-panel-hostile", "rltrack-panel-many"]

    (error,) = [o for o in interrupted.outputs if o.get("output_type") == "error"]
    assert error["ename"] == "KeyboardInterrupt"
    done = _printed(after)  # the kernel lived on and the next cell ran
    assert done["still_ticking"] and done["alive_after_interrupt"] == ["rltrack-panel-hostile", "rltrack-panel-many"]
    assert done["status"] == ["finished", "finished"] and done["alive"] == []
    assert done["values"]["big"] == "inf" and done["values"][HOSTILE] >= 0

    again = _printed(reinit)
    assert again["between"] == ["rltrack-panel-second"]  # reinit=True finished the first run and froze its panel
    assert again["first"] == "finished" and again["alive"] == [] and again["states"] == ["finished", "finished"]
    assert len(_views(reinit)) == 2

    # The saved widget state: the hostile key is data (drawn with textContent), the values as shown.
    states = nb.metadata["widgets"][WIDGET_STATE]["state"]
    (view,) = _views(hostile)
    state = states[view]["state"]
    assert state["status"] == "finished" and state["names"][0] == HOSTILE and state["values"]["big"] == "inf"
    assert "innerHTML" not in state["_esm"]


def test_show_percent_encodes_the_run_id_it_is_given(tmp_path: Path) -> None:
    import urllib.request

    import rltrack
    from rltrack.notebook import show

    store = tmp_path / "store"
    rltrack.init(dir=store, id="r1", project="nb", system_metrics=False, quiet=True).finish()
    embed = show("../api/projects", dir=store)
    assert embed.url.endswith("/runs/..%2Fapi%2Fprojects")
    assert 'src="http://127.0.0.1:' in embed._repr_html_() and "../api" not in embed._repr_html_()
    with urllib.request.urlopen(show("r1", dir=store).url, timeout=10) as page:
        assert page.status == 200


def test_keys_named_like_object_properties_draw_as_rows_in_a_browser() -> None:
    """The widget's JavaScript in chromium, with keys that name Object.prototype's members and no values yet."""
    import shutil

    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    playwright = pytest.importorskip("playwright.sync_api")
    from rltrack._nbpanel import _ESM

    names = ["constructor", "toString", "__proto__", "hasOwnProperty", "loss"]
    # As a front end gets them: JSON text (the values and sparklines of a key logged this very tick are absent).
    state = json.dumps({"run_name": "r", "run_id": "a1", "project": "p", "url": "", "status": "running", "step": 3,
                        "names": names, "values": {"loss": 0.5, "__proto__": 2.0},
                        "spark": {"loss": [1.0, 0.5], "__proto__": [1.0, 2.0]}})
    render = """async ([esm, text]) => {
        const data = JSON.parse(text);
        const mod = await import(URL.createObjectURL(new Blob([esm], {type: "text/javascript"})));
        const model = {get: (k) => data[k], on() {}, off() {}};
        const el = document.createElement("div");
        document.body.appendChild(el);
        mod.default.render({model, el});
    }"""
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.evaluate(render, [_ESM, state])
            rows = page.eval_on_selector_all("tr", "rs => rs.map(r => [r.cells[0].textContent, r.cells[1].textContent,"
                                                   " r.querySelectorAll('polyline').length])")
        finally:
            browser.close()
    assert errors == []
    assert rows == [["constructor", "", 0], ["toString", "", 0], ["__proto__", "2", 1], ["hasOwnProperty", "", 0],
                    ["loss", "0.5", 1]]
