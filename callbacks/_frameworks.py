"""What the Lightning, Transformers and Keras integrations share: a run made on first use, and safe logging.

Under data-parallel training every process builds the same logger or callback; only the process
that logs (rank zero) may create a run, so the run is made when it is first needed, not when the
integration is built.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rltrack.callbacks._runs import check_running, current_run, resolve_run
from rltrack.callbacks._warn import WarnOnce

import rltrack
from rltrack.errors import InvalidKeyError, InvalidValueError, RltrackError

__all__ = ["LazyRun", "log_checkpoint", "log_values", "model_artifact_name"]


class LazyRun:
    """The run an integration writes to: the one given, else ``rltrack.init(**init_kwargs)`` or the current run.

    A given run is checked at once; otherwise nothing happens until :meth:`get` is first called.
    """

    def __init__(self, run: rltrack.Run | None, init_kwargs: dict[str, Any], what: str) -> None:
        """Check that at most one of ``run`` and ``init_kwargs`` is given, and that ``run`` still takes values.

        Raises:
            RltrackError: ``run`` and ``init_kwargs`` are both given, or ``run`` is not a Run.
            RunFinishedError: ``run`` has finished.
        """
        if run is not None and init_kwargs:
            raise RltrackError(
                f"{what} got run={run!r} and init arguments {sorted(init_kwargs)!r}; pass one or the other"
            )
        self._what = what
        self._init_kwargs = init_kwargs
        self._run = resolve_run(run, what) if run is not None else None

    @property
    def made(self) -> rltrack.Run | None:
        """The run, or None while it has not been needed yet."""
        return self._run

    @property
    def project(self) -> str | None:
        """The run's project, known before the run exists when ``init_kwargs`` names one."""
        if self._run is not None:
            return self._run.project
        project = self._init_kwargs.get("project")
        return project if isinstance(project, str) else None

    def get(self) -> rltrack.Run:
        """Return the run, starting it (or picking the current one) on the first call."""
        if self._run is None:
            if self._init_kwargs or current_run() is None:
                self._run = rltrack.init(**self._init_kwargs)
            else:
                self._run = resolve_run(None, self._what)
        return self._run


def log_values(run: rltrack.Run, values: Mapping[str, Any], step: int | None, warn: WarnOnce) -> None:
    """Log ``values`` at ``step``; a key or value the run refuses is dropped with one warning, the rest are kept.

    A framework's logs are not ours to refuse: training must go on, and the other values of the
    same call must still land. After the run has finished, everything is dropped with one warning.
    """
    if not check_running(run, warn):
        return
    if step is None:
        step = run.step
    try:
        run.log(values, step=step)  # checks everything before storing anything
        return
    except (InvalidKeyError, InvalidValueError):
        pass
    for key, value in values.items():  # find the bad entries; keep the rest
        try:
            run.log({key: value}, step=step)
        except (InvalidKeyError, InvalidValueError) as err:
            warn(f"value-{key}", f"{key!r} at step {step} was not logged ({err}); training goes on")


def model_artifact_name(run: rltrack.Run) -> str:
    """Return ``<run name>-model``, with characters an artifact name may not hold replaced by ``-``."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", run.name).strip("-.") or run.id
    return f"{stem}-model"


def log_checkpoint(
    run: rltrack.Run, path: Path, *, best: bool, metadata: dict[str, Any], warn: WarnOnce
) -> rltrack.artifacts.ArtifactVersion | None:
    """Store a checkpoint file or folder as the newest version of ``<run name>-model``; ``best`` moves that alias.

    ``latest`` follows the newest version by itself. A checkpoint that cannot be stored warns
    once per cause and returns None: training goes on.
    """
    from rltrack.artifacts import Artifact

    if not check_running(run, warn):
        return None
    name = model_artifact_name(run)
    try:
        artifact = Artifact(name, type="model", metadata=metadata)
        if path.is_dir():
            artifact.add_dir(path)
        else:
            artifact.add_file(path)
        return run.log_artifact(artifact, aliases=["best"] if best else [])
    except (RltrackError, OSError) as err:
        warn(f"checkpoint-{type(err).__name__}", f"checkpoint {str(path)!r} was not stored as {name!r} ({err!r}); "
             "training goes on")
        return None
