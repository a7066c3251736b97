"""The project workspace and the runs table in chromium, on a store made by a real SB3 sweep of 4 trials."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

pytest.importorskip("stable_baselines3")
pytest.importorskip("optuna")

import gymnasium as gym
import torch
from rltrack.callbacks import RLTrackCallback
from stable_baselines3 import PPO

import rltrack
from rltrack.server import ServerSettings, create_app
from rltrack.server.serve import BackgroundServer
from rltrack.sweeps import agent, sweep

from .conftest import TestClient

pytestmark = pytest.mark.browser

READY_TIMEOUT_MS = 15_000
PROJECT = "sweep-ws"
SWEEP = {
    "method": "grid",
    "metric": {"name": "rollout/ep_rew_mean", "goal": "maximize"},
    "parameters": {"learning_rate": {"values": [0.001, 0.0003]}, "n_steps": {"values": [32, 64]}},
}
HOSTILE = '<img src=x id=pwned>"\'&'


@dataclass
class SweepStore:
    root: Path
    sweep_id: str
    runs: dict[str, str]  # run id -> name


def _train(run: Any) -> None:
    model = PPO(
        "MlpPolicy", gym.make("CartPole-v1"), learning_rate=run.config["learning_rate"], n_steps=run.config["n_steps"],
        batch_size=32, n_epochs=1, policy_kwargs={"net_arch": [8]}, seed=0, device="cpu",
    )  # fmt: skip
    model.learn(256, callback=RLTrackCallback(run))


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> SweepStore:
    root = tmp_path_factory.mktemp("sweep") / "store"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny networks: threads only add overhead
    try:
        sweep_id = sweep(SWEEP, project=PROJECT, dir=root)
        results = agent(sweep_id, _train, count=4, dir=root, seed=0, verbose=False)
    finally:
        torch.set_num_threads(threads)
    assert [r.state for r in results] == ["finished"] * 4
    hostile = rltrack.init(project="hostile", name=HOSTILE, config={HOSTILE: HOSTILE, "lr": 1}, dir=root,
                           system_metrics=False)
    hostile.log({"train/" + "<b>key</b>": 1.0}, step=0)
    hostile.finish()
    api = rltrack.Api(root)
    return SweepStore(root, sweep_id, {r.run_id: api.run(r.run_id).name for r in results})


@pytest.fixture(scope="module")
def server(store: SweepStore) -> Iterator[BackgroundServer]:
    with BackgroundServer(ServerSettings(root=store.root)) as s:
        yield s


@pytest.fixture(scope="module")
def api(store: SweepStore) -> Iterator[TestClient]:
    with TestClient(create_app(store.root), base_url="http://127.0.0.1") as c:
        yield c


@pytest.fixture(scope="module")
def context(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    yield ctx
    ctx.close()


@dataclass
class Page:
    page: Any
    requests: list[str]


@pytest.fixture
def page(context: Any) -> Iterator[Page]:
    pg = context.new_page()
    problems: list[str] = []
    requests: list[str] = []
    pg.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    # Console errors count, except the browser's own note about a failed load (checked by status below).
    pg.on("console", lambda m: problems.append(f"console: {m.text}")
          if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
    pg.on("request", lambda r: requests.append(r.url))
    pg.on("response", lambda r: problems.append(f"{r.status} {r.url}")
          if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
    yield Page(pg, requests)
    pg.close()
    assert problems == []


def open_ready(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']", timeout=READY_TIMEOUT_MS)


def traces_of(page: Any, key: str) -> list[dict[str, Any]]:
    """Scroll a panel into view, wait until it is drawn, and return its traces."""
    selector = f".chart[data-key={json.dumps(key)}]"
    page.locator(selector).scroll_into_view_if_needed()
    page.wait_for_selector(selector + "[data-loaded='1']", timeout=READY_TIMEOUT_MS)
    return page.evaluate(  # type: ignore[no-any-return]
        "(sel) => document.querySelector(sel).data.map(t => ({name: t.name, meta: t.meta, x: Array.from(t.x),"
        " y: Array.from(t.y), hover: t.hoverinfo}))",
        selector,
    )


def test_project_page_has_one_chart_per_key_with_every_runs_trace(
    page: Page, server: BackgroundServer, store: SweepStore, api: TestClient
) -> None:
    boot = api.get(f"/api/projects/{PROJECT}/workspace").json()
    keys = [k["key"] for k in boot["keys"] if not k["key"].startswith("_")]
    assert {"rollout/ep_rew_mean", "train/loss", "train/learning_rate"} <= set(keys)
    open_ready(page.page, f"{server.url}/projects/{PROJECT}")
    panels = page.page.eval_on_selector_all("#panels .chart", "els => els.map(e => e.dataset.key)")
    assert sorted(panels) == sorted(keys)  # each key once
    ids = ",".join(store.runs)
    for key in keys:
        traces = traces_of(page.page, key)
        assert sorted(t["meta"] for t in traces) == sorted(store.runs), key
        assert sorted(t["name"] for t in traces) == sorted(store.runs.values())
        stored = {r["id"]: r for r in api.get(f"/api/projects/{PROJECT}/series",
                                               params={"key": key, "runs": ids}).json()["runs"]}
        for t in traces:
            assert t["x"] == stored[t["meta"]]["step"], key
            assert t["y"] == stored[t["meta"]]["value"], key
    # The legend is the run selector: every run with its colour swatch and a link to its page.
    names = page.page.eval_on_selector_all("#runs tbody a", "els => els.map(e => e.textContent)")
    assert sorted(names) == sorted(store.runs.values())


def test_panels_below_the_screen_are_fetched_when_scrolled_to(
    page: Page, server: BackgroundServer, store: SweepStore
) -> None:
    open_ready(page.page, f"{server.url}/projects/{PROJECT}")
    fetched = [u for u in page.requests if "/series?" in u]
    panels = page.page.eval_on_selector_all("#panels .chart", "els => els.length")
    assert 0 < len(fetched) < panels
    assert all(parse_qs(urlparse(u).query)["runs"][0].count(",") == len(store.runs) - 1 for u in fetched)
    last = page.page.eval_on_selector_all("#panels .chart", "els => els[els.length - 1].dataset.key")
    assert page.page.get_attribute(f".chart[data-key={json.dumps(last)}]", "data-loaded") is None
    assert len(traces_of(page.page, last)) == len(store.runs)


def test_workspace_state_round_trips_through_the_url(page: Page, server: BackgroundServer, store: SweepStore) -> None:
    pg = page.page
    open_ready(pg, f"{server.url}/projects/{PROJECT}")
    hidden = next(iter(store.runs))
    pg.uncheck(f"#runs tr[data-run='{hidden}'] input.vis")
    pg.wait_for_function(
        "() => document.querySelector(\".chart[data-key='rollout/ep_rew_mean']\").dataset.runs === '3'",
        timeout=READY_TIMEOUT_MS,
    )
    pg.select_option("#groupby", "learning_rate")
    w = json.loads(parse_qs(urlparse(pg.url).query)["w"][0])
    assert w == {"hidden": [hidden], "group_by": "learning_rate"}
    open_ready(pg, pg.url)  # a reload (or a shared link) shows the same workspace
    assert not pg.is_checked(f"#runs tr[data-run='{hidden}'] input.vis")
    groups = [t for t in traces_of(pg, "rollout/ep_rew_mean") if t["hover"] != "skip"]
    lr_of_hidden = next(r for r in rltrack.Api(store.root).runs(PROJECT) if r.id == hidden).config["learning_rate"]
    expected = {f"learning_rate={lr}" + (" (1 run)" if lr == lr_of_hidden else " (2 runs)") for lr in (0.001, 0.0003)}
    assert {t["name"] for t in groups} == expected


def test_runs_table_shows_the_swept_keys_then_the_sweep_metric(page: Page, server: BackgroundServer) -> None:
    pg = page.page
    open_ready(pg, f"{server.url}/projects/{PROJECT}/runs")
    headers = pg.eval_on_selector_all("#runs thead th", "els => els.map(e => e.textContent.replace(/ [▲▼]$/, ''))")
    first = headers.index("runtime") + 1
    assert headers[first : first + 3] == ["learning_rate", "n_steps", "rollout/ep_rew_mean"]
    assert pg.get_attribute("#runs thead th[data-sort='summary.rollout/ep_rew_mean']", "class") == "metric"
    # Sort by a swept key (descending on the first click), kept in the URL.
    pg.click("#runs thead th[data-sort='config.learning_rate']")
    pg.wait_for_function("() => location.search.includes('sort=-config.learning_rate')")
    pg.wait_for_selector("#runs thead th[data-sort='config.learning_rate']:has-text('▼')")
    column = headers.index("learning_rate") + 1
    values = pg.eval_on_selector_all(f"#runs tbody td:nth-child({column})", "els => els.map(e => e.textContent)")
    assert values == ["0.001", "0.001", "0.0003", "0.0003"]
    # The column picker hides a column; the choice survives a reload.
    pg.click("#columns > summary")
    pg.uncheck("#column-picker input[value='config.n_steps']")
    assert "n_steps" not in pg.eval_on_selector_all("#runs thead th", "els => els.map(e => e.textContent)")
    open_ready(pg, pg.url)
    after = pg.eval_on_selector_all("#runs thead th", "els => els.map(e => e.textContent.replace(/ [▲▼]$/, ''))")
    assert "n_steps" not in after and "learning_rate" in after


def test_writer_strings_are_drawn_as_text(page: Page, server: BackgroundServer) -> None:
    pg = page.page
    open_ready(pg, f"{server.url}/projects/hostile")
    assert pg.text_content("#runs tbody a") == HOSTILE
    assert traces_of(pg, "train/<b>key</b>")[0]["name"] == "&lt;img src=x id=pwned&gt;&quot;&#39;&amp;"
    assert pg.text_content(".chart[data-key='train/<b>key</b>'] ~ .note") == ""
    open_ready(pg, f"{server.url}/projects/hostile/runs")
    assert pg.text_content("#runs tbody a") == HOSTILE
    assert pg.eval_on_selector_all("#pwned, #runs b", "els => els.length") == 0
    assert HOSTILE in pg.eval_on_selector_all("#runs thead th", "els => els.map(e => e.textContent)")


def test_x_axis_smoothing_and_log_controls_redraw_the_panels(page: Page, server: BackgroundServer) -> None:
    pg = page.page
    open_ready(pg, f"{server.url}/projects/{PROJECT}")
    panel = ".chart[data-key='rollout/ep_rew_mean']"
    pg.select_option("#axis", "relative")
    # Seconds since each run started (tiny trainings: a few seconds), not steps (up to 256).
    pg.wait_for_function(
        f"() => {{ const d = document.querySelector(\"{panel}\"); return d.data.length === 4 &&"
        " d.data.every(t => Math.max(...t.x) < 120 && Math.min(...t.x) >= 0) && d.layout.xaxis.title.text ==="
        " 'seconds since start'; }",
        timeout=READY_TIMEOUT_MS,
    )
    pg.eval_on_selector("#smooth", "e => { e.value = '0.6'; e.dispatchEvent(new Event('input')); }")
    # Each run: a faint raw line (no hover) under its smoothed line.
    pg.wait_for_function(f"() => document.querySelector(\"{panel}\").data.length === 8", timeout=READY_TIMEOUT_MS)
    pg.check("#log")
    pg.wait_for_function(f"() => document.querySelector(\"{panel}\").layout.yaxis.type === 'log'",
                         timeout=READY_TIMEOUT_MS)
    w = json.loads(parse_qs(urlparse(pg.url).query)["w"][0])
    assert w == {"x_axis": "relative", "smoothing": 0.6, "log_y": True}
