"""Tracker adapters for bench/log_overhead.py: start a run, log, finish, read back.

Each adapter hands the benchmark the tracker's *own* logging callable (``run.log``,
``trackio.log``, ``mlflow.log_metrics``) so that the timed loop measures that call and no
wrapper of ours; TensorBoard has no dict call, so its adapter is the ten ``add_scalar``
calls a user would write. Readers run in a fresh process after the writer exited and use
each tool's own reader (see /work/shared/reference/anchor-trackers-measured.md for the
gotchas: TensorBoard's default size_guidance drops half the points, wandb 0.31 has no
offline reader).

Nothing heavy is imported at module level: time-to-first-log children import this module
before they start the clock on the tracker's import.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # `typing` is imported anyway; these names are for annotations only
    from collections.abc import Callable, Mapping
    from typing import Any

    LogFn = Callable[..., Any]

TRACKERS = ("rltrack", "trackio", "wandb", "tensorboard", "mlflow")
PROJECT = "bench"


class Started:
    """A running tracker: its logging callable, how to finish, and the id to read back."""

    # A plain class, not a dataclass: `dataclasses` pulls in `inspect` (~8 ms here), which
    # would be charged to every tracker's time to first log.
    __slots__ = ("finish", "log", "run_id")

    def __init__(self, log: LogFn, finish: Callable[[], None], run_id: str) -> None:
        self.log, self.finish, self.run_id = log, finish, run_id


def offline_env(store: str) -> dict[str, str]:
    """Return the environment every child runs with: offline, no telemetry, stores in ``store``."""
    return {
        "WANDB_MODE": "offline",
        "WANDB_SILENT": "true",
        "WANDB_DIR": os.path.join(store, "wandb"),
        "WANDB_DISABLE_GIT": "true",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "MLFLOW_TRACKING_URI": "sqlite:///" + os.path.join(store, "mlflow", "mlflow.db"),
        "HF_HUB_OFFLINE": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "GRADIO_ANALYTICS_ENABLED": "False",
        "TRACKIO_DIR": os.path.join(store, "trackio"),
        "DO_NOT_TRACK": "1",
        "DISABLE_TELEMETRY": "1",
        "RLTRACK_DIR": os.path.join(store, "rltrack"),
        "PYTHONUNBUFFERED": "1",
    }


def import_tracker(name: str) -> None:
    """Import the tracker's modules (the 'import' phase of time to first log)."""
    modules = {
        "rltrack": ["rltrack"],
        "trackio": ["trackio"],
        "wandb": ["wandb"],
        "tensorboard": ["torch.utils.tensorboard"],
        "mlflow": ["mlflow"],
    }[name]
    for module in modules:
        importlib.import_module(module)


def start(name: str, store: str, run_name: str) -> Started:
    """Create a run in ``store`` (a folder per tracker) and return its logging callable."""
    os.makedirs(store, exist_ok=True)
    if name == "rltrack":
        import rltrack

        run = rltrack.init(project=PROJECT, name=run_name, dir=os.path.join(store, "rltrack"))
        return Started(run.log, run.finish, str(run.id))
    if name == "trackio":
        import trackio

        trackio.init(project=PROJECT, name=run_name)
        return Started(trackio.log, trackio.finish, run_name)
    if name == "wandb":
        import wandb

        wrun = wandb.init(project=PROJECT, name=run_name, mode="offline", dir=os.path.join(store, "wandb"))
        return Started(wrun.log, wrun.finish, str(wrun.id))
    if name == "tensorboard":
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(log_dir=os.path.join(store, "tensorboard", run_name))
        add_scalar = writer.add_scalar

        def log_tb(data: Mapping[str, float], step: int) -> None:
            for key, value in data.items():
                add_scalar(key, value, step)

        return Started(log_tb, writer.close, run_name)
    if name == "mlflow":
        import mlflow

        os.makedirs(os.path.join(store, "mlflow"), exist_ok=True)
        mlflow.set_experiment(PROJECT)
        mrun = mlflow.start_run(run_name=run_name)
        return Started(mlflow.log_metrics, mlflow.end_run, str(mrun.info.run_id))
    raise ValueError(f"unknown tracker {name!r}; pick from {TRACKERS}")


def read_back(name: str, store: str, run_id: str, keys: list[str]) -> dict[str, list[int]]:
    """Return, per key, the sorted steps the tracker's own reader returns for run ``run_id``."""
    reader = {
        "rltrack": _read_rltrack,
        "trackio": _read_trackio,
        "wandb": _read_wandb,
        "tensorboard": _read_tensorboard,
        "mlflow": _read_mlflow,
    }[name]
    return reader(store, run_id, keys)


def _read_rltrack(store: str, run_id: str, keys: list[str]) -> dict[str, list[int]]:
    import numpy as np

    import rltrack

    hist = rltrack.Api(dir=os.path.join(store, "rltrack")).run(run_id).history()
    steps = np.asarray(hist["step"])
    out: dict[str, list[int]] = {}
    for key in keys:
        col = hist.get(key)
        out[key] = [] if col is None else sorted(int(s) for s in steps[~np.isnan(np.asarray(col))])
    return out


def _read_trackio(store: str, run_id: str, keys: list[str]) -> dict[str, list[int]]:
    from trackio.sqlite_storage import SQLiteStorage

    out: dict[str, list[int]] = {key: [] for key in keys}
    for row in SQLiteStorage.get_logs(PROJECT, run_id):
        for key in keys:
            if key in row and row[key] is not None:
                out[key].append(int(row["step"]))
    return {key: sorted(v) for key, v in out.items()}


def _read_tensorboard(store: str, run_id: str, keys: list[str]) -> dict[str, list[int]]:
    from tensorboard.backend.event_processing import event_accumulator as ea

    # size_guidance 0 = keep everything; the default keeps only 10,000 points per tag.
    acc = ea.EventAccumulator(os.path.join(store, "tensorboard", run_id), size_guidance={ea.SCALARS: 0})
    acc.Reload()
    tags = set(acc.Tags().get("scalars", []))
    return {key: sorted(e.step for e in acc.Scalars(key)) if key in tags else [] for key in keys}


def _read_mlflow(store: str, run_id: str, keys: list[str]) -> dict[str, list[int]]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    return {key: sorted(m.step for m in client.get_metric_history(run_id, key)) for key in keys}


def _read_wandb(store: str, run_id: str, keys: list[str]) -> dict[str, list[int]]:
    import glob

    from wandb.proto import wandb_internal_pb2

    # Glob by run id, never through the `latest-run` symlink (it would count every point twice).
    paths = sorted(
        set(glob.glob(os.path.join(store, "wandb", "wandb", f"offline-run-*-{run_id}", f"run-{run_id}.wandb")))
    )
    out: dict[str, list[int]] = {key: [] for key in keys}
    wanted = set(keys)
    for path in paths:
        for payload in _wandb_records(path):
            rec = wandb_internal_pb2.Record()
            rec.ParseFromString(payload)
            if rec.WhichOneof("record_type") != "history":
                continue
            step = rec.history.step.num
            for item in rec.history.item:
                key = item.key or "/".join(item.nested_key)
                if key in wanted:
                    out[key].append(int(step))
    return {key: sorted(v) for key, v in out.items()}


def _wandb_records(path: str) -> list[bytes]:
    """Undo the LevelDB-log framing of a ``.wandb`` file and return each record's bytes.

    Layout (wandb datastore format, version 0): a 7-byte header ``:W&B`` + uint16 magic +
    uint8 version, then 32 KiB blocks counted from the start of the file; each chunk has a
    7-byte header (uint32 crc, uint16 length, uint8 type: 1 full, 2 first, 3 middle, 4 last)
    and a block tail shorter than 7 bytes is zero padding.
    """
    import struct

    block = 32768
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b":W&B":
        raise ValueError(f"{path!r} does not start with the ':W&B' header")
    pos, records, parts = 7, [], []
    while pos + 7 <= len(data):
        left_in_block = block - pos % block
        if left_in_block < 7:
            pos += left_in_block
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if length == 0 and kind == 0:
            pos += left_in_block  # zero padding up to the next block
            continue
        chunk = data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind == 1:
            records.append(chunk)
        elif kind == 2:
            parts = [chunk]
        elif kind == 3:
            parts.append(chunk)
        elif kind == 4:
            parts.append(chunk)
            records.append(b"".join(parts))
            parts = []
    return records
