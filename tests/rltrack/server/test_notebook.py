"""Notebook helpers: the embedded dashboard answers, the run card shows the run."""

from __future__ import annotations

from pathlib import Path

import httpx

import rltrack
from rltrack.notebook import run_html, show


def test_show_embeds_the_run_page(tmp_path: Path) -> None:
    run = rltrack.init(project="nb", name="cell", dir=tmp_path, system_metrics=False)
    run.log({"a": 1.0}, step=0)
    run.flush()
    embed = show(run, height=400)
    assert embed.url.endswith(f"/runs/{run.id}")
    assert 'height="400"' in embed._repr_html_()
    assert httpx.get(embed.url.replace(f"/runs/{run.id}", f"/api/runs/{run.id}"), timeout=10).json()["name"] == "cell"
    assert show(run).url == embed.url  # the server is reused
    run.finish()


def test_run_html_lists_config_and_summary(tmp_path: Path) -> None:
    run = rltrack.init(project="nb", name="<b>x</b>", config={"lr": 0.0003, "deep": list(range(50))}, dir=tmp_path,
                       system_metrics=False)
    run.log({"loss": 0.5}, step=0)
    run.finish()
    card = run_html(run)
    assert "&lt;b&gt;x&lt;/b&gt;" in card and "<b>x</b>" not in card.replace("<b>&lt;", "")
    assert "config (2)" in card and "0.0003" in card and "..." in card
    assert "summary (1)" in card and "0.5" in card and "finished" in card
