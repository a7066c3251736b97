"""``engine="ray"``: run a sweep through Ray Tune, so one sweep spreads over a Ray cluster's machines.

The wandb-style config maps onto Tune as follows:

- ``grid``: every grid point once, in the grid's order (``tune.grid_search`` over the points);
  ``run_cap`` or ``count`` keeps the first N.
- ``random`` / ``bayes``: Ray's ``OptunaSearch`` asks the same Optuna sampler the default engine
  uses (``RandomSampler``, ``TPESampler``) through the same :class:`Space`, so every distribution
  means the same on both engines. The number of trials is ``count``, else ``run_cap``.
- ``metric.goal``: Tune's ``mode`` (``max``/``min``).
- ``early_terminate: hyperband`` (``min_iter``, ``max_iter``, ``eta``): ``ASHAScheduler`` with
  ``grace_period=min_iter``, ``max_t=max_iter``, ``reduction_factor=eta`` on ``training_iteration``.
  As in the Optuna engine, one iteration is one logged value of the sweep metric.
- Any other Tune scheduler (``HyperBandScheduler``, ``PopulationBasedTraining``, ...) can be passed
  as ``scheduler=`` to :func:`run_ray_sweep`. PBT takes no search algorithm: its starting points
  are drawn up front from the same sampler; its ``hyperparam_mutations`` name the parameters under
  ``params`` (``{"params": {"lr": [...]}}``), where the trial's config lives. A trial Tune restarts
  (PBT's exploit, a pause) continues its run, whose config shows the newest values.

Each trial runs in a Ray worker process: it starts the trial's run (id ``<sweep id>-<trial id>``,
``group=<sweep id>``, ``config`` = the trial's parameters) in the store folder, which every machine
of the cluster must share (NFS), or on the rltrack server when the workers have ``RLTRACK_URL``
(online mode). ``rltrack.init()`` inside the function joins that run, as with the Optuna engine.
Every logged value of the sweep metric is stored (flushed) and then reported to Tune. When Tune is
done, the driver gives each run its final state: ``finished``, ``pruned`` (a scheduler stopped it
before its budget) or ``failed`` (the function raised, or never logged the metric).
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rltrack._extras import install_hint
from rltrack.errors import InvalidValueError, RltrackError
from rltrack.sweeps.config import JsonValue, Param, SweepConfig, parse_config
from rltrack.sweeps.engine import new_id, sweep_folder
from rltrack.sweeps.errors import SweepConfigError, SweepNotFoundError, TrialPruned
from rltrack.sweeps.space import Space
from rltrack.sweeps.trials import TrialResult, call_function, flat_config

if TYPE_CHECKING:
    from rltrack._run import Run

__all__ = [
    "STEP_KEY",
    "RayTrialSpec",
    "TrialOutcome",
    "create_ray_sweep",
    "import_ray_tune",
    "is_ray_sweep",
    "run_ray_sweep",
    "trial_state",
]

#: The Tune result key that carries the run's step of each reported metric value.
STEP_KEY = "rltrack_step"
#: ASHA needs a finite ``max_t``; without ``max_iter`` a trial has no budget (it is never "done").
_NO_BUDGET = 2**31 - 1
#: How long the driver waits for a trial's worker process to let go of its run.
_RELEASE_S = 60.0


def import_ray_tune() -> Any:
    """Import ``ray.tune``, or raise an ImportError that names the extra to install."""
    try:
        from ray import tune
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(f"engine='ray' needs Ray Tune: {install_hint('ray')}") from err
    return tune


def _record_path(root: Path, sweep_id: str) -> Path:
    return sweep_folder(root) / f"{sweep_id}.ray.json"


def is_ray_sweep(sweep_id: str, root: Path) -> bool:
    """Return whether ``sweep_id`` was created with ``engine="ray"`` in the store folder ``root``."""
    return _record_path(root, sweep_id).is_file()


def create_ray_sweep(config: SweepConfig, project: str, root: Path) -> str:
    """Record a Ray sweep (its config and project) under ``<root>/sweeps`` and return its id."""
    sweep_id = new_id()
    folder = sweep_folder(root)
    folder.mkdir(parents=True, exist_ok=True)
    record = {"engine": "ray", "project": project, "config": json.loads(json.dumps(dict(config.raw)))}
    _record_path(root, sweep_id).write_text(json.dumps(record), encoding="utf-8")
    return sweep_id


@dataclass(frozen=True, slots=True)
class RayTrialSpec:
    """What a trial's worker needs to start its run: picklable, sent to every worker."""

    sweep_id: str
    project: str
    root: str
    metric: str
    max_t: int | None

    def run_id(self, trial_id: str) -> str:
        """The trial's run id: ``<sweep id>-<Tune trial id>`` (unique per sweep, valid as a run id)."""
        return f"{self.sweep_id}-{trial_id}"


class _TuneReporter:
    """A run observer that stores, then reports, every value of the sweep metric to Tune."""

    def __init__(self, run: Run, metric: str) -> None:
        self.run = run
        self.metric = metric
        self.iterations = 0

    def __call__(self, values: Mapping[str, float], step: int) -> None:
        value = values.get(self.metric)
        if value is None or not math.isfinite(value):
            return  # NaN/inf are skipped, as the Optuna engine's pruner does
        self.iterations += 1
        self.run.flush()  # stored before the scheduler may stop this process
        from ray import tune

        tune.report({self.metric: float(value), STEP_KEY: step})


def _trainable(spec: RayTrialSpec, function: Callable[..., object]) -> Callable[[dict[str, Any]], None]:
    """Return Tune's function trainable: one trial as an ordinary run, joined by ``rltrack.init()``."""

    def trial(tune_config: dict[str, Any]) -> None:  # runs in a Ray worker process
        from ray import tune

        import rltrack
        from rltrack import _session

        config = tune_config["params"]
        # resume="allow": a trial Tune restarts (PBT's exploit, HyperBand's pause, a retry) continues its run.
        run = rltrack.init(
            project=spec.project, id=spec.run_id(tune.get_context().get_trial_id()), resume="allow",
            group=spec.sweep_id, config=config, dir=spec.root, quiet=True,
        )
        reporter = _TuneReporter(run, spec.metric)
        run._observers.append(reporter)
        run.config.lock(config)
        joined = _session.trial_run(run)
        try:
            call_function(function, run)
        except TrialPruned as err:  # the function stopped itself
            run.finish(state="pruned", reason=str(err) or "pruned by the function")
            return
        except Exception as err:
            run.finish(1, state="failed", reason=f"{type(err).__name__}: {err}"[:500])
            raise
        except BaseException:
            # Tune ends a stopped trial with SystemExit out of tune.report(); the driver confirms the state.
            done = spec.max_t is not None and reporter.iterations >= spec.max_t
            run.finish(state="finished" if done else "pruned", reason=None if done else "stopped by the scheduler")
            raise
        finally:
            _session.end_trial(joined)
        run.finish()

    return trial


@dataclass(slots=True)
class TrialOutcome:
    """What the driver saw of one trial: its reports and how it ended."""

    trial_id: str
    config: dict[str, Any]
    reports: int = 0
    last: float | None = None
    stopped: bool = False  # Tune marked a result done: a scheduler (or stop rule) ended the trial
    error: str | None = None
    duration_s: float = 0.0
    ended: bool = False
    trial: Any = None


def trial_state(outcome: TrialOutcome, max_t: int | None) -> tuple[str, str | None]:
    """Return the final run state of a trial and why: ``finished``, ``pruned`` or ``failed``.

    A trial whose last result Tune marked ``done`` was stopped from outside: it is ``pruned``
    unless it had reached ``max_t`` reports (its whole budget). A trial whose function returned
    after its last report is ``finished``.
    """
    if outcome.error is not None:
        return "failed", outcome.error
    if outcome.reports == 0:
        return "failed", "the trial never reported the sweep metric; log it through the trial's run"
    if outcome.stopped and (max_t is None or outcome.reports < max_t):
        return "pruned", f"the Tune scheduler stopped it after {outcome.reports} reports"
    return "finished", None


def _outcome_callback(tune: Any, metric: str, outcomes: dict[str, TrialOutcome]) -> Any:
    class Outcomes(tune.Callback):  # type: ignore[misc]  # tune is Any here (imported on use)
        """Records each trial's reports and end on the driver."""

        def on_trial_start(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
            outcomes.setdefault(trial.trial_id, TrialOutcome(trial.trial_id, dict(trial.config)))

        def on_trial_result(self, iteration: int, trials: list[Any], trial: Any, result: dict[str, Any],
                            **info: Any) -> None:
            seen = outcomes.setdefault(trial.trial_id, TrialOutcome(trial.trial_id, dict(trial.config)))
            if metric in result:
                seen.reports += 1
                seen.last = float(result[metric])
            seen.stopped = bool(result.get("done"))
            seen.duration_s = float(result.get("time_total_s", 0.0))

        def on_trial_complete(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
            outcomes.setdefault(trial.trial_id, TrialOutcome(trial.trial_id, dict(trial.config))).ended = True

        def on_trial_error(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
            seen = outcomes.setdefault(trial.trial_id, TrialOutcome(trial.trial_id, dict(trial.config)))
            seen.ended = True
            seen.error = "the trial's function raised"
            seen.trial = trial  # Tune writes the error file after this call: read it when Tune is done

    return Outcomes()


def _error_text(trial: Any) -> str:
    try:
        error = trial.get_error()  # Tune's copy of the worker's traceback
    except Exception:  # a missing or unreadable error file still fails the trial
        error = None
    lines = [line for line in str(error or "").strip().splitlines() if line.strip()]
    return (lines[-1].strip() if lines else "the trial's function raised")[:500]


def _load(sweep_id: str, root: Path) -> tuple[SweepConfig, str]:
    path = _record_path(root, sweep_id)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise SweepNotFoundError(
            f"no Ray sweep {sweep_id!r} under {str(sweep_folder(root))!r} ({err}); check the id and dir="
        ) from err
    return parse_config(record["config"]), str(record["project"])


def run_ray_sweep(
    sweep_id: str,
    function: Callable[..., object],
    count: int | None = None,
    *,
    dir: str | os.PathLike[str],  # the public name, as in rltrack.init
    seed: int | None = None,
    scheduler: Any = None,
    verbose: bool = True,
) -> list[TrialResult]:
    """Run a Ray sweep's trials through Tune on the connected Ray cluster (``ray.init()`` first).

    Args:
        sweep_id: The id ``rltrack.sweep(..., engine="ray")`` returned.
        function: The training function, called as ``function(run)`` or ``function()`` in a worker.
        count: Number of trials (default: ``run_cap``; a grid's size for grid search).
        dir: The store folder holding the sweep; every Ray node must reach it at this path.
        seed: Seed of the Optuna sampler (random/bayes).
        scheduler: A Tune scheduler instead of the one ``early_terminate`` implies.
        verbose: Print one line per trial to stderr.

    Returns:
        The trials, in the order Tune started them.

    Raises:
        SweepNotFoundError: no such Ray sweep in ``dir``.
        SweepConfigError: a random/bayes sweep without ``count`` or ``run_cap``.
    """
    tune = import_ray_tune()
    root = Path(dir).resolve()
    cfg, project = _load(sweep_id, root)
    if not callable(function):
        raise SweepConfigError(f"engine='ray' runs a function per trial; got function={function!r}")
    scheduler, max_t = _scheduler(cfg, scheduler)
    spec = RayTrialSpec(sweep_id, project, str(root), cfg.metric.name, max_t)
    param_space, search_alg, num_samples = _search(cfg, count, seed, searcher_allowed=not _is_pbt(scheduler))
    outcomes: dict[str, TrialOutcome] = {}
    tuner = tune.Tuner(
        _trainable(spec, function),
        param_space=param_space,
        tune_config=tune.TuneConfig(
            metric=cfg.metric.name, mode="max" if cfg.metric.goal == "maximize" else "min",
            scheduler=scheduler, search_alg=search_alg, num_samples=num_samples,
        ),
        run_config=tune.RunConfig(
            name=sweep_id, storage_path=str(sweep_folder(root) / "ray"), verbose=0,
            callbacks=[_outcome_callback(tune, cfg.metric.name, outcomes)],
            failure_config=tune.FailureConfig(max_failures=0),
        ),
    )
    tuner.fit()
    results = []
    for number, outcome in enumerate(outcomes.values()):  # in the order Tune started them
        if outcome.trial is not None:
            outcome.error = _error_text(outcome.trial)
        state, reason = trial_state(outcome, max_t)
        run_id = spec.run_id(outcome.trial_id)
        config = outcome.config.get("params", {})
        state = _settle(spec, run_id, config, state, reason)
        result = TrialResult(number, run_id, state, outcome.last, config, outcome.reports, outcome.duration_s,
                             reason)
        results.append(result)
        if verbose:
            print(_line(sweep_id, cfg.metric.name, result), file=sys.stderr, flush=True)
    return results


def _scheduler(cfg: SweepConfig, scheduler: Any) -> tuple[Any, int | None]:
    """Return the Tune scheduler and the trials' budget in reports (None: no budget)."""
    if scheduler is not None:
        # Tune's ASHA and HyperBand keep their budget as _max_t; other schedulers have none.
        budget = getattr(scheduler, "_max_t", None)
        return scheduler, int(budget) if isinstance(budget, (int, float)) else None
    early = cfg.early_terminate
    if early is None:
        return None, None
    from ray.tune.schedulers import ASHAScheduler

    max_t = early.max_iter if early.max_iter is not None else _NO_BUDGET
    asha = ASHAScheduler(time_attr="training_iteration", grace_period=early.min_iter, max_t=max_t,
                         reduction_factor=early.eta)
    return asha, early.max_iter


def _is_pbt(scheduler: Any) -> bool:
    from ray.tune.schedulers import PopulationBasedTraining  # PB2 is one too

    return isinstance(scheduler, PopulationBasedTraining)


def _search(cfg: SweepConfig, count: int | None, seed: int | None, *, searcher_allowed: bool = True
            ) -> tuple[dict[str, Any], Any, int]:
    """Return Tune's param_space, search algorithm and number of samples for the config's method.

    PBT takes no search algorithm (it is the optimiser): its starting points are drawn up front
    from the same Optuna sampler and run as a list.
    """
    from ray import tune

    if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 1):
        raise InvalidValueError(f"agent(count={count!r}) must be a positive integer or None")
    space = Space(cfg.params)
    if cfg.method == "grid":
        points = space.grid_points()
        for cap in (cfg.run_cap, count):
            points = points[:cap] if cap is not None else points
        return {"params": tune.grid_search(points)}, None, 1
    samples = count if count is not None else cfg.run_cap
    if samples is None:
        raise SweepConfigError(
            f"a {cfg.method} sweep on engine='ray' needs a number of trials: pass count= or set run_cap"
        )
    from ray.tune.search.optuna import OptunaSearch

    from rltrack.sweeps.engine import import_optuna, make_sampler

    if not searcher_allowed:
        study = import_optuna().create_study(sampler=make_sampler(cfg, seed))
        return {"params": tune.grid_search([space.sample(study.ask()) for _ in range(samples)])}, None, 1

    searcher = OptunaSearch(space=_DefineByRun(cfg.params), metric=cfg.metric.name,
                            mode="max" if cfg.metric.goal == "maximize" else "min",
                            sampler=make_sampler(cfg, seed))
    return {}, searcher, samples


@dataclass(frozen=True, slots=True)
class _DefineByRun:
    """OptunaSearch's define-by-run space: the trial's values through :class:`Space` (picklable: Tune saves it)."""

    params: tuple[Param, ...]

    def __call__(self, trial: Any) -> dict[str, JsonValue]:
        return {"params": Space(self.params).sample(trial)}


def _settle(spec: RayTrialSpec, run_id: str, config: Mapping[str, Any], state: str, reason: str | None) -> str:
    """Give the run its final state (the driver decides); return the state it ends with.

    The worker usually set it already; a run the function pruned itself stays ``pruned``.
    """
    import rltrack

    stored = _stored_state(spec.root, run_id)
    if stored == "pruned" and state == "finished":
        return "pruned"
    if stored == state:
        return state
    from rltrack import _live

    deadline = time.monotonic() + _RELEASE_S
    previous = _live.current.get()
    while True:
        try:
            run = rltrack.init(project=spec.project, id=run_id, resume="allow", group=spec.sweep_id,
                               config=dict(config), dir=spec.root, system_metrics=False, quiet=True)
            _live.current.set(previous)  # the driver's own rltrack.run stays what it was
            break
        except RltrackError as err:
            # The trial's worker process may still be exiting with the run open.
            if time.monotonic() > deadline:
                import warnings

                from rltrack.errors import RltrackWarning

                warnings.warn(f"run {run_id!r} could not be set to {state!r} ({err})", RltrackWarning, stacklevel=2)
                return stored or state
            time.sleep(0.1)
    run.finish(1 if state == "failed" else 0, state=state, reason=reason)
    return state


def _stored_state(root: str, run_id: str) -> str | None:
    import rltrack

    try:
        return rltrack.Api(dir=root).run(run_id).state
    except RltrackError:
        return None  # not stored (the trial failed before init) or no local store (online mode)


def _line(sweep_id: str, metric: str, result: TrialResult) -> str:
    value = "-" if result.value is None else f"{result.value:.6g}"
    params = " ".join(f"{k}={v}" for k, v in flat_config(result.config).items())
    line = (f"sweep {sweep_id} trial {result.number} run {result.run_id} {result.state}: {metric}={value} "
            f"after {result.iterations} reports, {result.duration_s:.1f} s | {params}")
    return line if result.reason is None or result.state == "finished" else f"{line} | {result.reason}"
