"""Robot stand-in and episode recorder for the sim2real tests (the real run API, no mocks).

The robot stand-in is CartPole with a heavier pole: the same task with different physics, as the
demo's stand-in. A fixed PD rule picks actions so that both domains run the same policy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import gymnasium as gym
import numpy as np

import rltrack

DEFAULT_MASSPOLE = 0.1  # CartPole-v1's pole mass
CONTROL_DT_NS = 20_000_000  # CartPole's tau = 0.02 s


def cartpole(masspole: float = DEFAULT_MASSPOLE) -> gym.Env[Any, Any]:
    """CartPole-v1, or the robot stand-in when the pole mass differs."""
    env = gym.make("CartPole-v1")
    u: Any = env.unwrapped
    u.masspole = masspole
    u.total_mass = u.masspole + u.masscart
    u.polemass_length = u.masspole * u.length
    return env


def pd_action(obs: np.ndarray) -> int:
    return int(obs[2] + 0.5 * obs[3] + 0.05 * obs[1] > 0)


def record_episodes(
    run: rltrack.Run,
    env: gym.Env[Any, Any],
    seeds: Iterable[int],
    *,
    signal: Callable[[np.ndarray], dict[str, float]] | None = None,
    max_steps: int = 200,
) -> None:
    """Run the PD policy for one episode per seed, logging obs/action per step and a summary."""
    t_ns = 1_700_000_000_000_000_000
    for seed in seeds:
        obs, _ = env.reset(seed=seed)
        total, length = 0.0, 0
        while True:
            action = pd_action(obs)
            values = {f"obs/{i}": float(v) for i, v in enumerate(obs)} | {"action/0": action}
            if signal is not None:
                values |= signal(obs)
            run.log(values, t_ns=t_ns)
            t_ns += CONTROL_DT_NS
            obs, reward, terminated, truncated, _ = env.step(action)
            total, length = total + float(reward), length + 1
            if terminated or truncated or length >= max_steps:
                break
        run.log(
            {"episode/return": total, "episode/length": length, "episode/seed": seed,
             "episode/success": float(length >= max_steps)},
            t_ns=t_ns,
        )
        t_ns += 1_000_000_000  # a reset takes a second on the robot
    run.flush()
