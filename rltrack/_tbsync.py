"""``init(sync_tensorboard=True)``: mirror every in-process ``SummaryWriter`` into the run.

As wandb does, the event-file writer classes of ``tensorboard`` (behind
``torch.utils.tensorboard``) and ``tensorboardX`` are patched so that each new writer tells the
run its log dir; :func:`rltrack.tensorboard.mirror` then tails the files it writes. At
``finish()`` the writers are flushed and the mirror reads what is left, so every scalar written
before ``finish()`` is in the run.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import threading
import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rltrack._run import Run
    from rltrack.tensorboard.mirror import TensorBoardMirror

__all__ = ["is_syncing", "sync_tensorboard"]

#: (module, class) of the event-file writers that SummaryWriter implementations create.
_WRITERS = (
    ("tensorboard.summary.writer.event_file_writer", "EventFileWriter"),
    ("tensorboardX.event_file_writer", "EventFileWriter"),
)
_lock = threading.Lock()
_syncs: list[_Sync] = []
_patched: set[type] = set()


class _Sync:
    """One run's mirror and the writers that feed it."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.mirror: TensorBoardMirror | None = None
        self.writers: weakref.WeakSet[Any] = weakref.WeakSet()

    def add(self, logdir: str) -> None:
        """Mirror ``logdir``, leaving out event files already there (earlier experiments in a shared folder)."""
        from rltrack.tensorboard import mirror

        if self.mirror is None:
            self.mirror = mirror(self.run, logdir, skip_existing=True)
        else:
            self.mirror.add(logdir, skip_existing=True)

    def stop(self) -> None:
        with _lock:
            if self in _syncs:
                _syncs.remove(self)
        for writer in list(self.writers):
            with contextlib.suppress(Exception):  # already closed: its records are on disk
                writer.flush()
        if self.mirror is not None:
            self.mirror.stop()


def sync_tensorboard(run: Run) -> None:
    """Mirror the log dirs of SummaryWriters created from now on into ``run`` until it finishes."""
    sync = _Sync(run)
    with _lock:
        _syncs.append(sync)
        for module_name, class_name in _WRITERS:
            if importlib.util.find_spec(module_name.split(".")[0]) is None:
                continue
            try:
                cls = getattr(importlib.import_module(module_name), class_name)
            except (ImportError, AttributeError):
                continue  # a version without that class: its writers are not mirrored
            if cls not in _patched:
                _patch(cls)
                _patched.add(cls)
    run._at_finish.append(sync.stop)


def is_syncing(run: object) -> bool:
    """Return whether ``run`` mirrors its SummaryWriters (``init(sync_tensorboard=True)``, not finished yet)."""
    with _lock:
        return any(s.run is run for s in _syncs)


def _patch(cls: type) -> None:
    original = cls.__init__  # type: ignore[misc]  # patched on purpose, as wandb does

    def __init__(self: Any, logdir: Any, *args: Any, **kwargs: Any) -> None:
        with _lock:
            # The most recent run that asked for it: a writer belongs to the run current at its creation.
            sync = next((s for s in reversed(_syncs) if not s.run.finished), None)
        if sync is not None:
            # Before the writer makes its file, so that only files there before are skipped.
            sync.add(os.fspath(logdir))
        original(self, logdir, *args, **kwargs)
        if sync is not None:
            sync.writers.add(self)

    cls.__init__ = __init__  # type: ignore[misc]
