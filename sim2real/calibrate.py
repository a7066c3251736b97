"""Calibrate a simulator from real runs: search its parameters so that it replays the recording best.

``calibrate(run, make_env=..., params=...)`` reads the real episodes (observations and actions,
see :mod:`rltrack.sim2real.calibrate_data`), scores a simulator built with a parameter set by
open-loop replay of the recorded actions (:mod:`rltrack.sim2real.calibrate_env`), and searches the
parameters with Optuna (TPE by default; CMA-ES or random on request) in ``workers`` processes.
Then every parameter is profiled across its prior range for identifiability, and the result
(:mod:`rltrack.sim2real.calibrate_result`) gives the best parameters, their near-best ranges, the
error before and after, and suggested domain-randomization ranges.

Each trial is an ordinary run (job type ``calibration``, in group ``calibration-<id>``, in the real
run's project) whose config holds the parameters and which logs ``calibration/objective`` and
``calibration/rmse/<key>``: the search can be watched and compared in the dashboard like a sweep.
A trial whose simulator raises is stored as a failed run and the search goes on.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from rltrack.sim2real.calibrate_env import EnvFactory, Objective, Score, SetState
from rltrack.sim2real.calibrate_filter import likelihood_tolerance
from rltrack.sim2real.calibrate_inputs import (
    DEFAULT_TOLERANCE,
    ENGINES,
    METRICS,
    check_band,
    check_options,
    columns,
    load,
    noise_middle,
    noise_specs,
    project_of,
    run_ids,
    scales,
)
from rltrack.sim2real.calibrate_result import Calibration, Overlay, summarize
from rltrack.sim2real.calibrate_search import PROFILE_POINTS, REFINE_FRACTION, Progress, Recorder, Search
from rltrack.sim2real.calibrate_space import CalibrationError, ParamSpace, parse_params
from rltrack.sim2real.sides import RunLike

if TYPE_CHECKING:
    from rltrack.sim2real.report import GapReport

    from rltrack.api import Api

__all__ = [
    "DEFAULT_HORIZON", "DEFAULT_TOLERANCE", "ENGINES", "METRICS", "PROFILE_POINTS", "REFINE_FRACTION", "calibrate",
]  # fmt: skip

Engine = Literal["optuna", "cmaes", "random"]
Metric = Literal["trajectory", "dtw", "filter"]
#: Replay window in control steps: long enough for the dynamics to show, short enough that an
#: unstable system does not diverge from float rounding (CartPole's pole doubles errors every ~9 steps).
DEFAULT_HORIZON = 20


def calibrate(
    run_or_ids: str | RunLike | Sequence[str | RunLike],
    *,
    make_env: Callable[..., Any] | str,
    params: Mapping[str, Any] | str | Path,
    keys: Sequence[str] | None = None,
    metric: Metric = "trajectory",
    budget: int = 200,
    engine: Engine = "optuna",
    workers: int = 1,
    seed: int = 0,
    observations: str | Sequence[str] = "obs",
    actions: str | Sequence[str] = "action",
    source: str = "real",
    episodes: int | None = None,
    horizon: int | None = DEFAULT_HORIZON,
    nominal: Mapping[str, Any] | None = None,
    tolerance: float | None = None,
    noise: Mapping[str, float | str] | Sequence[float | str] | None = None,
    dtw_band: int | None = None,
    set_state: SetState | None = None,
    track: bool = True,
    progress: Progress | None = None,
    api: Api | None = None,
    dir: str | Path | None = None,
) -> Calibration:
    """Find the simulator parameters that best reproduce the recorded real episodes.

    Args:
        run_or_ids: The real run (id or read view), or several: their episodes are pooled.
        make_env: Builds the simulator: a callable taking the parameters as keyword arguments (or
            setting the rest on ``env.unwrapped``), ``"module:factory"``, or a Gymnasium env id.
        params: wandb-sweep-style distributions (``{"masspole": {"min": 0.05, "max": 1.0}}``) or a
            YAML file of them; each needs a prior range.
        keys: Observation keys to score (default: all of them).
        metric: ``"trajectory"``: RMSE of the replayed observations, per key divided by the key's
            standard deviation in the recording, averaged over keys. ``"dtw"``: the same with dynamic
            time warping (within a band of ``dtw_band`` steps) in place of the step-by-step pairing, for
            recordings whose timing drifts. ``"filter"``: the likelihood of the recording under an
            ensemble Kalman filter run on the simulator (needs ``noise``), for noisy sensors, where
            a replay from a noisy recorded state hides the parameters (see
            :mod:`rltrack.sim2real.calibrate_filter`).
        budget: Trials in all, the identifiability profile (up to :data:`PROFILE_POINTS` per
            parameter) included.
        engine: ``"optuna"`` (TPE), ``"cmaes"`` (Optuna's CMA-ES; needs the ``cmaes`` package) or ``"random"``.
        workers: Processes evaluating trials in parallel; above 1, ``make_env`` must be picklable
            (a module-level function, ``"module:factory"`` or an env id).
        seed: Seed of the search.
        observations: Observation key prefix, or the keys in the simulator's observation order.
        actions: Action key prefix, or the keys in order.
        source: Source of the recording.
        episodes: Use only the first ``episodes`` recorded episodes.
        horizon: Replay window in steps (None: each whole episode from ``reset``).
        nominal: Parameters of the uncalibrated simulator, for the error before (default: ``make_env``'s
            own defaults).
        tolerance: Relative tolerance on the replay error that defines the near-best set and a flat
            profile (default 0.1; with ``metric="filter"``, a 95 % likelihood-ratio threshold).
        noise: ``metric="filter"``: the sensors' noise standard deviation per scored key (a mapping,
            or a sequence in ``keys`` order); a string names a searched parameter that holds it.
        dtw_band: ``metric="dtw"``: Sakoe-Chiba band half-width in steps (default: 10 % of the window).
        set_state: ``set_state(env, obs)`` puts the simulator in a recorded state (see :func:`replay_actions`).
        track: Store each trial as a run in group ``calibration-<id>``.
        progress: Called as ``progress(done, total, best_objective)`` after each trial.
        api: Read API resolving run ids (its store also receives the trial runs).
        dir: Store root used when ``api`` is not given.

    Raises:
        CalibrationError: Bad input (no actions, unknown keys, a make_env that raises on the nominal
            parameters, an empty range, a too small budget), or every trial failed.
    """
    started = time.perf_counter()
    check_options(metric, budget, engine, workers, tolerance, horizon)
    check_band(dtw_band)
    space = params if isinstance(params, ParamSpace) else parse_params(params)
    if api is None:
        from rltrack.api import Api

        api = Api(dir=dir)
    data = load(run_or_ids, observations, actions, source, episodes, api)
    cols = columns(data, keys)
    factory = EnvFactory(make_env)
    noise_of = noise_specs(metric, noise, tuple(data.obs_keys[c] for c in cols), space)
    objective = Objective(factory, data, cols, scales(data, cols), horizon, set_state, metric=metric,
                          dtw_band=dtw_band, noise=noise_of)  # fmt: skip
    nominal = {**noise_middle(space, noise_of), **(nominal or {})}
    before = _nominal(factory, objective, space, nominal)
    if tolerance is None:
        tolerance = likelihood_tolerance(before.n_samples) if metric == "filter" else DEFAULT_TOLERANCE
    n_profile = sum(len(s.profile(PROFILE_POINTS)) for s in space.specs)
    if budget <= n_profile:
        raise CalibrationError(
            f"budget={budget!r} is too small: the identifiability profile alone takes {n_profile} trials "
            f"({PROFILE_POINTS} per parameter); give at least {n_profile + 10}"
        )
    project = project_of(run_or_ids, api)
    recorder = Recorder(api.root, project, data.run) if track else None
    search = Search(space, objective, engine, workers, seed, recorder, progress, budget)
    start = space.coordinates({**factory.nominal, **nominal})
    if start is not None:  # the search starts from the nominal simulator: calibrating never makes it worse
        search.enqueue(start)
    try:
        trials = search.run(budget - n_profile)
        if not any(t.score is not None for t in trials):
            raise CalibrationError(f"every trial failed; the first: {trials[0].error}")
        best_so_far = min((t for t in trials if t.score is not None), key=lambda t: t.score.objective)  # type: ignore[union-attr]
        profiles = search.profile(best_so_far.params)
    finally:
        search.close()
        group = recorder.close() if recorder is not None else None
    every = trials + [t for p in profiles.values() for t in p]
    best, results = summarize(space.specs, every, profiles, tolerance)
    assert best.score is not None  # summarize picks among scored trials
    overlay = _overlay(objective, {**space.constants, **nominal}, best.params)
    gap_before, gap_after = _gaps(objective, {**space.constants, **nominal}, best.params)
    return Calibration(
        runs=run_ids(run_or_ids), keys=tuple(data.obs_keys[c] for c in cols), horizon=horizon, metric=metric,
        n_episodes=len(data), n_steps=data.n_steps, engine=engine, tolerance=tolerance, group=group,
        best_params=dict(best.params), before=before, after=best.score, parameters=results, trials=tuple(every),
        wall_s=time.perf_counter() - started, overlay=overlay, gap_before=gap_before, gap_after=gap_after,
    )  # fmt: skip


def _gaps(
    objective: Objective, before: Mapping[str, Any], after: Mapping[str, Any]
) -> tuple[GapReport | None, GapReport | None]:
    """The gap reports of the replays before and after; a simulator that fails here leaves them out, with a warning."""
    from rltrack.sim2real.calibrate_gap import gap_reports

    try:
        return gap_reports(objective, before, after)
    except Exception as err:  # the user's simulator, replayed once more: the calibration itself stands
        warnings.warn(f"calibrate: no gap report before/after: {type(err).__name__}: {err}", stacklevel=3)
        return None, None


def _overlay(objective: Objective, before: Mapping[str, Any], after: Mapping[str, Any]) -> Overlay:
    """Replay the first episode before and after (both replayed fine already), on the scored keys."""
    cols = list(objective.columns)
    windows = [objective.predict(p, 0) for p in (before, after)]
    data = objective.episodes
    return Overlay(
        episode=data.index[0], keys=tuple(data.obs_keys[c] for c in cols), real=data.observations[0][:, cols],
        before=tuple((s, rows[:, cols]) for s, rows in windows[0]),
        after=tuple((s, rows[:, cols]) for s, rows in windows[1]),
    )  # fmt: skip


def _nominal(factory: EnvFactory, objective: Objective, space: ParamSpace, nominal: dict[str, Any]) -> Score:
    """Plan how each parameter reaches the simulator and score the uncalibrated simulator."""
    names = tuple(n for n in dict.fromkeys([*space.names, *space.constants, *nominal]) if n not in objective.noise)
    try:
        probe = factory.build({k: v for k, v in nominal.items() if k in factory.named})
    except Exception as err:  # the user's make_env: any error is reported with its type
        raise CalibrationError(
            f"make_env ({factory.describe()}) raised {type(err).__name__} on the nominal parameters {nominal!r}: "
            f"{err}; fix make_env, or pass nominal={{...}} with the uncalibrated simulator's parameters"
        ) from err
    try:
        factory.plan(names, probe)
    finally:
        probe.close()
    try:
        return objective({**space.constants, **nominal})
    except CalibrationError:
        raise
    except Exception as err:
        raise CalibrationError(
            f"replaying the recording in the nominal simulator raised {type(err).__name__}: {err}"
        ) from err
