#!/usr/bin/env python3
"""Where rltrack's logging time goes: a diagnostic companion to bench/log_overhead.py.

Each part runs in fresh processes (``--runs`` of them) and prints the minimum, the value
least disturbed by other people's jobs on a shared machine:

* import: ``python -X importtime -c "import rltrack"``, the slowest modules;
* init: phases of ``rltrack.init()`` (store open, create_run, writer thread, system metrics);
* flush: one 20,000 x 10-float flush split into the numpy import (paid by the writer's
  first cycle), ``_to_batches`` (Python -> packed arrays) and ``StoreWriter.write`` (SQLite);
* kick: share of ``log()`` calls that go through ``BackgroundWriter.kick`` while the queue
  is past the wake-up threshold (each one sets a ``threading.Event``).

It wraps private functions of rltrack (``rltrack._run``, ``rltrack._writer``,
``rltrack.store``) to time them, so it follows their names; it is a diagnostic, not a test.

    python bench/log_overhead_profile.py              # with the current interpreter
    python bench/log_overhead_profile.py --runs 7 --python bench/.venv-peers/bin/python
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

_INIT = r"""
import sys, time
T = time.perf_counter
t0 = T()
import rltrack
t_import = T() - t0
from rltrack import _run, _session
from rltrack.store import database, writer
acc = {}
def wrap(owner, name, label):
    orig = getattr(owner, name)
    def timed(*a, **kw):
        t = T()
        try:
            return orig(*a, **kw)
        finally:
            acc[label] = acc.get(label, 0.0) + T() - t
    setattr(owner, name, timed)
wrap(database.Database, "__init__", "open store")
wrap(writer.StoreWriter, "create_run", "create_run")
wrap(_run.Run, "__init__", "Run() + writer thread")
wrap(_run.Run, "_start_system_metrics", "system metrics start")
t1 = T()
run = rltrack.init(project="profile", name="init", dir=sys.argv[1])
t_init = T() - t1
t2 = T()
run.log({f"train/m{k:02d}": 1.0 for k in range(10)}, step=0)
t_log = T() - t2
import json
print("RESULT", json.dumps({"import": t_import, "init": t_init, "first log": t_log, **acc}))
run.finish()
"""

_FLUSH = r"""
import sys, time
T = time.perf_counter
import rltrack
n, preload = int(sys.argv[2]), sys.argv[3] == "1"
if preload:
    import numpy
run = rltrack.init(project="profile", name="flush", dir=sys.argv[1], system_metrics=False)
w = run._writer
acc = {"_to_batches": 0.0, "StoreWriter.write": 0.0, "kick calls": 0}
def wrap(owner, name, label):
    orig = getattr(owner, name)
    def timed(*a, **kw):
        t = T()
        try:
            return orig(*a, **kw)
        finally:
            acc[label] += T() - t
    setattr(owner, name, timed)
wrap(w, "_to_batches", "_to_batches")
wrap(w._store, "write", "StoreWriter.write")
orig_kick = w.kick
def kick():
    acc["kick calls"] += 1
    orig_kick()
w.kick = kick
time.sleep(0.3)  # the writer's start-up (metadata) is not part of the flush
data = [{f"train/m{k:02d}": i * 0.5 + k for k in range(10)} for i in range(n)]
log = run.log
t0 = T()
for i in range(n):
    log(data[i], step=i)
t1 = T()
run.finish()
import json
print("RESULT", json.dumps({"loop": t1 - t0, "finish": T() - t1, **acc}))
"""


def _child(python: str, code: str, *args: str) -> dict[str, float]:
    out = subprocess.run([python, "-c", code, *args], capture_output=True, text=True, cwd=tempfile.gettempdir())
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            result: dict[str, float] = json.loads(line[7:])
            return result
    raise RuntimeError(f"profile child failed:\n{out.stderr[-2000:]}")


def _mins(rows: list[dict[str, float]]) -> dict[str, float]:
    return {k: min(r[k] for r in rows) for k in rows[0]}


def import_part(python: str, runs: int, top: int) -> None:
    """Print the slowest modules of ``import rltrack`` (min cumulative over ``runs``)."""
    best: dict[str, tuple[int, int]] = {}
    for _ in range(runs):
        err = subprocess.run([python, "-X", "importtime", "-c", "import rltrack"], capture_output=True, text=True)
        for line in err.stderr.splitlines():
            m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
            if m:
                own, cum, name = int(m[1]), int(m[2]), m[4]
                old = best.get(name, (own, cum))
                best[name] = (min(old[0], own), min(old[1], cum))
    print(f"\n## import rltrack: {best.get('rltrack', (0, 0))[1] / 1000:.1f} ms (min of {runs})\n")
    print("| module | cumulative ms | self ms |\n|---|---|---|")
    for name, (own, cum) in sorted(best.items(), key=lambda kv: -kv[1][1])[:top]:
        print(f"| {name} | {cum / 1000:.1f} | {own / 1000:.1f} |")


def main() -> None:
    """Run the parts and print one small table each."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--python", default=sys.executable)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--top", type=int, default=20)
    a = p.parse_args()
    a.python = os.path.abspath(a.python) if os.sep in a.python else a.python  # children run in a temp dir
    import_part(a.python, a.runs, a.top)
    store = tempfile.mkdtemp(prefix="rltrack-profile-")
    _child(a.python, _INIT, store)  # creates the store: the measured runs see an existing one
    init = _mins([_child(a.python, _INIT, store) for _ in range(a.runs)])
    print(f"\n## init phases (ms, min of {a.runs}; system metrics start includes GIL waits on the writer thread)\n")
    print("| " + " | ".join(init) + " |\n|" + "---|" * len(init))
    print("| " + " | ".join(f"{v * 1e3:.1f}" for v in init.values()) + " |")
    print(f"\n## 20,000 x log(10 floats) then finish() (s, min of {a.runs})\n")
    for preload in ("0", "1"):
        flush = _mins([_child(a.python, _FLUSH, store, "20000", preload) for _ in range(a.runs)])
        label = "numpy already imported" if preload == "1" else "as shipped (writer imports numpy)"
        shown = (f"{k} {v:.0f}" if k == "kick calls" else f"{k} {v:.3f}" for k, v in flush.items())
        print(f"- {label}: " + ", ".join(shown))


if __name__ == "__main__":
    main()
