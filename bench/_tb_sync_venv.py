"""Create or reuse the venv bench/tb_sync.py runs its three arms in (default ``bench/.venv-tbsync``).

wandb is not a dependency of rltrack, so it lives in its own venv, created on first use and never
installed into the project's ``.venv``. All three arms (TensorBoard alone, + rltrack, + wandb) run
under this one interpreter with the same torch, tensorboard and numpy, so their times compare:
``torch==2.13.0`` first (the CPU wheel on these machines; an unpinned torch would pull CUDA), then
``tensorboard`` and ``wandb`` pinned to the versions bench/log_overhead.py measured, then this repo
with ``pip install -e``. A marker file makes later runs reuse the venv while the pins and the
repo's ``pyproject.toml`` are unchanged.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

TORCH = "torch==2.13.0"
PEERS = ("tensorboard==2.21.0", "wandb==0.31.0", "gymnasium==1.2.2")  # gymnasium: the loop's CartPole
CHECK = "import torch, tensorboard, wandb, gymnasium, rltrack; print(rltrack.__file__)"
QUIET_ENV = {
    "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    "DO_NOT_TRACK": "1",
    "WANDB_MODE": "offline",
    "WANDB_SILENT": "true",
    "WANDB_DISABLE_CODE": "true",
    "WANDB_DISABLE_GIT": "true",
    "WANDB_ERROR_REPORTING": "false",
    "WANDB_CONSOLE": "off",
}


def venv_python(venv: Path) -> Path:
    """Return the interpreter inside ``venv``."""
    return venv / "bin" / "python"


def _marker_text(repo: Path) -> str:
    pyproject = (repo / "pyproject.toml").read_bytes()
    return "\n".join([TORCH, *PEERS, str(repo), hashlib.sha256(pyproject).hexdigest()])


def _imports_ok(python: Path, repo: Path) -> bool:
    env = {**os.environ, **QUIET_ENV}
    proc = subprocess.run([str(python), "-c", CHECK], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        return False
    # rltrack must come from this checkout, not from some other install.
    return Path(proc.stdout.strip().splitlines()[-1]).resolve().is_relative_to(repo.resolve())


def ensure_venv(venv: Path, repo: Path, base_python: str = sys.executable) -> Path:
    """Create/refresh ``venv`` with torch (first), tensorboard, wandb and rltrack (editable); return its python.

    Raises:
        subprocess.CalledProcessError: venv creation or pip failed.
        RuntimeError: the packages installed but do not import (or rltrack is not this checkout).
    """
    python = venv_python(venv)
    marker = venv / ".tb-sync-ok"
    want = _marker_text(repo)
    if python.exists() and marker.exists() and marker.read_text() == want and _imports_ok(python, repo):
        print(f"wandb venv: reusing {venv}", flush=True)
        return python
    print(f"wandb venv: installing into {venv} (minutes the first time)", flush=True)
    if not python.exists():
        subprocess.run([base_python, "-m", "venv", str(venv)], check=True)
    env = {**os.environ, **QUIET_ENV}
    for args in ([TORCH], list(PEERS), ["-e", str(repo)]):
        cmd = [str(python), "-m", "pip", "install", "-q", *args]
        print("  $", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True, env=env)
    if not _imports_ok(python, repo):
        raise RuntimeError(f"venv {str(venv)!r} installed but `{CHECK}` fails or finds another rltrack")
    marker.write_text(want)
    return python


def versions(python: str) -> str:
    """Return 'python X, name version, ...' of the measured packages in the interpreter ``python``."""
    code = (
        "import importlib.metadata as m, platform\n"
        "out = []\n"
        "for n in ['rltrack', 'torch', 'tensorboard', 'wandb', 'numpy']:\n"
        "    try:\n"
        "        out.append(n + ' ' + m.version(n))\n"
        "    except m.PackageNotFoundError:\n"
        "        pass\n"
        "print('python ' + platform.python_version() + ', ' + ', '.join(out))\n"
    )
    proc = subprocess.run([python, "-c", code], capture_output=True, text=True)
    return proc.stdout.strip() or proc.stderr.strip()[-200:]


if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    print(ensure_venv(here / ".venv-tbsync", here.parent))
