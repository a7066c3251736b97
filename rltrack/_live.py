"""Which runs are live in this process, and which one is current (``rltrack.run``).

A leaf below the run API: ``Run.finish()`` drops itself from here, and ``init()`` adds runs, so
neither :mod:`rltrack._run` nor :mod:`rltrack._disabled` imports :mod:`rltrack._session`.
"""

from __future__ import annotations

import weakref
from contextvars import ContextVar
from typing import Any

__all__ = ["current", "forget", "live"]

#: The run ``rltrack.log()`` and friends write to (per thread/task context).
current: ContextVar[Any] = ContextVar("rltrack_run", default=None)
#: Every run not yet finished, which the exit hooks finish.
live: weakref.WeakSet[Any] = weakref.WeakSet()


def forget(run: object) -> None:
    """Drop a finished run from the live set and, if current, from the context."""
    live.discard(run)
    if current.get() is run:
        current.set(None)
