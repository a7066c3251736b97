"""The robot stand-in as a Gymnasium wrapper, and lock-step episodes of a policy on many envs.

:class:`RobotStandIn` wraps CartPole-v1: the same task with different physics (a heavier pole,
a delayed actuator, noisy sensors). It stands in for a robot; nothing here talks to hardware.
:func:`run_episodes` plays one episode per seed, all envs stepped together, so the policy sees one
batch of observations per control period instead of one call per env step.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import numpy.typing as npt

from rltrack.demo.physics import ENV_ID, StandInPhysics
from rltrack.errors import InvalidValueError

__all__ = ["Episode", "RobotStandIn", "calibration_env", "make_env", "run_episodes"]

Policy = Callable[[npt.NDArray[np.float32]], npt.NDArray[Any]]


class RobotStandIn(gym.Wrapper[Any, Any, Any, Any]):
    """CartPole with a heavier pole, a delayed actuator and noisy sensors: a stand-in for a robot.

    - The pole is ``pole_mass_factor`` times heavier (the simulator's constants are changed).
    - A command reaches the cart ``actuator_delay_steps`` control periods later; until the first
      command has gone through, the actuator repeats it.
    - Observations are the true state plus Gaussian noise (seeded by ``reset(seed=...)``).

    ``info["state"]`` holds the true state and ``info["applied_action"]`` the command that acted.
    """

    def __init__(self, env: gym.Env[Any, Any], physics: StandInPhysics | None = None) -> None:
        """Change the wrapped CartPole's physics.

        Raises:
            InvalidValueError: ``env`` is not a CartPole (it has no pole mass to change).
        """
        super().__init__(env)
        self.physics = physics or StandInPhysics()
        sim: Any = env.unwrapped
        if not hasattr(sim, "masspole"):
            raise InvalidValueError(f"RobotStandIn needs a CartPole env (gymnasium.make({ENV_ID!r})), got {env!r}")
        sim.masspole = sim.masspole * self.physics.pole_mass_factor
        # CartPole caches these at construction; its dynamics read them every step.
        sim.total_mass = sim.masspole + sim.masscart
        sim.polemass_length = sim.masspole * sim.length
        self._noise = np.asarray(self.physics.sensor_noise_std, dtype=np.float64)
        self._noisy = bool(np.any(self._noise > 0))
        self._rng = np.random.default_rng()
        self._commands: deque[Any] = deque()

    def _sense(self, state: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
        # float32 like CartPole's observation space (the env checker warns about anything else).
        if not self._noisy:  # the calibration's simulator: no draw per step
            return np.asarray(state, dtype=np.float32)
        noisy = state + self._rng.normal(0.0, 1.0, state.shape) * self._noise
        return noisy.astype(np.float32)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[npt.NDArray[np.float32], dict[str, Any]]:
        """Reset the cart-pole, the actuator queue and (with ``seed``) the sensor noise."""
        state, info = self.env.reset(seed=seed, options=options)
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        self._commands.clear()
        return self._sense(state), {**info, "state": np.array(state, dtype=np.float64)}

    def step(self, action: Any) -> tuple[npt.NDArray[np.float32], float, bool, bool, dict[str, Any]]:
        """Queue ``action`` and apply the command from ``actuator_delay_steps`` periods ago."""
        self._commands.append(action)
        delayed = len(self._commands) > self.physics.actuator_delay_steps
        applied = self._commands.popleft() if delayed else self._commands[0]
        state, reward, terminated, truncated, info = self.env.step(applied)
        info = {**info, "state": np.array(state, dtype=np.float64), "applied_action": applied}
        return self._sense(state), float(reward), bool(terminated), bool(truncated), info


def make_env(stand_in: bool, physics: StandInPhysics | None = None) -> gym.Env[Any, Any]:
    """Return CartPole-v1 (the nominal simulator) or the robot stand-in wrapped around it."""
    env = gym.make(ENV_ID)
    return RobotStandIn(env, physics) if stand_in else env


def calibration_env(pole_mass_factor: float = 1.0, actuator_delay_steps: int = 0) -> gym.Env[Any, Any]:
    """Return the stand-in with these physics and noise-free sensors: the simulator a calibration searches.

    The defaults are the nominal simulator (CartPole-v1's pole, no delay). A module-level function,
    so ``rltrack calibrate --env rltrack.demo.standin:calibration_env`` and worker processes can load it.
    """
    physics = StandInPhysics(
        pole_mass_factor=float(pole_mass_factor),
        actuator_delay_steps=int(actuator_delay_steps),
        sensor_noise_std=(0.0, 0.0, 0.0, 0.0),
    )
    # Without Gymnasium's env checker: it only re-checks every step what the demo's tests check once.
    return RobotStandIn(gym.make(ENV_ID, disable_env_checker=True), physics)


@dataclass(frozen=True)
class Episode:
    """One episode as the robot's topics would carry it, one row per control period."""

    seed: int
    measured: npt.NDArray[np.float64]  # (T, 4) what the sensors reported before each command
    state: npt.NDArray[np.float64]  # (T, 4) the true state (what a camera would see)
    action: npt.NDArray[np.int64]  # (T,) the commands the policy sent
    force_n: npt.NDArray[np.float64]  # (T,) the force the actuator put on the cart
    reward: npt.NDArray[np.float64]  # (T,)
    terminated: bool  # fell (True) or reached the time limit (False)

    @property
    def length(self) -> int:
        """Control periods in the episode."""
        return int(self.reward.size)

    @property
    def ret(self) -> float:
        """The episode's return."""
        return float(self.reward.sum())


@dataclass
class _Trace:
    seed: int
    measured: list[npt.NDArray[Any]]
    state: list[npt.NDArray[Any]]
    action: list[int]
    force_n: list[float]
    reward: list[float]

    def episode(self, terminated: bool) -> Episode:
        return Episode(
            seed=self.seed,
            measured=np.asarray(self.measured, dtype=np.float64).reshape(-1, 4),
            state=np.asarray(self.state, dtype=np.float64).reshape(-1, 4),
            action=np.asarray(self.action, dtype=np.int64),
            force_n=np.asarray(self.force_n, dtype=np.float64),
            reward=np.asarray(self.reward, dtype=np.float64),
            terminated=terminated,
        )


def run_episodes(policy: Policy, make: Callable[[], gym.Env[Any, Any]], seeds: Sequence[int]) -> list[Episode]:
    """Play one episode per seed with ``policy`` (batch of observations -> batch of actions).

    The envs advance in lock step and finished ones drop out, so a batch holds the envs still
    running. Episodes end by termination or by the env's time limit.

    Returns:
        The episodes, in the order of ``seeds``.
    """
    envs = [make() for _ in seeds]
    traces = [_Trace(int(s), [], [], [], [], []) for s in seeds]
    done: list[Episode | None] = [None] * len(envs)
    obs: list[npt.NDArray[Any]] = []
    for env, trace in zip(envs, traces, strict=True):
        first, info = env.reset(seed=trace.seed)
        obs.append(first)
        trace.state.append(info.get("state", np.asarray(first, dtype=np.float64)))
    try:
        active = list(range(len(envs)))
        while active:
            actions = np.asarray(policy(np.stack([obs[i] for i in active]).astype(np.float32))).reshape(-1)
            still = []
            for i, action in zip(active, actions.tolist(), strict=True):
                env, trace = envs[i], traces[i]
                sim: Any = env.unwrapped
                trace.measured.append(np.asarray(obs[i], dtype=np.float64))
                trace.action.append(int(action))
                nxt, reward, terminated, truncated, info = env.step(int(action))
                applied = int(info.get("applied_action", action))
                trace.force_n.append(float(sim.force_mag if applied == 1 else -sim.force_mag))
                trace.reward.append(float(reward))
                if terminated or truncated:
                    done[i] = trace.episode(bool(terminated))
                else:
                    obs[i] = nxt
                    trace.state.append(info.get("state", np.asarray(nxt, dtype=np.float64)))
                    still.append(i)
            active = still
    finally:
        for env in envs:
            closing: Any = env  # gymnasium 1.2's Env.close has no annotations: typed as Any, not an ignore
            closing.close()
    return [e for e in done if e is not None]
