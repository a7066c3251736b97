"""What a run records about where it ran: host, platform, Python, git state, command line."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

__all__ = ["collect_metadata"]

_GIT_TIMEOUT_S = 2.0


def _git(args: list[str], cwd: Path) -> str | None:
    import subprocess

    try:
        out = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=_GIT_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None  # no git on this machine, or it hung: the run simply has no git fields
    return out.stdout.strip() if out.returncode == 0 else None


def collect_metadata(cwd: Path | None = None) -> dict[str, Any]:
    """Return the run's metadata; slow parts (git) run on the writer thread, not in ``init()``."""
    import platform

    cwd = cwd or Path.cwd()
    meta: dict[str, Any] = {
        "host": os.uname().nodename,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "python_executable": sys.executable,
        "argv": list(sys.argv),
        "pid": os.getpid(),
        "cwd": str(cwd),
        "cpu_count": os.cpu_count(),
    }
    commit = _git(["rev-parse", "HEAD"], cwd)
    if commit:
        status = _git(["status", "--porcelain", "--untracked-files=no"], cwd)
        meta["git"] = {
            "commit": commit,
            "branch": _git(["rev-parse", "--abbrev-ref", "HEAD"], cwd),
            "dirty": bool(status),
            "remote": _git(["config", "--get", "remote.origin.url"], cwd),
        }
    return meta
