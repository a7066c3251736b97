"""Which run an integration writes to, and logging that never breaks a training loop on a finished run."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from rltrack.callbacks._warn import WarnOnce

import rltrack
from rltrack.errors import RltrackError, RunFinishedError

__all__ = ["check_running", "current_run", "log_unless_finished", "resolve_run"]


def current_run() -> rltrack.Run | None:
    """Return ``rltrack.run`` (the current run of this context), typed."""
    return cast("rltrack.Run | None", rltrack.run)


def resolve_run(run: rltrack.Run | None, what: str) -> rltrack.Run:
    """Return ``run``, or the current run when None.

    Raises:
        RunFinishedError: The run has finished (a finished run takes no more values).
        RltrackError: ``run`` is None and no run is current.
    """
    if run is None:
        run = current_run()
        if run is None:
            raise RltrackError(
                f"{what} got run=None and no run is current; call rltrack.init(project=...) first or pass run="
            )
    if not isinstance(run, rltrack.Run):
        raise RltrackError(f"{what} got run={run!r}; pass an rltrack.Run from rltrack.init() or None")
    if run.finished:
        raise RunFinishedError(
            f"{what} got run {run.id!r}, which has finished; start a new run with rltrack.init() or continue "
            "it with rltrack.init(id=..., resume='allow')"
        )
    return run


def log_unless_finished(run: rltrack.Run, data: Mapping[str, Any], step: int, warn: WarnOnce) -> None:
    """Log ``data`` at ``step``; once the run has finished, warn once and drop it instead of raising."""
    if not check_running(run, warn):
        return
    run.log(data, step=step)


def check_running(run: rltrack.Run, warn: WarnOnce) -> bool:
    """Return whether ``run`` still takes values; once it has finished, warn once and return False."""
    if not run.finished:
        return True
    warn(
        "run-finished",
        f"run {run.id!r} finished while training went on; rltrack drops later values, checkpoints and videos "
        "(training continues)",
    )
    return False
