"""Checks and reads what ``calibrate`` is given: options, the real episodes, the scored keys, the noise.

Every check raises :class:`~rltrack.sim2real.calibrate_space.CalibrationError` naming the value at
fault and what to give instead, before any trial runs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from rltrack.sim2real.calibrate_data import RealEpisodes, load_episodes
from rltrack.sim2real.calibrate_space import CalibrationError, ParamSpace
from rltrack.sim2real.sides import RunLike

if TYPE_CHECKING:
    from rltrack.api import Api

__all__ = [
    "DEFAULT_TOLERANCE", "ENGINES", "METRICS", "as_list", "check_band", "check_options", "columns", "load",
    "noise_middle", "noise_specs", "project_of", "run_ids", "scales",
]  # fmt: skip

ENGINES: tuple[str, ...] = ("optuna", "cmaes", "random")
METRICS: tuple[str, ...] = ("trajectory", "dtw", "filter")
#: Relative tolerance of the replay error for the near-best set and a flat profile (trajectory, dtw).
DEFAULT_TOLERANCE = 0.1


def check_options(
    metric: str, budget: int, engine: str, workers: int, tolerance: float | None, horizon: int | None
) -> None:
    """Refuse an unknown metric or engine, or a budget, worker count, tolerance or horizon out of range."""
    if metric not in METRICS:
        raise CalibrationError(f"metric={metric!r} is unknown; use one of {list(METRICS)}")
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise CalibrationError(f"budget={budget!r} must be an int >= 1 (trials)")
    if engine not in ENGINES:
        raise CalibrationError(f"engine={engine!r} is unknown; use one of {list(ENGINES)}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise CalibrationError(f"workers={workers!r} must be an int >= 1 (processes)")
    if tolerance is not None and not (
        isinstance(tolerance, (int, float)) and tolerance > 0 and math.isfinite(tolerance)
    ):
        raise CalibrationError(f"tolerance={tolerance!r} must be a positive number (0.1 = 10 %)")
    if horizon is not None and (isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1):
        raise CalibrationError(f"horizon={horizon!r} must be an int >= 1 (steps) or None (whole episodes)")


def check_band(dtw_band: int | None) -> None:
    """Refuse a DTW band that is not a whole number of steps >= 0."""
    if dtw_band is not None and (isinstance(dtw_band, bool) or not isinstance(dtw_band, int) or dtw_band < 0):
        raise CalibrationError(f"dtw_band={dtw_band!r} must be an int >= 0 (steps) or None (10 % of the window)")


def noise_specs(
    metric: str,
    noise: Mapping[str, float | str] | Sequence[float | str] | None,
    keys: tuple[str, ...],
    space: ParamSpace,
) -> tuple[float | str, ...]:
    """Check ``noise`` against the scored keys; return one std (or searched parameter's name) per key."""
    if metric != "filter":
        if noise is not None:
            raise CalibrationError(f"noise=... is used by metric='filter' only; metric={metric!r} ignores it")
        return ()
    if noise is None:
        raise CalibrationError(
            "metric='filter' needs noise=...: the sensors' noise standard deviation per scored key "
            f"({', '.join(keys)}), from their datasheet, or a searched parameter's name to estimate it"
        )
    if isinstance(noise, np.ndarray):  # an array of stds reads as the list it holds
        noise = noise.ravel().tolist()
    if isinstance(noise, Mapping):
        unknown = [k for k in noise if k not in keys]
        missing = [k for k in keys if k not in noise]
        if unknown or missing:
            raise CalibrationError(
                f"noise: {unknown[0] if unknown else missing[0]!r} "
                f"{'is not a scored key' if unknown else 'is missing'}: give one std per scored key ({', '.join(keys)})"
            )
        values = [noise[k] for k in keys]
    elif isinstance(noise, (str, bytes)) or not isinstance(noise, Sequence) or len(noise) != len(keys):
        raise CalibrationError(
            f"noise={noise!r} must give one std per scored key ({len(keys)}: {', '.join(keys)}), as a list or a mapping"
        )
    else:
        values = list(noise)
    searched = set(space.names) | set(space.constants)
    for key, value in zip(keys, values, strict=True):
        if isinstance(value, str):
            if value not in searched:
                raise CalibrationError(
                    f"noise of {key!r} names parameter {value!r}, which params does not have; add it with a range"
                )
        elif (
            isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and value >= 0)
        ):
            raise CalibrationError(f"noise of {key!r} is {value!r}; give a finite std >= 0 in the key's units")
    return tuple(v if isinstance(v, str) else float(v) for v in values)


def noise_middle(space: ParamSpace, specs: tuple[float | str, ...]) -> dict[str, Any]:
    """A value for each searched noise parameter where the uncalibrated simulator needs one: its prior's middle."""
    out: dict[str, Any] = {}
    for spec in space.specs:
        if spec.name in specs and spec.numeric:
            out[spec.name] = (float(spec.low) + float(spec.high)) / 2  # type: ignore[arg-type]
    return out


def as_list(run_or_ids: str | RunLike | Sequence[str | RunLike]) -> list[str | RunLike]:
    """The run(s) as a list (one id or view, or several)."""
    if isinstance(run_or_ids, str) or not isinstance(run_or_ids, Sequence):
        return [run_or_ids]
    if not run_or_ids:
        raise CalibrationError("run_or_ids is empty; give the real run's id")
    return list(run_or_ids)


def run_ids(run_or_ids: str | RunLike | Sequence[str | RunLike]) -> tuple[str, ...]:
    """The ids of the run(s)."""
    return tuple(r if isinstance(r, str) else str(r.id) for r in as_list(run_or_ids))


def project_of(run_or_ids: str | RunLike | Sequence[str | RunLike], api: Api) -> str:
    """The project of the first run: the trial runs go there."""
    first = as_list(run_or_ids)[0]
    view = api.run(first) if isinstance(first, str) else first
    return str(getattr(view, "project", "default"))


def load(
    run_or_ids: str | RunLike | Sequence[str | RunLike],
    observations: str | Sequence[str],
    actions: str | Sequence[str],
    source: str,
    episodes: int | None,
    api: Api,
) -> RealEpisodes:
    """Read the recorded episodes of every run and pool them (their keys must agree)."""
    loaded = [
        load_episodes(r, observations=observations, actions=actions, source=source, episodes=episodes, api=api)
        for r in as_list(run_or_ids)
    ]
    first = loaded[0]
    for other in loaded[1:]:
        if other.obs_keys != first.obs_keys or other.action_keys != first.action_keys:
            raise CalibrationError(
                f"runs {first.run!r} and {other.run!r} logged different observation/action keys; calibrate them apart"
            )
    if len(loaded) == 1:
        return first
    return RealEpisodes(
        run=first.run, source=source, obs_keys=first.obs_keys, action_keys=first.action_keys,
        observations=tuple(o for e in loaded for o in e.observations),
        actions=tuple(a for e in loaded for a in e.actions),
        seeds=tuple(s for e in loaded for s in e.seeds), index=tuple(i for e in loaded for i in e.index),
    )  # fmt: skip


def columns(data: RealEpisodes, keys: Sequence[str] | None) -> tuple[int, ...]:
    """The positions of the scored ``keys`` among the observation keys (default: all of them)."""
    if keys is None:
        return tuple(range(len(data.obs_keys)))
    if isinstance(keys, str):
        keys = [keys]
    missing = [k for k in keys if k not in data.obs_keys]
    if missing or not keys:
        raise CalibrationError(
            f"key {missing[0] if missing else None!r} is not an observation the simulator reproduces; the "
            f"observation keys are {', '.join(data.obs_keys)} (observations=... chooses them)"
        )
    return tuple(data.obs_keys.index(k) for k in keys)


def scales(data: RealEpisodes, columns: tuple[int, ...]) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Each scored key's standard deviation in the recording (1 for a constant key): the RMSE's unit."""
    stacked = np.vstack(data.observations)[:, list(columns)]
    std = np.std(stacked, axis=0)
    return np.where(std > 0, std, 1.0)  # a constant key is scored in its own units
