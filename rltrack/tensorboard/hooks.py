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

__all__ = ["follow_writers", "tap", "unfollow_writers", "untap"]

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


def tap(writer: Any, on_event: Callable[[Any], None]) -> None:
    """Call ``on_event(event)`` with each Event proto ``writer`` is given from now on (after it took it)."""
    with _lock:
        # A tuple, replaced rather than changed: add_event walks it without copying or locking.
        writer.__dict__["_rltrack_taps"] = (*writer.__dict__.get("_rltrack_taps", ()), on_event)


def untap(writer: Any, on_event: Callable[[Any], None]) -> None:
    """Stop calling ``on_event`` for ``writer``'s events."""
    with _lock:
        taps = list(writer.__dict__.get("_rltrack_taps", ()))
        if on_event in taps:
            taps.remove(on_event)
            writer.__dict__["_rltrack_taps"] = tuple(taps)


def _wrap(cls: type) -> None:
    original = cls.__init__  # type: ignore[misc]  # reading a class's __init__ to wrap it
    original_add = cls.add_event  # type: ignore[attr-defined]  # both writer classes have it

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        with _lock:
            followers = list(_followers)
        for on_writer in followers:
            try:
                on_writer(self, str(self.get_logdir()))
            except Exception:  # a mirror's problem must never break the user's SummaryWriter
                continue

    def add_event(self: Any, event: Any) -> Any:
        result = original_add(self, event)
        taps = self.__dict__.get("_rltrack_taps")  # one dict lookup when no mirror taps this writer
        if taps:
            for on_event in taps:
                try:
                    on_event(event)
                except Exception:  # never break the user's add_scalar()
                    continue
        return result

    __init__.__wrapped__ = original  # type: ignore[attr-defined]
    add_event.__wrapped__ = original_add  # type: ignore[attr-defined]
    cls.__init__ = __init__  # type: ignore[misc]
    cls.add_event = add_event  # type: ignore[attr-defined]


def writer_ref(writer: Any) -> Callable[[], Any]:
    """A weak reference to ``writer`` when it allows one, else a strong one (flushed at stop either way)."""
    try:
        return weakref.ref(writer)
    except TypeError:
        return lambda: writer
