"""Keras 3 training into a run: :class:`RLTrackKerasCallback` (any backend; tested on torch)."""

from __future__ import annotations

import contextlib
import math
import tempfile
from pathlib import Path
from typing import Any, Literal

import keras
from rltrack.callbacks._frameworks import LazyRun, log_checkpoint, log_values
from rltrack.callbacks._runs import check_running
from rltrack.callbacks._warn import WarnOnce

import rltrack
from rltrack.errors import InvalidValueError

__all__ = ["RLTrackKerasCallback"]


def _every(name: str, value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidValueError(f"{name}={value!r} must be a positive int or None")
    return value


class RLTrackKerasCallback(keras.callbacks.Callback):  # type: ignore[misc]  # keras is untyped for mypy
    """Log a Keras ``fit()``: epoch and batch metrics, the model's config and, optionally, checkpoints.

    - ``step`` is the number of training batches done (optimizer steps), counted over every
      ``fit()`` this callback sees, so batch and epoch values share one axis.
    - At each epoch's end, every value Keras reports (what ``History`` and ``CSVLogger`` record:
      ``loss``, metrics, ``val_*``, ``learning_rate``) lands under Keras' own name, plus ``epoch``
      (0-based, as Keras counts), at the step that ends the epoch.
    - Every ``batch_every`` batches (default: each), the running values Keras reports for the
      batch land as ``batch/<name>``; ``batch_every=None`` logs epochs only.
    - At the start of training, ``run.config`` gets ``model_class``, ``model_config``
      (``model.get_config()`` where the model supports it), ``optimizer_class``, ``optimizer_config``, ``epochs`` and
      ``steps_per_epoch``; keys the run already has are kept (a sweep's choices).
    - With ``checkpoint_every``, the model is saved (``model.save``, ``.keras`` format) every that
      many epochs and at the end of training as versions of ``<run name>-model`` (``latest``);
      with ``monitor``, each epoch that reaches a new best value of that key (by ``mode``) is stored
      too, with the alias ``best``.
    - The run is started (or the current one picked) when training begins.

    Example:
        >>> model.fit(x, y, epochs=5, callbacks=[RLTrackKerasCallback(project="perception")])  # doctest: +SKIP
    """

    def __init__(
        self,
        run: rltrack.Run | None = None,
        *,
        batch_every: int | None = 1,
        checkpoint_every: int | None = None,
        monitor: str | None = None,
        mode: Literal["min", "max"] = "min",
        **init_kwargs: Any,
    ) -> None:
        """Check the settings; the run is ``run``, else ``rltrack.init(**init_kwargs)`` or the current run.

        Raises:
            InvalidValueError: ``batch_every``/``checkpoint_every`` is not a positive int or None,
                ``mode`` is not ``"min"``/``"max"``, or ``monitor`` has no ``checkpoint_every``.
            RltrackError: ``run`` and ``init_kwargs`` are both given.
            RunFinishedError: ``run`` has finished.
        """
        super().__init__()
        self._batch_every = _every("batch_every", batch_every)
        self._checkpoint_every = _every("checkpoint_every", checkpoint_every)
        if mode not in ("min", "max"):
            raise InvalidValueError(f"mode={mode!r} must be 'min' or 'max'")
        if monitor is not None and (not isinstance(monitor, str) or checkpoint_every is None):
            raise InvalidValueError(
                f"monitor={monitor!r} picks the best checkpoint: pass a key such as 'val_loss' with checkpoint_every="
            )
        self._monitor = monitor
        self._sign = 1.0 if mode == "min" else -1.0
        self._best = math.inf
        self._run = LazyRun(run, init_kwargs, "RLTrackKerasCallback")
        self._warn = WarnOnce()
        #: Training batches done over every fit() this callback has seen: the run's step.
        self.step = 0
        self._epoch: int | None = None
        self._saved_epoch: int | None = None
        #: Keras' name -> ``batch/<name>``, built once per key: this runs every batch.
        self._batch_names: dict[str, str] = {}

    @property
    def run(self) -> rltrack.Run | None:
        """The run written to (None before training begins when none was given)."""
        return self._run.made

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        """Start (or pick) the run and put the model's and optimizer's config into ``run.config``."""
        run = self._run.get()
        if not check_running(run, self._warn):
            return
        config: dict[str, Any] = {"model_class": type(self.model).__name__}
        # A subclassed model without get_config() raises: its class name is all there is.
        with contextlib.suppress(NotImplementedError):
            config["model_config"] = self.model.get_config()
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None:
            config["optimizer_class"] = type(optimizer).__name__
            config["optimizer_config"] = optimizer.get_config()
        params = self.params or {}
        config.update({k: params[k] for k in ("epochs", "steps") if params.get(k) is not None})
        if "steps" in config:
            config["steps_per_epoch"] = config.pop("steps")
        missing = {k: v for k, v in config.items() if k not in run.config}
        if missing:
            run.config.update(missing)

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        """Count the batch; every ``batch_every`` batches, log its values as ``batch/<name>``."""
        self.step += 1
        if self._batch_every is not None and logs and self.step % self._batch_every == 0:
            names = self._batch_names
            values = {names.get(k) or names.setdefault(k, f"batch/{k}"): v for k, v in logs.items()}
            log_values(self._run.get(), values, self.step, self._warn)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """Log the epoch's values (and ``epoch``); save a checkpoint when one is due."""
        self._epoch = epoch
        values = dict(logs or {})
        log_values(self._run.get(), {**values, "epoch": epoch}, self.step, self._warn)
        if self._checkpoint_every is None:
            return
        best = self._is_best(values)
        if best or (epoch + 1) % self._checkpoint_every == 0:
            self._save(epoch, best=best, logs=values)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        """Save the final model when it is not stored yet; block until everything is stored."""
        run = self._run.made
        if run is None:
            return
        if self._checkpoint_every is not None and self._epoch is not None and self._saved_epoch != self._epoch:
            self._save(self._epoch, best=False, logs={})
        if not run.finished:
            run.flush()

    def _is_best(self, logs: dict[str, Any]) -> bool:
        if self._monitor is None:
            return False
        value = logs.get(self._monitor)
        if value is None:
            self._warn(
                f"monitor-{self._monitor}",
                f"monitor={self._monitor!r} is not among the epoch's values {sorted(logs)!r}; no checkpoint is "
                "marked best",
            )
            return False
        score = self._sign * float(value)
        if score < self._best:
            self._best = score
            return True
        return False

    def _save(self, epoch: int, *, best: bool, logs: dict[str, Any]) -> None:
        metadata: dict[str, Any] = {"epoch": epoch, "step": self.step}
        if self._monitor is not None and self._monitor in logs:
            metadata[self._monitor] = float(logs[self._monitor])
        with tempfile.TemporaryDirectory(prefix="rltrack-keras-") as tmp:
            path = Path(tmp) / "model.keras"
            try:
                self.model.save(path)
            except (OSError, ValueError, NotImplementedError) as err:
                self._warn(f"save-{type(err).__name__}", f"model.save() failed at epoch {epoch} ({err!r}); "
                           "no checkpoint stored, training goes on")
                return
            if log_checkpoint(self._run.get(), path, best=best, metadata=metadata, warn=self._warn) is not None:
                self._saved_epoch = epoch
