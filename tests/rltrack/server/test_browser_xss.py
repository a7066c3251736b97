"""Stored XSS: every string a writer controls is drawn as text, in Debian's chromium through Playwright.

Payloads go in through the ingest API (run name, group, job type, notes, tags, config, summary, keys, media
keys and captions, uploaded .html/.svg files) and through the Python API; the run, runs and compare pages
must show them literally: no script runs, no dialog opens, no console error (a CSP refusal is one).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import rltrack
from rltrack.remote.client import IngestClient
from rltrack.remote.wire import batch_to, media_to, new_run_to, who_to
from rltrack.server import ServerSettings
from rltrack.server.serve import BackgroundServer
from rltrack.store.chunks import pack
from rltrack.store.writer import NewRun, WriterInfo
from rltrack.types import MediaRecord

pytestmark = pytest.mark.browser

READY_TIMEOUT_MS = 15_000
#: Breaks out of attributes and elements, runs script three ways, and leaves a mark if any of it runs.
PAYLOAD = ("\"'><img src=x onerror=\"__xss=1;alert(1)\"><script>__xss=2;alert(2)</script>"
           "<svg onload=\"__xss=3\"><b>b</b>&amp;")
#: Keys: plotly reads <a href>, <b> and entities in titles, names and hover labels.
KEYS = ['xss/<img src=x onerror="window.__xss=4;alert(4)">', 'xss/<a href="javascript:alert(5)">click</a>',
        "xss/\"'];alert(6);x=['", "xss/&lt;b&gt;entity"]
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="window.__xss=7;alert(7)"><script>alert(8)</script></svg>'
HTML = b"<html><body><script>window.__xss=9;alert(9)</script></body></html>"
PROJECT = "xss"


@dataclass
class Planted:
    root: Path
    ingested: str  # every field through the ingest API
    logged: str  # the same through rltrack.init/log


def who() -> WriterInfo:
    return WriterInfo(host="robot", pid=os.getpid(), pid_started_ns=0, now_ns=time.time_ns())


def plant_through_ingest(url: str, folder: Path) -> str:
    run_id = "xssingest"
    client = IngestClient(url, None)
    try:
        client.send([{"id": "x:create", "op": "create_run", "who": who_to(who()), "run": new_run_to(NewRun(
            id=run_id, project=PROJECT, name=PAYLOAD, group=PAYLOAD, job_type=PAYLOAD, notes=PAYLOAD,
            tags=(PAYLOAD, "javascript:alert(10)"), config={PAYLOAD: PAYLOAD, "nested": {PAYLOAD: [PAYLOAD]}},
            source="sim"))}])
        steps = np.arange(50, dtype=np.int64)
        files = {"media/evil.svg": SVG, "media/evil.html": HTML,
                 "media/hist.json": json.dumps({"counts": [1, 2, 3], "edges": [0.0, 1.0, 2.0, 3.0]}).encode()}
        for name, data in files.items():
            (folder / Path(name).name).write_bytes(data)
            client.upload(run_id, name, folder / Path(name).name)
        now = time.time_ns()
        media = [MediaRecord("sim", KEYS[0], 1, now, "image", "media/evil.svg", PAYLOAD),
                 MediaRecord("sim", "media/<svg onload=alert(11)>", 1, now, "table", "media/evil.html", PAYLOAD),
                 MediaRecord("sim", KEYS[1], 1, now, "histogram", "media/hist.json", PAYLOAD)]
        client.send([{"id": "x:write", "op": "write", "run_id": run_id, "source": "sim",
                      "batches": [batch_to(pack("sim", k, steps, steps + now, steps.astype(np.float64))) for k in KEYS],
                      "media": [media_to(m) for m in media], "summary": {PAYLOAD: PAYLOAD}}])
    finally:
        client.close()
    return run_id


def plant_through_log(root: Path) -> str:
    run = rltrack.init(project=PROJECT, name=PAYLOAD, group=PAYLOAD, tags=[PAYLOAD], notes=PAYLOAD,
                       config={PAYLOAD: "<b>" + PAYLOAD}, dir=root, system_metrics=False)  # varies: a group-by
    for step in range(20):
        run.log(dict.fromkeys(KEYS, float(step)), step=step)
    run.log({KEYS[2]: rltrack.Histogram(np.arange(100.0), num_bins=8, caption=PAYLOAD),
             "media/<b>frame</b>": rltrack.Image(np.zeros((8, 8, 3), np.uint8), caption=PAYLOAD)}, step=20)
    run.finish()
    return run.id


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Planted, BackgroundServer]]:
    root = tmp_path_factory.mktemp("xss") / "store"
    with BackgroundServer(ServerSettings(root=root, ingest=True)) as server:
        ingested = plant_through_ingest(server.url, tmp_path_factory.mktemp("uploads"))
        logged = plant_through_log(root)
        yield Planted(root, ingested, logged), server


@pytest.fixture(scope="module")
def context(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1440, "height": 1000})
    yield ctx
    ctx.close()


class Watched:
    """A page whose dialogs, page errors and console errors are recorded (a dialog is dismissed)."""

    def __init__(self, context: Any) -> None:
        self.page = context.new_page()
        self.events: list[str] = []
        self.page.on("dialog", self._dialog)
        self.page.on("pageerror", lambda e: self.events.append(f"page error: {e}"))
        self.page.on("console", lambda m: self.events.append(f"console: {m.text}") if m.type == "error" else None)

    def _dialog(self, dialog: Any) -> None:
        self.events.append(f"dialog: {dialog.message}")
        dialog.dismiss()

    def check(self) -> None:
        assert self.page.evaluate("() => window.__xss") is None
        assert self.events == []


@pytest.fixture
def watched(context: Any) -> Iterator[Watched]:
    w = Watched(context)
    yield w
    w.page.close()


@pytest.mark.parametrize("which", ["ingested", "logged"])
def test_run_page_draws_every_writer_string_as_text(
    watched: Watched, planted: tuple[Planted, BackgroundServer], which: str
) -> None:
    store, server = planted
    page = watched.page
    page.goto(f"{server.url}/runs/{getattr(store, which)}")
    page.wait_for_selector("body[data-ready='1']", timeout=READY_TIMEOUT_MS)
    page.wait_for_load_state("networkidle")
    assert page.text_content("#title") == PAYLOAD
    assert PAYLOAD in page.text_content("#info")
    assert PAYLOAD in page.text_content("#config")
    keys = page.eval_on_selector_all("#charts [data-key]", "els => els.map(e => e.dataset.key)")
    assert set(KEYS[:2]) <= set(keys) or set(KEYS) <= set(keys)
    # Every panel drawn, hover labels shown: plotly gets the keys as text too.
    page.wait_for_function("(n) => document.querySelectorAll('#charts .js-plotly-plot').length >= n",
                           arg=2, timeout=READY_TIMEOUT_MS)
    page.evaluate("() => document.querySelectorAll('#charts .js-plotly-plot').forEach(d => d.data && d.data[0]"
                  " && d.data[0].x && Plotly.Fx.hover(d, [{curveNumber: 0, pointNumber: 0}]))")
    titles = page.eval_on_selector_all("#charts .gtitle", "els => els.map(e => e.textContent)")
    assert KEYS[0] in titles  # the tag is shown, not made
    if which == "ingested":
        link = page.get_attribute("#media a[download]", "href")
        assert link == f"/api/runs/{store.ingested}/files/media/evil.html"
        assert page.locator("#media img").count() == 1  # an .svg in <img> runs no script
    page.fill("#jump", KEYS[2] if which == "logged" else KEYS[0])
    page.press("#jump", "Enter")
    page.wait_for_timeout(300)
    watched.check()


def test_runs_and_compare_pages_draw_every_writer_string_as_text(
    watched: Watched, planted: tuple[Planted, BackgroundServer]
) -> None:
    store, server = planted
    page = watched.page
    # The project page is the workspace (run selector, charts); the runs table has its own page.
    for path in (f"/projects/{PROJECT}", f"/projects/{PROJECT}/runs"):
        page.goto(f"{server.url}{path}")
        page.wait_for_load_state("networkidle")
        assert PAYLOAD in page.text_content("body"), path
        watched.check()
    page.goto(f"{server.url}/compare?run={store.ingested}&run={store.logged}")
    page.wait_for_selector("body[data-ready='1']", timeout=READY_TIMEOUT_MS)
    page.wait_for_load_state("networkidle")
    assert page.eval_on_selector_all("#legend a", "els => els.map(e => e.textContent)") == [PAYLOAD, PAYLOAD]
    page.select_option("#groupby", PAYLOAD)
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(300)
    watched.check()
