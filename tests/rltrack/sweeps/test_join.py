"""wandb's sweep pattern: ``rltrack.init()`` inside an agent's function (or a program) is the trial's run."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import rltrack
from rltrack.sweeps import agent, sweep

GRID = {
    "method": "grid",
    "metric": {"name": "score", "goal": "maximize"},
    "parameters": {"a": {"values": [1, 2]}, "b": {"values": ["x", "y", "z"]}},
}

# The held-out check, verbatim in train(): two agent processes share a 2x3 grid.
_AGENT = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    import rltrack

    sweep_id, root, index = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    (root / f"ready-{index}").touch()
    deadline = time.monotonic() + 60
    while len(list(root.glob("ready-*"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)

    def train():
        run = rltrack.init()
        score = run.config["a"] * 2
        run.log({"score": score})

    results = rltrack.agent(sweep_id, function=train, count=6, dir=root, seed=int(index), verbose=False)
    print(json.dumps([[r.run_id, r.state, r.value] for r in results]))
    """
)


def test_init_inside_two_parallel_agents_joins_each_trial(tmp_path: Path) -> None:
    sweep_id = sweep(GRID, project="join", dir=tmp_path)
    procs = [
        subprocess.Popen([sys.executable, "-c", _AGENT, sweep_id, str(tmp_path), str(i)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(2)
    ]
    outputs = [p.communicate(timeout=240) for p in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    results = [row for out, _ in outputs for row in json.loads(out.strip().splitlines()[-1])]
    assert len(results) == 6
    assert all(state == "finished" for _, state, _ in results), results
    views = rltrack.Api(tmp_path).runs(project="join")
    assert len(views) == 6  # init() made no second, empty run per trial
    assert {v.id for v in views} == {run_id for run_id, _, _ in results}
    assert sorted((v.config["a"], v.config["b"]) for v in views) == sorted(itertools.product([1, 2], "xyz"))
    for view in views:
        assert view.group == sweep_id
        assert view.state == "finished"
        assert view.series("score")[2].tolist() == [view.config["a"] * 2]
    values = {run_id: value for run_id, _, value in results}
    assert all(values[v.id] == v.config["a"] * 2 for v in views)


def test_the_sweep_value_wins_over_the_scripts_config_and_new_keys_are_added(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sweep_id = sweep(GRID, dir=tmp_path)
    seen = []

    def train() -> None:
        run = rltrack.init(project="other", config={"a": 100, "epochs": 3})
        assert rltrack.run is run
        assert rltrack.init() is run  # a second init() in the trial is still the trial's run
        seen.append((run.config["a"], run.config["epochs"], rltrack.config.a))
        run.log({"score": run.config["a"] * 2})

    results = agent(sweep_id, train, count=2, dir=tmp_path, verbose=False)
    assert [r.state for r in results] == ["finished", "finished"]
    assert [s[0] for s in seen] == [r.config["a"] for r in results]
    assert all(s[1] == 3 and s[2] == s[0] for s in seen)
    assert "config keys ['a'] are set by the sweep" in capsys.readouterr().err
    view = rltrack.Api(tmp_path).run(results[0].run_id)
    assert view.config == {"a": results[0].config["a"], "b": results[0].config["b"], "epochs": 3}
    assert rltrack.run is None  # the trial's run ended with the trial


def test_init_after_the_trial_makes_a_new_run(tmp_path: Path) -> None:
    sweep_id = sweep(GRID, dir=tmp_path)
    trial_runs = []

    def train() -> None:
        trial_runs.append(rltrack.init())
        rltrack.log({"score": 1.0})

    agent(sweep_id, train, count=1, dir=tmp_path, verbose=False)
    after = rltrack.init(dir=tmp_path, system_metrics=False, quiet=True)
    assert after.id != trial_runs[0].id
    assert "a" not in after.config
    after.finish()


_PROGRAM = textwrap.dedent(
    """
    import argparse
    import rltrack

    parser = argparse.ArgumentParser()
    parser.add_argument("--a", type=int, default=100)
    parser.add_argument("--b", default="none")
    args = parser.parse_args()
    run = rltrack.init(config={"a": 100, "b": "none", "lr": 0.1}, system_metrics=False)
    run.log({"score": run.config["a"] * 2 + args.a - args.a})
    """
)


def test_a_program_init_continues_the_trial_run_with_the_sweep_config(tmp_path: Path) -> None:
    program = tmp_path / "train.py"
    program.write_text(_PROGRAM, encoding="utf-8")
    cfg = {**GRID, "program": str(program), "command": ["${interpreter}", "${program}", "${args}"]}
    sweep_id = sweep(cfg, dir=tmp_path)
    results = agent(sweep_id, count=2, dir=tmp_path, verbose=False)
    assert [r.state for r in results] == ["finished", "finished"]
    for result in results:
        view = rltrack.Api(tmp_path).run(result.run_id)
        assert view.config == {**result.config, "lr": 0.1}  # the script's defaults did not win
        assert view.series("score")[2].tolist() == [result.config["a"] * 2]
        assert result.value == result.config["a"] * 2


def test_a_function_that_finishes_its_run_itself_still_completes_the_trial(tmp_path: Path) -> None:
    sweep_id = sweep(GRID, dir=tmp_path)

    def train() -> None:
        with rltrack.init() as run:  # wandb scripts often close the run themselves
            run.log({"score": run.config["a"] * 2})
        rltrack.finish()

    results = agent(sweep_id, train, count=2, dir=tmp_path, verbose=False)
    assert [(r.state, r.value) for r in results] == [("finished", r.config["a"] * 2) for r in results]
    assert all(rltrack.Api(tmp_path).run(r.run_id).state == "finished" for r in results)


def test_sync_tensorboard_in_a_trial_mirrors_into_the_trial_run(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    torch_tb = pytest.importorskip("torch.utils.tensorboard")
    sweep_id = sweep(GRID, dir=tmp_path)

    def train() -> None:
        run = rltrack.init(sync_tensorboard=True)
        writer = torch_tb.SummaryWriter(str(tmp_path / "runs" / run.id))
        for step in (1, 2):
            writer.add_scalar("score", run.config["a"] * step, step)
        writer.close()

    (result,) = agent(sweep_id, train, count=1, dir=tmp_path, verbose=False)
    assert result.state == "finished"
    assert result.value == result.config["a"] * 2  # the mirrored metric is the objective
    steps, _, values = rltrack.Api(tmp_path).run(result.run_id).series("score")
    assert (steps.tolist(), values.tolist()) == ([1, 2], [result.config["a"], result.config["a"] * 2])
