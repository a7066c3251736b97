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

import sys
import time
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING

from rltrack import _session
from rltrack.errors import InvalidValueError
from rltrack.store.paths import resolve_root
from rltrack.sweeps.engine import SweepHandle, claim_lock, import_optuna, load_sweep, new_id
from rltrack.sweeps.errors import SweepConfigError, TrialPruned
from rltrack.sweeps.space import Space
from rltrack.sweeps.trials import (
    MetricReporter,
    TrialResult,
    call_function,
    complete_trial,
    fail_trial,
    flat_config,
    max_iter,
    progress_line,
    prune_trial,
    should_prune,
)

if TYPE_CHECKING:
    import os

    import optuna


__all__ = [
    "MetricReporter",
    "TrialResult",
    "agent",
    "call_function",
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

def agent(
    sweep_id: str,
    function: Callable[..., object] | None = None,
    count: int | None = None,
    *,
    dir: str | os.PathLike[str] | None = None,  # the public name, as in rltrack.init
    storage: str | None = None,
    seed: int | None = None,
    verbose: bool = True,
    engine: str | None = None,
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
        engine: ``"optuna"`` or ``"ray"``; None: the engine the sweep was created with. A Ray
            sweep runs all its trials through Ray Tune on the connected Ray cluster (see
            :mod:`rltrack.sweeps.ray_engine`); ``count`` is then the number of trials.

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
    if engine not in (None, "optuna", "ray"):
        raise InvalidValueError(f"agent(engine={engine!r}) must be 'optuna', 'ray' or None")
    from rltrack.sweeps.ray_engine import is_ray_sweep

    if engine == "ray" or (engine is None and is_ray_sweep(sweep_id, resolve_root(dir))):
        from rltrack.sweeps.ray_engine import run_ray_sweep

        if function is None:
            raise SweepConfigError(f"sweep {sweep_id!r} runs on Ray Tune, which calls a function: pass function=")
        return run_ray_sweep(sweep_id, function, count, dir=resolve_root(dir), seed=seed, verbose=verbose)
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
        call_function(function, run)
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


