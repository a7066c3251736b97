"""Lightning training into a run: :class:`RLTrackLogger`, a ``lightning.pytorch`` logger."""

from __future__ import annotations

import os
from argparse import Namespace
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lightning.fabric.loggers.logger import rank_zero_experiment
from lightning.fabric.utilities.rank_zero import rank_zero_only
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import Logger
from rltrack.callbacks._frameworks import LazyRun, log_checkpoint, log_values
from rltrack.callbacks._runs import check_running
from rltrack.callbacks._warn import WarnOnce

import rltrack

__all__ = ["RLTrackLogger"]


class RLTrackLogger(Logger):
    """Log a Lightning training run: every logged metric, the hyperparameters and, optionally, checkpoints.

    - Every value Lightning hands its loggers (what ``self.log`` records, ``epoch``, and what
      callbacks such as ``LearningRateMonitor`` add) lands at Lightning's step (optimizer steps),
      under the name Lightning gives it: what ``CSVLogger`` writes to ``metrics.csv``.
    - ``save_hyperparameters()`` values (and ``log_hyperparams`` calls) go into ``run.config``.
    - With ``log_model=True``, each checkpoint ``ModelCheckpoint`` writes is stored right after it
      is written as a version of the artifact ``<run name>-model`` (``latest``); the checkpoint that
      is ``ModelCheckpoint``'s ``best_model_path`` when stored gets the alias ``best``.
    - Only global rank zero writes: the run is started there when Lightning first needs it (so
      DDP workers start no runs of their own), and every other rank's calls do nothing.
    - ``finalize`` (the end of ``fit``/``test``) blocks until everything is stored; the run stays
      open for a later ``fit``/``test`` and finishes at ``run.finish()`` or when Python exits.

    Example:
        >>> trainer = lightning.Trainer(logger=RLTrackLogger(project="perception"))  # doctest: +SKIP
    """

    def __init__(
        self,
        run: rltrack.Run | None = None,
        *,
        log_model: bool = False,
        save_dir: str | None = None,
        **init_kwargs: Any,
    ) -> None:
        """Pick the run: ``run``, else ``rltrack.init(**init_kwargs)`` (or the current run) when first needed.

        Args:
            run: The run to write to.
            log_model: Store every checkpoint ``ModelCheckpoint`` writes as an artifact version.
            save_dir: Where Lightning puts checkpoints (``<save_dir>/<project>/<run id>/checkpoints``);
                default: the trainer's ``default_root_dir``.
            **init_kwargs: Arguments for :func:`rltrack.init`.

        Raises:
            RltrackError: ``run`` and ``init_kwargs`` are both given, or ``log_model`` is not a bool.
            RunFinishedError: ``run`` has finished.
        """
        from rltrack.errors import InvalidValueError

        super().__init__()
        if not isinstance(log_model, bool):
            raise InvalidValueError(f"log_model={log_model!r} must be True or False")
        self._run = LazyRun(run, init_kwargs, "RLTrackLogger")
        self._log_model = log_model
        self._save_dir = os.fspath(save_dir) if save_dir is not None else None
        self._warn = WarnOnce()
        #: (resolved path, mtime_ns, size) of every checkpoint file stored, so none is stored twice.
        self._stored: set[tuple[str, int, int]] = set()

    # ---- what Lightning asks of a logger ------------------------------------------------------

    @property
    @rank_zero_experiment
    def experiment(self) -> rltrack.Run:
        """The rltrack run (started here on first use); a stand-in that ignores every call on other ranks."""
        return self._run.get()

    @property
    def name(self) -> str | None:
        """The run's project (Lightning's experiment name; part of the checkpoint folder)."""
        # Read on every rank (Lightning builds the checkpoint folder from it); only rank zero starts the run.
        return self._run.get().project if _rank() == 0 else self._run.project

    @property
    def version(self) -> str | None:
        """The run's id (part of the checkpoint folder); None on other ranks, which take rank zero's folder."""
        return self._run.get().id if _rank() == 0 else None

    @property
    def save_dir(self) -> str | None:
        """Where Lightning saves checkpoints (``save_dir=``); None: the trainer's ``default_root_dir``."""
        return self._save_dir

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Log Lightning's metrics at ``step`` (the trainer's optimizer steps)."""
        log_values(self.experiment, metrics, step, self._warn)

    @rank_zero_only
    def log_hyperparams(self, params: dict[str, Any] | Namespace, *args: Any, **kwargs: Any) -> None:
        """Put the hyperparameters into ``run.config`` (values that are not JSON are stored as their repr)."""
        values = vars(params) if isinstance(params, Namespace) else dict(params)
        run = self.experiment
        if values and check_running(run, self._warn):
            run.config.update(values)

    @rank_zero_only
    def after_save_checkpoint(self, checkpoint_callback: ModelCheckpoint) -> None:
        """With ``log_model``, store the checkpoint files just written (``best`` on ``best_model_path``)."""
        if not self._log_model:
            return
        best = _resolved(getattr(checkpoint_callback, "best_model_path", ""))
        for key, path in self._new_checkpoints(checkpoint_callback):
            metadata = _checkpoint_metadata(checkpoint_callback, path)
            if log_checkpoint(self.experiment, path, best=str(path) == best, metadata=metadata, warn=self._warn):
                self._stored.add(key)

    @rank_zero_only
    def finalize(self, status: str) -> None:
        """Block until everything logged so far is stored (the run stays open)."""
        run = self._run.made
        if run is not None and not run.finished:
            run.flush()

    # ---- helpers ------------------------------------------------------------------------------

    def _new_checkpoints(self, callback: ModelCheckpoint) -> list[tuple[tuple[str, int, int], Path]]:
        """The checkpoint files the callback knows that were not stored yet, oldest first."""
        # ModelCheckpoint names the file it just wrote in one of these: the newest top-k file, or last.ckpt.
        candidates = {_resolved(p) for p in [getattr(callback, "last_model_path", ""), *callback.best_k_models]}
        found: list[tuple[tuple[str, int, int], Path]] = []
        for name in sorted(c for c in candidates if c):
            path = Path(name)
            try:
                stat = path.stat()
            except OSError:
                continue  # removed by top-k since, or never written (save_last=False)
            key = (name, stat.st_mtime_ns, stat.st_size)
            if key not in self._stored:
                found.append((key, path))
        return sorted(found, key=lambda item: item[0][1])


def _resolved(path: str | os.PathLike[str]) -> str:
    # save_last="link" makes last.ckpt a link to the top-k file: one file, stored once.
    return str(Path(path).resolve()) if path else ""


def _checkpoint_metadata(callback: ModelCheckpoint, path: Path) -> dict[str, Any]:
    scores = {_resolved(name): value for name, value in callback.best_k_models.items()}
    score = scores.get(str(path), callback.current_score)
    meta: dict[str, Any] = {"filename": path.name, "monitor": callback.monitor, "mode": callback.mode}
    if score is not None:
        meta["score"] = float(score)
    # The trainer's global step at the save; ModelCheckpoint has no public name for it.
    step = getattr(callback, "_last_global_step_saved", None)
    if isinstance(step, int):
        meta["step"] = step
    return meta


def _rank() -> int:
    # Lightning sets the global rank as an attribute of its decorator (from the launcher's environment).
    return int(getattr(rank_zero_only, "rank", 0))
