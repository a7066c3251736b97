from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("stable_baselines3")

import gymnasium as gym
from rltrack.callbacks import RLTrackCallback
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback

import rltrack
from rltrack._run import Run
from rltrack.sweeps import agent, parse_config
from rltrack.sweeps.engine import create_study, open_storage, sweep_folder, write_pointer

METRIC = "eval/score"
ROLLOUT = 32
N_ROLLOUTS = 9


class LogArmValue(BaseCallback):  # type: ignore[misc]  # SB3 is untyped
    """Record a score after each rollout; PPO's logger dumps it with the rollout's values."""

    def __init__(self, score: float) -> None:
        super().__init__()
        self.score = score

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        self.logger.record(METRIC, self.score)


def test_pruned_trial_stops_sb3_training_through_rltrack_callback(tmp_path: Path) -> None:
    cfg = parse_config(
        {
            "method": "random",
            "metric": {"name": METRIC, "goal": "maximize"},
            "parameters": {"arm": {"values": ["good", "bad"]}},
            "early_terminate": {"type": "hyperband", "min_iter": 1, "max_iter": N_ROLLOUTS, "eta": 3},
        }
    )
    # A fixed id fixes Hyperband's brackets; with seed 0 the third trial is a bad arm that meets
    # a finished good one at its first rung.
    create_study(cfg, "sb3prune2", "sb3", open_storage(sweep_folder(tmp_path) / "sb3prune2.journal"))
    write_pointer(tmp_path, "sb3prune2", None)
    timesteps: dict[str, int] = {}

    def train(run: Run) -> None:
        model = PPO(
            "MlpPolicy", gym.make("CartPole-v1"), n_steps=ROLLOUT, batch_size=ROLLOUT, n_epochs=1,
            policy_kwargs={"net_arch": [8]}, seed=0, device="cpu",
        )  # fmt: skip
        score = 1.0 if run.config["arm"] == "good" else 0.0
        model.learn(ROLLOUT * N_ROLLOUTS, callback=[RLTrackCallback(run), LogArmValue(score)])
        timesteps[run.id] = model.num_timesteps

    results = agent("sb3prune2", train, count=3, dir=tmp_path, seed=0, verbose=False)
    assert [(r.config["arm"], r.state) for r in results] == [
        ("bad", "finished"),
        ("good", "finished"),
        ("bad", "pruned"),
    ]
    pruned = results[2]
    assert pruned.iterations == 1
    assert timesteps[results[0].run_id] == ROLLOUT * N_ROLLOUTS
    # learn() returned normally, a rollout after the pruning report: training really stopped.
    assert timesteps[pruned.run_id] <= 2 * ROLLOUT
    view = rltrack.Api(tmp_path).run(pruned.run_id)
    assert view.state == "pruned"
    assert view.config["algorithm"] == "PPO"  # the callback's config landed in the trial's run
