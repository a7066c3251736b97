"""``init(sync_tensorboard=True)``: mirror every in-process ``SummaryWriter`` into the run.

The building block is :func:`rltrack.tensorboard.mirror` with ``follow_writers=True``: as wandb
does, it wraps the event-file writer classes of ``tensorboard`` (behind
``torch.utils.tensorboard``) and ``tensorboardX``, so each writer made after ``init()`` hands
its events to the run as it is given them. At ``finish()`` the mirror stops: the writers are
flushed and everything written before ``finish()`` is in the run.
"""

from __future__ import annotations

import threading
from typing import Any

from rltrack._handle import RunHandle

__all__ = ["is_syncing", "sync_tensorboard"]

_lock = threading.Lock()
#: id(run) -> its mirror, while the run syncs.
_mirrors: dict[int, Any] = {}


def sync_tensorboard(run: RunHandle) -> None:
    """Mirror the SummaryWriters created from now on into ``run`` until it finishes."""
    from rltrack.tensorboard import mirror

    sync = mirror(run, None, follow_writers=True)
    with _lock:
        _mirrors[id(run)] = sync

    def stop() -> None:
        with _lock:
            _mirrors.pop(id(run), None)
        sync.stop()

    run._at_finish.append(stop)


def is_syncing(run: object) -> bool:
    """Return whether ``run`` mirrors its SummaryWriters (``init(sync_tensorboard=True)``, not finished yet)."""
    with _lock:
        return id(run) in _mirrors
