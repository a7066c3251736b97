"""Run a sweep's CLI ``program`` for one trial, as wandb's agent does.

The agent creates the trial's run (group, config), then starts ``command`` with the parameters
as ``--name=value`` arguments (nested names joined with ``.``) and ``RLTRACK_RUN_ID``,
``RLTRACK_RESUME=allow``, ``RLTRACK_DIR``, ``RLTRACK_PROJECT`` and ``RLTRACK_SWEEP_ID`` in the
environment, so the program's plain ``rltrack.init()`` continues that run. While the program
runs the agent reads the sweep metric back from the store every ``poll_s`` seconds and
reports it to the pruner; a pruned program gets SIGTERM. When it has exited, the agent sets
the run's final state: ``pruned``, ``failed`` (non-zero exit code) or ``finished``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from rltrack.sweeps.config import JsonValue
from rltrack.sweeps.engine import new_id
from rltrack.sweeps.space import Space
from rltrack.sweeps.trials import (
    MetricReporter,
    TrialResult,
    complete_trial,
    fail_trial,
    flat_config,
    max_iter,
    prune_trial,
)

if TYPE_CHECKING:
    import optuna

    from rltrack.sweeps.engine import SweepHandle

__all__ = ["build_command", "run_program_trial"]

#: Seconds a pruned program gets to finish its run after SIGTERM before it is killed.
_TERM_GRACE_S = 30.0


def build_command(command: Sequence[str], program: str | None, config: Mapping[str, JsonValue]) -> list[str]:
    """Expand wandb's command macros into an argument list.

    ``${env}`` (``/usr/bin/env``; dropped on Windows), ``${interpreter}`` (this Python),
    ``${program}``, ``${args}`` (``--name=value`` each), ``${args_no_hyphens}``
    (``name=value``), ``${args_no_boolean_flags}`` (``--flag`` for True, nothing for False)
    and ``${args_json}`` (the nested config as one JSON argument).
    """
    flat = flat_config(config)
    expansions: dict[str, list[str]] = {
        "${env}": [] if os.name == "nt" else ["/usr/bin/env"],
        "${interpreter}": [sys.executable],
        "${program}": [] if program is None else [program],
        "${args}": [f"--{k}={_arg(v)}" for k, v in flat.items()],
        "${args_no_hyphens}": [f"{k}={_arg(v)}" for k, v in flat.items()],
        "${args_no_boolean_flags}": [
            f"--{k}" if v is True else f"--{k}={_arg(v)}" for k, v in flat.items() if v is not False
        ],
        "${args_json}": [json.dumps(config)],
    }
    argv: list[str] = []
    for part in command:
        argv.extend(expansions.get(part, [part]))
    return argv


def _arg(value: object) -> str:
    # Strings as they are, numbers via repr (0.0003, not 3e-04 rounding), the rest as JSON.
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, int, float)) or value is None:
        return str(value)
    return json.dumps(value)


def run_program_trial(handle: SweepHandle, trial: optuna.Trial, *, verbose: bool, poll_s: float = 1.0) -> TrialResult:
    """Run the config's program for ``trial`` and return how it ended."""
    import rltrack

    cfg = handle.config
    config = Space(cfg.params).sample(trial)
    trial.set_user_attr("config", config)
    # Create the run so it has the sweep's group and the parameters even if the program does
    # not pass them; the program's init(), with RLTRACK_RUN_ID, then resumes it as its owner.
    placeholder = rltrack.init(
        project=handle.project,
        id=new_id(),
        resume="never",
        group=handle.sweep_id,
        config=config,
        dir=handle.root,
        system_metrics=False,
        quiet=True,
    )
    run_id = placeholder.id
    placeholder.finish()
    trial.set_user_attr("run_id", run_id)
    env = dict(os.environ)
    env.update(
        RLTRACK_RUN_ID=run_id,
        RLTRACK_RESUME="allow",
        RLTRACK_DIR=str(handle.root),
        RLTRACK_PROJECT=handle.project,
        RLTRACK_SWEEP_ID=handle.sweep_id,
    )
    argv = build_command(cfg.command, cfg.program, config)
    reporter = MetricReporter(trial, cfg.metric.name, max_iter=max_iter(handle))
    started = time.monotonic()
    try:
        proc = subprocess.Popen(argv, env=env)
    except OSError as err:
        reason = f"cannot start {argv!r}: {err}"
        _set_final_state(handle, run_id, 1, "failed", reason)
        return fail_trial(handle, trial, run_id, config, reporter, started, reason, reason)
    try:
        exit_code = _watch(handle, proc, run_id, reporter, poll_s)
    except BaseException:  # KeyboardInterrupt: stop the program, record the trial, re-raise
        _stop(proc)
        reason = "agent interrupted"
        _set_final_state(handle, run_id, 1, "failed", reason)
        fail_trial(handle, trial, run_id, config, reporter, started, reason, reason)
        raise
    if reporter.pruned:
        _set_final_state(handle, run_id, exit_code, "pruned", reporter.reason)
        return prune_trial(handle, trial, run_id, config, reporter, started)
    if exit_code != 0:
        reason = f"{argv[0]} ... exited with code {exit_code}"
        _set_final_state(handle, run_id, exit_code, "failed", reason)
        return fail_trial(handle, trial, run_id, config, reporter, started, reason, " ".join(argv) + ": " + reason)
    view = rltrack.Api(dir=handle.root).run(run_id)
    return complete_trial(handle, trial, run_id, config, reporter, started, view.summary.get(reporter.metric))


def _watch(
    handle: SweepHandle, proc: subprocess.Popen[bytes], run_id: str, reporter: MetricReporter, poll_s: float
) -> int:
    """Wait for the program, reporting new metric values; SIGTERM it once the trial is pruned."""
    import rltrack

    api = rltrack.Api(dir=handle.root)
    seen = 0
    while True:
        try:
            exit_code: int | None = proc.wait(timeout=poll_s)
        except subprocess.TimeoutExpired:
            exit_code = None
        _, _, values = api.run(run_id).series(reporter.metric)
        for value in values[seen:]:
            reporter.report(float(value))
        seen = len(values)
        if exit_code is not None:
            return exit_code
        if reporter.pruned:
            return _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> int:
    proc.terminate()
    try:
        return proc.wait(timeout=_TERM_GRACE_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def _set_final_state(handle: SweepHandle, run_id: str, exit_code: int, state: str, reason: str | None) -> None:
    """Resume the run (its program has exited) and finish it with the state the sweep decided."""
    import rltrack

    run = rltrack.init(id=run_id, resume="must", dir=handle.root, system_metrics=False, quiet=True)
    run.finish(exit_code, state=state, reason=reason)
