"""CPU instructions per training step, tracked vs untracked: a measure a noisy shared machine cannot move.

Wall-clock overhead on these 2 shared cores moves ±25 % between identical runs (the host's other
tenants), far more than the 2-3 % targets of ``sb3_overhead.py``. Instruction counts do not move:
this runs the same children as ``sb3_overhead.py`` under ``valgrind --tool=callgrind`` at N and
2N steps, so ``(I(2N) - I(N)) / N`` is the cost of one step with every one-time cost (interpreter,
imports, init, finish) cancelled, and compares it with the untracked loop. All threads count (the
writer and system-metrics threads included); child processes (the video process) do not. It is a
CPU-work ratio: it sees neither the writer's SQLite time overlapping on another core nor cache or
GIL-handoff effects.

    python bench/instructions.py                       # cleanrl, stress, dqn; ~15 min on 2 cores
    python bench/instructions.py --cases cleanrl --steps 4000
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
STEPS = {"cleanrl": 4_000, "stress": 10_000, "dqn": 2_000}
_IREFS = re.compile(r"I\s+refs:\s+([\d,]+)")


def instructions(python: str, case: str, variant: str, steps: int) -> int:
    """Instructions of one child process of ``sb3_overhead.py`` run under callgrind (all threads)."""
    with tempfile.TemporaryDirectory(prefix="rltrack-instr-") as tmp:
        cmd = [
            "valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/callgrind.out",
            python, str(HERE / "sb3_overhead.py"), "--child", case, variant, str(steps), tmp, "1",
        ]
        env = {**os.environ, "PYTHONMALLOC": "malloc", "WANDB_MODE": "offline"}
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp)
    match = _IREFS.search(proc.stderr)
    if proc.returncode != 0 or match is None:
        raise RuntimeError(f"{case}/{variant} under callgrind failed:\n{proc.stderr[-2000:]}")
    return int(match.group(1).replace(",", ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="cleanrl,stress,dqn")
    parser.add_argument("--steps", type=int, default=None, help="N (default per case: " + str(STEPS) + ")")
    parser.add_argument("--jobs", type=int, default=2, help="callgrind runs at a time (counts do not mind)")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (apt-get install valgrind)")
    cases = args.cases.split(",")
    runs = [(c, v, n) for c in cases for v in ("none", "rltrack") for n in (1, 2)]
    with ThreadPoolExecutor(args.jobs) as pool:
        counts = dict(zip(runs, pool.map(
            lambda r: instructions(sys.executable, r[0], r[1], r[2] * (args.steps or STEPS[r[0]])), runs
        ), strict=True))
    print("| case | N steps | untracked instr/step | rltrack instr/step | rltrack − untracked | ratio |")
    print("|---|---|---|---|---|---|")
    for case in cases:
        n = args.steps or STEPS[case]
        per = {v: (counts[(case, v, 2)] - counts[(case, v, 1)]) / n for v in ("none", "rltrack")}
        print(f"| {case} | {n:,} | {per['none']:,.0f} | {per['rltrack']:,.0f} | "
              f"{per['rltrack'] - per['none']:+,.0f} | {per['rltrack'] / per['none']:.4f} |")


if __name__ == "__main__":
    main()
