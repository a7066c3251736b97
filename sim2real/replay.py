"""Open-loop replay of recorded real actions in a simulator: the dynamics gap without the policy.

Keys read from the real run (source ``real`` by default), one point per control step:

- ``obs/<i>``: component ``i`` of the observation the policy saw at that step;
- ``action/<i>``: component ``i`` of the action applied at that step (a ``Discrete`` action is
  ``action/0``); both prefixes can be changed with ``keys=`` (ROS array topics log
  ``<topic>/data/<i>``);
- ``episode/length`` marks where each episode ends (see :mod:`rltrack.sim2real.align`), and
  ``episode/seed``, when logged, seeds ``env.reset``.

The simulator starts from the recorded first observation when it can be put there: through a
``set_state(env, obs)`` callable, or, for environments whose ``unwrapped.state`` *is* the
observation (CartPole, MountainCar), by assigning it. Then each recorded action is applied in turn
and the simulator's observation is compared with the recorded one at every step.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from rltrack.sim2real.errors import GapError
from rltrack.sim2real.sides import PAIR_KEYS, RunLike, Side, load_side, resolve_run

if TYPE_CHECKING:
    import gymnasium as gym

    from rltrack.api import Api

__all__ = ["ReplayResult", "replay", "replay_actions"]

FloatArray = npt.NDArray[np.float64]


def _indexed(keys: list[str], prefix: str) -> list[str]:
    """``prefix/0, prefix/1, ...`` among ``keys``, in index order."""
    pattern = re.compile(re.escape(prefix) + r"/(\d+)")
    found = sorted((int(m.group(1)), k) for k in keys if (m := pattern.fullmatch(k)))
    return [k for _, k in found]


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """Per-step divergence between the recorded real states and the replayed sim states."""

    n_steps: int
    """Steps compared (the recording's length, or fewer if the simulator terminated first)."""
    divergence: FloatArray
    """Euclidean distance between sim and real observation at each step, shape ``(n_steps,)``."""
    abs_error: FloatArray
    """Absolute error per observation component, shape ``(n_steps, obs_dim)``."""
    initial_state_set: bool
    """Whether the simulator was put in the recorded initial state (else divergence includes it)."""
    terminated_early: bool
    """Whether the simulator ended the episode before the recorded actions ran out."""

    @property
    def final_divergence(self) -> float:
        """Divergence at the last compared step."""
        return float(self.divergence[-1])


def _to_action(space: Any, values: FloatArray) -> Any:
    kind = type(space).__name__
    if kind == "Discrete":
        return int(np.rint(values[0]))
    if kind == "MultiDiscrete" or kind == "MultiBinary":
        return np.rint(values).astype(np.int64).reshape(space.shape)
    return np.asarray(values, dtype=space.dtype).reshape(space.shape)


def _set_initial(
    env: Any, reset_obs: Any, obs0: FloatArray, set_state: Callable[[Any, FloatArray], None] | None
) -> bool:
    if set_state is not None:
        set_state(env, obs0)
        return True
    state = getattr(env.unwrapped, "state", None)
    flat = np.asarray(reset_obs, dtype=np.float64).ravel()
    if state is not None and np.shape(state) == flat.shape and np.allclose(state, flat, rtol=1e-5, atol=1e-6):
        # The env's state is its observation, so the recorded observation is a full state.
        env.unwrapped.state = np.asarray(obs0, dtype=np.asarray(state).dtype).copy()
        return True
    return False


def replay_actions(
    observations: npt.ArrayLike,
    actions: npt.ArrayLike,
    env_fn: Callable[[], gym.Env[Any, Any]],
    *,
    seed: int | None = None,
    set_state: Callable[[Any, FloatArray], None] | None = None,
) -> ReplayResult:
    """Replay ``actions`` open-loop in ``env_fn()`` and compare with the recorded ``observations``.

    Args:
        observations: Recorded observations, shape ``(T, obs_dim)``: row ``t`` is what the robot
            observed before applying action ``t``.
        actions: Recorded actions, shape ``(T, action_dim)``.
        env_fn: Builds the simulator (a Gymnasium env with a flat observation).
        seed: Seed for ``env.reset``.
        set_state: Puts the env into a recorded observation's state; default assigns
            ``env.unwrapped.state`` when the env's state equals its observation.

    Raises:
        GapError: Shapes disagree, or there are no steps.
    """
    obs = np.asarray(observations, dtype=np.float64)
    act = np.asarray(actions, dtype=np.float64)
    if obs.ndim != 2 or act.ndim != 2 or obs.shape[0] != act.shape[0] or obs.shape[0] == 0:
        raise GapError(
            f"replay needs (T, obs_dim) observations and (T, action_dim) actions with T > 0, got "
            f"{obs.shape!r} and {act.shape!r}"
        )
    env = env_fn()
    try:
        reset_obs, _ = env.reset(seed=seed)
        initial = _set_initial(env, reset_obs, obs[0], set_state)
        current = obs[0] if initial else np.asarray(reset_obs, dtype=np.float64).ravel()
        if current.shape != obs[0].shape:
            raise GapError(f"the env observes {current.shape!r} values but the recording has {obs[0].shape!r}")
        sim_obs = [current]
        ended = False
        for t in range(obs.shape[0] - 1):
            step_obs, _, terminated, truncated, _ = env.step(_to_action(env.action_space, act[t]))
            sim_obs.append(np.asarray(step_obs, dtype=np.float64).ravel())
            if terminated or truncated:
                ended = t + 2 < obs.shape[0]
                break
    finally:
        closing: Any = env  # gymnasium 1.2's Env.close has no annotations: typed as Any, not an ignore
        closing.close()
    sim = np.vstack(sim_obs)
    abs_error = np.abs(sim - obs[: sim.shape[0]])
    return ReplayResult(
        n_steps=int(sim.shape[0]),
        divergence=np.sqrt(np.sum(abs_error**2, axis=1)),
        abs_error=abs_error,
        initial_state_set=initial,
        terminated_early=ended,
    )


def _matrix(side: Side, prefix: str, episode: int) -> tuple[npt.NDArray[np.int64], FloatArray]:
    indexed = _indexed(list(side.signals), prefix)
    if not indexed:
        raise GapError(f"replay needs {prefix}/0, {prefix}/1, ... under source {side.source!r} of run {side.run!r}")
    bounds = side.boundaries()
    columns: list[tuple[npt.NDArray[np.int64], FloatArray]] = []
    for key in indexed:
        series = side.signals[key]
        starts, stops = bounds.bounds(series)
        part = series.slice(int(starts[episode]), int(stops[episode]))
        columns.append((part.step, part.value))
    steps = columns[0][0]
    for col_steps, _ in columns[1:]:
        steps = np.intersect1d(steps, col_steps)
    values = np.column_stack([vals[np.searchsorted(col_steps, steps)] for col_steps, vals in columns])
    return steps, values


def replay(
    real_run: str | RunLike,
    env_fn: Callable[[], gym.Env[Any, Any]],
    *,
    episode: int,
    source: str = "real",
    keys: tuple[str, str] = ("obs", "action"),
    set_state: Callable[[Any, FloatArray], None] | None = None,
    api: Api | None = None,
    dir: str | Path | None = None,
) -> ReplayResult:
    """Re-execute one recorded real episode's actions open-loop in a simulator.

    Args:
        real_run: Run id or read view holding the real episode (keys in the module docstring).
        env_fn: Builds the simulator.
        episode: Episode index in the recording (0 = first; negative counts from the end).
        source: Source of the recording.
        keys: Prefixes of the observation and action keys (``obs/<i>``, ``action/<i>`` by
            default; e.g. ``("obs/data", "cmd/data")`` for ROS array topics).
        set_state: Optional ``set_state(env, obs)`` hook (see :func:`replay_actions`).
        api: Read API resolving a run id; default ``rltrack.Api(dir=dir)``.
        dir: Store root used when ``api`` is not given.

    Raises:
        GapError: The episode does not exist, or observations/actions were not logged.
        RunNotFoundError: ``real_run`` is an unknown id.
    """
    view = resolve_run(real_run, api=api, dir=dir)
    present = list(view.keys(source)) if source in view.sources else []
    side = load_side(view, source, signal_keys=_indexed(present, keys[0]) + _indexed(present, keys[1]))
    n_episodes = len(side.boundaries())
    if not -n_episodes <= episode < n_episodes:
        raise GapError(
            f"episode {episode!r} does not exist: run {view.id!r} has {n_episodes} episodes under {source!r}"
        )
    episode %= n_episodes
    obs_steps, obs = _matrix(side, keys[0], episode)
    act_steps, act = _matrix(side, keys[1], episode)
    steps = np.intersect1d(obs_steps, act_steps)
    obs = obs[np.searchsorted(obs_steps, steps)]
    act = act[np.searchsorted(act_steps, steps)]
    seed = None
    seeds = side.episodes.get(PAIR_KEYS[0])
    if seeds is not None and seeds.value.size == n_episodes:
        seed = int(seeds.value[episode])
    return replay_actions(obs, act, env_fn, seed=seed, set_state=set_state)
