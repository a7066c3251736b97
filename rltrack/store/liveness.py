"""Is the process that owns a run still alive? (pid plus start time, so a reused pid is not mistaken)."""

from __future__ import annotations

import os

__all__ = ["is_alive", "process_started_ns"]


def process_started_ns(pid: int | None = None) -> int:
    """Return a process's start time in ns since the epoch (0 when it cannot be read)."""
    import psutil

    try:
        return int(psutil.Process(pid if pid is not None else os.getpid()).create_time() * 1e9)
    except (psutil.Error, OSError):
        return 0


def is_alive(pid: int, started_ns: int) -> bool:
    """Return whether ``pid`` runs and is the same process that started at ``started_ns``."""
    import psutil

    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        created = int(proc.create_time() * 1e9)
    except psutil.NoSuchProcess:
        return False
    except (psutil.Error, OSError):
        return True  # cannot tell (permissions): trust the heartbeat instead
    # create_time has ~10 ms resolution; a reused pid starts long after the original.
    return started_ns == 0 or abs(created - started_ns) < 1_000_000_000
