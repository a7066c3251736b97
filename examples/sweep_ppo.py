"""Tune PPO's learning rate, n_steps and gamma on CartPole with a Bayesian sweep and Hyperband.

In one process (creates the sweep from sweep.yaml, then runs ``--count`` trials):
    python examples/sweep_ppo.py --count 4 --steps 4000

Or with the CLI, one agent per process or machine, each running this script per trial:
    rltrack sweep examples/sweep.yaml          # prints the sweep id
    rltrack agent <sweep id> --count 3

Each trial evaluates 8 times; every ``eval/mean_reward`` goes to Hyperband, and when it prunes
a trial ``RLTrackCallback`` stops training and the run ends with state ``pruned``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import gymnasium as gym
import torch
from rltrack.callbacks import RLTrackCallback
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import EvalCallback
from stable_baselines3.common.monitor import Monitor

import rltrack
from rltrack.store.paths import resolve_root
from rltrack.sweeps import agent, sweep

N_EVALS = 8  # = early_terminate.max_iter in sweep.yaml


def train(run: Any, steps: int) -> None:
    """Train PPO with the trial's hyperparameters from ``run.config``, evaluating N_EVALS times."""
    cfg = run.config
    model = PPO(
        "MlpPolicy",
        Monitor(gym.make("CartPole-v1")),
        learning_rate=cfg["learning_rate"],
        n_steps=cfg["n_steps"],
        gamma=cfg["gamma"],
        batch_size=64,
        policy_kwargs={"net_arch": [32, 32]},
        seed=0,
        device="cpu",
    )
    evaluate = EvalCallback(
        Monitor(gym.make("CartPole-v1")), eval_freq=max(steps // N_EVALS, 1), n_eval_episodes=3, verbose=0
    )
    # RLTrackCallback first: it stops training (returns False) once the trial is pruned.
    model.learn(steps, callback=[RLTrackCallback(run), evaluate])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=4, help="trials to run in this process")
    parser.add_argument("--steps", type=int, default=4000, help="env steps per trial")
    parser.add_argument("--dir", default=None, help="store folder (default: $RLTRACK_DIR or ./rltrack-runs)")
    # Set by `rltrack agent`, which runs this script once per trial with the trial's values.
    parser.add_argument("--learning_rate", type=float)
    parser.add_argument("--n_steps", type=int)
    parser.add_argument("--gamma", type=float)
    args = parser.parse_args()
    torch.set_num_threads(1)  # tiny networks: threads only add overhead, and agents may run side by side
    if args.learning_rate is not None:
        # A trial started by `rltrack agent`: init() continues the run it created (RLTRACK_RUN_ID).
        run = rltrack.init(config={"steps": args.steps})
        train(run, args.steps)
        run.finish()
        return
    sweep_id = sweep(Path(__file__).with_name("sweep.yaml"), project="cartpole-sweep", dir=args.dir)
    results = agent(sweep_id, lambda run: train(run, args.steps), count=args.count, dir=args.dir)
    finished = [r for r in results if r.state == "finished" and r.value is not None]
    if finished:
        best = max(finished, key=lambda r: r.value or 0.0)
        print(f"sweep {sweep_id}: best eval/mean_reward={best.value:.1f} (run {best.run_id}) with {dict(best.config)}")
    store = resolve_root(args.dir)
    print(f"runs stored in {store}; see them with: rltrack ui --dir {store}")


if __name__ == "__main__":
    main()
