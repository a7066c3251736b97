"""The scale case's data, and trackio's side of it (run in a venv that has trackio; see bench/dashboard.py).

    python bench/_dashboard_trackio.py fill TRACKIO_DIR PROJECT RUNS KEYS STEPS
    python bench/_dashboard_trackio.py serve TRACKIO_DIR PORT

``fill`` stores the same values bench/dashboard.py gives rltrack (``curves``) through trackio's own
bulk writer; ``serve`` starts trackio's dashboard on 127.0.0.1:PORT and blocks. Only numpy and
trackio are imported, so the trackio venv needs nothing from this checkout.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

PREFIXES = ("train", "rollout", "eval", "time")


def key_names(keys: int) -> list[str]:
    """Return ``keys`` names spread over four sections (``train/m0``, ``rollout/m1``, ...)."""
    return [f"{PREFIXES[j % len(PREFIXES)]}/m{j}" for j in range(keys)]


def run_name(index: int) -> str:
    """Return the name of run ``index`` (the same in both trackers)."""
    return f"run-{index:04d}"


def curves(index: int, keys: int, steps: int) -> np.ndarray:
    """Return run ``index``'s values, shape (keys, steps): noisy learning curves, one seed per run."""
    rng = np.random.default_rng(index)
    t = np.arange(steps, dtype=np.float64) / steps
    rate = rng.uniform(1.0, 6.0, size=(keys, 1))
    scale = rng.uniform(0.5, 100.0, size=(keys, 1))
    return scale * (1.0 - np.exp(-rate * t)) + rng.normal(0.0, 0.05, size=(keys, steps)) * scale


def fill(project: str, runs: int, keys: int, steps: int) -> None:
    """Store every run through trackio's bulk writer (one call per run)."""
    from trackio.sqlite_storage import SQLiteStorage

    names = key_names(keys)
    start = time.perf_counter()
    for i in range(runs):
        values = curves(i, keys, steps)
        metrics = [dict(zip(names, values[:, s].tolist(), strict=True)) for s in range(steps)]
        SQLiteStorage.bulk_log(project, run_name(i), metrics, steps=list(range(steps)),
                               config={"lr": 10 ** -(i % 5), "seed": i})
        if (i + 1) % 100 == 0:
            print(f"trackio: {i + 1} runs stored ({time.perf_counter() - start:.0f} s)", flush=True)


def serve(port: int) -> None:
    """Start trackio's dashboard on 127.0.0.1:``port`` and block."""
    import trackio

    trackio.show(open_browser=False, block_thread=True, host="127.0.0.1", server_port=port, mcp_server=False)


if __name__ == "__main__":
    command, folder = sys.argv[1], sys.argv[2]
    if os.environ.get("TRACKIO_DIR") != folder:
        raise SystemExit("set TRACKIO_DIR to the folder argument before starting (trackio reads it at import)")
    if command == "fill":
        fill(sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]))
    elif command == "serve":
        serve(int(sys.argv[3]))
    else:
        raise SystemExit(f"unknown command {command!r}; use fill or serve")
