"""The pages in Debian's chromium through Playwright: charts hold the logged points, grow live, media plays."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import rltrack
from rltrack.server import ServerSettings
from rltrack.server.serve import BackgroundServer

pytestmark = pytest.mark.browser

#: The issue's bound: new points visible within 2 s (the writer stores at least every second).
LIVE_TIMEOUT_MS = 2000
READY_TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def server(filled: Any) -> Iterator[BackgroundServer]:
    with BackgroundServer(ServerSettings(root=filled.root)) as s:
        yield s


@pytest.fixture(scope="module")
def context(browser: Any) -> Iterator[Any]:
    # One context for the module: plotly.js (4.6 MB) is parsed once and then cached.
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: Any) -> Iterator[Any]:
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    pg.close()
    assert errors == []


def open_ready(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']", timeout=READY_TIMEOUT_MS)


def chart(page: Any, selector: str) -> Any:
    return page.evaluate(
        "(sel) => { const d = document.querySelector(sel); return d && d.data ? d.data.map(t => "
        "({name: t.name, x: Array.from(t.x, v => v instanceof Date ? v.getTime() : v), y: Array.from(t.y)})) : null; }",
        selector,
    )


def test_run_page_chart_holds_the_logged_points(page: Any, server: BackgroundServer, filled: Any) -> None:
    open_ready(page, f"{server.url}/runs/{filled.alpha}")
    (trace,) = chart(page, "[data-key='train/loss']")
    assert trace["x"] == list(range(filled.loss_steps))
    assert trace["y"] == [1.0 / (s + 1) for s in range(filled.loss_steps)]
    groups = page.eval_on_selector_all("#charts details > summary", "els => els.map(e => e.textContent.split(' ')[0])")
    assert groups[:2] == ["rollout", "train"]
    # Zooming fetches the zoomed range from the server (one point beyond each edge).
    page.evaluate(
        "() => Plotly.relayout(document.querySelector(\"[data-key='train/loss']\"), {'xaxis.range': [10, 20]})"
    )
    page.wait_for_function(
        "() => document.querySelector(\"[data-key='train/loss']\").data[0].x.length === 13", timeout=READY_TIMEOUT_MS
    )
    assert chart(page, "[data-key='train/loss']")[0]["x"] == list(range(9, 22))


def test_running_run_chart_grows_live(page: Any, server: BackgroundServer, filled: Any) -> None:
    run = rltrack.init(project="live", dir=filled.root, system_metrics=False)
    try:
        for step in range(10):
            run.log({"train/loss": float(step)}, step=step)
        run.flush()
        open_ready(page, f"{server.url}/runs/{run.id}")
        assert len(chart(page, "[data-key='train/loss']")[0]["y"]) == 10
        for step in range(10, 25):
            run.log({"train/loss": float(step)}, step=step)
        run.flush()
        page.wait_for_function(
            "() => { const d = document.querySelector(\"[data-key='train/loss']\");"
            " return d && d.data[0].y.length === 25; }",
            timeout=LIVE_TIMEOUT_MS,
        )
    finally:
        run.finish()


def test_video_plays_and_seeks(page: Any, server: BackgroundServer, filled: Any) -> None:
    open_ready(page, f"{server.url}/runs/{filled.alpha}")
    page.wait_for_function("() => { const v = document.querySelector('#media video'); return v && v.readyState >= 2; }",
                           timeout=READY_TIMEOUT_MS)
    seeked = page.evaluate(
        "() => new Promise(resolve => { const v = document.querySelector('#media video');"
        " v.addEventListener('seeked', () => resolve(v.currentTime), {once: true}); v.currentTime = 2.0; })"
    )
    assert seeked == pytest.approx(2.0, abs=0.15)
    assert page.evaluate("() => document.querySelector('#media img').naturalWidth") == 64


def test_compare_overlays_two_runs(page: Any, server: BackgroundServer, filled: Any) -> None:
    open_ready(page, f"{server.url}/compare?run={filled.alpha}&run={filled.beta}")
    traces = chart(page, "[data-key='train/loss']")
    assert [t["name"] for t in traces] == ["alpha", "beta"]
    assert traces[1]["y"][:2] == [2.0, 1.0]
    page.select_option("#groupby", "lr")
    page.wait_for_function(
        "() => { const d = document.querySelector(\"[data-key='train/loss']\");"
        " return !!(d && d.data && d.data.filter(t => t.fill === 'tonexty').length === 2); }",
        timeout=READY_TIMEOUT_MS,
    )


def test_simreal_panel_shows_both_sources(page: Any, server: BackgroundServer, filled: Any) -> None:
    open_ready(page, f"{server.url}/runs/{filled.robot}")
    assert page.is_visible("#simreal")
    speed = chart(page, "[data-simreal-key='odom/speed']")
    assert [t["name"] for t in speed] == ["sim", "real"]
    assert speed[1]["y"] == [0.4] * 4
    returns = chart(page, "[data-simreal-key='episode/return']")
    real_mean = next(t for t in returns if t["name"] == "real mean")
    assert real_mean["x"] == [5000] and real_mean["y"] == [41.5]
    page.wait_for_selector("#gap h3", timeout=READY_TIMEOUT_MS)


def line_colors(page: Any, selector: str) -> dict[str, str]:
    return page.evaluate(
        "(sel) => Object.fromEntries(document.querySelector(sel).data.filter(t => t.line && t.line.color)"
        ".map(t => [t.meta || t.name, t.line.color]))",
        selector,
    )


def test_a_run_keeps_its_colour_on_every_page(page: Any, server: BackgroundServer, filled: Any) -> None:
    open_ready(page, f"{server.url}/runs/{filled.alpha}")
    (alpha,) = line_colors(page, "[data-key='train/loss']").values()
    open_ready(page, f"{server.url}/runs/{filled.beta}")
    (beta,) = line_colors(page, "[data-key='train/loss']").values()
    assert alpha != beta
    # Compare lists beta first: colour follows the run, not its position.
    open_ready(page, f"{server.url}/compare?run={filled.beta}&run={filled.alpha}")
    assert line_colors(page, "[data-key='train/loss']") == {"beta": beta, "alpha": alpha}
    open_ready(page, f"{server.url}/projects/cartpole")
    page.wait_for_function("() => { const d = document.querySelector(\"#panels [data-key='train/loss']\");"
                           " return d && d.data && d.data.length >= 2; }", timeout=READY_TIMEOUT_MS)
    workspace = line_colors(page, "#panels [data-key='train/loss']")
    assert workspace[filled.alpha] == alpha and workspace[filled.beta] == beta


def test_runs_whose_colours_collide_differ_when_compared(page: Any, server: BackgroundServer, filled: Any) -> None:
    # pal00000 and pal00031 hash to the same palette slot; drawn together, the later id moves to the next slot.
    for run_id in ("pal00031", "pal00000"):
        with rltrack.init(id=run_id, project="palette", name=run_id, dir=filled.root, system_metrics=False) as run:
            run.log({"train/loss": 1.0}, step=0)
            run.log({"train/loss": 0.5}, step=1)
    alone = {}
    for run_id in ("pal00000", "pal00031"):
        open_ready(page, f"{server.url}/runs/{run_id}")
        (alone[run_id],) = line_colors(page, "[data-key='train/loss']").values()
    assert alone["pal00000"] == alone["pal00031"]
    open_ready(page, f"{server.url}/compare?run=pal00031&run=pal00000")
    together = line_colors(page, "[data-key='train/loss']")
    assert together["pal00000"] == alone["pal00000"]
    assert together["pal00031"] != together["pal00000"]
    # The project workspace draws them together too (the sweep's four trials once drew two in one colour).
    open_ready(page, f"{server.url}/projects/palette")
    page.wait_for_function("() => { const d = document.querySelector(\"#panels [data-key='train/loss']\");"
                           " return d && d.data && d.data.length >= 2; }", timeout=READY_TIMEOUT_MS)
    workspace = line_colors(page, "#panels [data-key='train/loss']")
    assert workspace == together


def test_sim_vs_real_panels_are_drawn_when_on_screen(page: Any, server: BackgroundServer, filled: Any) -> None:
    # 300 keys both sources share (a robot's joints): only the panels on screen are fetched and drawn.
    keys = [f"joint/{i:03d}/position" for i in range(300)]
    run = rltrack.init(project="pair", dir=filled.root, system_metrics=False)
    for step in range(20):
        run.log(dict.fromkeys(keys, 0.25), step=step)  # constants: the y-range must hold 0.25, tightly
    run.flush()
    real = rltrack.init(id=run.id, resume="must", source="real", dir=filled.root, system_metrics=False)
    for step in range(20):
        real.log(dict.fromkeys(keys, 0.25), step=step)
    real.finish()
    run.finish()
    open_ready(page, f"{server.url}/runs/{run.id}")
    drawn = "() => [...document.querySelectorAll('#simreal-charts .chart')].filter(d => d.data).length"
    first = page.evaluate(drawn)
    assert 0 < first < 40
    lo, hi = page.evaluate("() => document.querySelector(\"[data-simreal-key='joint/000/position']\")"
                           ".layout.yaxis.range")
    assert lo < 0.25 < hi and hi - lo < 0.1
    # Telemetry is drawn on each side's own clock, from 0 s, not on a message index labelled "step".
    x0, title = page.evaluate("() => { const d = document.querySelector(\"[data-simreal-key='joint/000/position']\");"
                              " return [d.data[0].x[0], d.layout.xaxis.title.text]; }")
    assert x0 == 0 and title == "seconds since each side's first sample"
    page.eval_on_selector("[data-simreal-key='joint/030/position']", "e => e.scrollIntoView()")
    page.wait_for_function("() => !!document.querySelector(\"[data-simreal-key='joint/030/position']\").data",
                           timeout=READY_TIMEOUT_MS)
    assert first < page.evaluate(drawn) < len(keys)


#: Text a new user should never meet: "1 runs", "sim (sim)".
AWKWARD = re.compile(r"\b1 (?:runs|keys|episodes|points|steps|values|versions)\b|\b(\w+) \(\1\)", re.IGNORECASE)
OVERLAPS = """() => {
  const r = [...document.querySelectorAll('table')].map(t => t.getBoundingClientRect()).filter(b => b.width);
  const out = []; r.forEach((a, i) => r.slice(i + 1).forEach((b) => {
    const apart = a.right - 1 <= b.left || b.right - 1 <= a.left || a.bottom - 1 <= b.top || b.bottom - 1 <= a.top;
    if (!apart) out.push([a, b]); }));
  return out.length; }"""


@pytest.mark.parametrize("width", [1280, 1440, 1920])
def test_every_page_reads_well_at(width: int, context: Any, server: BackgroundServer, filled: Any) -> None:
    pages = ["/", "/projects/robot", "/projects/cartpole/runs", f"/runs/{filled.alpha}", f"/runs/{filled.robot}",
             f"/compare?run={filled.alpha}&run={filled.beta}"]
    pg = context.new_page()
    pg.set_viewport_size({"width": width, "height": 900})
    problems: list[str] = []
    pg.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: problems.append(str(e)))
    pg.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    try:
        for path in pages:
            open_ready(pg, server.url + path)
            if path == f"/runs/{filled.robot}":
                pg.wait_for_selector("#gap[data-ready='1']", timeout=READY_TIMEOUT_MS)
            text = pg.evaluate("() => document.body.innerText")
            assert not AWKWARD.search(text), (path, AWKWARD.search(text))
            assert pg.evaluate(OVERLAPS) == 0, path
    finally:
        pg.close()
    assert problems == []


#: The README's screenshots: name -> (path on the demo's store, what to wait for, what to show). Run
#: `RLTRACK_SCREENSHOTS_DIR=docs pytest -m slow -k screenshots tests/rltrack/server/test_browser.py` to regenerate them.
SHOT_WIDTH = 1440


def run_demo(root: Path) -> str:
    """Run `rltrack demo --no-ui` (real PPO training, stand-in deployment, bag import) into `root`; its run id."""
    cli = [sys.executable, "-c", "from rltrack.cli import main; main()"]
    done = subprocess.run([*cli, "demo", "--no-ui", "--dir", str(root)], capture_output=True, text=True, timeout=600,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    match = re.search(r"rltrack demo: run '[^']+' \(id (\w+)\)", done.stdout)
    assert match, done.stdout
    return match.group(1)


@pytest.mark.slow
def test_screenshots_of_the_demo_run(context: Any, tmp_path: Path) -> None:
    out = Path(os.environ.get("RLTRACK_SCREENSHOTS_DIR") or tmp_path)
    if not out.is_absolute():  # tests run in a temporary folder: "docs" means the repository's docs/
        out = Path(__file__).resolve().parents[3] / out
    run_id = run_demo(tmp_path / "demo")
    pg = context.new_page()
    errors: list[str] = []
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.set_viewport_size({"width": SHOT_WIDTH, "height": 900})
    with BackgroundServer(ServerSettings(root=tmp_path / "demo")) as s:
        shots = {
            "dashboard-workspace.png": ("/projects/rltrack-demo", "body[data-ready='1']", None),
            "dashboard-runs.png": ("/projects/rltrack-demo/runs", "#runs tbody tr td a", None),
            "dashboard-sim-vs-real.png": (f"/runs/{run_id}", "#gap[data-ready='1']", "#simreal"),
            "dashboard-gap.png": (f"/runs/{run_id}", "#gap[data-ready='1']", "#gap"),
            "dashboard-run.png": (f"/runs/{run_id}", "body[data-ready='1']", "#charts"),
        }
        for name, (path, ready, anchor) in shots.items():
            pg.goto(s.url + path)
            pg.wait_for_selector(ready, timeout=READY_TIMEOUT_MS)
            if anchor:
                pg.eval_on_selector(anchor, "e => e.scrollIntoView({block: 'start'})")
                # Panels scrolled to are fetched and drawn lazily: wait until every one on screen is drawn.
                pg.wait_for_function(
                    "() => [...document.querySelectorAll('.chart')].filter(d => { const r = d.getBoundingClientRect();"
                    " return r.bottom > 0 && r.top < innerHeight; }).every(d => d.data || d.querySelector('.heat'))",
                    timeout=READY_TIMEOUT_MS,
                )
            pg.wait_for_timeout(300)  # plotly's transitions settle
            pg.screenshot(path=str(out / name))
            assert 20_000 < (out / name).stat().st_size < 400_000, name
    pg.close()
    assert errors == []
