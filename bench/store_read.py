"""Read speed of the embedded store: one key with N points, whole series and history columns.

    python bench/store_read.py [--points 1000000] [--repeats 5]

Prints a table of medians (fresh reader per repeat, so no cache is reused) and the target
from the core issue: one key with 1M points reads in < 0.5 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import numpy as np

import rltrack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    store = tempfile.mkdtemp(prefix="rltrack-bench-read-")
    run = rltrack.init(project="bench", dir=store, system_metrics=False)
    t0 = time.perf_counter()
    log = run.log
    for i, value in enumerate(np.random.default_rng(0).normal(size=args.points).tolist()):
        log({"signal": value}, step=i)
    run.finish()
    write_s = time.perf_counter() - t0

    rows = []
    for label, read in (
        ("series(key)", lambda view: view.series("signal")),
        ("history([key])", lambda view: view.history(["signal"])),
    ):
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            view = rltrack.Api(store).run(run.id)
            steps, *_ = read(view) if label.startswith("series") else (read(view)["step"],)
            times.append(time.perf_counter() - start)
            assert len(steps) == args.points
        rows.append((label, statistics.median(times), min(times)))

    print(f"load average {os.getloadavg()[0]:.2f}; {args.points:,} points logged and finished in {write_s:.2f} s")
    print("| read | median s | min s | target |")
    print("|---|---|---|---|")
    for label, median, best in rows:
        verdict = "PASS" if median < 0.5 else "FAIL"
        print(f"| {label} | {median:.3f} | {best:.3f} | < 0.5 s {verdict} |")


if __name__ == "__main__":
    main()
