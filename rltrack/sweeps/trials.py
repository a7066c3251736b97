"""What a sweep trial reports and how it ends: shared by function trials (agent) and program trials.

:mod:`rltrack.sweeps.agent` runs trials in this process, :mod:`rltrack.sweeps.program` as a
subprocess; both report through :class:`MetricReporter` and end through the functions here, so
neither imports the other for them.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rltrack.sweeps.config import JsonValue
from rltrack.sweeps.engine import SweepHandle, import_optuna
from rltrack.sweeps.errors import TrialPruned

if TYPE_CHECKING:
    import optuna

    from rltrack._run import Run

__all__ = [
    "MetricReporter",
    "TrialResult",
    "call_function",
    "complete_trial",
    "fail_trial",
    "flat_config",
    "max_iter",
    "progress_line",
    "prune_trial",
    "should_prune",
    "since",
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


def max_iter(handle: SweepHandle) -> int | None:
    """Return the sweep's Hyperband ``max_iter`` (None without early termination or a limit)."""
    early = handle.config.early_terminate
    return None if early is None else early.max_iter


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
    """Return the seconds since ``started`` (a ``time.monotonic()`` reading)."""
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


def call_function(function: Callable[..., object], run: Run) -> None:
    """Call a trial's function as ``function(run)`` when it takes a required argument, else ``function()``."""
    try:
        params = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature: call as wandb does
        params = []  # type: ignore[assignment]
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if positional and positional[0].default is inspect.Parameter.empty:
        function(run)
    else:
        function()
