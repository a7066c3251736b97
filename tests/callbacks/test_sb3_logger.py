"""Oracle: SB3's own CSV output and Monitor files, side by side with what the callback stored."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rltrack.callbacks import RLTrackCallback
from rltrack.callbacks.sb3_logger import RunOutputFormat, to_number
from sb3_contrib import QRDQN
from stable_baselines3 import A2C, DQN, PPO, SAC, TD3
from stable_baselines3.common.callbacks import CallbackList, EvalCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.logger import configure

import rltrack

from .conftest import read_run

TINY = {"net_arch": [16]}

CASES: dict[str, tuple[Any, str, int, int, dict[str, Any]]] = {
    # name: (algorithm, env id, n_envs, timesteps, constructor arguments)
    "ppo": (PPO, "CartPole-v1", 2, 1024, {"n_steps": 128, "batch_size": 64, "n_epochs": 2}),
    # With SB3's EvalCallback alongside: eval/* values dump into the same logger.
    "ppo_eval": (PPO, "CartPole-v1", 2, 768, {"n_steps": 64, "batch_size": 64, "n_epochs": 1}),
    "a2c": (A2C, "CartPole-v1", 2, 600, {"n_steps": 8}),
    "dqn": (DQN, "CartPole-v1", 1, 1500, {"learning_starts": 200, "buffer_size": 2000, "target_update_interval": 100}),
    "qrdqn": (QRDQN, "CartPole-v1", 1, 600, {"learning_starts": 200, "buffer_size": 2000}),
    # Pendulum episodes are 200 steps and off-policy algorithms dump once per episode here.
    "sac": (SAC, "Pendulum-v1", 1, 600, {"learning_starts": 100, "buffer_size": 2000, "batch_size": 32}),
    "td3": (TD3, "Pendulum-v1", 1, 400, {"learning_starts": 100, "buffer_size": 2000, "batch_size": 32}),
}


def _train(name: str, tmp_path: Path, store_dir: Path) -> tuple[Any, Path, Path]:
    algo, env_id, n_envs, steps, kwargs = CASES[name]
    run = rltrack.init(project="oracle", dir=store_dir, system_metrics=False)
    monitor_dir = tmp_path / "monitor"
    env = make_vec_env(env_id, n_envs=n_envs, seed=0, monitor_dir=str(monitor_dir))
    model = algo("MlpPolicy", env, policy_kwargs=dict(TINY), device="cpu", seed=0, **kwargs)
    model.set_logger(configure(str(tmp_path / "sb3"), ["csv"]))
    # log_interval: iterations (on-policy) or episodes (off-policy) between dumps.
    log_interval = {"a2c": 5}.get(name, 1)
    callbacks: list[Any] = [RLTrackCallback(run)]
    if name == "ppo_eval":
        eval_env = make_vec_env(env_id, n_envs=1, seed=1)
        callbacks.insert(0, EvalCallback(eval_env, eval_freq=96, n_eval_episodes=2, verbose=0))
    model.learn(steps, callback=CallbackList(callbacks), log_interval=log_interval)
    model.logger.close()
    env.close()  # flushes and closes the Monitor files
    return read_run(store_dir, run), tmp_path / "sb3" / "progress.csv", monitor_dir


def _csv_points(path: Path) -> dict[str, list[tuple[int, float]]]:
    points: dict[str, list[tuple[int, float]]] = {}
    with path.open() as f:
        for row in csv.DictReader(f):
            step = int(row["time/total_timesteps"])
            for key, text in row.items():
                if text != "":
                    points.setdefault(key, []).append((step, float(text)))
    return points


def _same(a: float, b: float) -> bool:
    # The CSV holds str(value): exact for float64, shortest repr for float32 values.
    return a == b or (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-12)


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_csv_value_is_in_the_run_at_sb3s_step(name: str, tmp_path: Path, store_dir: Path) -> None:
    view, csv_path, _ = _train(name, tmp_path, store_dir)
    expected = _csv_points(csv_path)
    assert any(key.startswith("train/") for key in expected), "too short to train: the oracle would be vacuous"
    if name == "ppo_eval":
        assert len(expected["eval/mean_reward"]) == 4  # every 96 calls of 2 envs: 192, 384, 576, 768
    keys = view.keys()
    sb3_keys = {k for k in keys if k.split("/", 1)[0] in ("train", "rollout", "time", "eval")}
    assert sb3_keys == set(expected)
    for key, points in expected.items():
        steps, _, values = view.series(key)
        got = list(zip(steps.tolist(), values.tolist(), strict=True))
        assert len(got) == len(points), key
        for (step, value), (got_step, got_value) in zip(points, got, strict=True):
            assert step == got_step and _same(value, got_value), (key, step, value, got_step, got_value)


@pytest.mark.parametrize("name", ["ppo", "dqn"])
def test_episode_returns_equal_the_monitor_files(name: str, tmp_path: Path, store_dir: Path) -> None:
    view, _, monitor_dir = _train(name, tmp_path, store_dir)
    monitor_rows = []
    for path in sorted(monitor_dir.glob("*.monitor.csv")):
        with path.open() as f:
            next(f)  # the JSON header line
            monitor_rows += [(float(r["r"]), int(r["l"])) for r in csv.DictReader(f)]
    _, _, returns = view.series("episode/return")
    _, _, lengths = view.series("episode/length")
    assert len(monitor_rows) >= 5
    assert sorted(zip(returns.tolist(), lengths.astype(int).tolist(), strict=True)) == sorted(monitor_rows)


def test_episode_steps_are_the_timesteps_at_which_they_ended(tmp_path: Path, store_dir: Path) -> None:
    view, _, _ = _train("ppo", tmp_path, store_dir)
    steps, _, _ = view.series("episode/return")
    _, _, lengths = view.series("episode/length")
    # Two envs step together, so an episode ends at an even timestep no earlier than 2 * its length.
    assert (steps % 2 == 0).all() and (steps >= 2 * lengths).all()


def test_to_number_keeps_scalars_and_drops_everything_else() -> None:
    import torch

    assert to_number(np.float32(0.5)) == 0.5
    assert to_number(np.array([3])) == 3
    assert to_number(torch.tensor(2.5)) == 2.5
    assert to_number(True) == 1
    assert to_number("text") is None
    assert to_number(np.zeros(3)) is None


def test_excluding_the_rltrack_format_keeps_a_value_out() -> None:
    seen: list[tuple[dict[str, float | int], int]] = []
    writer = RunOutputFormat(lambda values, step: seen.append((values, step)))
    writer.write({"a": 1.0, "b": 2.0, "c": "x"}, {"a": ("rltrack",), "b": ("tensorboard",)}, step=7)
    assert seen == [({"b": 2.0}, 7)]
