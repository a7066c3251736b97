"""engine="ray": a sweep's trials run through Ray Tune on a local two-CPU Ray cluster, each an ordinary run."""

from __future__ import annotations

from pathlib import Path

import pytest

import rltrack
from rltrack.errors import InvalidValueError
from rltrack.sweeps import SweepConfigError, agent, sweep

pytest.importorskip("ray.tune")




ASHA = {
    "method": "grid",
    "metric": {"name": "score", "goal": "maximize"},
    # Grid order is kept: the best trials start first, so ASHA has rung values to stop the later ones.
    "parameters": {"x": {"values": [4, 3, 2, 1]}},
    "early_terminate": {"type": "hyperband", "min_iter": 1, "max_iter": 4, "eta": 2},
}


def test_a_four_trial_asha_sweep_lands_four_runs_and_the_stopped_ones_read_pruned(
    ray_cluster: None, store_dir: Path
) -> None:
    sweep_id = sweep(ASHA, project="tune", dir=store_dir, engine="ray")

    def train() -> None:
        run = rltrack.init(config={"epochs": 4})  # joins the trial's run
        for i in range(run.config["epochs"]):
            run.log({"score": run.config["x"] * (i + 1)})

    results = agent(sweep_id, train, dir=store_dir, verbose=False)
    assert rltrack.run is None
    views = {v.id: v for v in rltrack.Api(store_dir).runs(project="tune")}
    assert len(results) == 4 and set(views) == {r.run_id for r in results}  # no second run per trial
    by_x = {r.config["x"]: r for r in results}
    assert sorted(by_x) == [1, 2, 3, 4]
    assert by_x[4].state == "finished" and by_x[4].iterations == 4 and by_x[4].value == 16
    assert by_x[2].state == by_x[1].state == "pruned"  # below every value ASHA had at rung 1
    assert by_x[3].state in ("finished", "pruned")  # depends on which of the first two got to rung 2 first
    for result in results:
        view = views[result.run_id]
        assert (view.group, view.state, view.config) == (sweep_id, result.state, {"x": result.config["x"],
                                                                                  "epochs": 4})
        _, _, values = view.series("score")
        x = result.config["x"]
        assert values.tolist() == [x * (i + 1) for i in range(len(values))]
        assert len(values) >= result.iterations >= 1


def test_a_trial_that_raises_or_never_logs_the_metric_reads_failed(ray_cluster: None, store_dir: Path) -> None:
    cfg = {"method": "grid", "metric": {"name": "score"}, "parameters": {"how": {"values": ["raise", "silent"]}}}
    sweep_id = sweep(cfg, project="tune", dir=store_dir, engine="ray")

    def train(run: rltrack.Run) -> None:
        if run.config["how"] == "raise":
            run.log({"score": 1.0})
            raise ValueError("diverged")
        run.log({"loss": 1.0})

    results = agent(sweep_id, train, dir=store_dir, verbose=False)
    raised, silent = sorted(results, key=lambda r: str(r.config["how"]))
    assert (raised.config, raised.state) == ({"how": "raise"}, "failed")
    assert "ValueError: diverged" in (raised.reason or "")
    view = rltrack.Api(store_dir).run(raised.run_id)
    assert view.state == "failed" and view.series("score")[2].tolist() == [1.0]
    assert (silent.config, silent.state) == ({"how": "silent"}, "failed")
    assert "never reported" in (silent.reason or "")
    assert rltrack.Api(store_dir).run(silent.run_id).state == "failed"


def test_bad_engine_arguments_say_what_to_do(store_dir: Path) -> None:
    cfg = {"method": "random", "metric": {"name": "score"}, "parameters": {"x": {"values": [1]}}}
    with pytest.raises(InvalidValueError, match="engine='spark'"):
        sweep(cfg, dir=store_dir, engine="spark")
    sweep_id = sweep(cfg, dir=store_dir, engine="ray")
    with pytest.raises(SweepConfigError, match="pass count= or set run_cap"):
        agent(sweep_id, lambda: None, dir=store_dir)
    with pytest.raises(SweepConfigError, match="pass function="):
        agent(sweep_id, dir=store_dir)
