"""The live panel in a REAL notebook (nbclient + ipykernel), and no panel anywhere else."""

from __future__ import annotations

import json
import subprocess
import sys
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
HOSTILE = "<img src=x onerror=alert(1)>\"&'"
STEPS = 3000


def _execute(cells: list[str], tmp_path: Path) -> Any:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(textwrap.dedent(c)) for c in cells]
    client = nbclient.NotebookClient(
        nb, timeout=60, kernel_name="python3", store_widget_state=True,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    return nb


def _outputs(cell: Any, kind: str) -> list[Any]:
    return [o["data"][kind] for o in cell.outputs if o.get("output_type") in ("display_data", "execute_result")
            and kind in o.get("data", {})]


def test_panel_updates_while_logging_freezes_at_finish_and_the_run_renders(tmp_path: Path) -> None:
    store = tmp_path / "store"
    nb = _execute([
        f"""
        import json, os, time
        import rltrack
        from rltrack._nbpanel import panel_of
        os.environ.pop("RLTRACK_QUIET", None)
        run = rltrack.init(dir={str(store)!r}, name={HOSTILE!r}, project="nb", system_metrics=False)
        dashboard = rltrack.show(run)  # a real dashboard serving the store, started after init(): the panel links it
        # A training loop that lasts about a second, so the panel's timer fires while it runs.
        t_end, i = time.perf_counter() + 1.2, 0
        while time.perf_counter() < t_end or i < {STEPS}:
            run.log({{"loss": 1.0 / (i + 1), "reward": float(i), "_hidden": 1.0}})
            i += 1
        last = i - 1
        """,
        """
        panel = panel_of(run)
        print(json.dumps({"updates": panel.updates, "status": panel.widget.status, "names": panel.widget.names}))
        """,
        "run.finish()\nprint(json.dumps({'last': last, 'url': dashboard.url}))",
        "run",
        f"""
        quiet = rltrack.init(dir={str(store)!r}, quiet=True, system_metrics=False)
        quiet.log({{"x": 1.0}})
        quiet.finish()
        os.environ["RLTRACK_QUIET"] = "1"
        hushed = rltrack.init(dir={str(store)!r}, system_metrics=False)
        hushed.finish()
        print(panel_of(quiet), panel_of(hushed))
        """,
    ], tmp_path)
    init_cell, live_cell, finish_cell, render_cell, quiet_cell = nb.cells

    # init() showed a widget in its own cell.
    (view,) = _outputs(init_cell, WIDGET_VIEW)
    # While the cell ran, the background timer updated the panel (not log(): it never calls it).
    live = json.loads(live_cell.outputs[-1]["text"])
    assert live["updates"] >= 2 and live["status"] == "running"
    assert live["names"] == ["loss", "reward"]
    finished = json.loads(finish_cell.outputs[-1]["text"])
    last, url = finished["last"], finished["url"]
    assert url.startswith("http://127.0.0.1:")
    assert last >= STEPS - 1

    # The widget state saved in the notebook holds the run and its final values.
    states = nb.metadata["widgets"][WIDGET_STATE]["state"]
    state = states[view["model_id"]]["state"]
    assert state["run_name"] == HOSTILE and state["project"] == "nb" and state["status"] == "finished"
    assert state["url"] == url
    assert state["values"] == {"loss": 1.0 / (last + 1), "reward": float(last)}
    assert state["step"] == last
    assert len(state["spark"]["loss"]) >= 2 and state["spark"]["reward"][-1] == float(last)
    assert "textContent" in state["_esm"] and "innerHTML" not in state["_esm"]

    # `run` as the last expression: the HTML card, name escaped, plus the same live widget.
    (card,) = _outputs(render_cell, "text/html")
    assert "&lt;img src=x onerror=alert(1)&gt;&quot;&amp;&#x27;" in card
    assert "<img" not in card and f'href="{url}"' in card
    assert [v["model_id"] for v in _outputs(render_cell, WIDGET_VIEW)] == [view["model_id"]]

    # quiet=True and RLTRACK_QUIET show nothing.
    assert _outputs(quiet_cell, WIDGET_VIEW) == []
    assert quiet_cell.outputs[-1]["text"].strip() == "None None"


_SHELL = "from IPython.core.interactiveshell import InteractiveShell; InteractiveShell.instance()"


@pytest.mark.parametrize(
    ("prelude", "watched"),
    [
        ("", ("anywidget", "ipywidgets", "rltrack._nbpanel", "comm", "IPython")),  # plain python
        (_SHELL, ("anywidget", "ipywidgets", "rltrack._nbpanel", "comm")),  # IPython in a terminal: no kernel
        # ipykernel loaded but this shell has no kernel (no comms): checked, nothing shown, no widget library
        (f"import ipykernel; {_SHELL}", ("anywidget", "ipywidgets")),
    ],
)
def test_outside_a_kernel_nothing_is_shown_or_imported(tmp_path: Path, prelude: str, watched: tuple[str, ...]) -> None:
    code = f"""
{prelude}
import sys, rltrack
run = rltrack.init(dir={str(tmp_path / "store")!r}, system_metrics=False)
run.log({{"x": 1.0}})
run.finish()
print([m for m in {watched!r} if m in sys.modules])
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_the_panel_draws_writer_strings_as_text_in_a_browser() -> None:
    """The widget's own JavaScript, run in chromium against a model holding hostile strings."""
    import shutil

    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    playwright = pytest.importorskip("playwright.sync_api")
    from rltrack._nbpanel import _ESM

    data = {"run_name": HOSTILE, "run_id": "a1", "project": "<b>p</b>", "url": "javascript:alert(1)",
            "status": "running", "step": 7, "names": ["<i>loss</i>", "reward"],
            "values": {"<i>loss</i>": 0.25, "reward": "nan"}, "spark": {"<i>loss</i>": [1.0, None, 0.5, 0.25]}}
    render = """async ([esm, data]) => {
        const mod = await import(URL.createObjectURL(new Blob([esm], {type: "text/javascript"})));
        const listeners = {};
        const model = {get: (k) => data[k], on: (e, f) => { (listeners[e] ||= []).push(f); }, off() {}};
        const el = document.createElement("div");
        document.body.appendChild(el);
        mod.default.render({model, el});
        window.fire = (k, v) => { data[k] = v; (listeners["change:" + k] || []).forEach((f) => f()); };
    }"""
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            page.evaluate(render, [_ESM, data])
            text = page.inner_text("body")
            assert HOSTILE in text and "<b>p</b>/a1" in text and "<i>loss</i>" in text and "nan" in text
            # Nothing the writer sent became an element: the one <b> is the panel's own, holding the name.
            assert page.locator("img, i").count() == 0 and page.locator("b").count() == 1
            assert page.inner_text("b") == HOSTILE
            assert page.locator("a").count() == 0  # a javascript: link is not drawn
            assert page.locator("polyline").get_attribute("points").count(",") == 3  # None is a gap
            page.evaluate("() => { fire('url', 'http://127.0.0.1:8080/runs/a1'); fire('status', 'finished'); }")
            page.wait_for_function("() => document.querySelector('a') !== null")
            assert page.get_attribute("a", "href") == "http://127.0.0.1:8080/runs/a1"
            assert "finished" in page.inner_text("body")
        finally:
            browser.close()
