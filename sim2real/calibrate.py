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

import contextlib
import importlib.util
import math
import queue
import threading
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from rltrack.sim2real.calibrate_data import RealEpisodes, load_episodes
from rltrack.sim2real.calibrate_env import EnvFactory, Objective, Score, SetState
from rltrack.sim2real.calibrate_result import Calibration, Overlay, Trial, summarize
from rltrack.sim2real.calibrate_space import OBJECTIVE_KEY, CalibrationError, ParamSpace, ParamSpec, parse_params
from rltrack.sim2real.sides import RunLike

if TYPE_CHECKING:
    from rltrack.api import Api

__all__ = ["DEFAULT_HORIZON", "ENGINES", "PROFILE_POINTS", "REFINE_FRACTION", "calibrate"]

Engine = Literal["optuna", "cmaes", "random"]
ENGINES: tuple[str, ...] = ("optuna", "cmaes", "random")
#: Replay window in control steps: long enough for the dynamics to show, short enough that an
#: unstable system does not diverge from float rounding (CartPole's pole doubles errors every ~9 steps).
DEFAULT_HORIZON = 20
#: Points per parameter on its identifiability profile (integers and choices: all of them, up to this).
PROFILE_POINTS = 7
#: Share of the search trials spent refining the best with Nelder-Mead (continuous parameters).
REFINE_FRACTION = 0.4
#: Refinement trials a simplex gets per continuous parameter before a second one (a second worker) starts.
REFINE_PER_PARAM = 20
Progress = Callable[[int, int, float], None]


def calibrate(
    run_or_ids: str | RunLike | Sequence[str | RunLike],
    *,
    make_env: Callable[..., Any] | str,
    params: Mapping[str, Any] | str | Path,
    keys: Sequence[str] | None = None,
    metric: Literal["trajectory"] = "trajectory",
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
    tolerance: float = 0.1,
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
            standard deviation in the recording, averaged over keys.
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
        tolerance: Relative tolerance on the replay error that defines the near-best set and a flat profile.
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
    _check_options(metric, budget, engine, workers, tolerance, horizon)
    space = params if isinstance(params, ParamSpace) else parse_params(params)
    if api is None:
        from rltrack.api import Api

        api = Api(dir=dir)
    data = _load(run_or_ids, observations, actions, source, episodes, api)
    columns = _columns(data, keys)
    factory = EnvFactory(make_env)
    objective = Objective(factory, data, columns, _scales(data, columns), horizon, set_state)
    before = _nominal(factory, objective, space, dict(nominal or {}))
    n_profile = sum(len(s.profile(PROFILE_POINTS)) for s in space.specs)
    if budget <= n_profile:
        raise CalibrationError(
            f"budget={budget!r} is too small: the identifiability profile alone takes {n_profile} trials "
            f"({PROFILE_POINTS} per parameter); give at least {n_profile + 10}"
        )
    project = _project(run_or_ids, api)
    recorder = _Recorder(api.root, project, data.run) if track else None
    search = _Search(space, objective, engine, workers, seed, recorder, progress, budget)
    start = space.coordinates({**factory.nominal, **(nominal or {})})
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
    overlay = _overlay(objective, {**space.constants, **(nominal or {})}, best.params)
    return Calibration(
        runs=_run_ids(run_or_ids), keys=tuple(data.obs_keys[c] for c in columns), horizon=horizon,
        n_episodes=len(data), n_steps=data.n_steps, engine=engine, tolerance=tolerance, group=group,
        best_params=dict(best.params), before=before, after=best.score, parameters=results, trials=tuple(every),
        wall_s=time.perf_counter() - started, overlay=overlay,
    )  # fmt: skip


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


def _check_options(metric: str, budget: int, engine: str, workers: int, tolerance: float, horizon: int | None) -> None:
    if metric != "trajectory":
        raise CalibrationError(f"metric={metric!r} is not supported; use 'trajectory'")
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise CalibrationError(f"budget={budget!r} must be an int >= 1 (trials)")
    if engine not in ENGINES:
        raise CalibrationError(f"engine={engine!r} is unknown; use one of {list(ENGINES)}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise CalibrationError(f"workers={workers!r} must be an int >= 1 (processes)")
    if not (isinstance(tolerance, (int, float)) and tolerance > 0 and math.isfinite(tolerance)):
        raise CalibrationError(f"tolerance={tolerance!r} must be a positive number (0.1 = 10 %)")
    if horizon is not None and (isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1):
        raise CalibrationError(f"horizon={horizon!r} must be an int >= 1 (steps) or None (whole episodes)")


def _as_list(run_or_ids: str | RunLike | Sequence[str | RunLike]) -> list[str | RunLike]:
    if isinstance(run_or_ids, str) or not isinstance(run_or_ids, Sequence):
        return [run_or_ids]
    if not run_or_ids:
        raise CalibrationError("run_or_ids is empty; give the real run's id")
    return list(run_or_ids)


def _run_ids(run_or_ids: str | RunLike | Sequence[str | RunLike]) -> tuple[str, ...]:
    return tuple(r if isinstance(r, str) else str(r.id) for r in _as_list(run_or_ids))


def _project(run_or_ids: str | RunLike | Sequence[str | RunLike], api: Api) -> str:
    first = _as_list(run_or_ids)[0]
    view = api.run(first) if isinstance(first, str) else first
    return str(getattr(view, "project", "default"))


def _load(
    run_or_ids: str | RunLike | Sequence[str | RunLike],
    observations: str | Sequence[str],
    actions: str | Sequence[str],
    source: str,
    episodes: int | None,
    api: Api,
) -> RealEpisodes:
    loaded = [
        load_episodes(r, observations=observations, actions=actions, source=source, episodes=episodes, api=api)
        for r in _as_list(run_or_ids)
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


def _columns(data: RealEpisodes, keys: Sequence[str] | None) -> tuple[int, ...]:
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


def _scales(data: RealEpisodes, columns: tuple[int, ...]) -> np.ndarray[Any, np.dtype[np.float64]]:
    stacked = np.vstack(data.observations)[:, list(columns)]
    std = np.std(stacked, axis=0)
    return np.where(std > 0, std, 1.0)  # a constant key is scored in its own units


def _nominal(factory: EnvFactory, objective: Objective, space: ParamSpace, nominal: dict[str, Any]) -> Score:
    """Plan how each parameter reaches the simulator and score the uncalibrated simulator."""
    names = tuple(dict.fromkeys([*space.names, *space.constants, *nominal]))
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


def _evaluate(objective: Objective, params: Mapping[str, Any]) -> tuple[Score | None, str | None]:
    try:
        return objective(params), None
    except CalibrationError:
        raise  # the recording and the simulator disagree in shape: no trial can succeed
    except Exception as err:  # a crashing simulator fails this trial only
        return None, f"{type(err).__name__}: {err}"[:500]


class _Budget(Exception):
    """The refinement used its trials (stops scipy's minimize from inside the objective)."""


_WORKER_OBJECTIVE: Objective | None = None


def _init_worker(objective: Objective) -> None:
    global _WORKER_OBJECTIVE
    _WORKER_OBJECTIVE = objective
    warnings.simplefilter("ignore")  # a simulator's warnings would repeat once per trial and worker


def _evaluate_in_worker(params: Mapping[str, Any]) -> tuple[Score | None, str | None]:
    assert _WORKER_OBJECTIVE is not None  # set by the pool's initializer
    return _evaluate(_WORKER_OBJECTIVE, params)


class _Search:
    """Asks Optuna for parameter sets, evaluates them (in worker processes), tells the scores back."""

    def __init__(
        self,
        space: ParamSpace,
        objective: Objective,
        engine: str,
        workers: int,
        seed: int,
        recorder: _Recorder | None,
        progress: Progress | None,
        total: int,
    ) -> None:
        self._space, self._objective, self._recorder, self._progress = space, objective, recorder, progress
        self._total, self._done, self._best = total, 0, math.inf
        self._study = _study(engine, seed, workers)
        self._pool = _pool(objective, workers) if workers > 1 else None
        self._workers, self._engine, self._seed = workers, engine, seed
        self._lock = threading.Lock()

    def _submit(self, params: Mapping[str, Any]) -> Future[tuple[Score | None, str | None]]:
        if self._pool is not None:
            return self._pool.submit(_evaluate_in_worker, params)
        future: Future[tuple[Score | None, str | None]] = Future()
        future.set_result(_evaluate(self._objective, params))
        return future

    def _finish(self, params: Mapping[str, Any], result: tuple[Score | None, str | None], kind: str) -> Trial:
        score, error = result
        with self._lock:  # refinement simplexes finish trials from several threads
            trial = Trial(self._done, dict(params), score, error, kind)
            if self._recorder is not None:
                self._recorder.put(trial, self._objective.episodes.obs_keys, self._objective.columns)
            self._done += 1
            if score is not None:
                self._best = min(self._best, score.objective)
            if self._progress is not None:
                self._progress(self._done, self._total, self._best)
        return trial

    def enqueue(self, coordinates: Mapping[str, Any]) -> None:
        """Make ``coordinates`` the first trial the search evaluates."""
        self._study.enqueue_trial(dict(coordinates))

    def run(self, n_trials: int) -> list[Trial]:
        """Search with Optuna over the prior ranges, then refine the best with Nelder-Mead.

        The refinement gets :data:`REFINE_FRACTION` of the trials, shared by up to one simplex per
        worker (each started from one of the best distinct trials) while each still gets
        :data:`REFINE_PER_PARAM` trials per parameter. TPE finds the basin quickly but
        places few points inside it, and the replay error is deterministic and smooth there, where a
        simplex walks along a ridge (pole mass against pole length) that TPE would sample around.
        """
        continuous = [s for s in self._space.specs if s.numeric and not s.integer]
        n_refine = int(n_trials * REFINE_FRACTION) if n_trials >= 20 and continuous else 0
        trials = self._phase(n_trials - n_refine, self._space, self._study)
        ranked = sorted((t for t in trials if t.score is not None), key=lambda t: t.score.objective)  # type: ignore[union-attr]
        if not n_refine or not ranked:
            return trials
        # One simplex per worker, from the best distinct trials: parallel, and a second basin gets a look.
        # A simplex needs about REFINE_PER_PARAM trials per parameter to converge; more simplexes only
        # where the budget gives each of them that many.
        n_starts = max(1, min(self._workers, n_refine // (REFINE_PER_PARAM * len(continuous))))
        starts: list[Trial] = []
        for t in ranked:
            if all(any(t.params[s.name] != b.params[s.name] for s in continuous) for b in starts):
                starts.append(t)
            if len(starts) == n_starts:
                break
        shares = [n_refine // len(starts) + int(i < n_refine % len(starts)) for i in range(len(starts))]
        if len(starts) == 1:
            return trials + self._refine(starts[0], continuous, n_refine)
        with ThreadPoolExecutor(len(starts), thread_name_prefix="rltrack-calibration-refine") as threads:
            parts = list(
                threads.map(
                    lambda args: self._refine(*args), [(b, continuous, n) for b, n in zip(starts, shares, strict=True)]
                )
            )
        return trials + [t for part in parts for t in part]

    def _refine(self, best: Trial, specs: list[ParamSpec], n_trials: int) -> list[Trial]:
        from scipy.optimize import minimize

        trials: list[Trial] = []

        def unit(spec: ParamSpec, value: float) -> float:
            low, high = float(spec.low), float(spec.high)  # type: ignore[arg-type]  # numeric
            if spec.log:
                return (math.log(value) - math.log(low)) / (math.log(high) - math.log(low))
            return (value - low) / (high - low)

        def value(spec: ParamSpec, u: float) -> float:
            low, high, u = float(spec.low), float(spec.high), min(max(float(u), 0.0), 1.0)  # type: ignore[arg-type]
            return (
                math.exp(math.log(low) + u * (math.log(high) - math.log(low))) if spec.log else low + u * (high - low)
            )

        def objective(x: Any) -> float:
            if len(trials) >= n_trials:
                raise _Budget
            params = {**best.params, **{s.name: value(s, u) for s, u in zip(specs, x, strict=True)}}
            trials.append(self._finish(params, self._submit(params).result(), "refine"))
            score = trials[-1].score
            return math.inf if score is None else score.objective

        x0 = [unit(s, float(best.params[s.name])) for s in specs]
        with contextlib.suppress(_Budget):
            minimize(objective, x0, method="Nelder-Mead", bounds=[(0.0, 1.0)] * len(specs),
                     options={"maxfev": n_trials, "xatol": 1e-6, "fatol": 0.0})  # fmt: skip
        return trials

    def _phase(self, n_trials: int, space: ParamSpace, study: Any) -> list[Trial]:
        import optuna

        trials: list[Trial] = []
        pending: dict[Future[tuple[Score | None, str | None]], tuple[Any, dict[str, Any]]] = {}
        asked = 0
        while len(trials) < n_trials:
            while asked < n_trials and len(pending) < self._workers:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                    trial = study.ask()
                params = space.sample(trial)
                pending[self._submit(params)] = (trial, params)
                asked += 1
            future = next(iter(pending)) if self._pool is None else _first_done(pending)
            trial, params = pending.pop(future)
            result = future.result()
            if result[0] is None:
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
            else:
                study.tell(trial, result[0].objective)
            trials.append(self._finish(params, result, "search"))
        return trials

    def profile(self, best: Mapping[str, Any]) -> dict[str, list[Trial]]:
        """Evaluate the best parameters with one parameter moved across its prior range at a time."""
        points = [
            (spec.name, {**best, spec.name: v}) for spec in self._space.specs for v in spec.profile(PROFILE_POINTS)
        ]
        futures = [(name, params, self._submit(params)) for name, params in points]
        out: dict[str, list[Trial]] = {}
        for name, params, future in futures:
            out.setdefault(name, []).append(self._finish(params, future.result(), "profile"))
        return out

    def close(self) -> None:
        """Stop the worker processes."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


def _first_done(pending: Mapping[Future[Any], Any]) -> Future[Any]:
    from concurrent.futures import FIRST_COMPLETED, wait

    done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
    return next(f for f in pending if f in done)


def _study(engine: str, seed: int, workers: int) -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler: Any
        if engine == "random":
            sampler = optuna.samplers.RandomSampler(seed=seed)
        elif engine == "cmaes":
            if importlib.util.find_spec("cmaes") is None:  # Optuna's CmaEsSampler needs it
                raise CalibrationError("engine='cmaes' needs the cmaes package: pip install cmaes")
            sampler = optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
        else:
            # multivariate TPE models the parameters jointly (mass and length trade off in a pendulum);
            # constant_liar keeps parallel workers off the points still being evaluated.
            sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True, constant_liar=workers > 1)
        return optuna.create_study(direction="minimize", sampler=sampler)


def _pool(objective: Objective, workers: int) -> ProcessPoolExecutor:
    import multiprocessing
    import pickle

    try:
        pickle.dumps(objective)
    except Exception as err:  # pickling a lambda or a local function fails with several error types
        raise CalibrationError(
            f"workers={workers} runs trials in processes, which need a picklable make_env and set_state: "
            f"{type(err).__name__}: {err}; use a module-level function, 'module:factory' or an env id, or workers=1"
        ) from err
    # spawn, not fork: the calling process runs rltrack's writer threads, which fork would copy mid-flight.
    context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(objective,))


class _Recorder:
    """Stores each trial as a run, on a thread of its own so that run start-up overlaps the search."""

    def __init__(self, root: Path, project: str, real_run: str) -> None:
        from rltrack.sweeps.engine import new_id

        self.group = f"calibration-{new_id()}"
        self._root, self._project, self._real_run = root, project, real_run
        self._queue: queue.Queue[tuple[Trial, tuple[str, ...], tuple[int, ...]] | None] = queue.Queue()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name="rltrack-calibration-runs", daemon=True)
        self._thread.start()

    def put(self, trial: Trial, obs_keys: tuple[str, ...], columns: tuple[int, ...]) -> None:
        """Queue one finished trial for storing."""
        self._queue.put((trial, obs_keys, columns))

    def _loop(self) -> None:
        import rltrack

        while (item := self._queue.get()) is not None:
            if self._error is not None:
                continue
            trial, obs_keys, columns = item
            try:
                self._store(rltrack, trial, [obs_keys[c] for c in columns])
            except BaseException as err:  # reported by close(); the search itself goes on
                self._error = err

    def _store(self, rltrack: Any, trial: Trial, keys: list[str]) -> None:
        config = {
            **trial.params,
            "calibration": {"real_run": self._real_run, "kind": trial.kind, "trial": trial.number},
        }
        run = rltrack.init(
            project=self._project, dir=self._root, group=self.group, job_type="calibration",
            tags=["calibration", trial.kind], config=config, system_metrics=False, quiet=True,
        )  # fmt: skip
        if trial.score is None:
            run.finish(1, reason=trial.error)
            return
        values = {OBJECTIVE_KEY: trial.score.objective}
        values |= {f"calibration/rmse/{k}": r for k, r in zip(keys, trial.score.rmse, strict=True)}
        run.log(values, step=0)
        run.summary["calibration/sim_steps"] = trial.score.sim_steps
        run.finish()

    def close(self) -> str:
        """Wait until every trial is stored; return the group.

        Raises:
            CalibrationError: Storing a trial run failed.
        """
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise CalibrationError(f"storing a calibration trial run failed: {self._error}") from self._error
        return self.group
