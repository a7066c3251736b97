"""The before/after overlay in chromium (Playwright): drawn from the page alone, with every network request refused."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rltrack.sim2real import calibrate, compare

pytest.importorskip("playwright", reason="browser tests drive chromium through Playwright")
pytest.importorskip("plotly", reason="the page inlines plotly.js from the plotly package (rltrack[ui])")

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]  # fmt: skip
# Per chart in the calibration section: its title and the names of the lines plotly drew.
DRAWN_JS = """() => Array.from(document.querySelectorAll('.chart')).slice(-4).map((el) => ({
  title: el.querySelector('.gtitle') ? el.querySelector('.gtitle').textContent : null,
  lines: Array.from(el.querySelectorAll('.scatterlayer .trace')).length,
  legend: Array.from(el.querySelectorAll('.legendtext'), (t) => t.textContent),
}))"""


def test_the_overlay_draws_offline_in_the_gap_report(
    store_dir: Path, sim_real_run: Callable[..., str], tmp_path: Path
) -> None:
    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    run_id = sim_real_run(range(3), masspole=0.3, max_steps=60)
    result = calibrate(run_id, make_env="CartPole-v1", params={"masspole": {"min": 0.05, "max": 1.0}}, budget=20,
                       track=False, dir=store_dir)  # fmt: skip
    page_path = result.to_html(tmp_path / "gap.html", gap=compare(run_id, dir=store_dir))
    requested: list[str] = []
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))

            def refuse(route: Any) -> None:
                requested.append(route.request.url)
                route.abort()

            page.route("http*://**", refuse)  # offline: anything fetched from a network fails
            page.goto(page_path.as_uri())
            page.wait_for_function("() => document.querySelectorAll('.chart .main-svg').length > 0", timeout=30_000)
            drawn = page.evaluate(DRAWN_JS)
            section = page.text_content("#calibration + pre")
        finally:
            browser.close()
    assert requested == [] and errors == []
    assert [d["title"] for d in drawn] == ["obs/0", "obs/1", "obs/2", "obs/3"]
    for chart in drawn:
        assert chart["lines"] == 3 and chart["legend"] == ["real (recorded)", "sim before", "sim after"]
    assert section is not None and "masspole" in section and "x lower" in section
