#!/usr/bin/env python3
"""log() cost inside a Jupyter kernel with the live panel on vs off (issue 13).

Starts a real ipykernel through nbclient (as a notebook runs), then in that kernel times
``log(dict of 10 floats)`` call by call with perf_counter_ns, alternating rounds with the
panel on (``quiet=False``: init() shows it) and off (``quiet=True``). Prints the median and
p99 per call and the loop's wall time per round, and the medians over rounds.

    .venv/bin/python bench/notebook_panel.py [--calls 20000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import textwrap

import nbclient
import nbformat

CELL = """
import json, os, statistics, time
import rltrack
from rltrack._nbpanel import panel_of
results = []
for r in range({rounds}):
    for quiet in ((False, True) if r % 2 == 0 else (True, False)):
        run = rltrack.init(dir={store!r}, quiet=quiet, system_metrics=False)
        keys = [f"k{{j}}" for j in range(10)]
        times = []
        start = time.perf_counter_ns()
        for i in range({calls}):
            data = {{k: i * 0.5 + j for j, k in enumerate(keys)}}
            t0 = time.perf_counter_ns()
            run.log(data, step=i)
            times.append(time.perf_counter_ns() - t0)
        wall = time.perf_counter_ns() - start
        panel = panel_of(run)
        updates = panel.updates if panel else 0
        run.finish()
        times.sort()
        results.append({{"panel": not quiet, "median_ns": times[len(times) // 2],
                         "p99_ns": times[int(len(times) * 0.99)], "loop_ms": wall / 1e6, "updates": updates}})
print(json.dumps(results))
"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--calls", type=int, default=20_000)
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as store:
        nb = nbformat.v4.new_notebook()
        code = CELL.format(rounds=args.rounds, calls=args.calls, store=store)
        nb.cells = [nbformat.v4.new_code_cell(textwrap.dedent(code))]
        nbclient.NotebookClient(nb, timeout=600, kernel_name="python3").execute()
        text = [o["text"] for o in nb.cells[0].outputs if o.get("name") == "stdout"][-1]
    results = json.loads(text)
    print(f"{'panel':>6} {'median ns':>10} {'p99 ns':>8} {'loop ms':>8} {'updates':>8}")
    for r in results:
        print(f"{'on' if r['panel'] else 'off':>6} {r['median_ns']:>10} {r['p99_ns']:>8} {r['loop_ms']:>8.1f} "
              f"{r['updates']:>8}")
    for on in (True, False):
        rows = [r for r in results if r["panel"] is on]
        median = statistics.median(r["median_ns"] for r in rows)
        p99 = statistics.median(r["p99_ns"] for r in rows)
        loop = statistics.median(r["loop_ms"] for r in rows)
        label = "on " if on else "off"
        print(f"panel {label}: median {median:.0f} ns/call, p99 {p99:.0f} ns, loop {loop:.1f} ms (medians of rounds)")


if __name__ == "__main__":
    main()
