"""Ray Tune into runs: each trial a run in one group, every reported number at its iteration, the right end state."""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

import rltrack
from rltrack.errors import InvalidValueError

pytest.importorskip("ray.tune")

from ray import tune
from ray.tune.schedulers import ASHAScheduler
from rltrack.callbacks.ray_tune import RLTrackTuneCallback


class _Recorder(tune.Callback):  # type: ignore[misc]
    """The oracle: a copy of every result dict Tune hands its callbacks."""

    def __init__(self) -> None:
        self.results: dict[str, list[dict[str, Any]]] = {}

    def on_trial_result(self, iteration: int, trials: list[Any], trial: Any, result: dict[str, Any],
                        **info: Any) -> None:
        self.results.setdefault(trial.trial_id, []).append(copy.deepcopy(result))


def _numbers(result: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in result.items():
        if not prefix and key == "config":
            continue
        if isinstance(value, Mapping):
            out.update(_numbers(value, f"{prefix}{key}/"))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[f"{prefix}{key}"] = float(value)
    return out


def test_each_trial_is_a_run_with_every_reported_number_and_its_end_state(ray_cluster: None, store_dir: Path,
                                                                           tmp_path: Path) -> None:
    def train(config: dict[str, Any]) -> None:  # local: Ray pickles it by value for its workers
        if config["x"] < 0:
            raise ValueError("diverged")
        for i in range(4):
            tune.report({"score": config["x"] * (i + 1), "nested": {"loss": 1.0 / (i + 1)}})

    callback = RLTrackTuneCallback(project="tune", group="asha-grid", max_t=4, dir=store_dir)
    recorder = _Recorder()
    tuner = tune.Tuner(
        train,
        # Grid order is kept: the best trials start first, so ASHA has rung values to stop the later ones.
        param_space={"x": tune.grid_search([4, 3, 2, 1, -1])},
        tune_config=tune.TuneConfig(metric="score", mode="max",
                                    scheduler=ASHAScheduler(grace_period=1, max_t=4, reduction_factor=2)),
        run_config=tune.RunConfig(callbacks=[recorder, callback], storage_path=str(tmp_path / "tune"), verbose=0),
    )
    grid = tuner.fit()
    assert rltrack.run is None  # the trials' runs never became the driver's current run
    views = {v.config["x"]: v for v in rltrack.Api(store_dir).runs(project="tune")}
    assert sorted(views) == [-1, 1, 2, 3, 4]
    assert {v.group for v in views.values()} == {"asha-grid"}
    assert views[4].state == "finished"
    assert views[2].state == views[1].state == "pruned"
    assert views[3].state in ("finished", "pruned")
    assert views[-1].state == "failed"
    for result in grid:
        trial_id = result.metrics["trial_id"]
        view = views[result.config["x"]]
        assert view.id == f"asha-grid-{trial_id}"
        expected: dict[str, dict[int, float]] = {}
        for reported in recorder.results.get(trial_id, []):
            for key, value in _numbers(reported).items():
                expected.setdefault(key, {})[reported["training_iteration"]] = value
        assert set(view.keys()) == set(expected)  # nothing extra, nothing missing
        for key, by_step in expected.items():
            steps, _, values = view.series(key)
            got = dict(zip(steps.tolist(), values.tolist(), strict=True))
            assert got.keys() == by_step.keys(), key
            assert all(got[s] == v or (math.isnan(got[s]) and math.isnan(v)) for s, v in by_step.items()), key
    assert views[4].series("nested/loss")[2].tolist() == [1.0, 0.5, 1 / 3, 0.25]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"step_key": ""}, "step_key=''"),
        ({"max_t": 0}, "max_t=0"),
        ({"id": "x"}, "sets \\['id'\\] per trial"),
    ],
)
def test_bad_arguments_say_what_to_do(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidValueError, match=match):
        RLTrackTuneCallback(**kwargs)


def _ended(callback: RLTrackTuneCallback, results: list[dict[str, Any]], store_dir: Path) -> str:
    """Drive the callback's hooks as Tune's controller does for one (stub) trial; return the run's state."""
    from ray.tune.experiment import Trial

    trial = Trial("train", config={"x": 1}, stub=True)  # Tune's own trial record, without an actor
    callback.on_trial_start(0, [trial], trial)
    for result in results:
        callback.on_trial_result(0, [trial], trial, result)
    callback.on_trial_complete(0, [trial], trial)
    return rltrack.Api(store_dir).run(f"{callback.group}-{trial.trial_id}").state


@pytest.mark.parametrize(
    ("stop", "max_t", "last", "state"),
    [
        (None, None, {"training_iteration": 2, "done": False}, "finished"),  # the function returned
        (None, None, {"training_iteration": 2, "done": True}, "pruned"),  # a scheduler stopped it
        (None, 2, {"training_iteration": 2, "done": True}, "finished"),  # at max_t: its whole budget
        (None, 3, {"training_iteration": 2, "done": True}, "pruned"),
        ({"training_iteration": 2}, None, {"training_iteration": 2, "done": True}, "finished"),  # the stop rule
        ({"score": 10}, None, {"training_iteration": 2, "score": 1.0, "done": True}, "pruned"),
    ],
)
def test_how_a_trial_ended_decides_its_state(stop: dict[str, Any] | None, max_t: int | None,
                                             last: dict[str, Any], state: str, store_dir: Path) -> None:
    callback = RLTrackTuneCallback(project="tune", max_t=max_t, dir=store_dir)
    callback.setup(stop=stop)
    assert _ended(callback, [{"training_iteration": 1, "done": False}, last], store_dir) == state


def test_a_run_still_open_when_the_experiment_ends_reads_failed(store_dir: Path) -> None:
    from ray.tune.experiment import Trial

    callback = RLTrackTuneCallback(project="tune", dir=store_dir)
    trial = Trial("train", config={"x": 1}, stub=True)
    callback.on_trial_start(0, [trial], trial)
    callback.on_trial_result(0, [trial], trial, {"training_iteration": 1, "score": 2.0})
    callback.on_experiment_end([trial])
    view = rltrack.Api(store_dir).run(f"{callback.group}-{trial.trial_id}")
    assert view.state == "failed" and view.series("score")[2].tolist() == [2.0]
    assert rltrack.run is None
