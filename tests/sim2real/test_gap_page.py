"""The run page's gap tables in chromium (Playwright): compare()'s numbers, no overlap, no markup from writers."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rltrack.sim2real import compare
from rltrack.sim2real.text import gap_row
from s2r_standin import Deployed, make_deployed

import rltrack

pytest.importorskip("uvicorn", reason="the dashboard runs on uvicorn (rltrack[ui])")
pytest.importorskip("playwright", reason="browser tests drive chromium through Playwright")

from rltrack.server import ServerSettings
from rltrack.server.serve import BackgroundServer

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]  # fmt: skip
READY_TIMEOUT_MS = 30_000
WIDTHS = (1280, 1440, 1920)
HOSTILE = "h/<img src=x onerror=window.__pwned=1>"

# Every table of the sim-vs-real section: its box, and the box of the element that clips it.
BOXES_JS = """() => Array.from(document.querySelectorAll('#simreal table')).map((t) => {
  const r = t.getBoundingClientRect(), c = (t.closest('.gap-table') || t).getBoundingClientRect();
  return {left: r.left, right: r.right, top: r.top, bottom: r.bottom, clipRight: c.right};
})"""


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Deployed:
    tmp = tmp_path_factory.mktemp("gap-page")
    deployed = make_deployed(tmp / "store", tmp)
    # A writer's key with markup in it, shared by both sides: drawn as text in the signal and timing tables.
    for source in ("sim", "real"):
        run = rltrack.init(id=deployed.run_id, resume="must", source=source, dir=deployed.root, system_metrics=False)
        for i in range(30):
            run.log({HOSTILE: float(i % 7)}, step=deployed.policy_step, t_ns=1_900_000_000_000_000_000 + i * 10**7)
        run.finish()
    return deployed


@pytest.fixture(scope="module")
def server(store: Deployed) -> Iterator[BackgroundServer]:
    with BackgroundServer(ServerSettings(root=store.root)) as s:
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
def page(browser: Any, server: BackgroundServer, store: Deployed) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": WIDTHS[0], "height": 1000})
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pg.goto(f"{server.url}/runs/{store.run_id}")
    pg.wait_for_selector("#gap[data-ready='1']", timeout=READY_TIMEOUT_MS)
    yield pg
    ctx.close()
    assert errors == []


def overlaps(a: dict[str, float], b: dict[str, float]) -> bool:
    return a["left"] < b["right"] and b["left"] < a["right"] and a["top"] < b["bottom"] and b["top"] < a["bottom"]


@pytest.mark.parametrize("width", WIDTHS)
def test_no_two_gap_tables_overlap(page: Any, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 1000})
    page.wait_for_function(f"() => window.innerWidth === {width}")
    boxes = page.evaluate(BOXES_JS)
    assert len(boxes) >= 4  # episodes, signals, paired, control-loop timing
    for i, a in enumerate(boxes):
        assert a["right"] - a["left"] > 0
        assert a["clipRight"] <= width  # the table's frame stays in the window; a wider table scrolls inside it
        for b in boxes[i + 1 :]:
            assert not overlaps(a, b), (width, a, b)


def test_the_gap_on_the_page_is_compares(page: Any, store: Deployed) -> None:
    report = compare(store.run_id, dir=store.root)
    cells = page.evaluate(
        "() => Array.from(document.querySelector('#gap table tbody tr').cells, (td) => td.textContent)"
    )
    assert cells == gap_row("return", report.episode_return)
    assert cells[3] == "-12.5"
    sides = page.text_content("#gap .gap-sides")
    assert sides.startswith(f"{store.description}; run {store.run_id}, source 'sim'")
    assert "n_boot=2000, seed=0" in sides


def test_writer_strings_are_drawn_as_text(page: Any) -> None:
    assert page.evaluate("() => window.__pwned") is None
    assert page.locator("#gap img").count() == 0
    keys = page.eval_on_selector_all("#gap td:first-child", "tds => tds.map(td => td.textContent)")
    assert HOSTILE in keys


def test_the_html_reports_tables_do_not_overlap(browser: Any, store: Deployed, tmp_path: Path) -> None:
    path = compare(store.run_id, dir=store.root).to_html(tmp_path / "gap.html")
    ctx = browser.new_context(viewport={"width": WIDTHS[0], "height": 1000})
    try:
        pg = ctx.new_page()
        pg.goto(path.as_uri())  # plotly.js is inlined: loaded once, then the window is resized
        assert pg.text_content("table caption") == store.description
        for width in WIDTHS:
            pg.set_viewport_size({"width": width, "height": 1000})
            pg.wait_for_function(f"() => window.innerWidth === {width}")
            boxes = pg.evaluate(BOXES_JS.replace("#simreal table", "table"))
            assert len(boxes) >= 4
            for i, a in enumerate(boxes):
                assert a["right"] <= width
                for b in boxes[i + 1 :]:
                    assert not overlaps(a, b), (width, a, b)
    finally:
        ctx.close()
