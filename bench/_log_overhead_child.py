"""One measurement in a fresh process, started by bench/log_overhead.py.

Usage: ``python _log_overhead_child.py MODE OUT_JSON TRACKER STORE [ARGS...]``

Modes:
  ttfl                         import + init + first log, each phase stamped
  micro CALLS                  CALLS x log(dict of 10 floats, step=i), each call timed
  ingest SCALARS KEYS BUDGET_S log SCALARS scalars in dicts of KEYS keys as fast as possible
  readback RUN_ID KEYS STEPS   read the run back with the tracker's own reader

Cross-process stamps use ``time.monotonic_ns`` (CLOCK_MONOTONIC, one clock for the whole
machine), so the parent can measure from just before it spawned this process. Per-call
timings use ``perf_counter_ns`` on the calling thread. The top of this file imports only
``sys`` and ``time`` so that time to first log charges the tracker, not this harness.
"""

from __future__ import annotations

import sys
import time

T_START_NS = time.monotonic_ns()


def key_names(n: int) -> list[str]:
    """Return the benchmark's metric names: ``train/m00`` .. (slash-separated like SB3's)."""
    return [f"train/m{k:02d}" for k in range(n)]


def _dicts(count: int, keys: list[str], offset: int = 0) -> list[dict[str, float]]:
    return [{key: (offset + i) * 0.5 + k for k, key in enumerate(keys)} for i in range(count)]


def _write(out: str, result: dict[str, object]) -> None:
    import json

    with open(out, "w") as f:
        json.dump(result, f)


def mode_ttfl(tracker: str, store: str, run_name: str) -> dict[str, object]:
    """Import, init and log once; stamp each phase."""
    import _log_overhead_trackers as trk

    t_harness = time.monotonic_ns()
    trk.import_tracker(tracker)
    t_import = time.monotonic_ns()
    started = trk.start(tracker, store, run_name)
    t_init = time.monotonic_ns()
    started.log({key: 1.0 for key in key_names(10)}, step=0)
    t_first = time.monotonic_ns()
    started.finish()
    t_finish = time.monotonic_ns()
    return {
        "t_start_ns": T_START_NS,
        "t_harness_ns": t_harness,
        "t_import_ns": t_import,
        "t_init_ns": t_init,
        "t_first_log_ns": t_first,
        "t_finish_ns": t_finish,
        "run_id": started.run_id,
    }


def _percentile(sorted_ns: list[int], q: float) -> float:
    return sorted_ns[min(len(sorted_ns) - 1, int(q * (len(sorted_ns) - 1) + 0.5))] / 1000.0


def mode_micro(tracker: str, store: str, run_name: str, calls: int) -> dict[str, object]:
    """Time ``calls`` calls of log(dict of 10 floats, step=i) one by one."""
    import gc
    from time import perf_counter_ns

    import _log_overhead_trackers as trk

    started = trk.start(tracker, store, run_name)
    t_init = time.monotonic_ns()
    data = _dicts(calls, key_names(10))  # built before the timed loop, one dict per step
    log = started.log
    lat = [0] * calls
    gc.collect()
    cpu0 = time.process_time()
    t_loop0 = time.monotonic_ns()
    for i in range(calls):
        d = data[i]
        t0 = perf_counter_ns()
        log(d, step=i)
        lat[i] = perf_counter_ns() - t0
    t_loop1 = time.monotonic_ns()
    cpu1 = time.process_time()
    started.finish()
    t_fin = time.monotonic_ns()
    cpu2 = time.process_time()
    lat.sort()
    return {
        "run_id": started.run_id,
        "calls": calls,
        "median_us": _percentile(lat, 0.5),
        "p90_us": _percentile(lat, 0.9),
        "p99_us": _percentile(lat, 0.99),
        "p999_us": _percentile(lat, 0.999),
        "max_us": lat[-1] / 1000.0,
        "mean_us": sum(lat) / calls / 1000.0,
        "calls_over_1ms": sum(1 for x in lat if x > 1_000_000),
        "init_s": (t_init - T_START_NS) / 1e9,
        "loop_s": (t_loop1 - t_loop0) / 1e9,
        "loop_cpu_s": cpu1 - cpu0,
        "finish_s": (t_fin - t_loop1) / 1e9,
        "finish_cpu_s": cpu2 - cpu1,
        "t_finish_ns": t_fin,
        "t_start_ns": T_START_NS,
    }


def mode_ingest(tracker: str, store: str, run_name: str, scalars: int, keys: int, budget_s: float) -> dict[str, object]:
    """Log ``scalars`` scalars in dicts of ``keys`` keys as fast as possible, then finish.

    Slow trackers stop at ``budget_s`` seconds of logging; the rate counts what they logged.
    """
    import _log_overhead_trackers as trk

    started = trk.start(tracker, store, run_name)
    pool = _dicts(1000, key_names(keys))  # never mutated, so reusing a dict object is safe
    log = started.log
    calls = scalars // keys
    deadline = time.monotonic_ns() + int(budget_s * 1e9)
    monotonic_ns = time.monotonic_ns
    cpu0 = time.process_time()
    t0 = monotonic_ns()
    i = 0
    while i < calls:
        end = min(calls, i + 64)  # check the budget every 64 calls: cheap, and slow trackers stop on time
        for j in range(i, end):
            log(pool[j % 1000], step=j)
        i = end
        if monotonic_ns() > deadline:
            break
    t_loop = monotonic_ns()
    started.finish()
    t_fin = monotonic_ns()
    cpu1 = time.process_time()
    return {
        "run_id": started.run_id,
        "keys": keys,
        "calls": i,
        "scalars": i * keys,
        "loop_s": (t_loop - t0) / 1e9,
        "finish_s": (t_fin - t_loop) / 1e9,
        "wall_s": (t_fin - t0) / 1e9,
        "cpu_s": cpu1 - cpu0,
        "scalars_per_s": i * keys / ((t_fin - t0) / 1e9),
        "capped": i < calls,
    }


def mode_readback(tracker: str, store: str, run_id: str, keys: int, steps: int) -> dict[str, object]:
    """Read the run back in this fresh process and count what arrived."""
    import _log_overhead_trackers as trk

    t0 = time.monotonic_ns()
    got = trk.read_back(tracker, store, run_id, key_names(keys))
    t1 = time.monotonic_ns()
    expected = list(range(steps))
    points = sum(len(v) for v in got.values())
    return {
        "points": points,
        "expected": keys * steps,
        "steps_ok": all(v == expected for v in got.values()),
        "readback_s": (t1 - t0) / 1e9,
    }


def main(argv: list[str]) -> None:
    """Dispatch one mode and write its JSON result to OUT_JSON."""
    mode, out, tracker, store, *rest = argv
    if mode == "ttfl":
        result = mode_ttfl(tracker, store, rest[0])
    elif mode == "micro":
        result = mode_micro(tracker, store, rest[0], int(rest[1]))
    elif mode == "ingest":
        result = mode_ingest(tracker, store, rest[0], int(rest[1]), int(rest[2]), float(rest[3]))
    elif mode == "readback":
        result = mode_readback(tracker, store, rest[0], int(rest[1]), int(rest[2]))
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    _write(out, result)


if __name__ == "__main__":
    main(sys.argv[1:])
