from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rltrack._run import Run
from rltrack.sweeps import SweepNotFoundError, agent, sweep
from rltrack.sweeps.overview import list_sweeps, overview

METRIC = "loss"


def test_overview_lists_trials_best_and_importances(tmp_path: Path) -> None:
    cfg = {
        "method": "random",
        "metric": {"name": METRIC, "goal": "minimize"},
        "parameters": {"x": {"min": 0.0, "max": 1.0}, "noise": {"values": [0, 1]}},
    }
    sweep_id = sweep(cfg, project="ov", dir=tmp_path)

    def train(run: Run) -> None:
        if run.config["x"] > 0.9:
            raise ValueError("too big")
        run.log({METRIC: 10 * run.config["x"] + 0.01 * run.config["noise"]})
        run.log({METRIC: 10 * run.config["x"]})

    results = agent(sweep_id, train, count=12, dir=tmp_path, seed=3, verbose=False)
    view = overview(sweep_id, dir=tmp_path)
    assert (view.sweep_id, view.project, view.method, view.metric, view.goal) == (
        sweep_id, "ov", "random", METRIC, "minimize",
    )  # fmt: skip
    assert [(t.number, t.run_id, t.state, t.value) for t in view.trials] == [
        (i, r.run_id, r.state, None if r.state == "failed" else r.value) for i, r in enumerate(results)
    ]
    assert all(t.iterations == 2 for t in view.trials if t.state == "finished")
    finished = [r for r in results if r.state == "finished"]
    best = min(finished, key=lambda r: r.value or 0.0)
    assert view.best is not None and view.best.run_id == best.run_id
    assert view.best.config == best.config
    assert set(view.importances) == {"x", "noise"}
    assert view.importances["x"] > view.importances["noise"]


def test_list_sweeps_finds_every_sweep_of_the_store(tmp_path: Path) -> None:
    cfg = {"method": "random", "metric": {"name": METRIC}, "parameters": {"x": {"values": [1]}}}
    first = sweep(cfg, dir=tmp_path)
    second = sweep(cfg, dir=tmp_path)
    assert set(list_sweeps(tmp_path)) == {first, second}
    assert list_sweeps(tmp_path / "empty") == []


def test_overview_of_unknown_sweep_raises(tmp_path: Path) -> None:
    with pytest.raises(SweepNotFoundError, match="no sweep 'nope'"):
        overview("nope", dir=tmp_path)


def test_importing_rltrack_and_sweeps_imports_neither_optuna_nor_yaml() -> None:
    code = "import sys, rltrack, rltrack.sweeps; print(sorted(m for m in ('optuna', 'yaml') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
