#!/usr/bin/env python3
"""Logging overhead of rltrack vs trackio, wandb (offline), TensorBoard and MLflow (sqlite).

Prints one table, all trackers measured in the same invocation: medians over interleaved
rounds (the tracker order rotates each round), a fresh process per tracker per
measurement, ratios taken inside a round. Per tracker and round:

* micro: N x log(dict of 10 floats, step=i) (20,000 by default), each call timed with
  perf_counter_ns on the calling thread; then finish(), timed from the end of the loop
  ("readable after loop"), and a read-back in a fresh process with the tool's own reader;
* ingest: 2,000,000 scalars in dicts of 10 and of 100 keys as fast as possible, rate =
  scalars / (first log -> finish() returned); slow trackers stop at a time budget;
* time to first log: spawn -> import + init + first log returned (CLOCK_MONOTONIC).

All trackers run in one venv (default bench/.venv-peers) that this script creates:
torch==2.13.0 first (a CPU wheel), then the peers, then this repo editable. Everything
runs offline with telemetry off. See bench/README.md.

    python bench/log_overhead.py                 # everything, 3 rounds (~10 min on 2 cores)
    python bench/log_overhead.py --quick         # rltrack only, current interpreter (CI smoke)
    python bench/log_overhead.py --trackers rltrack,trackio --rounds 5 --json out.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _log_overhead_report as report  # noqa: E402
import _log_overhead_trackers as trk  # noqa: E402
import _log_overhead_venv as venv  # noqa: E402

CHILD = HERE / "_log_overhead_child.py"
REPO = HERE.parent


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 3; 1 with --quick)")
    p.add_argument("--calls", type=int, default=20_000, help="micro: log() calls per run (default 20000)")
    p.add_argument(
        "--mlflow-calls",
        type=int,
        default=2_000,
        help="micro calls for mlflow, ~4 ms each (default 2000; 20000 takes ~90 s per round)",
    )
    p.add_argument(
        "--trackers",
        default=",".join(trk.TRACKERS),
        help="comma-separated subset of " + ",".join(trk.TRACKERS),
    )
    p.add_argument("--quick", action="store_true", help="rltrack only, 1 round, smaller ingest, current interpreter")
    p.add_argument(
        "--ingest-scalars",
        type=int,
        default=None,
        help="scalars per ingest run (default 2000000; 500000 with --quick)",
    )
    p.add_argument("--ingest-budget-s", type=float, default=5.0, help="stop an ingest loop after this many seconds")
    p.add_argument("--skip", default="", help="comma-separated parts to skip: micro,ingest,ttfl")
    p.add_argument("--peers-venv", type=Path, default=None, help="venv for all trackers (default bench/.venv-peers)")
    p.add_argument("--python", default=None, help="run the children with this interpreter, no venv set-up")
    p.add_argument("--workdir", type=Path, default=None, help="where the stores go (default: a temp dir, removed)")
    p.add_argument("--keep", action="store_true", help="keep the workdir")
    p.add_argument("--json", type=Path, default=None, help="write every raw row and the summary here")
    p.add_argument(
        "--strict", action="store_true", help="exit 1 when a target fails (always exit 1 on errors/lost data)"
    )
    p.add_argument("--child-timeout-s", type=float, default=600.0)
    a = p.parse_args(argv)
    if a.quick:
        a.trackers = "rltrack"
        a.rounds = a.rounds or 1
        a.ingest_scalars = a.ingest_scalars or 500_000
    a.rounds = a.rounds or 3
    a.ingest_scalars = a.ingest_scalars or 2_000_000
    a.tracker_list = [t for t in a.trackers.split(",") if t]
    bad = [t for t in a.tracker_list if t not in trk.TRACKERS]
    if bad:
        p.error(f"unknown tracker(s) {bad}; pick from {','.join(trk.TRACKERS)}")
    return a


def _interpreter(a: argparse.Namespace) -> str:
    if a.python:
        return str(a.python)
    if a.tracker_list == ["rltrack"] and a.peers_venv is None:
        return sys.executable  # CI smoke: the dev/CI venv already has rltrack
    return str(venv.ensure_peers_venv(a.peers_venv or HERE / ".venv-peers", REPO))


class Runner:
    """Spawns one child per measurement and collects its JSON row."""

    def __init__(self, python: str, workdir: Path, timeout_s: float) -> None:
        self.python, self.workdir, self.timeout_s = python, workdir, timeout_s
        self.rows: list[dict[str, Any]] = []
        self.seq = 0

    def store(self, tracker: str) -> Path:
        path = self.workdir / tracker
        path.mkdir(parents=True, exist_ok=True)
        return path

    def spawn(self, mode: str, tracker: str, *rest: object) -> dict[str, Any]:
        """Run one child; return {rc, result, t_spawn_ns, t_exit_ns, load1, log}."""
        self.seq += 1
        store = self.store(tracker)
        out = self.workdir / "out" / f"{self.seq:05d}-{mode}-{tracker}.json"
        out.parent.mkdir(exist_ok=True)
        log = out.with_suffix(".log")
        env = {**os.environ, **trk.offline_env(str(store))}
        cmd = [self.python, str(CHILD), mode, str(out), tracker, str(store), *map(str, rest)]
        load1 = os.getloadavg()[0]
        with open(log, "w") as logf:
            t_spawn = time.monotonic_ns()
            proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, env=env, cwd=store)
            try:
                rc = proc.wait(timeout=self.timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                rc = proc.wait()
            t_exit = time.monotonic_ns()
        result = json.loads(out.read_text()) if rc == 0 and out.exists() else None
        if result is None:
            tail = log.read_text(errors="replace")[-1500:]
            print(f"\n!! {mode} {tracker} failed (rc={rc}); log {log}:\n{tail}", file=sys.stderr, flush=True)
        return {
            "rc": rc,
            "result": result,
            "t_spawn_ns": t_spawn,
            "t_exit_ns": t_exit,
            "load1": load1,
            "log": str(log),
        }

    def readback(self, tracker: str, run_id: str, keys: int, steps: int) -> dict[str, Any] | None:
        result: dict[str, Any] | None = self.spawn("readback", tracker, run_id, keys, steps)["result"]
        return result

    def micro(self, rnd: int, tracker: str, calls: int) -> None:
        r = self.spawn("micro", tracker, f"micro-r{rnd}-{self.seq}", calls)
        row = {"round": rnd, "tracker": tracker, "kind": "micro", **r}
        if r["result"]:
            row["exit_after_finish_s"] = (r["t_exit_ns"] - r["result"]["t_finish_ns"]) / 1e9
            row["readback"] = self.readback(tracker, r["result"]["run_id"], 10, calls)
        self.rows.append(row)
        self._progress(row)

    def ingest(self, rnd: int, tracker: str, scalars: int, keys: int, budget_s: float) -> None:
        r = self.spawn("ingest", tracker, f"ingest{keys}-r{rnd}-{self.seq}", scalars, keys, budget_s)
        row = {"round": rnd, "tracker": tracker, "kind": f"ingest{keys}", **r}
        if r["result"]:
            row["readback"] = self.readback(tracker, r["result"]["run_id"], keys, r["result"]["calls"])
        self.rows.append(row)
        self._progress(row)

    def ttfl(self, rnd: int, tracker: str, kind: str = "ttfl") -> None:
        r = self.spawn("ttfl", tracker, f"{kind}-r{rnd}-{self.seq}")
        row = {"round": rnd, "tracker": tracker, "kind": kind, **r}
        res = r["result"]
        if res:
            # The child's own harness imports (between its first line and the tracker's
            # import, ~5 ms) are the benchmark's, not the tracker's: left out of TTFL.
            row["harness_s"] = (res["t_harness_ns"] - res["t_start_ns"]) / 1e9
            row["ttfl_s"] = (res["t_first_log_ns"] - r["t_spawn_ns"]) / 1e9 - row["harness_s"]
            row["interp_s"] = (res["t_start_ns"] - r["t_spawn_ns"]) / 1e9
            row["import_s"] = (res["t_import_ns"] - res["t_harness_ns"]) / 1e9
            row["init_s"] = (res["t_init_ns"] - res["t_import_ns"]) / 1e9
            row["first_log_s"] = (res["t_first_log_ns"] - res["t_init_ns"]) / 1e9
        self.rows.append(row)
        self._progress(row)

    @staticmethod
    def _progress(row: dict[str, Any]) -> None:
        res = row["result"]
        if res is None:
            what = f"FAILED rc={row['rc']}"
        elif row["kind"] == "micro":
            back = row.get("readback") or {}
            what = (
                f"median {res['median_us']:.2f} µs p99 {res['p99_us']:.1f} µs "
                f"finish {res['finish_s']:.3f} s read back {back.get('points')}"
            )
        elif row["kind"].startswith("ingest"):
            what = f"{res['scalars_per_s']:,.0f} scalars/s ({res['scalars']:,} in {res['wall_s']:.2f} s)"
        else:
            what = f"TTFL {row['ttfl_s']:.3f} s"
        print(
            f"  r{row['round']} {row['kind']:<9} {row['tracker']:<11} {what}  [load {row['load1']:.2f}]",
            flush=True,
        )


def measure(a: argparse.Namespace, runner: Runner) -> None:
    """Run every round; the tracker order rotates each round."""
    skip = set(a.skip.split(",")) - {""}
    trackers = a.tracker_list
    if "ttfl" not in skip:
        for t in trackers:  # first run on an empty store: reported as "cold", not in the median
            runner.ttfl(-1, t, kind="ttfl_cold")
    for rnd in range(a.rounds):
        order = trackers[rnd % len(trackers) :] + trackers[: rnd % len(trackers)]
        print(f"round {rnd + 1}/{a.rounds}: {', '.join(order)}", flush=True)
        for t in order:
            if "micro" not in skip:
                runner.micro(rnd, t, a.mlflow_calls if t == "mlflow" else a.calls)
        for t in order:
            if "ingest" not in skip:
                for keys in (10, 100):
                    runner.ingest(rnd, t, a.ingest_scalars, keys, a.ingest_budget_s)
        for t in order:
            if "ttfl" not in skip:
                runner.ttfl(rnd, t)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the tables; return the exit status."""
    a = _args(argv)
    python = _interpreter(a)
    workdir = a.workdir or Path(tempfile.mkdtemp(prefix="rltrack-log-overhead-"))
    workdir.mkdir(parents=True, exist_ok=True)
    runner = Runner(python, workdir, a.child_timeout_s)
    load_before = os.getloadavg()
    started = datetime.datetime.now(datetime.timezone.utc)
    measure(a, runner)
    load_after = os.getloadavg()
    rows = runner.rows
    summary = report.summarize(rows, a.tracker_list)
    peers = [t for t in a.tracker_list if t != "rltrack"]
    targets, targets_ok = report.targets_table(summary, rows, peers)
    loads = [r["load1"] for r in rows]
    env_line = (
        f"{started:%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} CPUs, "
        f"{venv.versions(Path(python))}; "
        f"load avg (1/5/15 min) before {load_before[0]:.2f}/{load_before[1]:.2f}/{load_before[2]:.2f}, "
        f"after {load_after[0]:.2f}/{load_after[1]:.2f}/{load_after[2]:.2f}, "
        f"per child min/median/max {min(loads):.2f}/{sorted(loads)[len(loads) // 2]:.2f}/{max(loads):.2f}"
    )
    notes = [
        f"Medians over {a.rounds} interleaved round(s), fresh process per tracker per measurement; ",
        "× rltrack = median of (tracker ÷ rltrack) within a round. finish = readable after loop: end of the ",
        "timed loop → finish() returned; read back in a fresh process with the tool's own reader. ",
        f"Ingest: {a.ingest_scalars:,} scalars per run, first log → finish() returned; ",
        f"¹ = stopped at the {a.ingest_budget_s:g} s budget (rate counts what was logged). ",
        "TTFL: spawn → import + init + first log returned, on an existing store (median; ",
        "the harness's own imports in the child are left out); ",
        "cold store (first run): "
        + ", ".join(f"{t} {report._f(s['ttfl_cold_s'], '.3f')} s" for t, s in summary.items()),
    ]
    print()
    print(f"## Logging overhead ({env_line})\n")
    print(report.main_table(summary))
    print("\n" + "".join(notes) + "\n")
    print("### rltrack targets\n")
    print(targets)
    print("\n### micro runs (spread)\n")
    print(report.rounds_table(rows))
    errors = [f"{r['kind']} {r['tracker']} r{r['round']}" for r in rows if r["result"] is None]
    errors += [f"{t}: micro read back incomplete" for t, s in summary.items() if s["rounds"] and not s["readback_ok"]]
    if errors:
        print("\nERRORS: " + "; ".join(errors))
    if a.json:
        a.json.write_text(json.dumps({"env": env_line, "rows": rows, "summary": summary}, indent=1, default=str))
    if not a.keep and a.workdir is None and not errors:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"\nstores and child logs kept in {workdir}")
    return 1 if errors or (a.strict and not targets_ok) else 0


if __name__ == "__main__":
    sys.exit(main())
