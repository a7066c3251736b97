"""Is the process that owns a run still alive? (pid plus start time, so a reused pid is not mistaken)."""

from __future__ import annotations

import os

__all__ = ["is_alive", "process_started_ns"]


def _linux_start_ns(pid: int) -> int | None:
    # psutil's create_time() reads the same /proc fields; doing it here keeps psutil's import
    # (~15 ms) off init()'s path. Field 22 of /proc/<pid>/stat is the start time in clock ticks
    # since boot; /proc/stat's btime is the boot time in seconds.
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        with open("/proc/stat", "rb") as f:
            btime = next(int(line.split()[1]) for line in f if line.startswith(b"btime"))
    except (OSError, StopIteration, ValueError):
        return None
    fields = stat[stat.rfind(b")") + 2 :].split()  # the command name may hold spaces
    if fields[0] == b"Z":
        return -1  # zombie: it has exited
    ticks = int(fields[19])
    return int((btime + ticks / os.sysconf("SC_CLK_TCK")) * 1e9)


def process_started_ns(pid: int | None = None) -> int:
    """Return a process's start time in ns since the epoch (0 when it cannot be read)."""
    pid = os.getpid() if pid is None else pid
    started = _linux_start_ns(pid)
    if started is not None:
        return max(started, 0)
    import psutil

    try:
        return int(psutil.Process(pid).create_time() * 1e9)
    except (psutil.Error, OSError):
        return 0


def is_alive(pid: int, started_ns: int) -> bool:
    """Return whether ``pid`` runs and is the same process that started at ``started_ns``."""
    created = _linux_start_ns(pid)
    if created is None:
        if os.path.isdir("/proc") and not os.path.exists(f"/proc/{pid}"):
            return False
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
    if created < 0:
        return False
    # Start times have clock-tick resolution (10 ms); a reused pid starts long after the original.
    return started_ns == 0 or abs(created - started_ns) < 1_000_000_000
