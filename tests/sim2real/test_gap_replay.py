from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from rltrack.sim2real import GapError, replay, replay_actions
from s2r_standin import DEFAULT_MASSPOLE, cartpole, record_episodes

import rltrack


def recorded_run(store_dir: Path, masspole: float, seeds: range = range(3), max_steps: int = 60) -> str:
    run = rltrack.init(project="s2r", dir=store_dir, source="real", system_metrics=False)
    record_episodes(run, cartpole(masspole), seeds, max_steps=max_steps)
    run.finish()
    return run.id


def test_unperturbed_stand_in_replays_with_near_zero_divergence(store_dir: Path) -> None:
    result = replay(recorded_run(store_dir, DEFAULT_MASSPOLE), cartpole, episode=1, dir=store_dir)
    assert result.initial_state_set
    assert result.n_steps == 60
    assert not result.terminated_early
    # Only float32 rounding of the logged observations separates the two.
    assert float(result.divergence.max()) < 1e-4


def test_perturbed_stand_in_divergence_grows(store_dir: Path) -> None:
    result = replay(recorded_run(store_dir, 0.5), cartpole, episode=0, dir=store_dir)
    d = result.divergence
    assert d[0] < 1e-6  # started from the recorded state
    assert d[-1] > 0.05
    assert d[: len(d) // 2].mean() < d[len(d) // 2 :].mean()
    assert result.abs_error.shape == (result.n_steps, 4)


def test_divergence_grows_with_the_perturbation(store_dir: Path) -> None:
    finals = [
        replay(
            recorded_run(store_dir, m, seeds=range(1), max_steps=40), cartpole, episode=0, dir=store_dir
        ).divergence.mean()
        for m in (0.1, 0.2, 0.4, 0.8)
    ]
    assert finals == sorted(finals)
    assert finals[0] < 1e-4 < finals[1]


def test_replay_negative_episode_counts_from_the_end(store_dir: Path) -> None:
    run_id = recorded_run(store_dir, DEFAULT_MASSPOLE)
    assert replay(run_id, cartpole, episode=-1, dir=store_dir).n_steps == 60


def test_replay_missing_episode_raises(store_dir: Path) -> None:
    run_id = recorded_run(store_dir, DEFAULT_MASSPOLE)
    with pytest.raises(GapError, match=r"episode 7 does not exist: .* has 3 episodes"):
        replay(run_id, cartpole, episode=7, dir=store_dir)


def test_replay_without_actions_raises(store_dir: Path) -> None:
    run = rltrack.init(project="s2r", dir=store_dir, source="real", system_metrics=False)
    for i in range(5):
        run.log({"obs/0": float(i)})
    run.log({"episode/length": 5})
    run.finish()
    with pytest.raises(GapError, match="replay needs action/0, action/1"):
        replay(run.id, cartpole, episode=0, dir=store_dir)


def test_env_whose_state_is_not_its_observation_is_not_forced(store_dir: Path) -> None:
    # Pendulum observes (cos, sin, velocity) but its state is (angle, velocity): no state to set.
    env_fn = lambda: gym.make("Pendulum-v1")  # noqa: E731
    obs = np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    result = replay_actions(obs, np.zeros((2, 1)), env_fn, seed=0)
    assert not result.initial_state_set


def test_set_state_hook_is_used() -> None:
    seen: list[Any] = []

    def set_state(env: Any, obs: np.ndarray) -> None:
        seen.append(obs.copy())
        env.unwrapped.state = obs.copy()

    obs = np.array([[0.0, 0.0, 0.01, 0.0], [0.0, 0.0, 0.01, 0.0]])
    result = replay_actions(obs, np.zeros((2, 1)), cartpole, set_state=set_state)
    assert result.initial_state_set
    assert np.array_equal(seen[0], obs[0])


def test_replay_reads_other_key_prefixes(store_dir: Path) -> None:
    run = rltrack.init(project="s2r", dir=store_dir, source="real", system_metrics=False)
    env = cartpole()
    obs, _ = env.reset(seed=3)
    for _ in range(20):
        action = int(obs[2] > 0)
        run.log({**{f"odom/data/{i}": float(v) for i, v in enumerate(obs)}, "cmd/data/0": action})
        obs, *_ = env.step(action)
    run.log({"episode/length": 20, "episode/seed": 3})
    run.finish()
    result = replay(run.id, cartpole, episode=0, dir=store_dir, keys=("odom/data", "cmd/data"))
    assert result.n_steps == 20
    assert float(result.divergence.max()) < 1e-4
