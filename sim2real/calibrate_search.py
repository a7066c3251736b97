"""The search of a calibration: Optuna's trials, the Nelder-Mead refinement, the identifiability profile.

Trials run in this process or in ``workers`` spawned processes (each holding one copy of the
objective); each finished trial can be stored as a run by :class:`Recorder`, on a thread of its own.
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
import queue
import threading
import warnings
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from rltrack.sim2real.calibrate_env import Objective, Score
from rltrack.sim2real.calibrate_result import Trial
from rltrack.sim2real.calibrate_space import OBJECTIVE_KEY, CalibrationError, ParamSpace, ParamSpec

__all__ = ["PROFILE_POINTS", "REFINE_FRACTION", "REFINE_PER_PARAM", "Recorder", "Search", "evaluate"]

#: Points per parameter on its identifiability profile (integers and choices: all of them, up to this).
PROFILE_POINTS = 7
#: Share of the search trials spent refining the best with Nelder-Mead (continuous parameters).
REFINE_FRACTION = 0.4
#: Refinement trials a simplex gets per continuous parameter before a second one (a second worker) starts.
REFINE_PER_PARAM = 20
Progress = Callable[[int, int, float], None]


def evaluate(objective: Objective, params: Mapping[str, Any]) -> tuple[Score | None, str | None]:
    """Score one parameter set: its score, or (None, the error) when the simulator raised."""
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
    return evaluate(_WORKER_OBJECTIVE, params)


class Search:
    """Asks Optuna for parameter sets, evaluates them (in worker processes), tells the scores back."""

    def __init__(
        self,
        space: ParamSpace,
        objective: Objective,
        engine: str,
        workers: int,
        seed: int,
        recorder: Recorder | None,
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
        future.set_result(evaluate(self._objective, params))
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


class Recorder:
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
