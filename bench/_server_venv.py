"""Create or reuse the venv bench/server.py runs the MLflow tracking server and its writers in.

MLflow is not a dependency of rltrack, so it lives in its own venv (default ``bench/.venv-mlflow``,
gitignored), created on first use: ``mlflow`` pinned to the version the other benches measured, and
``psycopg[binary]`` (psycopg 3, the driver SQLAlchemy 2.1 uses for ``postgresql://`` backend store URIs).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PACKAGES = ("mlflow==3.17.2", "psycopg[binary]==3.3.9")
CHECK = "import mlflow, psycopg; print(mlflow.__version__)"
_QUIET_ENV = {"PIP_DISABLE_PIP_VERSION_CHECK": "1", "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1"}


def ensure_mlflow_venv(venv: Path, base_python: str = sys.executable) -> Path:
    """Return the interpreter of ``venv``, installing :data:`PACKAGES` into it first if needed.

    Raises:
        subprocess.CalledProcessError: venv creation or pip failed.
    """
    python = venv / "bin" / "python"
    marker = venv / ".server-bench-ok"
    env = {**os.environ, **_QUIET_ENV}
    reusable = python.exists() and marker.exists() and marker.read_text() == "\n".join(PACKAGES)
    if reusable and subprocess.run([str(python), "-c", CHECK], capture_output=True, env=env).returncode == 0:
        print(f"mlflow venv: reusing {venv}", flush=True)
        return python
    print(f"mlflow venv: installing {' '.join(PACKAGES)} into {venv} (a few minutes the first time)", flush=True)
    if not python.exists():
        subprocess.run([base_python, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *PACKAGES], check=True, env=env)
    subprocess.run([str(python), "-c", CHECK], check=True, env=env)
    marker.write_text("\n".join(PACKAGES))
    return python
