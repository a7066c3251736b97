"""One measured process of bench/tb_sync.py: a CleanRL-style PPO loop writing 8 scalars a step to a SummaryWriter.

``python _tb_sync_child.py ARM STEPS WORKDIR THREADS`` prints one JSON line. ARM is ``tb`` (the
SummaryWriter alone), ``rltrack`` (``rltrack.init(sync_tensorboard=True)`` before the writer) or
``wandb`` (``wandb.init(mode="offline", sync_tensorboard=True)`` before the writer). The loop is
``bench/_cleanrl_ppo.py``: real PPO on CartPole-v1 (a 64-64 actor and critic, an Adam update of
4 epochs x 4 minibatches every 128 steps), one env, so every env step writes the 8 scalars.

Measured: the loop (wall, and CPU of this process and its children, e.g. wandb-core), then
``writer.close()`` + the tracker's finish. Checked afterwards, not timed: every (tag, step,
value) the writer wrote is in the event file (tensorboard's reader), in the rltrack run
(``rltrack.Api``) and in wandb's offline run file (wandb's own protobuf), each where it applies.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
ARMS = ("tb", "rltrack", "wandb")


def _tree_cpu_s() -> float:
    """CPU seconds of this process and its live children (wandb-core runs in one)."""
    import psutil

    me = psutil.Process()
    total = sum(me.cpu_times()[:2])
    for child in me.children(recursive=True):
        with contextlib.suppress(psutil.Error):  # it exited meanwhile
            total += sum(child.cpu_times()[:2])
    return total


def measure(arm: str, steps: int, workdir: Path, threads: int) -> dict[str, Any]:
    """Run the loop in ``arm``; return the timings and the read-back counts."""
    import numpy as np
    import torch
    from _cleanrl_ppo import train
    from torch.utils.tensorboard import SummaryWriter

    torch.set_num_threads(threads)
    # One untimed, unlogged rollout + update first: gym.make's imports and torch's first calls are
    # the same in every arm and would dilute the ratios.
    train(128, None)
    logdir = workdir / "runs" / f"CartPole-v1__ppo__{arm}"
    t0 = time.perf_counter()
    run: Any = None
    finish: Any = None
    if arm == "rltrack":
        import rltrack

        run = rltrack.init(project="tb_sync", dir=workdir / "rltrack", sync_tensorboard=True, quiet=True)
        finish = run.finish
    elif arm == "wandb":
        import wandb

        run = wandb.init(project="tb_sync", dir=str(workdir), mode="offline", sync_tensorboard=True)
        finish = run.finish
    init_s = time.perf_counter() - t0
    writer = SummaryWriter(str(logdir))
    written: list[tuple[int, dict[str, float]]] = []
    add_scalar = writer.add_scalar

    def log(values: dict[str, float], step: int) -> None:  # what CleanRL does: one add_scalar per value
        for tag, value in values.items():
            add_scalar(tag, value, step)
        written.append((step, values))

    cpu0, t1 = _tree_cpu_s(), time.perf_counter()
    train(steps, log)
    loop_s, loop_cpu_s = time.perf_counter() - t1, _tree_cpu_s() - cpu0
    t2 = time.perf_counter()
    writer.close()
    if finish is not None:
        finish()
    close_s = time.perf_counter() - t2
    # What the writer wrote, as TensorBoard stores it (simple_value is a float32).
    expected = {(tag, step, float(np.float32(v))) for step, values in written for tag, v in values.items()}
    out: dict[str, Any] = {
        "arm": arm, "steps": steps, "scalars": len(expected), "init_s": init_s, "loop_s": loop_s,
        "loop_cpu_s": loop_cpu_s, "close_s": close_s, "load1": os.getloadavg()[0],
    }  # fmt: skip
    out["missing_tb"] = len(expected - _read_events(logdir))
    if arm == "rltrack":
        got, in_tags = _read_rltrack(workdir / "rltrack", run.id, {tag for tag, _, _ in expected})
        out["missing_rltrack"] = len(expected - got)
        out["extra_rltrack"] = in_tags - len(expected & got)  # a point stored twice, or one never written
        out["rltrack_errors"] = _rltrack_errors(workdir / "rltrack", run.id)
    if arm == "wandb":
        out["missing_wandb"] = len(expected - _read_wandb(workdir, run.id))
    return out


def _read_events(logdir: Path) -> set[tuple[str, int, float]]:
    from rltrack.tensorboard import EventFileReader

    got = set()
    for file in sorted(logdir.glob("*tfevents*")):
        got |= {(p.tag, p.step, p.value) for p in EventFileReader(file).read(final=True) if p.kind == "scalar"}
    return got


def _read_rltrack(store: Path, run_id: str, tags: set[str]) -> tuple[set[tuple[str, int, float]], int]:
    """The (key, step, value) points of the run's keys, and how many points the keys in ``tags`` hold."""
    import rltrack

    view = rltrack.Api(store).run(run_id)
    got, in_tags = set(), 0
    keys = view.keys()
    for key in keys:
        steps, _, values = view.series(key)
        got |= {(key, int(s), float(v)) for s, v in zip(steps.tolist(), values.tolist(), strict=True)}
        in_tags += len(steps) if key in tags else 0
    return got, in_tags


def _rltrack_errors(store: Path, run_id: str) -> dict[str, Any]:
    import rltrack

    summary = rltrack.Api(store).run(run_id).summary
    return {k: v for k, v in summary.items() if k.startswith("_rltrack/errors")}


def _read_wandb(workdir: Path, run_id: str) -> set[tuple[str, int, float]]:
    """(tag, global_step, value) of every history row in wandb's offline ``.wandb`` file.

    wandb's TensorBoard sync writes each event as a history row whose ``global_step`` item is the
    writer's step (wandb keeps its own ``_step``); tags may carry the log dir's name as a prefix.
    """
    import numpy as np
    from _log_overhead_trackers import _wandb_records
    from wandb.proto import wandb_internal_pb2

    got = set()
    for path in workdir.glob(f"wandb/offline-run-*-{run_id}/run-{run_id}.wandb"):
        for payload in _wandb_records(str(path)):
            rec = wandb_internal_pb2.Record()
            rec.ParseFromString(payload)
            if rec.WhichOneof("record_type") != "history":
                continue
            items = {item.key or "/".join(item.nested_key): item.value_json for item in rec.history.item}
            if "global_step" not in items:
                continue
            step = int(float(json.loads(items["global_step"])))
            for key, value in items.items():
                if key.startswith("charts/") or "/charts/" in key:
                    tag = key[key.index("charts/") :]
                    # wandb-core writes the float32 in its shortest decimal form: back to that float32.
                    got.add((tag, step, float(np.float32(json.loads(value)))))
    return got


if __name__ == "__main__":
    arm_arg, steps_arg, workdir_arg, threads_arg = sys.argv[1:5]
    if arm_arg not in ARMS:
        raise SystemExit(f"arm {arm_arg!r} is not one of {ARMS}")
    result = measure(arm_arg, int(steps_arg), Path(workdir_arg), int(threads_arg))
    print(json.dumps(result), flush=True)
