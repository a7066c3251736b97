"""Calibrate a simulator from a real run: find the pole mass and length that make CartPole behave like the robot.

The "robot" is CartPole with a hidden 3x heavier, 1.4x longer pole (a stand-in, not a robot). A
fixed PD rule drives it; every step's observation and command is logged under source ``real``, as
the ROS 2 node logs a robot. ``rltrack.sim2real.calibrate`` then replays the recorded commands in
CartPole-v1 with candidate parameters (Optuna searches them; every trial is a run of its own in
group ``calibration-<id>``), profiles each parameter for identifiability, and prints the recovered
values beside the truth, the replay error before and after, and domain-randomization ranges for
training, written to ``randomization.yaml`` with an offline before/after page.

    python examples/calibrate_cartpole.py [--budget 100] [--episodes 10] [--workers 1] [--dir rltrack-runs]
"""

from __future__ import annotations

import argparse
from typing import Any

import gymnasium as gym
import numpy as np
from rltrack.sim2real import calibrate

import rltrack

TRUTH = {"masspole": 0.3, "length": 0.7}  # CartPole-v1: 0.1 kg, half-length 0.5 m
PARAMS = {"masspole": {"min": 0.05, "max": 1.0}, "length": {"min": 0.2, "max": 1.5}}


def robot() -> gym.Env[Any, Any]:
    """The stand-in: CartPole-v1 with the hidden pole (CartPole caches two products of mass and length)."""
    env = gym.make("CartPole-v1")
    physics: Any = env.unwrapped
    physics.masspole, physics.length = TRUTH["masspole"], TRUTH["length"]
    physics.total_mass = physics.masspole + physics.masscart
    physics.polemass_length = physics.masspole * physics.length
    return env


def policy(obs: np.ndarray) -> int:
    """A fixed PD rule on the pole: the deployed "policy"."""
    return int(obs[2] + 0.5 * obs[3] + 0.05 * obs[1] > 0)


def record(run: rltrack.Run, episodes: int, max_steps: int) -> None:
    """Log ``obs/<i>`` and ``action/0`` every step and ``episode/length``/``episode/seed`` per episode."""
    env = robot()
    for seed in range(episodes):
        obs, _ = env.reset(seed=seed)
        length, done = 0, False
        while not done and length < max_steps:
            action = policy(obs)
            run.log({**{f"obs/{i}": float(v) for i, v in enumerate(obs)}, "action/0": action})
            obs, _, terminated, truncated, _ = env.step(action)
            length, done = length + 1, terminated or truncated
        run.log({"episode/length": length, "episode/seed": seed})
    env.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=100, help="trials in all (the profile takes 14)")
    parser.add_argument("--episodes", type=int, default=10, help="recorded episodes")
    parser.add_argument("--max-steps", type=int, default=100, help="steps per recorded episode")
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    parser.add_argument("--dir", default=None, help="store folder (default: $RLTRACK_DIR or ./rltrack-runs)")
    args = parser.parse_args()

    with rltrack.init(project="calibrate-cartpole", dir=args.dir, source="real", system_metrics=False) as run:
        record(run, args.episodes, args.max_steps)
    # make_env is a Gymnasium id: masspole and length are env.unwrapped attributes, set on each trial's env.
    result = calibrate(run.id, make_env="CartPole-v1", params=PARAMS, budget=args.budget, workers=args.workers,
                       dir=args.dir)  # fmt: skip
    print(result.table())
    print()
    for name, truth in TRUTH.items():
        found = result.best_params[name]
        print(f"{name:<9} true {truth:<4} recovered {found:.4f} ({abs(found - truth) / truth:.1%} off)")
    folder = rltrack.Api(args.dir).run(run.id).dir / (result.group or "calibration")
    json_path, yaml_path = result.write(folder)
    print(f"result          {json_path}")
    print(f"randomization   {yaml_path}")
    print(f"before/after    {result.to_html(folder / 'calibration.html')}")


if __name__ == "__main__":
    main()
