"""The real episodes a calibration replays: observation and action matrices read from a run.

Observations and actions are read as :func:`rltrack.sim2real.replay` reads them (``obs/<i>`` and
``action/<i>`` under source ``real`` by default, cut into episodes at ``episode/length``), or from
explicit key lists in the simulator's observation order, e.g. a ROS ``JointState`` imported from a
bag: ``["joint_states/position/cart", "joint_states/velocity/cart", ...]``. Within an episode,
rows pair up by step; when a recording logs everything at one step (the deployed checkpoint's, as
the ROS node does), they pair up by time instead: row ``i`` gets the last command sent between
observation ``i`` and observation ``i + 1``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from rltrack.sim2real.align import Series
from rltrack.sim2real.calibrate_space import CalibrationError
from rltrack.sim2real.errors import GapError
from rltrack.sim2real.replay import _indexed
from rltrack.sim2real.sides import PAIR_KEYS, RunLike, Side, load_side, resolve_run

if TYPE_CHECKING:
    from rltrack.api import Api

__all__ = ["RealEpisodes", "load_episodes", "resolve_keys"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class RealEpisodes:
    """Recorded episodes: per episode a ``(T, obs_dim)`` observation and ``(T, action_dim)`` action matrix."""

    run: str
    source: str
    obs_keys: tuple[str, ...]
    action_keys: tuple[str, ...]
    observations: tuple[FloatArray, ...]
    actions: tuple[FloatArray, ...]
    seeds: tuple[int | None, ...]
    index: tuple[int, ...]
    """Each episode's position among the run's episodes under ``source``."""

    def __len__(self) -> int:
        return len(self.observations)

    @property
    def n_steps(self) -> int:
        """Recorded control steps over all episodes."""
        return sum(o.shape[0] for o in self.observations)


def resolve_keys(present: Sequence[str], wanted: str | Sequence[str], what: str, where: str) -> tuple[str, ...]:
    """Turn a key prefix (``"obs"`` -> ``obs/0, obs/1, ...``) or an explicit key list into present keys.

    Raises:
        CalibrationError: No key matches the prefix, or a listed key is not logged.
    """
    if isinstance(wanted, str):
        found = _indexed(list(present), wanted) or ([wanted] if wanted in present else [])
        if not found:
            raise CalibrationError(
                f"{where} has no {what} keys {wanted}/0, {wanted}/1, ...: calibration replays the recorded "
                f"{what}s; log them every step, or name the keys ({what}s=[...]); logged: {_few(present)}"
            )
        return tuple(found)
    keys = tuple(wanted)
    if not keys:
        raise CalibrationError(f"{what} keys: the list is empty; name the {what} keys in the simulator's order")
    missing = [k for k in keys if k not in present]
    if missing:
        raise CalibrationError(f"{where} has no {what} key {missing[0]!r}; logged: {_few(present)}")
    return keys


def _few(keys: Sequence[str]) -> str:
    shown = sorted(k for k in keys if not k.startswith(("_", "system/")))
    return ", ".join(shown[:12]) + (", ..." if len(shown) > 12 else "") if shown else "nothing"


def _columns(side: Side, keys: tuple[str, ...], episode: int) -> list[Series]:
    bounds = side.boundaries()
    parts = []
    for key in keys:
        series = side.signals[key]
        starts, stops = bounds.bounds(series)
        parts.append(series.slice(int(starts[episode]), int(stops[episode])).finite())
    return parts


def _stack(parts: list[Series], axis: str) -> tuple[npt.NDArray[np.int64], FloatArray]:
    coords = [p.step if axis == "step" else p.t_ns for p in parts]
    common = coords[0]
    for c in coords[1:]:
        common = np.intersect1d(common, c)
    matrix = np.column_stack([p.value[np.searchsorted(c, common)] for p, c in zip(parts, coords, strict=True)])
    return common, matrix.astype(np.float64)


def _increasing(parts: list[Series]) -> bool:
    return all(p.step.size < 2 or bool(np.all(np.diff(p.step) > 0)) for p in parts)


def _pair_on_time(
    obs_t: npt.NDArray[np.int64], obs: FloatArray, act_t: npt.NDArray[np.int64], act: FloatArray
) -> tuple[FloatArray, FloatArray]:
    # Row i's command: the last one sent in [t_obs[i], t_obs[i+1]); a row without one holds the last
    # command (a zero-order hold, as an actuator does); rows before the first command are dropped.
    upper = np.append(obs_t[1:], np.iinfo(np.int64).max)
    last = np.searchsorted(act_t, upper, side="left") - 1
    sent = (last >= 0) & (act_t[np.maximum(last, 0)] >= obs_t) if act_t.size else np.zeros(obs_t.size, bool)
    held = np.maximum.accumulate(np.where(sent, np.arange(obs_t.size), -1))
    keep = held >= 0
    rows = np.flatnonzero(keep)
    return obs[rows], act[last[held[rows]]]


def _episode(
    side: Side, obs_keys: tuple[str, ...], act_keys: tuple[str, ...], episode: int
) -> tuple[FloatArray, FloatArray]:
    obs_parts, act_parts = _columns(side, obs_keys, episode), _columns(side, act_keys, episode)
    if _increasing(obs_parts) and _increasing(act_parts):
        obs_s, obs = _stack(obs_parts, "step")
        act_s, act = _stack(act_parts, "step")
        steps = np.intersect1d(obs_s, act_s)
        return obs[np.searchsorted(obs_s, steps)], act[np.searchsorted(act_s, steps)]
    obs_t, obs = _stack(obs_parts, "t_ns")
    act_t, act = _stack(act_parts, "t_ns")
    return _pair_on_time(obs_t, obs, act_t, act)


def load_episodes(
    run: str | RunLike,
    *,
    observations: str | Sequence[str] = "obs",
    actions: str | Sequence[str] = "action",
    source: str = "real",
    episodes: int | Sequence[int] | None = None,
    api: Api | None = None,
    dir: str | Path | None = None,
) -> RealEpisodes:
    """Read the recorded episodes of ``run`` (see the module docstring for the keys).

    Args:
        run: Run id or read view.
        observations: Observation key prefix, or the keys in the simulator's observation order.
        actions: Action key prefix, or the keys in the action's order.
        source: The source holding the recording.
        episodes: How many episodes to use (the first ``n``), or their indices; default all.
        api: Read API resolving a run id.
        dir: Store root used when ``api`` is not given.

    Raises:
        CalibrationError: The source, observation or action keys, or the episodes are missing.
        RunNotFoundError: ``run`` is an unknown id.
    """
    view = resolve_run(run, api=api, dir=dir)
    where = f"run {view.id!r} (source {source!r})"
    if source not in view.sources:
        raise CalibrationError(f"run {view.id!r} has no source {source!r}; it has {sorted(view.sources)!r}")
    present = [str(k) for k in view.keys(source)]
    obs_keys = resolve_keys(present, observations, "observation", where)
    act_keys = resolve_keys(present, actions, "action", where)
    side = load_side(view, source, signal_keys=obs_keys + act_keys)
    try:
        n_total = len(side.boundaries())
    except GapError as err:  # no episode summaries to cut the recording at
        raise CalibrationError(f"{where}: {err}") from err
    chosen = _choose(episodes, n_total, where)
    seeds_series = side.episodes.get(PAIR_KEYS[0])
    seeds = seeds_series.value if seeds_series is not None and seeds_series.value.size == n_total else None
    obs_list, act_list, seed_list, index = [], [], [], []
    for k in chosen:
        obs, act = _episode(side, obs_keys, act_keys, k)
        if obs.shape[0] < 2:  # nothing to compare after the first observation
            continue
        obs_list.append(obs)
        act_list.append(act)
        seed_list.append(None if seeds is None else int(seeds[k]))
        index.append(k)
    if not obs_list:
        raise CalibrationError(
            f"{where}: none of its {len(chosen)} episode(s) has two steps with both observations and actions; "
            f"check that {act_keys[0]!r} is logged at the steps of {obs_keys[0]!r}"
        )
    return RealEpisodes(
        run=str(view.id), source=source, obs_keys=obs_keys, action_keys=act_keys, observations=tuple(obs_list),
        actions=tuple(act_list), seeds=tuple(seed_list), index=tuple(index),
    )  # fmt: skip


def _choose(episodes: int | Sequence[int] | None, n_total: int, where: str) -> list[int]:
    if episodes is None:
        return list(range(n_total))
    if isinstance(episodes, int):
        if isinstance(episodes, bool) or episodes < 1:
            raise CalibrationError(f"episodes={episodes!r} must be >= 1 (how many recorded episodes to use)")
        return list(range(min(episodes, n_total)))
    chosen = [int(e) for e in episodes]
    bad = [e for e in chosen if not -n_total <= e < n_total]
    if bad or not chosen:
        raise CalibrationError(f"episodes={list(episodes)!r}: {where} has {n_total} episodes (0..{n_total - 1})")
    return [e % n_total for e in chosen]
