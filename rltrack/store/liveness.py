"""Is a process still alive? Pid plus start time, so a reused pid is not mistaken.

Used for the process that owns a run, and for the dashboard that serves a store folder: ``rltrack ui``
records its URL with :func:`announce_dashboard`, and ``init()`` prints it (:func:`dashboard_url`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

__all__ = ["DASHBOARD_FILE", "announce_dashboard", "dashboard_url", "is_alive", "process_started_ns"]

#: File in a store folder naming the dashboard that serves it (written by the server, read by init()).
DASHBOARD_FILE = "dashboard.json"


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


def announce_dashboard(root: Path, url: str) -> Path:
    """Record that this process serves the store folder ``root`` at ``url``; delete the file on shutdown.

    A file left by a process that died is ignored by :func:`dashboard_url` (its pid is gone).
    """
    path = root / DASHBOARD_FILE
    record = {"url": url, "host": os.uname().nodename, "pid": os.getpid(), "pid_started_ns": process_started_ns()}
    tmp = path.with_name(f".{DASHBOARD_FILE}.{os.getpid()}")
    tmp.write_text(json.dumps(record), encoding="utf-8")
    os.replace(tmp, path)  # atomic: a reader sees the old file or the new one
    return path


def dashboard_url(root: Path) -> str | None:
    """Return the URL of a live dashboard on this host serving ``root``, or None."""
    try:
        record = json.loads((root / DASHBOARD_FILE).read_text(encoding="utf-8"))
        url, host, pid, started = record["url"], record["host"], record["pid"], record["pid_started_ns"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not (isinstance(url, str) and url.startswith("http") and isinstance(pid, int) and isinstance(started, int)):
        return None
    if host != os.uname().nodename or not is_alive(pid, started):
        return None
    return url.rstrip("/")
