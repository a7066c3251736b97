"""Measure the reality gap of one policy between CartPole and a robot stand-in.

The stand-in is CartPole with a five times heavier pole: a stand-in for a real robot, not one.
The same controller runs in both; the sim side is logged under source ``sim`` and the stand-in
under source ``real`` of one run (as the ROS 2 node would log a robot), with the keys
``compare`` reads: ``obs/<i>`` and ``action/0`` per step, and ``episode/return``,
``episode/length``, ``episode/success`` and ``episode/seed`` per episode. Then the gap table is
printed, an offline HTML report is written into the run's folder in the store (or to ``--out``), and
one stand-in episode is replayed open-loop in sim.

    python examples/sim2real_compare.py [--episodes 20] [--dir rltrack-runs] [--out gap.html]
"""

from __future__ import annotations

import argparse
from typing import Any

import gymnasium as gym
import numpy as np
from rltrack.sim2real import compare, replay

import rltrack

CONTROL_DT_NS = 20_000_000  # CartPole steps 0.02 s


def make_env(masspole: float = 0.1) -> gym.Env[Any, Any]:
    """CartPole-v1; with another pole mass, the robot stand-in."""
    env = gym.make("CartPole-v1")
    physics: Any = env.unwrapped
    physics.masspole = masspole
    physics.total_mass = physics.masspole + physics.masscart
    physics.polemass_length = physics.masspole * physics.length
    return env


def policy(obs: np.ndarray) -> int:
    """A fixed PD rule on the pole angle: the "trained policy" of this example."""
    return int(obs[2] + 0.5 * obs[3] + 0.05 * obs[1] > 0)


def evaluate(run: rltrack.Run, env: gym.Env[Any, Any], episodes: int, max_steps: int) -> None:
    t_ns = 0
    for seed in range(episodes):
        obs, _ = env.reset(seed=seed)
        total, length, done = 0.0, 0, False
        while not done and length < max_steps:
            action = policy(obs)
            run.log({**{f"obs/{i}": float(v) for i, v in enumerate(obs)}, "action/0": action}, t_ns=t_ns)
            obs, reward, terminated, truncated, _ = env.step(action)
            total, length, done = total + float(reward), length + 1, terminated or truncated
            t_ns += CONTROL_DT_NS
        summary = {
            "episode/return": total,
            "episode/length": length,
            "episode/seed": seed,
            "episode/success": float(length >= max_steps),
        }
        run.log(summary, t_ns=t_ns)
        t_ns += 1_000_000_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--max-steps", type=int, default=300)
    parser.add_argument("--dir", default=None, help="store folder (default: ./rltrack-runs)")
    parser.add_argument("--out", default=None, help="HTML report path (default: sim2real_gap.html in the run's folder)")
    args = parser.parse_args()

    with rltrack.init(project="sim2real", name="cartpole-vs-stand-in", dir=args.dir, system_metrics=False) as sim:
        evaluate(sim, make_env(), args.episodes, args.max_steps)
    with rltrack.init(id=sim.id, resume="must", source="real", dir=args.dir, system_metrics=False) as robot:
        evaluate(robot, make_env(masspole=0.5), args.episodes, args.max_steps)

    report = compare(sim.id, dir=args.dir)
    print(report.table())
    out = args.out or rltrack.Api(args.dir).run(sim.id).dir / "sim2real_gap.html"
    print(f"HTML report: {report.to_html(out)}")
    dynamics = replay(sim.id, make_env, episode=0, dir=args.dir)
    ended = " (the sim episode ended first)" if dynamics.terminated_early else ""
    print(
        f"open-loop replay of stand-in episode 0 in sim: divergence {dynamics.divergence[0]:.2g} at the start, "
        f"{dynamics.final_divergence:.2g} after {dynamics.n_steps} steps{ended}"
    )


if __name__ == "__main__":
    main()
