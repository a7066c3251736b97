"""GapReport outputs: stable JSON, terminal table, one offline HTML file."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rltrack.sim2real import GapReport, PolicyVersion, compare

GAP_FIELDS = {"sim_mean", "real_mean", "difference", "ci_low", "ci_high", "n_sim", "n_real"}
SIGNAL_FIELDS = {"real_key", "n_sim", "n_real", "n_nonfinite_sim", "n_nonfinite_real", "sim_mean", "real_mean",
                 "sim_std", "real_std", "wasserstein", "wasserstein_norm", "ks_statistic", "ks_p_value", "histogram"}
TIMING_FIELDS = {"n_messages", "n_intervals", "period_mean_s", "period_median_s", "jitter_s", "rate_hz",
                 "dropped_estimate"}


@pytest.fixture
def report(sim_real_run: Callable[..., str], store_dir: Path) -> GapReport:
    rng = np.random.default_rng(0)
    versions = [PolicyVersion(s, rng.normal(m, 1, 10), rng.normal(m - 3, 1, 10)) for s, m in [(1, 5), (2, 9), (3, 20)]]
    return compare(sim_real_run(range(6), masspole=0.5, max_steps=50), dir=store_dir, n_boot=200, versions=versions)


def test_json_has_the_stable_layout(report: GapReport) -> None:
    data = json.loads(report.to_json())
    assert set(data) == {"format", "version", "sim", "real", "settings", "episodes", "signals", "paired", "timing",
                         "versions", "not_computed"}
    assert (data["format"], data["version"]) == ("rltrack.sim2real.gap_report", 1)
    assert set(data["sim"]) == {"run", "source", "n_episodes", "description"}
    assert set(data["settings"]) == {"n_boot", "seed", "ci_level", "align", "dtw_window_fraction"}
    assert set(data["episodes"]) == {"return", "success_rate", "length"}
    assert all(set(g) == GAP_FIELDS for g in data["episodes"].values())
    assert all(set(s) == SIGNAL_FIELDS for s in data["signals"].values())
    assert set(data["paired"]) == {"n_pairs", "pair_key", "keys"}
    assert all(set(p) == {"real_key", "n_pairs", "n_samples", "rmse", "dtw"} for p in data["paired"]["keys"].values())
    assert all(set(t) == TIMING_FIELDS for t in data["timing"].values())
    assert set(data["versions"]) == {"n_versions", "pearson", "spearman", "mmrv", "points"}
    assert set(data["versions"]["points"][0]) == GAP_FIELDS | {"step", "name"}
    assert data["not_computed"] == []


def test_json_writes_null_for_measures_not_computed(sim_real_run: Callable[..., str], store_dir: Path) -> None:
    data = json.loads(compare(sim_real_run(range(2), max_steps=10), dir=store_dir).to_json())
    assert data["episodes"]["return"]["ci_low"] is None
    assert data["versions"] is None
    measures = {n["measure"] for n in data["not_computed"]}
    assert {"episodes.return.ci", "episodes.length.ci", "versions"} <= measures


def test_table_shows_every_section_with_sample_sizes(report: GapReport) -> None:
    text = report.table()
    for heading in ("episodes", "signals (distributions over all samples)", "paired episodes (6 pairs",
                    "real control-loop timing", "policy versions (n=3)"):
        assert heading in text
    assert re.search(r"^return\s+50\s+50\s+0\s+\[0, 0\]\s+6\s+6$", text, re.M)


def test_html_is_one_self_contained_file(report: GapReport, tmp_path: Path) -> None:
    path = report.to_html(tmp_path / "nested" / "gap.html")
    page = path.read_text(encoding="utf-8")
    assert list(path.parent.iterdir()) == [path]
    assert "plotly.js v" in page  # the bundled library, inlined
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=", page)
    for key in ("obs/0", "obs/3", "episode/seed"):
        assert key in page
    assert page.count('class="chart"') == 3 + 2 + 2 + 2  # episodes, signals, paired, versions


def test_html_says_how_episodes_were_aligned_only_when_it_paired_some(
    report: GapReport, sim_real_run: Callable[..., str], store_dir: Path, tmp_path: Path
) -> None:
    assert "paired episodes aligned on step." in report.to_html(tmp_path / "paired.html").read_text()
    unpaired = compare(sim_real_run(range(4), real_seeds=range(10, 14), max_steps=20), dir=store_dir, n_boot=50)
    assert unpaired.n_pairs == 0
    page = unpaired.to_html(tmp_path / "unpaired.html").read_text()
    assert "aligned on" not in page and "seed 0.</p>" in page


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, headless=True, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


@pytest.mark.browser
def test_html_charts_render_offline(report: GapReport, tmp_path: Path, browser: Any) -> None:
    path = report.to_html(tmp_path / "gap.html")
    context = browser.new_context()
    page = context.new_page()
    requests: list[str] = []
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    def block(route: Any) -> None:
        requests.append(route.request.url)
        route.abort()

    context.route(re.compile(r"^https?://"), block)  # no network: any request fails loudly
    page.goto(path.as_uri())
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length === 9", timeout=15_000)
    ret = page.evaluate("document.getElementById('fig0').data.map(t => t.y[0])")
    context.close()
    assert errors == [] and requests == []
    assert report.episode_return is not None
    assert ret == [report.episode_return.sim_mean, report.episode_return.real_mean, report.episode_return.difference]


def test_report_of_an_empty_real_side_still_renders(store_dir: Path, tmp_path: Path) -> None:
    import rltrack

    run = rltrack.init(project="s2r", dir=store_dir, system_metrics=False)
    run.log({"obs/0": 1.0})
    run.finish()
    report = compare(run.id, dir=store_dir)
    assert "real: run" in report.table()
    page = report.to_html(tmp_path / "empty.html").read_text(encoding="utf-8")
    assert "has no data under source &#x27;real&#x27;" in page
    assert json.loads(report.to_json())["episodes"] == {"return": None, "success_rate": None, "length": None}
