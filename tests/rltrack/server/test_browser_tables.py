"""The run page's Tables, Plots, Alerts and Files sections in Debian's chromium through Playwright.

Every string here is one a writer chose (cells, column names, keys, captions, plot titles and labels, alert
texts, saved file names), most of them hostile: the page must show them literally, run no script, open no
dialog and log no console error (a CSP refusal or a failed fetch is one).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import rltrack
from rltrack.server import ServerSettings
from rltrack.server.serve import BackgroundServer

pytestmark = pytest.mark.browser

READY_TIMEOUT_MS = 15_000
RUN_ID = "tables01"
PAYLOAD = ("\"'><img src=x onerror=\"__xss=1;alert(1)\"><script>__xss=2;alert(2)</script>"
           "<svg onload=\"__xss=3\"><b>b</b>&amp;")
LINK = '<a href="javascript:alert(4)">click</a>'
#: A saved file's name: no "/" (a path separator), everything else a browser might parse.
FILE_NAME = "\"'><img src=x onerror=alert(5)>&amp;.html"
PAGED_ROWS = 250
BIG_ROWS = 100_000
#: The run page polls a live run every 750 ms and re-reads its tables, alerts and files every 5th poll.
LIVE_TIMEOUT_MS = 8_000
ALERTS = [("INFO", "started", "all good"), ("WARN", PAYLOAD, LINK), ("ERROR", LINK, PAYLOAD)]


@dataclass
class Logged:
    root: Path
    run_id: str
    frame: np.ndarray


def frames(n: int, size: int) -> np.ndarray:
    """A clip whose red bar moves one column a frame (seeded by nothing: fully determined)."""
    out = np.zeros((n, size, size, 3), dtype=np.uint8)
    for i in range(n):
        out[i, :, i % size, 0] = 255
    return out


def log_run(root: Path, work: Path) -> Logged:
    frame = frames(1, 16)[0]
    run = rltrack.init(id=RUN_ID, project="tables", name="tables", dir=root, system_metrics=False, quiet=True)
    run.log({"loss": 1.0}, step=0)
    samples = rltrack.Table(columns=["score", PAYLOAD, "frame", "clip"], caption=PAYLOAD)
    samples.add_data(2.5, PAYLOAD, rltrack.Image(frame, caption=PAYLOAD), rltrack.Video(frames(8, 16), fps=4))
    samples.add_data(-1.0, LINK, None, None)
    samples.add_data(7.0, "plain", rltrack.Image(frame), None)
    run.log({f"eval/{PAYLOAD}": samples}, step=1)
    rng = np.random.default_rng(0)
    scores = rng.permutation(BIG_ROWS)
    run.log({"big": rltrack.Table(columns=["i", "score"], data=[[i, int(v)] for i, v in enumerate(scores)])}, step=3)
    for step in (10, 20):
        run.log({"paged": rltrack.Table(columns=["i", "step"], data=[[i, step] for i in range(PAGED_ROWS)])}, step=step)
    curves = rltrack.Table(columns=["x", "y", "who"], data=[[0, 1.0, PAYLOAD], [1, 2.0, PAYLOAD], [0, 3.0, LINK],
                                                            [1, 0.5, LINK]])
    run.log({"plots/line": rltrack.plot.line(curves, "x", "y", stroke="who", title=PAYLOAD),
             "plots/bar": rltrack.plot.bar(curves, "who", "y", title=LINK)}, step=2)
    for level, title, text in ALERTS:
        run.alert(title, text, level=level)
    (work / FILE_NAME).write_text("<script>alert(6)</script>")
    (work / "policy.pt").write_bytes(b"\x00" * 2048)
    run.save(str(work / "*"), base_path=work, policy="now")
    run.finish()
    return Logged(root, run.id, frame)


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Logged, BackgroundServer]]:
    root = tmp_path_factory.mktemp("tables") / "store"
    data = log_run(root, tmp_path_factory.mktemp("work"))
    with BackgroundServer(ServerSettings(root=root)) as server:
        yield data, server


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
def page(context: Any, logged: tuple[Logged, BackgroundServer]) -> Iterator[Any]:
    watched = Watched(context)
    watched.page.goto(f"{logged[1].url}/runs/{logged[0].run_id}")
    watched.page.wait_for_selector("body[data-extras-ready='1']", timeout=READY_TIMEOUT_MS)
    yield watched.page
    watched.page.wait_for_load_state("networkidle")
    watched.check()
    watched.page.close()


def card(key: str) -> str:
    return f"#tables .table-card[data-key={_quote(key)}]"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def cells(page: Any, key: str, column: int) -> list[str]:
    return page.eval_on_selector_all(f"{card(key)} tbody tr", f"rows => rows.map(r => r.cells[{column}].textContent)")


def test_hostile_cells_and_names_show_as_text(page: Any) -> None:
    key = f"eval/{PAYLOAD}"
    page.wait_for_selector(f"{card(key)}[data-loaded]")
    assert page.text_content(f"{card(key)} h3") == key
    assert page.eval_on_selector_all(f"{card(key)} th", "ths => ths.map(t => t.dataset.col)") == \
        ["score", PAYLOAD, "frame", "clip"]
    assert cells(page, key, 1) == [PAYLOAD, LINK, "plain"]
    assert cells(page, key, 0) == ["2.5", "-1", "7"]
    assert PAYLOAD in page.text_content(f"{card(key)} p")  # the caption
    assert page.locator(f"{card(key)} a[href^='javascript']").count() == 0


def test_image_cells_are_thumbnails_and_video_cells_players(page: Any, logged: tuple[Logged, BackgroundServer]) -> None:
    key = f"eval/{PAYLOAD}"
    page.wait_for_selector(f"{card(key)}[data-loaded]")
    page.wait_for_function(
        "(sel) => [...document.querySelectorAll(sel + ' img.thumb')].every(i => i.complete && i.naturalWidth > 0)",
        arg=card(key), timeout=READY_TIMEOUT_MS)
    sizes = page.eval_on_selector_all(f"{card(key)} img.thumb", "imgs => imgs.map(i => [i.naturalWidth, i.alt])")
    assert sizes == [[16, PAYLOAD], [16, "image"]]
    src = page.get_attribute(f"{card(key)} video.thumb", "src")
    assert src.startswith(f"/api/runs/{RUN_ID}/files/media/") and src.endswith(".mp4")
    assert page.evaluate("(u) => fetch(u).then(r => r.headers.get('content-type'))", src) == "video/mp4"


def test_clicking_a_header_sorts_and_the_pager_and_step_pick_rows(page: Any) -> None:
    key = f"eval/{PAYLOAD}"
    page.wait_for_selector(f"{card(key)}[data-loaded]")
    page.click(f"{card(key)} th[data-col='score']")
    page.wait_for_selector(f"{card(key)}[data-loaded='1|score|asc|0']")
    assert cells(page, key, 0) == ["-1", "2.5", "7"]
    page.click(f"{card(key)} th[data-col='score']")
    page.wait_for_selector(f"{card(key)}[data-loaded='1|score|desc|0']")
    assert cells(page, key, 0) == ["7", "2.5", "-1"]
    assert page.get_attribute(f"{card(key)} th[data-col='score']", "aria-sort") == "descending"

    paged = card("paged")
    page.wait_for_selector(f"{paged}[data-loaded='20||asc|0']")  # the last step's table first
    assert page.is_visible(f"{paged} select.table-step")
    assert page.text_content(f"{paged} .rows-info") == "rows 1–100 of 250"
    page.click(f"{paged} button.next")
    page.wait_for_selector(f"{paged}[data-loaded='20||asc|100']")
    assert cells(page, "paged", 0)[:2] == ["100", "101"]
    page.select_option(f"{paged} select.table-step", "10")
    page.wait_for_selector(f"{paged}[data-loaded='10||asc|0']")
    assert set(cells(page, "paged", 1)) == {"10"}
    page.click(f"{paged} th[data-col='i']")
    page.click(f"{paged} th[data-col='i']")
    page.wait_for_selector(f"{paged}[data-loaded='10|i|desc|0']")
    assert cells(page, "paged", 0)[:3] == ["249", "248", "247"]
    assert page.is_disabled(f"{paged} button.prev")


def test_plots_are_drawn_with_their_titles_and_labels_as_text(page: Any) -> None:
    page.wait_for_selector("#plots .plot-card[data-loaded] .js-plotly-plot")
    page.wait_for_function("() => document.querySelectorAll('#plots .plot-card[data-loaded]').length === 2")
    line = page.evaluate("() => document.querySelector('#plots [data-key=\"plots/line\"] .js-plotly-plot').data"
                         ".map(t => [t.x, t.y])")
    assert line == [[[0, 1], [1.0, 2.0]], [[0, 1], [3.0, 0.5]]]
    titles = page.eval_on_selector_all("#plots .gtitle", "els => els.map(e => e.textContent)")
    assert sorted(titles) == sorted([PAYLOAD, LINK])
    legend = page.eval_on_selector_all("#plots .legendtext", "els => els.map(e => e.textContent)")
    assert sorted(legend) == sorted([PAYLOAD, LINK])
    ticks = page.eval_on_selector_all("#plots [data-key='plots/bar'] .xtick text", "els => els.map(e => e.textContent)")
    assert sorted(set(ticks)) == sorted([PAYLOAD, LINK])
    assert page.locator("#plots a").count() == 0  # plotly made no link from <a href>


def test_alerts_are_listed_with_their_level(page: Any) -> None:
    page.wait_for_selector("#alerts-section:not([hidden])")
    items = page.eval_on_selector_all(
        "#alerts li", "lis => lis.map(l => [l.className, l.querySelector('.level').textContent,"
        " l.querySelector('.title').textContent, l.querySelector('.text').textContent])")
    assert items == [[f"alert {level.lower()}", level, title, text] for level, title, text in ALERTS]
    colours = page.eval_on_selector_all("#alerts li", "lis => lis.map(l => getComputedStyle(l).borderLeftColor)")
    assert len(set(colours)) == 3  # each level looks different


def test_saved_files_are_listed_as_download_links(page: Any, logged: tuple[Logged, BackgroundServer]) -> None:
    page.wait_for_selector("#files-section:not([hidden])")
    links = page.eval_on_selector_all("#files a", "as => as.map(a => [a.textContent, a.getAttribute('href'),"
                                      " a.hasAttribute('download')])")
    assert [text for text, _, _ in links] == [f"files/{FILE_NAME}", "files/policy.pt"]
    assert all(href.startswith(f"/api/runs/{RUN_ID}/files/files/") and download for _, href, download in links)
    assert page.text_content("#files tbody tr:nth-child(2) td:nth-child(2)") == "2.0 KiB"
    headers = page.evaluate("(u) => fetch(u).then(r => [r.headers.get('content-disposition'),"
                            " r.headers.get('content-security-policy')])", links[0][1])
    assert headers[0].startswith("attachment") and headers[1].startswith("sandbox")
    assert os.path.basename(links[0][1]) != FILE_NAME  # percent-encoded in the URL


def test_a_100k_row_table_sorts_on_the_server_when_a_header_is_clicked(page: Any) -> None:
    big = card("big")
    page.wait_for_selector(f"{big}[data-loaded]")
    assert page.text_content(f"{big} .rows-info") == f"rows 1–100 of {BIG_ROWS:,}"
    t0 = time.perf_counter()
    page.click(f"{big} th[data-col='score']")
    page.click(f"{big} th[data-col='score']")
    page.wait_for_selector(f"{big}[data-loaded='3|score|desc|0']")
    print(f"100k rows: sorted twice and drawn in {(time.perf_counter() - t0) * 1000:.0f} ms")
    assert cells(page, "big", 1)[:3] == [str(BIG_ROWS - 1), str(BIG_ROWS - 2), str(BIG_ROWS - 3)]
    assert page.locator(f"{big} tbody tr").count() == 100


def test_a_live_run_shows_new_tables_steps_and_alerts(context: Any, logged: tuple[Logged, BackgroundServer]) -> None:
    run = rltrack.init(id="tableslive", project="tables", dir=logged[0].root, system_metrics=False, quiet=True)
    try:
        run.log({"live": rltrack.Table(columns=["step"], data=[[1]])}, step=1)
        run.flush()
        watched = Watched(context)
        page = watched.page
        page.goto(f"{logged[1].url}/runs/{run.id}")
        page.wait_for_selector(f"{card('live')}[data-loaded='1||asc|0']", timeout=READY_TIMEOUT_MS)
        assert page.is_hidden(f"{card('live')} select.table-step")  # one step: no selector
        run.log({"live": rltrack.Table(columns=["step"], data=[[2]])}, step=2)
        run.alert("late", "appeared while the page was open", level="WARN")
        run.flush()
        page.wait_for_selector(f"{card('live')}[data-loaded='2||asc|0']", timeout=LIVE_TIMEOUT_MS)
        assert cells(page, "live", 0) == ["2"]
        assert page.eval_on_selector_all(f"{card('live')} option", "os => os.map(o => o.value)") == ["1", "2"]
        page.wait_for_selector("#alerts li.warn", timeout=LIVE_TIMEOUT_MS)
        assert page.text_content("#alerts li.warn .title") == "late"
        watched.check()
        watched.page.close()
    finally:
        run.finish()
