"""The pages in Debian's chromium through Playwright: charts hold the logged points, grow live, media plays."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import rltrack
from rltrack.server import ServerSettings
from rltrack.server.serve import BackgroundServer

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: The issue's bound: new points visible within 2 s (the writer stores at least every second).
LIVE_TIMEOUT_MS = 2000
READY_TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def server(filled: Any) -> Iterator[BackgroundServer]:
    with BackgroundServer(ServerSettings(root=filled.root)) as s:
        yield s


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


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


def demo_store(root: Path, moving_frames: Any) -> dict[str, str]:
    """Runs that look like PPO training on CartPole plus a robot run, for the README's screenshots."""
    rng = np.random.default_rng(0)
    ids: dict[str, str] = {}
    for seed, lr in [(0, 3e-4), (1, 3e-4), (2, 1e-3), (3, 1e-3)]:
        run = rltrack.init(project="cartpole-ppo", name=f"ppo-lr{lr:g}-s{seed}", group="ppo", tags=["ppo"],
                           config={"lr": lr, "seed": seed, "n_steps": 2048, "gamma": 0.99}, dir=root,
                           system_metrics=False)
        reward = 20.0
        for i in range(200):
            step = i * 2048
            reward += (500 - reward) * (0.02 if lr > 5e-4 else 0.012) + rng.normal(0, 8)
            run.log({"rollout/ep_rew_mean": reward, "rollout/ep_len_mean": reward,
                     "train/loss": 50 * np.exp(-i / 60) + abs(rng.normal(0, 2)),
                     "train/entropy_loss": -0.69 + i / 600 + rng.normal(0, 0.01),
                     "train/approx_kl": abs(rng.normal(0.01, 0.004)),
                     "system/cpu_percent": 60 + rng.normal(0, 5)}, step=step)
        run.log({"rollout/video": rltrack.Video(moving_frames(40, 96), fps=20, caption="eval episode")}, step=step)
        run.finish()
        ids[f"ppo{seed}"] = run.id
    robot = rltrack.init(project="cartpole-ppo", name="deploy-v3", job_type="deploy",
                         config={"deployed_step": 300_000}, dir=root, system_metrics=False)
    for i in range(150):
        robot.log({"episode/return": min(500, 30 + i * 3.2 + rng.normal(0, 10)),
                   "joint/velocity": np.sin(i / 10)}, step=i * 2048)
    robot.log({"camera/rgb": rltrack.Video(moving_frames(40, 96), fps=20, caption="sim rollout")}, step=300_000)
    robot.flush()
    real = rltrack.init(id=robot.id, resume="must", source="real", dir=root, system_metrics=False)
    for i in range(150):
        real.log({"joint/velocity": 0.85 * np.sin(i / 10 - 0.3) + rng.normal(0, 0.05)}, step=i * 2048)
    for episode in range(8):
        real.log({"episode/return": 380 + rng.normal(0, 40)}, step=episode)
    real.log({"camera/rgb": rltrack.Video(moving_frames(40, 96)[:, ::-1], fps=20, caption="robot camera")}, step=8)
    real.finish()
    robot.finish()
    ids["robot"] = robot.id
    return ids


def test_screenshots_of_the_main_pages(context: Any, tmp_path: Path, frames: Any) -> None:
    out = Path(os.environ.get("RLTRACK_SCREENSHOTS_DIR") or tmp_path)
    ids = demo_store(tmp_path / "demo", frames)
    pg = context.new_page()
    pg.set_viewport_size({"width": 1400, "height": 900})
    with BackgroundServer(ServerSettings(root=tmp_path / "demo")) as s:
        shots = {
            "dashboard-runs.png": f"{s.url}/projects/cartpole-ppo",
            "dashboard-run.png": f"{s.url}/runs/{ids['ppo2']}",
            "dashboard-compare.png": f"{s.url}/compare?run={ids['ppo0']}&run={ids['ppo1']}&run={ids['ppo2']}"
                                     f"&run={ids['ppo3']}&group_by=lr",
            "dashboard-sim-vs-real.png": f"{s.url}/runs/{ids['robot']}",
        }
        for name, url in shots.items():
            pg.goto(url)
            if "projects" in url:
                pg.wait_for_selector("#runs tbody tr td a")
            else:
                pg.wait_for_selector("body[data-ready='1']", timeout=READY_TIMEOUT_MS)
            if "sim-vs-real" in name:
                pg.wait_for_selector("#gap h3", timeout=READY_TIMEOUT_MS)
            pg.screenshot(path=str(out / name))
            assert (out / name).stat().st_size > 20_000
    pg.close()
