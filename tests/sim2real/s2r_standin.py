"""Robot stand-in and episode recorder for the sim2real tests (the real run API, no mocks).

The robot stand-in is CartPole with a heavier pole: the same task with different physics, as the
demo's stand-in. A fixed PD rule picks actions so that both domains run the same policy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
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
    step: int | None = None,
    t0_ns: int = 1_700_000_000_000_000_000,
) -> None:
    """Run the PD policy for one episode per seed, logging obs/action per step and a summary.

    ``step``: log everything at this one training step (a deployed checkpoint's), as the ROS node does.
    """
    t_ns = t0_ns
    for seed in seeds:
        obs, _ = env.reset(seed=seed)
        total, length = 0.0, 0
        while True:
            action = pd_action(obs)
            values = {f"obs/{i}": float(v) for i, v in enumerate(obs)} | {"action/0": action}
            if signal is not None:
                values |= signal(obs)
            run.log(values, step=step, t_ns=t_ns)
            t_ns += CONTROL_DT_NS
            obs, reward, terminated, truncated, _ = env.step(action)
            total, length = total + float(reward), length + 1
            if terminated or truncated or length >= max_steps:
                break
        run.log(
            {"episode/return": total, "episode/length": length, "episode/seed": seed,
             "episode/success": float(length >= max_steps)},
            step=step,
            t_ns=t_ns,
        )
        t_ns += 1_000_000_000  # a reset takes a second on the robot
    run.flush()


@dataclass(frozen=True)
class Deployed:
    """A training run whose checkpoint v2 (step 3,000) was evaluated in sim and ran on the robot stand-in."""

    root: Path
    run_id: str
    policy_step: int = 3000
    n_eval: int = 6
    description: str = "sim: 6 eval episodes at step 3,000, policy v2"


def make_deployed(root: Path, tmp: Path, *, policy_step: int = 3000, n_eval: int = 6) -> Deployed:
    """Log what a deployment leaves in a store, through the real run API.

    ``sim``: a learning curve of 40 training episodes (returns 10...49, steps 70...2,800), checkpoints
    v0, v1, v2 of ``s2r-policy`` at steps 1,000, 2,000, 3,000, and v2's evaluation in CartPole at its
    step (telemetry ``obs/*``, ``action/0`` and episode summaries); ``eval/mean_reward`` per checkpoint.
    ``real``: v2 on the heavier-pole stand-in at the same step and seeds (episodes cut at 30, 37, ... steps,
    as if the pole fell: a gap of -12.5 in return), its lineage recorded as the ROS
    node records it (``use_artifact``, ``policy_step`` in the config); ``eval/mean_reward`` too.
    """
    from rltrack.artifacts import Artifact

    sim = rltrack.init(project="s2r", name="deployed", dir=root, system_metrics=False)
    for i in range(40):
        sim.log({"episode/return": 10.0 + i, "episode/length": 10 + i}, step=(i + 1) * 70)
    for n, step in enumerate((1000, 2000, policy_step)):
        weights = tmp / f"policy-{n}.bin"
        weights.write_bytes(bytes([n]) * 32)
        artifact = Artifact("s2r-policy", type="model", metadata={"step": step})
        artifact.add_file(weights)
        sim.log_artifact(artifact)
        sim.log({"eval/mean_reward": 20.0 * (n + 1)}, step=step)
    record_episodes(sim, cartpole(), range(n_eval), max_steps=60, step=policy_step)
    sim.finish()
    real = rltrack.init(id=sim.id, resume="must", source="real", dir=root, system_metrics=False)
    real.use_artifact("s2r-policy:latest")
    real.config["policy"] = "s2r-policy:latest"
    real.config["policy_step"] = policy_step
    for seed in range(n_eval):  # the robot stand-in loses the pole earlier: 30, 37, 44, ... steps
        t0_ns = 1_800_000_000_000_000_000 + seed * 10_000_000_000
        record_episodes(real, cartpole(0.5), [seed], max_steps=30 + 7 * seed, step=policy_step, t0_ns=t0_ns)
    for n, step in enumerate((1000, 2000, policy_step)):
        real.log({"eval/mean_reward": 15.0 * (n + 1)}, step=step)
    real.finish()
    return Deployed(root, sim.id, policy_step, n_eval)

