"""Charts let go of what they drew, media panels load images as they come into view, and an export says what it cut.

Debian's chromium on a real server (a local store):

- The run page draws its panels again when the key filter, the source or the set of keys (a live run logging a
  new key) changes: the charts it dropped kept plotly's window "resize" listener, and through it their data and
  DOM, until the page closed. Moving the smoothing slider, toggling log scale and changing the x-axis redraw in
  place (Plotly.react) and must stay flat too. Listeners are counted through the DevTools protocol, the JS heap
  after a forced collection (HeapProfiler.collectGarbage, Runtime.getHeapUsage).
- A media panel over 40 runs loaded all 40 images at once; images are lazy now (loading="lazy", a placeholder box).
- An exported report whose line-by-key series was cut by the points budget drew an empty chart saying "no run of
  this report logged this key"; it says the series is not embedded and to open the report on the server.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the server needs the ui extra: pip install 'rltrack[server]'")
pytest.importorskip("PIL", reason="images need Pillow")

import httpx

import rltrack
from rltrack.server import ServerSettings, report_embed
from rltrack.server.serve import BackgroundServer

from .test_browser_dashboards import READY_MS, watch

pytestmark = pytest.mark.browser

KEYS = [f"k{j:02d}" for j in range(12)]
MEDIA_RUNS = 40


@dataclass
class Lab:
    root: Path
    main: str  # 12 keys k00..k11 at 300 steps, finished
    media: list[str]  # MEDIA_RUNS runs, each one image "cam" at step 0 and "loss", "acc"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Lab:
    root = tmp_path_factory.mktemp("fixpanels2") / "store"
    main = rltrack.init(dir=root, project="lab", name="main", system_metrics=False, quiet=True)
    for step in range(300):
        main.log({k: float(step * (j + 1)) + 1.0 for j, k in enumerate(KEYS)}, step=step)
    main.finish()
    media = []
    rng = np.random.default_rng(0)
    for i in range(MEDIA_RUNS):
        run = rltrack.init(dir=root, project="lab", name=f"m{i:02d}", system_metrics=False, quiet=True)
        run.log({"cam": rltrack.Image(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)),
                 "loss": 1.0 / (i + 1), "acc": float(i)}, step=0)
        run.log({"loss": 0.5 / (i + 1), "acc": float(i) + 1}, step=1)
        run.finish()
        media.append(run.id)
    return Lab(root, main.id, media)


@pytest.fixture(scope="module")
def server(lab: Lab) -> Iterator[BackgroundServer]:
    with BackgroundServer(ServerSettings(root=lab.root)) as s:
        yield s


class Probe:
    """The page's window "resize" listeners, plotly charts and JS heap, through the DevTools protocol."""

    def __init__(self, context: Any, page: Any) -> None:
        self.page = page
        self.cdp = context.new_cdp_session(page)

    def listeners(self) -> int:
        window = self.cdp.send("Runtime.evaluate", {"expression": "window"})["result"]["objectId"]
        found = self.cdp.send("DOMDebugger.getEventListeners", {"objectId": window})["listeners"]
        return sum(1 for listener in found if listener["type"] == "resize")

    def charts(self) -> int:
        return int(self.page.evaluate("document.querySelectorAll('.js-plotly-plot').length"))

    def heap_mb(self) -> float:
        self.cdp.send("HeapProfiler.collectGarbage")
        return float(self.cdp.send("Runtime.getHeapUsage")["usedSize"]) / 2**20


def _open_run(browser: Any, server: BackgroundServer, run_id: str, height: int = 3000) -> tuple[Any, Any, Probe]:
    context = browser.new_context(viewport={"width": 1400, "height": height})  # every panel on screen: all drawn
    tab = watch(context.new_page())
    tab.ready(f"{server.url}/runs/{run_id}")
    tab.page.wait_for_function("() => document.querySelectorAll('#charts .chart.js-plotly-plot').length === 12",
                               timeout=READY_MS)
    return context, tab, Probe(context, tab.page)


def test_run_page_options_redraw_in_place_and_the_key_filter_lets_go(browser: Any, server: BackgroundServer,
                                                                      lab: Lab) -> None:
    context, tab, probe = _open_run(browser, server, lab.main)
    page = tab.page
    try:
        # Plotly's own listeners beside the charts' (one each): what the page holds with nothing dropped.
        base = probe.listeners() - probe.charts()
        heap0 = probe.heap_mb()
        for i in range(1, 301):  # 300 moves of the smoothing slider, a log toggle every 10th, an axis every 100th
            page.evaluate("(v) => { const s = document.getElementById('smooth'); s.value = v; "
                          "s.dispatchEvent(new Event('input')); }", str((i % 99) / 100))
            if i % 10 == 0:
                page.click("#log")
            if i % 100 == 0:
                with page.expect_response(lambda r: "/series?" in r.url, timeout=READY_MS):
                    page.select_option("#axis", "relative" if i % 200 else "step")
        heap1 = probe.heap_mb()
        print(f"run page, 300 option changes over 12 charts: heap {heap0:.1f} -> {heap1:.1f} MB, "
              f"listeners {base + 12} -> {probe.listeners()}")
        assert probe.listeners() == base + probe.charts() == base + 12
        assert heap1 < heap0 + 8
        # The key filter lays the panels out again: each change dropped 12 charts that kept their listener.
        for text in ["k0", "", "k1", ""] * 5:
            page.fill("#keyfilter", text)
            want = 10 if text == "k0" else 2 if text == "k1" else 12
            page.wait_for_function(f"() => document.querySelectorAll('#charts .chart').length === {want} && "
                                   f"document.querySelectorAll('#charts .chart.js-plotly-plot').length === {want}",
                                   timeout=READY_MS)
        heap2 = probe.heap_mb()
        print(f"run page, 20 key filter changes: heap {heap1:.1f} -> {heap2:.1f} MB, listeners {probe.listeners()}")
        assert probe.listeners() == base + probe.charts() == base + 12  # was 12 more per change
        assert heap2 < heap0 + 8
        assert tab.problems == []
    finally:
        context.close()


def test_a_live_run_logging_new_keys_keeps_its_heap_flat(browser: Any, server: BackgroundServer, lab: Lab) -> None:
    live = rltrack.init(dir=lab.root, project="live", name="live", system_metrics=False, quiet=True)
    for step in range(50):
        live.log({k: float(step) for k in KEYS}, step=step)
    live.flush()
    context, tab, probe = _open_run(browser, server, live.id, height=8000)
    page = tab.page
    try:
        assert page.text_content("#live") == "live"
        base = probe.listeners() - probe.charts()
        heap0 = probe.heap_mb()
        step = 50
        for n in range(20):  # each new key lays the panels out again (a poll sees it)
            for _ in range(5):
                live.log({**{k: float(step) for k in KEYS}, f"new{n:02d}": float(step)}, step=step)
                step += 1
            live.flush()
            drawn = "#charts .chart.js-plotly-plot"
            page.wait_for_function(f"() => document.querySelector('{drawn}[data-key=\"new{n:02d}\"]') !== null && "
                                   f"document.querySelectorAll('{drawn}').length === {13 + n}", timeout=READY_MS)
        heap1 = probe.heap_mb()
        print(f"live run, 20 new keys over 100 steps: heap {heap0:.1f} -> {heap1:.1f} MB, "
              f"listeners {base + 12} -> {probe.listeners()} for {probe.charts()} charts")
        assert probe.listeners() == base + probe.charts() == base + 32  # was +12..+31 more per new key
        assert heap1 < heap0 + 8
        assert tab.problems == []
    finally:
        context.close()
        live.finish()


def test_the_compare_page_lets_go_of_its_charts_when_the_key_filter_changes(browser: Any, server: BackgroundServer,
                                                                           lab: Lab) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = watch(context.new_page())
    try:
        tab.ready(f"{server.url}/compare?" + "&".join(f"run={r}" for r in lab.media[:3]))
        page = tab.page
        probe = Probe(context, page)
        page.wait_for_function("() => document.querySelectorAll('#charts .js-plotly-plot').length === 2",
                               timeout=READY_MS)
        base = probe.listeners() - probe.charts()
        for text in ["acc", "", "loss", ""] * 5:  # each change draws the charts again
            with page.expect_response(lambda r: "/api/compare?" in r.url, timeout=READY_MS):
                page.fill("#keyfilter", text)
                page.dispatch_event("#keyfilter", "change")
            want = 1 if text else 2
            page.wait_for_function(f"() => document.querySelectorAll('#charts .js-plotly-plot').length === {want}",
                                   timeout=READY_MS)
        assert probe.listeners() == base + probe.charts() == base + 2  # each change kept the dropped charts'
        assert tab.problems == []
    finally:
        context.close()


def _report(server: BackgroundServer, runs: list[str], blocks: list[dict[str, Any]]) -> str:
    made = httpx.post(f"{server.url}/api/projects/lab/dashboards", headers={"origin": server.url}, json={
        "kind": "report", "name": "r", "layout": {"runs": runs}, "blocks": blocks})
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def test_a_media_panel_over_many_runs_loads_images_as_they_come_into_view(browser: Any, server: BackgroundServer,
                                                                         lab: Lab) -> None:
    layout = {"runs": lab.media, "panels": [{"type": "media", "key": "cam", "step": None, "title": None}]}
    context = browser.new_context(viewport={"width": 700, "height": 900})
    tab = watch(context.new_page())
    try:
        tab.ready(f"{server.url}/projects/lab?w=" + quote(json.dumps(layout)))
        page = tab.page
        page.wait_for_function(f"() => document.querySelectorAll('#pinned .media-item img').length === {MEDIA_RUNS}",
                               timeout=READY_MS)
        assert page.evaluate("[...document.querySelectorAll('#pinned .media-item img')]"
                             ".every((i) => i.loading === 'lazy')")
        files = lambda: len({u for u in tab.requests if "/files/" in u})  # noqa: E731
        first = files()
        print(f"media panel over {MEDIA_RUNS} runs: {first} images fetched on load")
        assert 0 < first < MEDIA_RUNS // 2  # was all 40
        page.evaluate("document.querySelector('#pinned .media-item:last-child').scrollIntoView()")
        page.wait_for_function("() => document.querySelector('#pinned .media-item:last-child img').complete && "
                               "document.querySelector('#pinned .media-item:last-child img').naturalWidth === 16",
                               timeout=READY_MS)
        assert files() > first
        assert tab.problems == []
    finally:
        context.close()


def test_an_export_says_which_line_series_its_budget_cut(browser: Any, server: BackgroundServer, lab: Lab,
                                                         tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Budget for 3 run-series of 50 points: the first key's three runs fit, the second key's do not.
    monkeypatch.setattr(report_embed, "MAX_EXPORT_POINTS", 150)
    runs = lab.media[:3]
    blocks = [{"panel": {"type": "line", "key": "loss", "source": None, "log_y": None}},
              {"panel": {"type": "line", "key": "acc", "source": None, "log_y": None}},
              {"panel": {"type": "line", "key": "never/logged", "source": None, "log_y": None}}]
    report = _report(server, runs, blocks)
    exported = httpx.get(f"{server.url}/api/projects/lab/dashboards/{report}/export.html", timeout=60)
    assert exported.status_code == 200
    found = re.search(r"id='report-data'>(.*?)</script>", exported.text, re.S)
    assert found is not None
    data = json.loads(found.group(1))
    assert sorted(data["series"]) == ["loss|"]
    note = "not embedded: the report's line charts hold more than 150 points; open the report on the server"
    assert data["panels"]["1"] == {"type": "line", "error": note}
    assert data["panels"]["2"] == {"type": "line", "series_key": "never/logged|"}  # no run logged it: no cut
    path = tmp_path / "report.html"
    path.write_bytes(exported.content)
    context = browser.new_context(offline=True, viewport={"width": 1400, "height": 1000})
    try:
        tab = watch(context.new_page())
        tab.ready(path.as_uri())
        page = tab.page
        cards = page.locator("#r-blocks .panel")
        assert cards.count() == 3
        page.wait_for_function("() => document.querySelector('#r-blocks .panel .chart').dataset.loaded === '1'",
                               timeout=READY_MS)
        assert cards.nth(0).locator(".chart").get_attribute("data-traces") == "3"
        assert cards.nth(1).locator(".note").text_content() == note  # was an empty chart, "no run ... logged"
        assert cards.nth(1).locator(".js-plotly-plot").count() == 0
        assert cards.nth(2).locator(".note").text_content() == "no run of this report logged this key"
        assert tab.problems == []
    finally:
        context.close()
