from __future__ import annotations

import contextlib
import itertools
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import optuna
import pytest

import rltrack
from rltrack._run import Run
from rltrack.errors import InvalidValueError
from rltrack.sweeps import SweepConfigError, SweepNotFoundError, TrialPruned, agent, parse_config, should_prune, sweep
from rltrack.sweeps.engine import create_study, open_storage, sweep_folder, write_pointer

METRIC = "eval/score"
MAX_ITER = 9


def _study(root: Path, sweep_id: str) -> optuna.Study:
    storage = open_storage(sweep_folder(root) / f"{sweep_id}.journal")
    return optuna.load_study(study_name=sweep_id, storage=storage)


def _config(method: str = "random", **extra: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "method": method,
        "metric": {"name": METRIC, "goal": "maximize"},
        "parameters": {"x": {"min": 0.0, "max": 1.0}},
    }
    cfg.update(extra)
    return cfg


def test_each_trial_is_a_run_in_the_sweep_group_with_its_params(tmp_path: Path) -> None:
    sweep_id = sweep(_config(), project="proj", dir=tmp_path)

    def train(run: Run) -> None:
        for i in range(3):
            run.log({METRIC: run.config["x"] * i})

    results = agent(sweep_id, train, count=2, dir=tmp_path, seed=1, verbose=False)
    assert [r.state for r in results] == ["finished", "finished"]
    runs = {r.id: r for r in rltrack.Api(tmp_path).runs(group=sweep_id)}
    assert set(runs) == {r.run_id for r in results}
    for result in results:
        view = runs[result.run_id]
        assert view.project == "proj"
        assert view.state == "finished"
        assert view.config == {"x": result.config["x"]}
        assert result.value == pytest.approx(2 * result.config["x"])  # the summary's last value
        assert result.iterations == 3
    trials = _study(tmp_path, sweep_id).get_trials()
    assert [t.user_attrs["run_id"] for t in trials] == [r.run_id for r in results]
    assert [t.value for t in trials] == [r.value for r in results]


def test_function_without_arguments_reaches_the_run_as_rltrack_run(tmp_path: Path) -> None:
    sweep_id = sweep(_config(), dir=tmp_path)

    def train() -> None:
        run = rltrack.run
        assert run is not None
        rltrack.log({METRIC: run.config["x"]})

    (result,) = agent(sweep_id, train, count=1, dir=tmp_path, verbose=False)
    assert result.state == "finished"
    assert result.value == result.config["x"]


def test_summary_mode_from_define_metric_is_the_objective(tmp_path: Path) -> None:
    sweep_id = sweep(_config(), dir=tmp_path)

    def train(run: Run) -> None:
        run.define_metric(METRIC, summary="max")
        for value in (1.0, 5.0, 2.0):
            run.log({METRIC: value})

    (result,) = agent(sweep_id, train, count=1, dir=tmp_path, verbose=False)
    assert result.value == 5.0


def test_crashing_trial_is_recorded_as_failed_and_the_sweep_goes_on(tmp_path: Path) -> None:
    cfg = _config("grid", parameters={"lr": {"values": [0.1, 0.2, 0.3]}})
    sweep_id = sweep(cfg, dir=tmp_path)

    def train(run: Run) -> None:
        run.log({METRIC: 1.0})
        if run.config["lr"] == 0.2:
            raise RuntimeError("diverged at lr=0.2")
        run.log({METRIC: 2.0})

    results = agent(sweep_id, train, dir=tmp_path, verbose=False)
    by_lr = {r.config["lr"]: r for r in results}
    assert sorted(by_lr) == [0.1, 0.2, 0.3]
    assert [by_lr[lr].state for lr in (0.1, 0.2, 0.3)] == ["finished", "failed", "finished"]
    assert by_lr[0.2].reason == "RuntimeError: diverged at lr=0.2"
    view = rltrack.Api(tmp_path).run(by_lr[0.2].run_id)
    assert view.state == "failed"
    assert view.reason == "RuntimeError: diverged at lr=0.2"
    trials = {t.user_attrs["run_id"]: t for t in _study(tmp_path, sweep_id).get_trials()}
    failed = trials[by_lr[0.2].run_id]
    assert failed.state == optuna.trial.TrialState.FAIL
    assert "diverged at lr=0.2" in failed.user_attrs["error"]
    assert trials[by_lr[0.1].run_id].state == optuna.trial.TrialState.COMPLETE


def test_trial_that_never_logs_the_metric_fails(tmp_path: Path) -> None:
    sweep_id = sweep(_config(), dir=tmp_path)
    (result,) = agent(sweep_id, lambda run: run.log({"other": 1.0}), count=1, dir=tmp_path, verbose=False)
    assert result.state == "failed"
    assert result.reason is not None
    assert result.reason.startswith(f"the run never logged the sweep metric {METRIC!r}; log it through")


def test_run_cap_holds_for_one_agent_and_the_next(tmp_path: Path) -> None:
    sweep_id = sweep(_config(run_cap=3), dir=tmp_path)
    first = agent(sweep_id, lambda run: run.log({METRIC: 1.0}), dir=tmp_path, verbose=False)
    second = agent(sweep_id, lambda run: run.log({METRIC: 1.0}), dir=tmp_path, verbose=False)
    assert (len(first), len(second)) == (3, 0)
    assert len(rltrack.Api(tmp_path).runs(group=sweep_id)) == 3


def test_count_limits_one_agent(tmp_path: Path) -> None:
    sweep_id = sweep(_config(), dir=tmp_path)
    assert len(agent(sweep_id, lambda run: run.log({METRIC: 1.0}), count=2, dir=tmp_path, verbose=False)) == 2


def test_metric_target_stops_the_sweep(tmp_path: Path) -> None:
    cfg = _config(metric={"name": METRIC, "goal": "maximize", "target": 10.0})
    sweep_id = sweep(cfg, dir=tmp_path)
    results = agent(sweep_id, lambda run: run.log({METRIC: 11.0}), count=5, dir=tmp_path, verbose=False)
    assert len(results) == 1


def _bandit_sweep(root: Path, sweep_id: str) -> None:
    # A fixed study name makes Hyperband's bracket of each trial (a hash of name and number) fixed.
    cfg = parse_config(
        _config(
            parameters={"arm": {"values": ["good", "bad"]}},
            early_terminate={"type": "hyperband", "min_iter": 1, "max_iter": MAX_ITER, "eta": 3},
        )
    )
    create_study(cfg, sweep_id, "bandit", open_storage(sweep_folder(root) / f"{sweep_id}.journal"))
    write_pointer(root, sweep_id, None)


def test_hyperband_prunes_a_clearly_bad_arm_early(tmp_path: Path) -> None:
    _bandit_sweep(tmp_path, "bandit01")
    logged: dict[str, int] = {}

    def train(run: Run) -> None:
        for i in range(MAX_ITER):
            logged[run.id] = i + 1
            run.log({METRIC: 1.0 if run.config["arm"] == "good" else 0.0})

    results = agent("bandit01", train, count=24, dir=tmp_path, seed=0, verbose=False)
    bad = [r for r in results if r.config["arm"] == "bad"]
    good = [r for r in results if r.config["arm"] == "good"]
    assert bad and good
    pruned_early = [r for r in bad if r.state == "pruned" and r.iterations < MAX_ITER]
    assert pruned_early, [(r.state, r.iterations) for r in bad]
    for r in pruned_early:
        assert logged[r.run_id] == r.iterations  # training stopped at the pruned log() call
        view = rltrack.Api(tmp_path).run(r.run_id)
        assert view.state == "pruned"
        assert view.reason is not None and "hyperband" in view.reason
        assert len(view.series(METRIC)[2]) == r.iterations
    assert sum(r.iterations for r in bad) / len(bad) < sum(r.iterations for r in good) / len(good)
    assert all(r.state == "finished" for r in good if r.iterations == MAX_ITER)
    study = _study(tmp_path, "bandit01")
    assert study.best_trial.params == {"arm": "good"}
    states = {t.user_attrs["run_id"]: t.state for t in study.get_trials()}
    assert all(states[r.run_id] == optuna.trial.TrialState.PRUNED for r in pruned_early)


def test_callback_that_swallows_trial_pruned_can_stop_with_should_prune(tmp_path: Path) -> None:
    _bandit_sweep(tmp_path, "bandit02")
    seen_pruned: list[int] = []

    def train(run: Run) -> None:
        for i in range(MAX_ITER):
            with contextlib.suppress(TrialPruned):  # a callback that never lets telemetry stop training
                run.log({METRIC: 1.0 if run.config["arm"] == "good" else 0.0})
            if should_prune(run):
                seen_pruned.append(i + 1)
                return

    results = agent("bandit02", train, count=24, dir=tmp_path, seed=0, verbose=False)
    pruned = [r for r in results if r.state == "pruned"]
    assert pruned
    assert sorted(seen_pruned) == sorted(r.iterations for r in pruned)


def test_should_prune_is_false_outside_a_sweep(tmp_path: Path) -> None:
    run = rltrack.init(project="p", dir=tmp_path, system_metrics=False)
    assert should_prune(run) is False
    run.finish()


def test_progress_line_per_trial(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sweep_id = sweep(_config("grid", parameters={"opt": {"parameters": {"lr": {"values": [0.5]}}}}), dir=tmp_path)
    (result,) = agent(sweep_id, lambda run: run.log({METRIC: 3.0}), dir=tmp_path)
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == [
        f"sweep {sweep_id} trial 0 run {result.run_id} finished: {METRIC}=3 after 1 reports, "
        f"{result.duration_s:.1f} s | opt.lr=0.5"
    ]


def test_unknown_sweep_raises(tmp_path: Path) -> None:
    with pytest.raises(SweepNotFoundError, match="no sweep 'nope1234'"):
        agent("nope1234", lambda: None, dir=tmp_path)


def test_agent_without_function_or_program_raises(tmp_path: Path) -> None:
    sweep_id = sweep(_config(), dir=tmp_path)
    with pytest.raises(SweepConfigError, match="has no program in its config; pass function="):
        agent(sweep_id, None, dir=tmp_path)


def test_bad_count_raises(tmp_path: Path) -> None:
    sweep_id = sweep(_config(), dir=tmp_path)
    with pytest.raises(InvalidValueError, match=r"agent\(count=0\)"):
        agent(sweep_id, lambda: None, count=0, dir=tmp_path)


_AGENT_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from rltrack.sweeps import agent

    sweep_id, root, index, n_agents = sys.argv[1], Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    # Barrier: start claiming only when every agent process is up, so they really compete.
    (root / f"ready-{index}").touch()
    deadline = time.monotonic() + 60
    while len(list(root.glob("ready-*"))) < n_agents and time.monotonic() < deadline:
        time.sleep(0.01)

    def train(run):
        for i in range(3):
            time.sleep(0.02)  # stands in for training work, so trials overlap across agents
            run.log({"eval/score": float(i)})

    # Each agent its own sampler seed, as users are told; the grid must not depend on it.
    results = agent(sweep_id, train, dir=root, seed=int(index), verbose=False)
    print(json.dumps([r.run_id for r in results]))
    """
)


def _run_agents(root: Path, sweep_id: str, n_agents: int) -> list[list[str]]:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _AGENT_SCRIPT, sweep_id, str(root), str(i), str(n_agents)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(n_agents)
    ]
    outputs = [p.communicate(timeout=240) for p in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    return [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]


def test_grid_with_three_parallel_agents_covers_exactly_the_product(tmp_path: Path) -> None:
    params = {"a": {"values": [1, 2, 3]}, "b": {"values": ["x", "y"]}, "c": {"min": 0, "max": 1}}
    sweep_id = sweep(_config("grid", parameters=params), dir=tmp_path)
    per_agent = _run_agents(tmp_path, sweep_id, 3)
    run_ids = [rid for ids in per_agent for rid in ids]
    assert all(per_agent), per_agent  # every agent ran trials: they competed
    assert len(run_ids) == len(set(run_ids)) == 12
    views = rltrack.Api(tmp_path).runs(group=sweep_id)
    assert {v.id for v in views} == set(run_ids)
    combos = [(v.config["a"], v.config["b"], v.config["c"]) for v in views]
    assert sorted(combos) == sorted(itertools.product([1, 2, 3], ["x", "y"], [0, 1]))
    assert all(v.state == "finished" for v in views)
    trials = _study(tmp_path, sweep_id).get_trials()
    assert len(trials) == 12
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)


def test_run_cap_holds_across_parallel_agents(tmp_path: Path) -> None:
    sweep_id = sweep(_config(run_cap=5), dir=tmp_path)
    per_agent = _run_agents(tmp_path, sweep_id, 3)
    assert sum(len(ids) for ids in per_agent) == 5
    assert len(rltrack.Api(tmp_path).runs(group=sweep_id)) == 5
    assert len(_study(tmp_path, sweep_id).get_trials()) == 5


def test_function_may_prune_itself_by_raising_trial_pruned(tmp_path: Path) -> None:
    sweep_id = sweep(_config(), dir=tmp_path)

    def train(run: Run) -> None:
        run.log({METRIC: 0.5})
        raise TrialPruned("diverging, giving up")

    (result,) = agent(sweep_id, train, count=1, dir=tmp_path, verbose=False)
    assert (result.state, result.reason, result.value) == ("pruned", "diverging, giving up", 0.5)
    assert rltrack.Api(tmp_path).run(result.run_id).state == "pruned"


def test_trials_are_new_runs_even_with_run_id_in_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = rltrack.init(project="other", dir=tmp_path, system_metrics=False)
    other.finish()
    monkeypatch.setenv("RLTRACK_RUN_ID", other.id)
    monkeypatch.setenv("RLTRACK_RESUME", "allow")
    sweep_id = sweep(_config(), dir=tmp_path)
    (result,) = agent(sweep_id, lambda run: run.log({METRIC: 1.0}), count=1, dir=tmp_path, verbose=False)
    assert result.run_id != other.id
    assert rltrack.Api(tmp_path).run(other.id).group is None


_DYING_AGENT = textwrap.dedent(
    """
    import os, sys
    from rltrack.sweeps import agent

    def train(run):
        run.log({"eval/score": 1.0})
        run.flush()
        os._exit(9)  # the agent process dies mid-trial: no finish(), no tell()

    agent(sys.argv[1], train, dir=sys.argv[2], verbose=False)
    """
)


def test_trial_of_a_crashed_agent_is_failed_and_the_sweep_goes_on(tmp_path: Path) -> None:
    sweep_id = sweep(_config("grid", parameters={"lr": {"values": [1, 2, 3]}}), dir=tmp_path)
    dead = subprocess.run([sys.executable, "-c", _DYING_AGENT, sweep_id, str(tmp_path)], capture_output=True, text=True)
    assert dead.returncode == 9, dead.stderr
    (orphan,) = _study(tmp_path, sweep_id).get_trials()
    assert orphan.state == optuna.trial.TrialState.RUNNING
    assert rltrack.Api(tmp_path).run(orphan.user_attrs["run_id"]).state == "crashed"
    results = agent(sweep_id, lambda run: run.log({METRIC: 2.0}), dir=tmp_path, verbose=False)
    assert len(results) == 2
    trials = _study(tmp_path, sweep_id).get_trials()
    assert [t.state for t in trials] == [optuna.trial.TrialState.FAIL] + [optuna.trial.TrialState.COMPLETE] * 2
    assert sorted(t.user_attrs["config"]["lr"] for t in trials) == [1, 2, 3]  # no grid point twice


def test_a_bad_arm_that_runs_to_max_iter_ends_finished_not_pruned(tmp_path: Path) -> None:
    # The bad arm looks good until its last iteration, so Hyperband's last rung (at MAX_ITER) is
    # where it would be cut: a trial that spent its whole budget must still end finished.
    _bandit_sweep(tmp_path, "bandit02")

    def train(run: Run) -> None:
        for i in range(MAX_ITER):
            last = i == MAX_ITER - 1
            run.log({METRIC: 0.0 if run.config["arm"] == "bad" and last else 1.0})

    results = agent("bandit02", train, count=24, dir=tmp_path, seed=0, verbose=False)
    full = [r for r in results if r.iterations == MAX_ITER]
    assert any(r.config["arm"] == "bad" for r in full)
    assert [r.state for r in full] == ["finished"] * len(full)
    assert all(r.state == "finished" for r in results)
    api = rltrack.Api(tmp_path)
    assert all(api.run(r.run_id).state == "finished" for r in full)
    bad = next(r for r in full if r.config["arm"] == "bad")
    assert bad.value == 0.0
