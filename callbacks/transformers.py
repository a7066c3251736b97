"""Hugging Face ``Trainer`` training into a run: :class:`RLTrackTransformersCallback`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rltrack.callbacks._frameworks import LazyRun, log_checkpoint, log_values
from rltrack.callbacks._runs import check_running
from rltrack.callbacks._warn import WarnOnce
from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

import rltrack
from rltrack.errors import InvalidValueError

__all__ = ["RLTrackTransformersCallback"]


class RLTrackTransformersCallback(TrainerCallback):
    """Log a ``transformers.Trainer`` run: every value it logs, its arguments and, optionally, checkpoints.

    - Every value the Trainer logs (``loss``, ``grad_norm``, ``learning_rate``, ``epoch``,
      ``eval_*``, and the ``train_*`` totals at the end) lands at ``state.global_step`` under the
      Trainer's own name: what ``trainer.state.log_history`` holds.
    - At the start of training, ``run.config`` gets every ``TrainingArguments`` field
      (``args.to_dict()``), plus ``model_class``, ``model_num_parameters`` and ``model_config``
      (the model's ``config.to_dict()``); keys the run already has are kept (a sweep's choices).
    - With ``log_checkpoints=True``, each checkpoint folder the Trainer saves
      (``<output_dir>/checkpoint-<step>``: weights, optimizer, scheduler, trainer state) is stored as a
      version of the artifact ``<run name>-model`` (``latest``); the one at the Trainer's best
      ``metric_for_best_model`` gets ``best``.
    - Only the main process (``state.is_world_process_zero``) writes, and it starts the run (or picks
      the current one) when training begins, so ``torchrun`` workers start no runs of their own.

    Use it instead of ``report_to`` (Transformers only knows its own list of trackers):

    Example:
        >>> trainer = Trainer(model, args=TrainingArguments(..., report_to="none"),  # doctest: +SKIP
        ...                   callbacks=[RLTrackTransformersCallback(project="perception")])
    """

    def __init__(self, run: rltrack.Run | None = None, *, log_checkpoints: bool = False, **init_kwargs: Any) -> None:
        """Pick the run: ``run``, else ``rltrack.init(**init_kwargs)`` (or the current run) when training begins.

        Raises:
            RltrackError: ``run`` and ``init_kwargs`` are both given.
            InvalidValueError: ``log_checkpoints`` is not a bool.
            RunFinishedError: ``run`` has finished.
        """
        if not isinstance(log_checkpoints, bool):
            raise InvalidValueError(f"log_checkpoints={log_checkpoints!r} must be True or False")
        self._run = LazyRun(run, init_kwargs, "RLTrackTransformersCallback")
        self._log_checkpoints = log_checkpoints
        self._warn = WarnOnce()

    @property
    def run(self) -> rltrack.Run | None:
        """The run written to (None before training begins when none was given)."""
        return self._run.made

    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        """Start (or pick) the run and put the Trainer's arguments and the model's config into ``run.config``."""
        if not state.is_world_process_zero:
            return
        run = self._run.get()
        if not check_running(run, self._warn):
            return
        config: dict[str, Any] = dict(args.to_dict())  # type: ignore[no-untyped-call]  # unannotated upstream
        model = kwargs.get("model")
        if model is not None:
            config["model_class"] = type(model).__name__
            if callable(getattr(model, "num_parameters", None)):
                config["model_num_parameters"] = int(model.num_parameters())
            to_dict = getattr(getattr(model, "config", None), "to_dict", None)
            if callable(to_dict):
                config["model_config"] = to_dict()
        missing = {k: v for k, v in config.items() if k not in run.config}
        if missing:
            run.config.update(missing)

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Log the Trainer's values at ``state.global_step``."""
        if state.is_world_process_zero and logs:
            log_values(self._run.get(), logs, state.global_step, self._warn)

    def on_save(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any) -> None:
        """With ``log_checkpoints``, store the checkpoint folder just saved (``best`` when it is the best one)."""
        if not (self._log_checkpoints and state.is_world_process_zero):
            return
        run = self._run.get()
        step = state.global_step
        folder = Path(str(args.output_dir)) / f"{PREFIX_CHECKPOINT_DIR}-{step}"
        if not folder.is_dir():
            # hyperparameter_search() saves into per-trial subfolders this callback is not told about.
            self._warn("checkpoint-folder", f"checkpoint folder {str(folder)!r} does not exist; it was not stored")
            return
        metadata: dict[str, Any] = {"step": step, "epoch": state.epoch, "folder": folder.name}
        if state.best_metric is not None:
            metadata["best_metric"] = float(state.best_metric)
        best = state.best_global_step is not None and state.best_global_step == step
        log_checkpoint(run, folder, best=bool(best), metadata=metadata, warn=self._warn)

    def on_train_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        """Block until everything logged so far is stored (the run stays open, e.g. for ``evaluate()``)."""
        run = self._run.made
        if state.is_world_process_zero and run is not None and not run.finished:
            run.flush()
