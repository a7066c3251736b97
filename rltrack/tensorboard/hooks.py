"""Seeing each TensorBoard writer this process makes, so a mirror follows it without being told its folder.

:func:`follow_writers` wraps ``__init__`` of the event-file writer classes that
``torch.utils.tensorboard`` (tensorboard's ``EventFileWriter``) and ``tensorboardX`` (its own
``EventFileWriter``) use, as wandb's ``sync_tensorboard`` does: every writer made afterwards is
reported to the following mirrors with its log dir. The wrap is installed once, calls the original
first, and never lets a follower's failure reach the training script.
"""

from __future__ import annotations

import importlib
import threading
import weakref
from collections.abc import Callable
from typing import Any

__all__ = ["follow_writers", "unfollow_writers"]

#: (module, class) of the event-file writers to follow; a missing package is skipped.
_WRITER_CLASSES = (
    ("tensorboard.summary.writer.event_file_writer", "EventFileWriter"),  # torch.utils.tensorboard's
    ("tensorboardX.event_file_writer", "EventFileWriter"),
)
_lock = threading.Lock()
_followers: list[Callable[[Any, str], None]] = []
_patched: set[type] = set()


def follow_writers(on_writer: Callable[[Any, str], None]) -> list[str]:
    """Call ``on_writer(writer, logdir)`` for each event-file writer made from now on.

    Returns:
        The writer classes followed (``module.Class``); empty when neither tensorboard nor
        tensorboardX is installed.
    """
    followed = []
    with _lock:
        for module_name, class_name in _WRITER_CLASSES:
            try:
                cls = getattr(importlib.import_module(module_name), class_name)
            except (ImportError, AttributeError):
                continue
            if cls not in _patched:
                _wrap(cls)
                _patched.add(cls)
            followed.append(f"{module_name}.{class_name}")
        _followers.append(on_writer)
    return followed


def unfollow_writers(on_writer: Callable[[Any, str], None]) -> None:
    """Stop calling ``on_writer`` (the wrap stays, calling no one)."""
    with _lock:
        if on_writer in _followers:
            _followers.remove(on_writer)


def _wrap(cls: type) -> None:
    original = cls.__init__  # type: ignore[misc]  # reading a class's __init__ to wrap it

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        with _lock:
            followers = list(_followers)
        for on_writer in followers:
            try:
                on_writer(self, str(self.get_logdir()))
            except Exception:  # a mirror's problem must never break the user's SummaryWriter
                continue

    __init__.__wrapped__ = original  # type: ignore[attr-defined]
    cls.__init__ = __init__  # type: ignore[misc]


def writer_ref(writer: Any) -> Callable[[], Any]:
    """A weak reference to ``writer`` when it allows one, else a strong one (flushed at stop either way)."""
    try:
        return weakref.ref(writer)
    except TypeError:
        return lambda: writer
