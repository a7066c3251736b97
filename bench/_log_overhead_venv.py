"""Create or reuse the peers venv that bench/log_overhead.py runs every tracker in.

All trackers, rltrack included, run under the same interpreter and the same numpy. The
venv is reused while its marker file matches the pinned requirements and the repo's
pyproject.toml; otherwise the missing pieces are (re)installed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

# torch goes first, pinned: 2.13.0 is a CPU wheel already on these machines, and an
# unpinned torch would pull a multi-GB CUDA build. The peers are pinned to the versions
# the anchor measurements used (shared/reference/anchor-trackers-measured.md).
TORCH = "torch==2.13.0"
PEERS = ("wandb==0.31.0", "mlflow==3.17.2", "tensorboard==2.21.0", "trackio==0.43.0")
CHECK = "import torch, wandb, mlflow, tensorboard, trackio, rltrack, numpy; print(rltrack.__file__)"
_QUIET_ENV = {
    "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    "DO_NOT_TRACK": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "MLFLOW_DISABLE_TELEMETRY": "true",
}


def venv_python(venv: Path) -> Path:
    """Return the interpreter inside ``venv``."""
    return venv / "bin" / "python"


def _marker_text(repo: Path) -> str:
    pyproject = (repo / "pyproject.toml").read_bytes()
    return "\n".join([TORCH, *PEERS, str(repo), hashlib.sha256(pyproject).hexdigest()])


def _pip(python: Path, *args: str) -> None:
    cmd = [str(python), "-m", "pip", "install", "-q", *args]
    print("  $", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, env={**os.environ, **_QUIET_ENV})


def _imports_ok(python: Path, repo: Path) -> bool:
    proc = subprocess.run([str(python), "-c", CHECK], capture_output=True, text=True, env={**os.environ, **_QUIET_ENV})
    if proc.returncode != 0:
        return False
    # rltrack must come from this checkout, not from some other install.
    return Path(proc.stdout.strip().splitlines()[-1]).resolve().is_relative_to(repo.resolve())


def ensure_peers_venv(venv: Path, repo: Path, base_python: str = sys.executable) -> Path:
    """Create/refresh ``venv`` with torch (first), the peer trackers and rltrack (editable).

    Returns the venv's interpreter. Raises ``subprocess.CalledProcessError`` when pip fails.
    """
    python = venv_python(venv)
    marker = venv / ".log-overhead-ok"
    want = _marker_text(repo)
    if python.exists() and marker.exists() and marker.read_text() == want and _imports_ok(python, repo):
        print(f"peers venv: reusing {venv}", flush=True)
        return python
    print(f"peers venv: installing into {venv} (takes minutes the first time)", flush=True)
    if not python.exists():
        subprocess.run([base_python, "-m", "venv", str(venv)], check=True)
    _pip(python, TORCH)
    _pip(python, *PEERS)
    _pip(python, "-e", str(repo))
    if not _imports_ok(python, repo):
        raise RuntimeError(f"peers venv {str(venv)!r} installed but `{CHECK}` fails or finds another rltrack")
    marker.write_text(want)
    return python


def versions(python: Path) -> str:
    """Return 'name version' of the measured packages in the interpreter ``python``."""
    code = (
        "import importlib.metadata as m, platform\n"
        "names = ['rltrack', 'torch', 'wandb', 'mlflow', 'tensorboard', 'trackio', 'numpy']\n"
        "out = []\n"
        "for n in names:\n"
        "    try:\n"
        "        out.append(n + ' ' + m.version(n))\n"
        "    except m.PackageNotFoundError:\n"
        "        pass\n"
        "print('python ' + platform.python_version() + ', ' + ', '.join(out))\n"
    )
    proc = subprocess.run([str(python), "-c", code], capture_output=True, text=True)
    return proc.stdout.strip() or proc.stderr.strip()[-200:]
