"""Where the embedded store lives when the caller does not say."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DB_FILENAME", "default_root", "resolve_root"]

#: The SQLite file inside a store folder.
DB_FILENAME = "rltrack.db"


def default_root() -> Path:
    """Return ``$RLTRACK_DIR`` or ``./rltrack-runs`` (like wandb's ``./wandb`` and MLflow's ``./mlruns``)."""
    env = os.environ.get("RLTRACK_DIR")
    if env:
        return Path(env).expanduser()
    return Path.cwd() / "rltrack-runs"


def resolve_root(dir: str | os.PathLike[str] | None) -> Path:
    """Return the store folder for an explicit ``dir`` argument, falling back to :func:`default_root`."""
    if dir is None:
        return default_root()
    return Path(dir).expanduser()
