"""`rltrack calibrate`: a table on stdout, the result and randomization files, errors as one line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from s2r_standin import cartpole, record_episodes

import rltrack
from rltrack.cli import main


@pytest.fixture
def real_run(store_dir: Path) -> str:
    run = rltrack.init(project="s2r", dir=store_dir, source="real", system_metrics=False, quiet=True)
    record_episodes(run, cartpole(0.3), range(4), max_steps=60)
    run.finish()
    return run.id


def test_calibrate_prints_the_table_and_writes_the_files(store_dir: Path, real_run: str, tmp_path: Path) -> None:
    params = tmp_path / "params.yaml"
    params.write_text("parameters:\n  masspole: {min: 0.05, max: 1.0}\n  x_threshold: {min: 2.4, max: 5.0}\n")
    out = tmp_path / "out"
    args = ["calibrate", real_run[:5], "--env", "CartPole-v1", "--params", str(params), "--budget", "40",
            "--dir", str(store_dir), "--out", str(out)]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert (
        f"calibration of run(s) {real_run}: 4 episodes, 240 steps, open-loop replay in 20-step windows" in result.output
    )
    lines = {line.split()[0]: line for line in result.output.splitlines() if line.strip()}
    assert "yes" in lines["masspole"]
    assert "NO (error changes 0.0% over the prior)" in lines["x_threshold"]
    saved = json.loads((out / "calibration.json").read_text(encoding="utf-8"))
    assert saved["runs"] == [real_run] and saved["n_trials"] == 40
    assert saved["parameters"]["x_threshold"]["identifiable"] is False
    assert abs(saved["best_params"]["masspole"] - 0.3) < 0.03
    assert f"randomization   {out / 'randomization.yaml'}" in result.output
    page = (out / "calibration.html").read_text(encoding="utf-8")
    assert f"before/after    {out / 'calibration.html'}" in result.output
    assert "Simulator before and after calibration (episode 0 of the recording)" in page
    figs = json.loads(page.split("const FIGS=", 1)[1].split(";FIGS.forEach", 1)[0])
    assert [f["layout"]["title"]["text"] for f in figs] == ["obs/0", "obs/1", "obs/2", "obs/3"]
    assert [t["name"] for t in figs[0]["data"]] == ["real (recorded)", "sim before", "sim after"]
    assert len(figs[0]["data"][0]["y"]) == 60
    group = saved["group"]
    assert len([r for r in rltrack.Api(store_dir).runs("s2r") if r.group == group]) == 40


def test_calibrate_writes_into_the_run_folder_by_default(store_dir: Path, real_run: str, tmp_path: Path) -> None:
    params = tmp_path / "params.yaml"
    params.write_text("masspole: {min: 0.05, max: 1.0}\n")
    args = ["calibrate", real_run, "--env", "CartPole-v1", "--params", str(params), "--budget", "20",
            "--no-track", "--dir", str(store_dir)]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    folder = rltrack.Api(store_dir).run(real_run).dir / "calibration"
    assert (folder / "randomization.yaml").is_file() and (folder / "calibration.json").is_file()


def test_bad_input_is_one_error_line(store_dir: Path, real_run: str, tmp_path: Path) -> None:
    params = tmp_path / "params.yaml"
    params.write_text("masspole: {min: 0.05, max: 1.0}\n")
    args = ["calibrate", real_run, "--env", "CartPole-v1", "--params", str(params), "--actions", "cmd",
            "--dir", str(store_dir)]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert "Error: run " in result.output and "has no action keys cmd/0, cmd/1, ..." in result.output


def test_the_overlay_is_the_last_section_of_the_runs_gap_report(
    store_dir: Path, sim_real_run: Callable[..., str], tmp_path: Path
) -> None:
    run_id = sim_real_run(range(4), masspole=0.3, max_steps=60)
    params = tmp_path / "params.yaml"
    params.write_text("masspole: {min: 0.05, max: 1.0}\n")
    out = tmp_path / "out"
    args = ["calibrate", run_id, "--env", "CartPole-v1", "--params", str(params), "--budget", "20", "--no-track",
            "--dir", str(store_dir), "--out", str(out)]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert f"before/after    {out / 'calibration.html'} (the run's gap report, calibration last)" in result.output
    page = (out / "calibration.html").read_text(encoding="utf-8")
    # The gap report's own sections, then the calibration: one offline page (plotly inlined, nothing fetched).
    assert page.index("<h2>Episode gaps</h2>") < page.index("<h2 id='calibration'>Calibration</h2>")
    assert "Sim-vs-real gap" in page and "Plotly.newPlot" in page
    assert "<script src" not in page and "<link" not in page
    figs = json.loads(page.split("const FIGS=", 1)[1].split(";FIGS.forEach", 1)[0])
    overlay = [f for f in figs if f["layout"]["title"]["text"] in ("obs/0", "obs/1", "obs/2", "obs/3")]
    assert len(overlay) == 4 and figs[-4:] == overlay  # the calibration's charts come last
    assert page.count('<div class="chart" id="fig') == len(figs)
    for fig in overlay:
        assert [t["name"] for t in fig["data"]] == ["real (recorded)", "sim before", "sim after"]
        assert len(fig["data"][0]["y"]) == 60  # the first recorded episode


def test_the_filter_metric_from_the_command_line(store_dir: Path, tmp_path: Path) -> None:
    run = rltrack.init(project="s2r", dir=store_dir, source="real", system_metrics=False, quiet=True)
    record_episodes(run, cartpole(0.3), range(2), max_steps=60)
    run.finish()
    params = tmp_path / "params.yaml"
    params.write_text("masspole: {min: 0.05, max: 1.0}\nsigma: {min: 0.0001, max: 0.01}\n")
    args = ["calibrate", run.id, "--env", "CartPole-v1", "--params", str(params), "--budget", "30", "--no-track",
            "--metric", "filter", "--noise", "sigma,sigma,sigma,sigma", "--dir", str(store_dir),
            "--out", str(tmp_path / "out")]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "scored by an ensemble Kalman filter over whole episodes" in result.output
    saved = json.loads((tmp_path / "out" / "calibration.json").read_text(encoding="utf-8"))
    assert saved["metric"] == "filter" and abs(saved["best_params"]["masspole"] - 0.3) < 0.03
    bad = CliRunner().invoke(main, [*args[:-2], "--out", str(tmp_path / "o2"), "--metric", "trajectory"])
    assert bad.exit_code == 1 and "noise=... is used by metric='filter' only" in bad.output
