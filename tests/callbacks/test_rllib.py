"""RLlib into a run: every number of the result dicts ``algo.train()`` returned is stored at its step, nothing else."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import rltrack
from rltrack.errors import InvalidValueError, RltrackWarning

pytest.importorskip("ray.rllib")

from ray.rllib.algorithms.ppo import PPOConfig
from rltrack.callbacks.rllib import EPISODES_KEY, RLTrackRLlibCallback

# RLlib's own deprecation notices (RLModule(config=...), its new-stack banner) are not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")




def _numbers(result: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """The test's own reading of a result dict: every int/float leaf (not bools) except the config."""
    out: dict[str, float] = {}
    for key, value in result.items():
        if not prefix and key == "config":
            continue
        if isinstance(value, Mapping):
            out.update(_numbers(value, f"{prefix}{key}/"))
        elif isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)):
            out[f"{prefix}{key}"] = float(value)
    return out


def _ppo(callback: Any) -> Any:
    return (
        PPOConfig()
        .environment("CartPole-v1")
        .env_runners(num_env_runners=1, rollout_fragment_length=64)
        .training(train_batch_size_per_learner=128, minibatch_size=64, num_epochs=1)
        .rl_module(model_config={"fcnet_hiddens": [8]})
        .debugging(seed=0)
        .callbacks(callback)
        .build_algo()
    )


def test_every_number_of_each_result_dict_and_every_episode_is_in_the_run_at_its_step_and_nothing_else(
    ray_cluster: None, store_dir: Path
) -> None:
    run = rltrack.init(project="rllib", dir=store_dir, system_metrics=False)
    algo = _ppo(RLTrackRLlibCallback)  # RLlib builds it without arguments: it writes to the current run
    try:
        results = [algo.train() for _ in range(2)]
    finally:
        algo.stop()
    run.finish()
    view = rltrack.Api(store_dir).run(run.id)
    expected: dict[str, dict[int, float]] = {}
    steps = []
    for result in results:
        assert EPISODES_KEY not in result["env_runners"]  # the user gets RLlib's result, untouched
        step = int(result["num_env_steps_sampled_lifetime"])
        steps.append(step)
        for key, value in _numbers(result).items():
            expected.setdefault(key, {})[step] = value
    assert steps[0] < steps[1]
    assert "env_runners/episode_return_mean" in expected and "learners/default_policy/policy_loss" in expected
    stored = {k for k in view.keys() if not k.startswith("episode/")}  # noqa: SIM118 (RunView.keys is a method, not a dict)
    assert stored == set(expected)  # nothing extra, nothing missing
    for key, by_step in expected.items():
        got_steps, _, got_values = view.series(key)
        got = dict(zip(got_steps.tolist(), got_values.tolist(), strict=True))
        assert set(got) == set(by_step), key
        for step, value in by_step.items():
            assert got[step] == value or (math.isnan(got[step]) and math.isnan(value)), (key, step)
    assert view.config["algorithm"] == "PPO"
    assert view.config["train_batch_size_per_learner"] == 128

    # Episodes of the remote env runner, logged at the iteration that collected them.
    ep_steps, _, returns = view.series("episode/return")
    _, _, lengths = view.series("episode/length")
    assert returns.tolist() == lengths.tolist()  # CartPole pays 1 per step
    for result, step in zip(results, steps, strict=True):
        assert (ep_steps == step).sum() == result["env_runners"]["num_episodes"] > 0
    assert set(ep_steps.tolist()) == set(steps)
    # The first iteration's statistics are over exactly its own episodes (later ones smooth over iterations).
    first = returns[ep_steps == steps[0]]
    stats = results[0]["env_runners"]
    assert (first.mean(), first.min(), first.max()) == pytest.approx(
        (stats["episode_return_mean"], stats["episode_return_min"], stats["episode_return_max"])
    )


def test_a_run_object_is_refused_because_it_cannot_reach_env_runners() -> None:
    with pytest.raises(InvalidValueError, match="cannot take run="):
        RLTrackRLlibCallback(run=object())
    with pytest.raises(InvalidValueError, match="step_key=''"):
        RLTrackRLlibCallback(step_key="")


def test_evaluation_episodes_get_their_own_keys_and_a_result_without_the_step_warns(store_dir: Path) -> None:
    run = rltrack.init(project="rllib", dir=store_dir, system_metrics=False)
    callback = RLTrackRLlibCallback()
    result: dict[str, Any] = {
        "num_env_steps_sampled_lifetime": 400.0,
        "env_runners": {"episode_return_mean": 3.0, EPISODES_KEY: [(2.0, 2), (4.0, 4)]},
        "evaluation": {"env_runners": {"episode_return_mean": 9.0, EPISODES_KEY: [(9.0, 9)]}},
        "done": False,
    }
    callback.on_train_result(algorithm=None, result=result)
    assert EPISODES_KEY not in result["env_runners"] and EPISODES_KEY not in result["evaluation"]["env_runners"]
    with pytest.warns(RltrackWarning, match="has no 'num_env_steps_sampled_lifetime'"):
        callback.on_train_result(algorithm=None, result={"env_runners": {"episode_return_mean": 5.0}})
    run.finish()
    view = rltrack.Api(store_dir).run(run.id)
    assert view.series("episode/return")[0].tolist() == [400, 400]
    assert view.series("episode/return")[2].tolist() == [2.0, 4.0]
    assert view.series("evaluation/episode/length")[2].tolist() == [9]
    assert view.series("evaluation/env_runners/episode_return_mean")[0].tolist() == [400]
    assert view.series("env_runners/episode_return_mean")[0].tolist() == [400, 401]  # the run's next step
    assert "done" not in view.keys()  # noqa: SIM118 (RunView.keys is a method, not a dict)
