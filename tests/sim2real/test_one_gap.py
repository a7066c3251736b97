"""One sim-to-real gap: compare(), `rltrack compare`, the dashboard's JSON and the HTML report show the same numbers.

Every view runs :func:`rltrack.sim2real.compare` with its defaults: the sim side is the deployed
checkpoint's eval episodes (not the 40 training episodes before it), stated in words in every
table, and the bootstrap uses one setting. The store is made by the real run API (``make_deployed``)
and the dashboard is a real uvicorn server on 127.0.0.1.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from rltrack.sim2real import GapReport, compare
from rltrack.sim2real.deployed import N_BOOT, SEED
from rltrack.sim2real.text import gap_row
from s2r_standin import Deployed, make_deployed

from rltrack.cli import main

httpx = pytest.importorskip("httpx", reason="the dashboard test talks HTTP (rltrack[ui])")
pytest.importorskip("uvicorn", reason="the dashboard runs on uvicorn (rltrack[ui])")

from rltrack.server import ServerSettings  # noqa: E402
from rltrack.server.serve import BackgroundServer  # noqa: E402

TELEMETRY = ["action/0", "obs/0", "obs/1", "obs/2", "obs/3"]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Deployed:
    tmp = tmp_path_factory.mktemp("one-gap")
    return make_deployed(tmp / "store", tmp)


@pytest.fixture(scope="module")
def report(store: Deployed) -> GapReport:
    return compare(store.run_id, dir=store.root)


@pytest.fixture(scope="module")
def dashboard(store: Deployed) -> Iterator[dict[str, object]]:
    with BackgroundServer(ServerSettings(root=store.root)) as server:
        answer = httpx.get(f"{server.url}/api/runs/{store.run_id}/simreal/gap", timeout=60)
    assert answer.status_code == 200, answer.text
    data: dict[str, object] = answer.json()
    assert data["available"] is True, data
    yield data


def cli(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_the_sim_side_is_the_deployed_checkpoints_eval(report: GapReport, store: Deployed) -> None:
    gap = report.episode_return
    assert gap is not None
    assert (gap.n_sim, gap.n_real) == (store.n_eval, store.n_eval)  # not the 40 training episodes
    assert (gap.sim_mean, gap.real_mean, gap.difference) == (60.0, 47.5, -12.5)
    assert gap.ci_contains(-12.5) and not gap.ci_contains(0.0)
    assert report.sim.description == store.description
    assert (report.settings.n_boot, report.settings.seed) == (N_BOOT, SEED)


def test_the_cli_prints_compares_numbers_and_says_which_episodes(report: GapReport, store: Deployed) -> None:
    out = cli("compare", store.run_id, "--dir", str(store.root))
    assert out.splitlines()[0] == f"{store.description}; run {store.run_id}, source 'sim'"
    assert out == report.table()
    data = json.loads(cli("compare", store.run_id, "--dir", str(store.root), "--json"))
    assert data["episodes"]["return"] == report.to_dict()["episodes"]["return"]
    assert data["sim"]["description"] == store.description


def test_the_dashboard_shows_the_cli_table(report: GapReport, store: Deployed, dashboard: dict[str, object]) -> None:
    sections = dashboard["sections"]
    assert isinstance(sections, list)
    assert sections[0]["rows"][0] == gap_row("return", report.episode_return)
    assert dashboard["heading"] == report.table().splitlines()[:3]
    assert dashboard["heading"][0].startswith(store.description)  # type: ignore[index]
    assert dashboard["report"] == json.loads(report.to_json())  # same resamples and seed: the same interval


def test_only_telemetry_gets_signal_and_control_loop_rows(report: GapReport, dashboard: dict[str, object]) -> None:
    # eval/mean_reward is logged under both sources, three points each: an aggregate, not a control loop.
    assert [s.key for s in report.signals] == TELEMETRY
    assert [t.key for t in report.timing] == TELEMETRY
    assert all(t.rate_hz == pytest.approx(50.0) for t in report.timing)
    titles = [s["title"] for s in dashboard["sections"]]  # type: ignore[attr-defined]
    timing = dashboard["sections"][titles.index("real control-loop timing")]  # type: ignore[index]
    assert [row[0] for row in timing["rows"]] == TELEMETRY


def test_html_report_goes_into_the_run_folder(report: GapReport, store: Deployed) -> None:
    out = cli("compare", store.run_id, "--dir", str(store.root), "--html")
    path = store.root / "runs" / store.run_id / "sim2real_gap.html"
    assert f"wrote {path}" in out
    page = path.read_text(encoding="utf-8")
    assert store.description in page
    for cell in gap_row("return", report.episode_return)[1:5]:
        assert f"<td>{cell}</td>" in page
    assert list(Path.cwd().iterdir()) == []  # nothing in the current folder


def test_the_html_report_escapes_the_description_it_states(report: GapReport, tmp_path: Path) -> None:
    from dataclasses import replace

    hostile = replace(report, sim=replace(report.sim, description="sim: <img src=x onerror=alert(1)>"))
    page = hostile.to_html(tmp_path / "r.html").read_text(encoding="utf-8")
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


def test_a_handful_of_points_is_not_timed_as_a_control_loop(store: Deployed) -> None:
    # Asked for by name, eval/mean_reward is compared, but three points logged microseconds apart are no loop.
    report = compare(store.run_id, dir=store.root, keys=["eval/mean_reward"], n_boot=50)
    assert [s.key for s in report.signals] == ["eval/mean_reward"]
    assert report.timing == ()
    assert ("timing[eval/mean_reward]", "3 messages; a control loop needs 20") in [
        (n.measure, n.reason) for n in report.not_computed
    ]
