"""The sweep agent: claim a trial, run it as an ordinary run, report the metric, tell Optuna.

Each trial is a run in the sweep's group (``group=<sweep id>``) with its parameters as
``run.config``. In-process (``function``), the run's observer reports every logged value of the
sweep metric to the pruner and raises :class:`TrialPruned` out of ``run.log()`` when Hyperband
stops the trial. For a CLI ``program`` see :mod:`rltrack.sweeps.program`.

Several agents (processes or machines) may work on one sweep: trials are claimed under a file
lock next to the journal, so ``run_cap`` and the grid's size hold exactly, and Optuna's grid
sampler gives trial number ``n`` grid point ``n``, so no point runs twice.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rltrack import _session
from rltrack.errors import InvalidValueError
from rltrack.store.paths import resolve_root
from rltrack.sweeps.config import JsonValue
from rltrack.sweeps.engine import SweepHandle, claim_lock, import_optuna, load_sweep, new_id
from rltrack.sweeps.errors import SweepConfigError, TrialPruned
from rltrack.sweeps.space import Space

if TYPE_CHECKING:
    import os

    import optuna

    from rltrack._run import Run

__all__ = [
    "MetricReporter",
    "TrialResult",
    "agent",
    "claim_trial",
    "complete_trial",
    "fail_trial",
    "flat_config",
    "max_iter",
    "progress_line",
    "prune_trial",
    "run_function_trial",
    "should_prune",
]

#: How much of a traceback a failed trial keeps in its Optuna user attributes.
_ERROR_CHARS = 4000


@dataclass(frozen=True, slots=True)
class TrialResult:
    """What one trial ended as: its run, state (finished/pruned/failed) and metric value."""

    number: int
    run_id: str
    state: str
    value: float | None
    config: Mapping[str, JsonValue]
    iterations: int
    duration_s: float
    reason: str | None = None


class MetricReporter:
    """A run observer that reports the sweep metric to an Optuna trial (one report = one iteration).

    When the pruner says stop it sets :attr:`pruned` and the run's ``_should_stop`` (which
    ``RLTrackCallback`` checks to end SB3 training), and raises :class:`TrialPruned` once, out of
    the ``run.log()`` call that logged the value.
    """

    def __init__(
        self, trial: optuna.Trial, metric: str, run: Run | None = None, *, max_iter: int | None = None
    ) -> None:
        self.trial = trial
        self.metric = metric
        self.run = run
        #: Hyperband's max_iter: a trial that got this far has finished its budget, and is not pruned.
        self.max_iter = max_iter
        self.iterations = 0
        self.last: float | None = None
        self.pruned = False
        self.reason: str | None = None

    def __call__(self, values: Mapping[str, float], step: int) -> None:
        """Report ``values[metric]`` if present; raise :class:`TrialPruned` when the trial is pruned."""
        if self.pruned or self.metric not in values:
            return
        self.report(float(values[self.metric]))
        if self.pruned:
            raise TrialPruned(f"trial {self.trial.number} pruned: {self.reason}")

    def report(self, value: float) -> None:
        """Report one value (NaN and inf are skipped) and ask the pruner."""
        if self.pruned or not math.isfinite(value):
            return
        self.iterations += 1
        self.last = value
        self.trial.report(value, self.iterations)
        if self.max_iter is not None and self.iterations >= self.max_iter:
            return  # the whole budget was spent: the trial ends finished, whatever the pruner thinks
        if self.trial.should_prune():
            self.pruned = True
            self.reason = f"hyperband stopped it at iteration {self.iterations} ({self.metric}={value:.6g})"
            if self.run is not None:
                # The flag integrations poll (callbacks/sb3.py) to stop training at the next step.
                self.run._should_stop = True


def should_prune(run: Run) -> bool:
    """Return whether the sweep's pruner has stopped this run's trial (False outside sweeps).

    Training callbacks that catch exceptions from ``run.log()`` check this after logging the
    sweep metric and stop training (SB3: return ``False`` from ``_on_step``).
    """
    return bool(getattr(run, "_should_stop", False)) or any(
        isinstance(o, MetricReporter) and o.pruned for o in run._observers
    )


def agent(
    sweep_id: str,
    function: Callable[..., object] | None = None,
    count: int | None = None,
    *,
    dir: str | os.PathLike[str] | None = None,  # the public name, as in rltrack.init
    storage: str | None = None,
    seed: int | None = None,
    verbose: bool = True,
) -> list[TrialResult]:
    """Run trials of a sweep until it is done, ``count`` trials have run, or ``run_cap`` is reached.

    Each trial starts a run (``group=sweep_id``, ``config`` = the trial's parameters) and
    calls ``function(run)`` (or ``function()``, which reaches the run as ``rltrack.run``).
    With ``function=None`` the config's ``program`` runs as a subprocess instead. A trial
    whose function raises is recorded as failed and the sweep goes on.

    Args:
        sweep_id: The id :func:`rltrack.sweep` returned.
        function: The training function; ``None`` runs the config's ``program``.
        count: Most trials this agent runs (``None``: until the sweep is done).
        dir: The store folder holding the sweep (default ``$RLTRACK_DIR`` or ``./rltrack-runs``).
        storage: The database URL the sweep was created with, if any.
        seed: Seed of this agent's sampler; give each parallel agent its own.
        verbose: Print a progress line per trial to stderr.

    Returns:
        The trials this agent ran, in order.

    Raises:
        SweepNotFoundError: no such sweep.
        SweepConfigError: ``function`` is None and the config has no ``program``.

    Example:
        >>> def train(run):  # doctest: +SKIP
        ...     for i in range(10):
        ...         run.log({"loss": run.config["lr"] * i})
        >>> rltrack.agent(sweep_id, train, count=5)  # doctest: +SKIP
    """
    if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 1):
        raise InvalidValueError(f"agent(count={count!r}) must be a positive integer or None")
    handle = load_sweep(sweep_id, resolve_root(dir), storage=storage, seed=seed)
    if function is None and handle.config.program is None:
        raise SweepConfigError(
            f"sweep {sweep_id!r} has no program in its config; pass function= or add program: train.py"
        )
    results: list[TrialResult] = []
    while count is None or len(results) < count:
        trial = claim_trial(handle)
        if trial is None:
            break
        if function is None:
            from rltrack.sweeps.program import run_program_trial

            result = run_program_trial(handle, trial, verbose=verbose)
        else:
            result = run_function_trial(handle, trial, function, verbose=verbose)
        results.append(result)
        if verbose:
            print(progress_line(handle, result), file=sys.stderr, flush=True)
    return results


def claim_trial(handle: SweepHandle) -> optuna.Trial | None:
    """Ask Optuna for the next trial, or return None when ``run_cap``, the grid or the target is reached.

    The count and the ask happen under the sweep's claim lock, so agents never overshoot.
    """
    cfg = handle.config
    study = handle.study
    cap = cfg.run_cap
    if cfg.method == "grid":
        size = Space(cfg.params).grid_size()
        cap = size if cap is None else min(cap, size)
    with claim_lock(handle):
        trials = study.get_trials(deepcopy=False)
        _fail_trials_of_crashed_agents(handle, trials)
        if cap is not None and len(trials) >= cap:
            return None
        if cfg.metric.target is not None and _target_reached(trials, cfg.metric.goal, cfg.metric.target):
            return None
        trial: optuna.Trial = study.ask()
    if cap is not None and trial.number >= cap:
        # Only without a lock (database storage): another machine claimed the last slot first.
        trial.set_user_attr("rltrack.skipped", "over run_cap")
        study.tell(trial, state=import_optuna().trial.TrialState.FAIL)
        return None
    return trial


def _fail_trials_of_crashed_agents(handle: SweepHandle, trials: list[optuna.trial.FrozenTrial]) -> None:
    """Mark failed the running trials whose run reads ``crashed``: their agent died (SIGKILL, power loss).

    Only ``crashed`` counts: a live agent may have finished its run and not yet told Optuna.
    """
    running = [t for t in trials if t.state.name == "RUNNING" and "run_id" in t.user_attrs]
    if not running:
        return
    import rltrack
    from rltrack.errors import RltrackError

    try:
        api = rltrack.Api(dir=handle.root)
    except RltrackError:
        return  # no store here (agents elsewhere): their own store folder decides
    for t in running:
        try:
            state = api.run(str(t.user_attrs["run_id"])).state
        except RltrackError:
            continue
        if state == "crashed":
            handle.study.tell(t.number, state=import_optuna().trial.TrialState.FAIL, skip_if_finished=True)


def _target_reached(trials: list[optuna.trial.FrozenTrial], goal: str, target: float) -> bool:
    values = [t.value for t in trials if t.value is not None and t.state.name == "COMPLETE"]
    if not values:
        return False
    return max(values) >= target if goal == "maximize" else min(values) <= target


def run_function_trial(
    handle: SweepHandle, trial: optuna.Trial, function: Callable[..., object], *, verbose: bool
) -> TrialResult:
    """Run one trial in this process: start the run, call ``function``, finish run and trial."""
    import rltrack

    config = Space(handle.config.params).sample(trial)
    trial.set_user_attr("config", config)
    # An explicit id and resume: RLTRACK_RUN_ID/RLTRACK_RESUME in this process's environment must
    # not turn the trial into someone else's run.
    run = rltrack.init(
        project=handle.project, id=new_id(), resume="never", group=handle.sweep_id, config=config, dir=handle.root,
        quiet=True,  # the agent prints one line per trial itself
    )
    trial.set_user_attr("run_id", run.id)
    reporter = MetricReporter(trial, handle.config.metric.name, run, max_iter=max_iter(handle))
    run._observers.append(reporter)
    # As wandb.init() does in an agent: the function's own rltrack.init() returns this run, whose
    # sweep parameters stay as the sweep chose them.
    run.config.lock(config)
    joined = _session.trial_run(run)
    started = time.monotonic()
    try:
        _call(function, run)
    except TrialPruned as err:
        if not reporter.pruned:  # raised by the function itself, not by the pruner
            reporter.pruned, reporter.reason = True, str(err) or "pruned by the function"
    except Exception as err:
        if verbose:
            traceback.print_exc()
        reason = f"{type(err).__name__}: {err}"[:500]
        run.finish(1, state="failed", reason=reason)
        return fail_trial(handle, trial, run.id, config, reporter, started, reason, traceback.format_exc())
    except BaseException as err:  # KeyboardInterrupt, SystemExit: record, then let it through
        reason = f"interrupted by {type(err).__name__}"
        run.finish(1, state="failed", reason=reason)
        fail_trial(handle, trial, run.id, config, reporter, started, reason, reason)
        raise
    finally:
        _session.end_trial(joined)
    if reporter.pruned:
        run.finish(state="pruned", reason=reporter.reason)
        return prune_trial(handle, trial, run.id, config, reporter, started)
    run.finish()
    return complete_trial(handle, trial, run.id, config, reporter, started, run.summary.get(reporter.metric))


def max_iter(handle: SweepHandle) -> int | None:
    """Return the sweep's Hyperband ``max_iter`` (None without early termination or a limit)."""
    early = handle.config.early_terminate
    return None if early is None else early.max_iter


def _call(function: Callable[..., object], run: Run) -> None:
    try:
        params = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature: call as wandb does
        params = []  # type: ignore[assignment]
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if positional and positional[0].default is inspect.Parameter.empty:
        function(run)
    else:
        function()


def complete_trial(
    handle: SweepHandle,
    trial: optuna.Trial,
    run_id: str,
    config: Mapping[str, JsonValue],
    reporter: MetricReporter,
    started: float,
    summary_value: object,
) -> TrialResult:
    """Tell Optuna the objective: the run summary's metric (honours define_metric), else the last report."""
    value = _finite(summary_value)
    if value is None:
        value = reporter.last
    if value is None:
        reason = (
            f"the run never logged the sweep metric {reporter.metric!r}; log it through the trial's run "
            "(the function's argument, rltrack.run, or in a program the run its rltrack.init() continues)"
        )
        return fail_trial(handle, trial, run_id, config, reporter, started, reason, reason)
    handle.study.tell(trial, value, skip_if_finished=True)
    return TrialResult(trial.number, run_id, "finished", value, config, reporter.iterations, since(started))


def prune_trial(
    handle: SweepHandle,
    trial: optuna.Trial,
    run_id: str,
    config: Mapping[str, JsonValue],
    reporter: MetricReporter,
    started: float,
) -> TrialResult:
    """Tell Optuna the trial was pruned (its value is the last report)."""
    handle.study.tell(trial, state=import_optuna().trial.TrialState.PRUNED, skip_if_finished=True)
    return TrialResult(
        trial.number, run_id, "pruned", reporter.last, config, reporter.iterations, since(started), reporter.reason
    )


def fail_trial(
    handle: SweepHandle,
    trial: optuna.Trial,
    run_id: str,
    config: Mapping[str, JsonValue],
    reporter: MetricReporter,
    started: float,
    reason: str,
    detail: str,
) -> TrialResult:
    """Tell Optuna the trial failed, keeping ``detail`` (a traceback) in its user attributes."""
    optuna = import_optuna()
    # Another agent may have failed it already, taking its run for crashed.
    with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
        trial.set_user_attr("error", detail[-_ERROR_CHARS:])
    handle.study.tell(trial, state=optuna.trial.TrialState.FAIL, skip_if_finished=True)
    return TrialResult(
        trial.number, run_id, "failed", reporter.last, config, reporter.iterations, since(started), reason
    )


def _finite(value: object) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def since(started: float) -> float:
    return time.monotonic() - started


def progress_line(handle: SweepHandle, result: TrialResult) -> str:
    """Return the one-line summary an agent prints after each trial."""
    metric = handle.config.metric.name
    value = "-" if result.value is None else f"{result.value:.6g}"
    params = " ".join(f"{k}={_short(v)}" for k, v in flat_config(result.config).items())
    line = (
        f"sweep {handle.sweep_id} trial {result.number} run {result.run_id} {result.state}: "
        f"{metric}={value} after {result.iterations} reports, {result.duration_s:.1f} s | {params}"
    )
    return line if result.reason is None or result.state == "finished" else f"{line} | {result.reason}"


def flat_config(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten a nested config into ``{"optimizer.lr": ...}``, the parameters' flat names."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, Mapping):
            out.update(flat_config(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _short(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
