"""CPU per mirrored scalar: ``add_scalar`` alone vs with ``rltrack.init(sync_tensorboard=True)``, no training loop.

The diagnostic behind bench/tb_sync.py's numbers (bench/README.md): the loop's overhead is this
cost times 8 scalars a step, so it is measured here on its own, where the PPO step's noise does
not hide it. Each measurement is a fresh process; the arms alternate.

    python bench/_tb_sync_micro.py                      # 5 pairs of 20,000 steps x 8 scalars
    python bench/_tb_sync_micro.py --rltrack-path DIR   # another rltrack (`git archive OLD rltrack | tar -x -C DIR`)

Per process: CPU of the whole process (every thread: TensorBoard's writer thread, the mirror,
rltrack's writer) from the first ``add_scalar`` to ``writer.close()`` + ``finish()`` returned, and
CPU of the training thread alone (``time.thread_time``) over the ``add_scalar`` loop, each in µs
per scalar.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def child(arm: str, steps: int) -> dict[str, float]:
    """One measurement in this process; ``arm`` is ``tb`` or ``rltrack``."""
    import numpy as np
    from torch.utils.tensorboard import SummaryWriter

    workdir = Path(tempfile.mkdtemp(prefix="tb_sync_micro-"))
    run = None
    if arm == "rltrack":
        import rltrack

        run = rltrack.init(project="micro", dir=workdir / "store", sync_tensorboard=True, quiet=True)
    writer = SummaryWriter(str(workdir / "runs"))
    tags = [f"charts/t{i}" for i in range(8)]
    rows = np.random.default_rng(0).normal(size=(steps, 8)).tolist()
    cpu0, thread0 = time.process_time(), time.thread_time()
    for step in range(steps):
        row = rows[step]
        for i in range(8):
            writer.add_scalar(tags[i], row[i], step)
    thread_s = time.thread_time() - thread0
    writer.close()
    if run is not None:
        run.finish()
    per = 1e6 / (steps * 8)
    return {"process_us": (time.process_time() - cpu0) * per, "thread_us": thread_s * per}


def main(argv: list[str] | None = None) -> int:
    """Alternate fresh ``tb`` and ``rltrack`` processes; print medians per scalar and the difference."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pairs", type=int, default=5)
    p.add_argument("--steps", type=int, default=20_000)
    p.add_argument("--rltrack-path", type=Path, default=None, help="put this folder first on PYTHONPATH")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        print(json.dumps(child(a.child, a.steps)))
        return 0
    env = dict(os.environ)
    if a.rltrack_path is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(a.rltrack_path), env.get("PYTHONPATH", "")])
    rows: dict[str, list[dict[str, float]]] = {"tb": [], "rltrack": []}
    for _ in range(a.pairs):
        for arm in rows:
            cmd = [sys.executable, __file__, "--child", arm, "--steps", str(a.steps)]
            out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stdout
            rows[arm].append(json.loads(out.strip().splitlines()[-1]))
    print(f"load {os.getloadavg()[0]:.1f}; {a.pairs} pairs x {a.steps} steps x 8 scalars; µs per scalar (median):")
    keys = ("process_us", "thread_us")
    med = {arm: {k: statistics.median(r[k] for r in rs) for k in keys} for arm, rs in rows.items()}
    for arm, m in med.items():
        print(f"  {arm:<8} process CPU {m['process_us']:6.2f}   training thread {m['thread_us']:6.2f}")
    print(
        f"  sync adds {med['rltrack']['process_us'] - med['tb']['process_us']:+.2f} process CPU, "
        f"{med['rltrack']['thread_us'] - med['tb']['thread_us']:+.2f} on the training thread"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
