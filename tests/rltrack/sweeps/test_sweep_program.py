from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Any

import optuna
import pytest
import yaml
from click.testing import CliRunner

import rltrack
from rltrack.cli import main
from rltrack.sweeps import agent, parse_config, sweep
from rltrack.sweeps.engine import create_study, open_storage, sweep_folder, write_pointer
from rltrack.sweeps.program import build_command

METRIC = "eval/score"

# A training program as a user writes it: argparse flags, a plain rltrack.init(), no sweep code.
_PROGRAM = textwrap.dedent(
    """
    import argparse, os, sys, time
    import rltrack

    parser = argparse.ArgumentParser()
    parser.add_argument("--x", type=float, required=True)
    parser.add_argument("--opt.name", dest="opt_name", default="adam")
    parser.add_argument("--iters", type=int, default=3)
    args = parser.parse_args()
    run = rltrack.init(project="ignored-when-resuming", config={"iters": args.iters}, system_metrics=False)
    assert run.group == os.environ["RLTRACK_SWEEP_ID"]
    for i in range(args.iters):
        run.log({"eval/score": args.x * (i + 1)})
        if args.x < 0.01:  # the hopeless arm trains slowly, so only pruning ends it early
            run.flush()
            time.sleep(0.1)
    if args.x > 0.5:
        sys.exit(3)
    run.finish()
    """
)


@pytest.fixture
def program(tmp_path: Path) -> Path:
    path = tmp_path / "train.py"
    path.write_text(_PROGRAM, encoding="utf-8")
    return path


def _config(program: Path, **extra: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "program": str(program),
        "method": "grid",
        "metric": {"name": METRIC, "goal": "maximize"},
        "parameters": {"x": {"values": [0.25, 0.75]}, "opt": {"parameters": {"name": {"value": "sgd"}}}},
    }
    cfg.update(extra)
    return cfg


def test_build_command_expands_wandb_macros() -> None:
    config = {"lr": 0.0003, "arch": [64, 64], "opt": {"name": "adam"}, "norm": True, "clip": False}
    argv = build_command(("${env}", "${interpreter}", "${program}", "${args}"), "train.py", config)
    assert argv == [
        "/usr/bin/env", sys.executable, "train.py",
        "--lr=0.0003", "--arch=[64, 64]", "--opt.name=adam", "--norm=True", "--clip=False",
    ]  # fmt: skip
    assert build_command(("python", "${program}", "${args_no_hyphens}"), "t.py", {"a": 1}) == ["python", "t.py", "a=1"]
    assert build_command(("${args_no_boolean_flags}",), None, {"norm": True, "clip": False, "a": 1}) == [
        "--norm",
        "--a=1",
    ]
    assert build_command(("${args_json}",), None, {"opt": {"lr": 1}}) == ['{"opt": {"lr": 1}}']


def test_program_trials_join_the_runs_the_agent_created(tmp_path: Path, program: Path) -> None:
    store = tmp_path / "store"
    sweep_id = sweep(_config(program), project="prog", dir=store)
    results = agent(sweep_id, dir=store, verbose=False)
    by_x = {r.config["x"]: r for r in results}
    assert sorted(by_x) == [0.25, 0.75]
    ok, bad = by_x[0.25], by_x[0.75]
    assert (ok.state, ok.value, ok.iterations) == ("finished", 0.75, 3)
    assert bad.state == "failed"
    assert bad.reason is not None and "exited with code 3" in bad.reason
    api = rltrack.Api(store)
    view = api.run(ok.run_id)
    assert (view.project, view.group, view.state) == ("prog", sweep_id, "finished")
    assert view.config == {"x": 0.25, "opt": {"name": "sgd"}, "iters": 3}
    assert list(view.series(METRIC)[2]) == [0.25, 0.5, 0.75]
    failed = api.run(bad.run_id)
    assert (failed.state, failed.exit_code) == ("failed", 3)
    assert {r.id for r in api.runs(group=sweep_id)} == {ok.run_id, bad.run_id}


def test_program_that_cannot_start_fails_its_trial(tmp_path: Path) -> None:
    cfg = _config(tmp_path / "train.py", command=[str(tmp_path / "no-such-binary"), "${args}"])
    sweep_id = sweep(cfg, dir=tmp_path)
    results = agent(sweep_id, count=1, dir=tmp_path, verbose=False)
    assert results[0].state == "failed"
    assert results[0].reason is not None and "cannot start" in results[0].reason
    assert rltrack.Api(tmp_path).run(results[0].run_id).state == "failed"


def test_pruned_program_is_stopped_and_its_run_marked_pruned(tmp_path: Path, program: Path) -> None:
    # Fixed sweep id: Hyperband's brackets hash the study name. The grid's fixed shuffle runs
    # the good arms first, so the bad arm meets competitors at the first rung of its bracket.
    cfg = parse_config(
        _config(
            program,
            parameters={"x": {"values": [0.001, 0.5, 0.4]}, "iters": {"value": 27}},
            early_terminate={"type": "hyperband", "min_iter": 1, "max_iter": 27, "eta": 3},
        )
    )
    sweep_id = "prune001"
    create_study(cfg, sweep_id, "prog", open_storage(sweep_folder(tmp_path) / f"{sweep_id}.journal"))
    write_pointer(tmp_path, sweep_id, None)
    results = agent(sweep_id, dir=tmp_path, verbose=False)
    assert [r.config["x"] for r in results] == [0.4, 0.5, 0.001]
    bad = results[-1]
    assert bad.state == "pruned", results
    view = rltrack.Api(tmp_path).run(bad.run_id)
    assert view.state == "pruned"
    assert len(view.series(METRIC)[2]) < 27  # the program was stopped before its last iteration
    trials = optuna.load_study(
        study_name=sweep_id, storage=open_storage(sweep_folder(tmp_path) / f"{sweep_id}.journal")
    ).get_trials()
    assert {t.user_attrs["run_id"]: t.state for t in trials}[bad.run_id] == optuna.trial.TrialState.PRUNED


def test_cli_sweep_prints_the_id_and_agent_runs_the_program(tmp_path: Path, program: Path) -> None:
    config_file = tmp_path / "sweep.yaml"
    config_file.write_text(
        yaml.safe_dump(_config(program, parameters={"x": {"values": [0.25, 0.3]}}, run_cap=1)), encoding="utf-8"
    )
    store = str(tmp_path / "store")
    runner = CliRunner()
    created = runner.invoke(main, ["sweep", str(config_file), "--project", "cli", "--dir", store])
    assert created.exit_code == 0, created.output
    sweep_id = created.stdout.strip()
    assert len(sweep_id) == 8
    # The hint is the command to copy: with the store the sweep was made in.
    assert created.stderr.strip().splitlines()[-1] == f"start agents with: rltrack agent {sweep_id} --dir {store}"
    ran = runner.invoke(main, ["agent", sweep_id, "--count", "2", "--dir", store])
    assert ran.exit_code == 0, ran.output
    lines = ran.stderr.strip().splitlines()
    assert lines[-1] == "agent done: 1 trial (1 finished, 0 pruned, 0 failed)"
    assert lines[-2].startswith(f"sweep {sweep_id} trial 0 run ")
    (view,) = rltrack.Api(store).runs(group=sweep_id)
    assert (view.project, view.state) == ("cli", "finished")


def test_cli_reports_config_errors_without_a_traceback(tmp_path: Path) -> None:
    config_file = tmp_path / "sweep.yaml"
    config_file.write_text("method: annealing\nmetric: {name: m}\nparameters: {a: {values: [1]}}\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["sweep", str(config_file), "--dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "method: unknown method 'annealing'" in result.stderr


def test_cli_agent_on_unknown_sweep_fails_cleanly(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["agent", "zzzz0000", "--dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "no sweep 'zzzz0000'" in result.stderr
