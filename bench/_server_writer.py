"""One writer process of bench/server.py: online ``log()`` into an rltrack server, or ``log_batch`` into MLflow.

Usage: ``_server_writer.py rltrack URL SPOOL_DIR NAME STEPS KEYS`` or
``_server_writer.py mlflow URL EXPERIMENT_ID NAME BUDGET_S KEYS``.

It sets up (imports, connects, creates its run), prints ``ready``, waits for a line on stdin (the
parent's start signal, so all writers start together), logs, and prints one JSON line: ``start``
and ``end`` on ``time.monotonic()`` (CLOCK_MONOTONIC: one clock for every process of the host),
``scalars`` stored, ``cpu_s`` (this process, every thread, start to end) and ``latencies_s``: the
time of every ingest request (rltrack: each batch POST the background forwarder makes, measured
around ``IngestClient.send``; MLflow: each ``log_batch``).
rltrack's ``end`` is when ``finish()`` returned, i.e. the server has stored everything; the server's
point counts are then read back and reported as ``stored``.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from typing import Any


def _cpu_s() -> float:
    """CPU seconds of this process so far, every thread (the forwarder's included)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _rltrack(url: str, spool: str, name: str, steps: int, keys: int) -> dict[str, Any]:
    import httpx

    import rltrack
    from rltrack.remote import client

    latencies: list[float] = []
    send = client.IngestClient.send

    def timed(self: Any, batches: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return send(self, batches)
        finally:
            latencies.append(time.perf_counter() - t0)

    client.IngestClient.send = timed  # type: ignore[method-assign]  # the bench's probe, not rltrack's code
    run = rltrack.init(project="bench", name=name, mode="online", url=url, dir=spool, system_metrics=False)
    names = [f"metric/{k:03d}" for k in range(keys)]
    rows = [dict.fromkeys(names, float(i)) for i in range(256)]  # built before the clock starts
    print("ready", flush=True)
    sys.stdin.readline()
    cpu0, start = _cpu_s(), time.monotonic()
    for step in range(steps):
        run.log(rows[step & 255], step=step)
    run.finish()
    end, cpu = time.monotonic(), _cpu_s() - cpu0
    counts = httpx.get(f"{url}/api/runs/{run.id}/counts", params={"source": "sim"}, timeout=60).json()
    stored = sum(int(counts.get(n, 0)) for n in names)
    return {"start": start, "end": end, "scalars": steps * keys, "stored": stored, "latencies_s": latencies,
            "run_id": run.id, "cpu_s": cpu}


def _mlflow(url: str, experiment_id: str, name: str, budget_s: float, keys: int) -> dict[str, Any]:
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=url)
    run_id = client.create_run(experiment_id, run_name=name).info.run_id
    per_call = max(1, 1000 // keys)  # MLflow takes at most 1,000 metrics per log_batch
    print("ready", flush=True)
    sys.stdin.readline()
    latencies: list[float] = []
    cpu0, start = _cpu_s(), time.monotonic()
    step = 0
    scalars = 0
    while time.monotonic() - start < budget_s:
        now = int(time.time() * 1000)
        batch = [Metric(f"metric/{k:03d}", float(s), now, s) for s in range(step, step + per_call) for k in range(keys)]
        t0 = time.perf_counter()
        client.log_batch(run_id, metrics=batch)
        latencies.append(time.perf_counter() - t0)
        step += per_call
        scalars += len(batch)
    end, cpu = time.monotonic(), _cpu_s() - cpu0
    client.set_terminated(run_id)
    stored = len(client.get_metric_history(run_id, "metric/000")) * keys
    return {"start": start, "end": end, "scalars": scalars, "stored": stored, "latencies_s": latencies,
            "run_id": run_id, "cpu_s": cpu}


def main() -> None:
    kind, url, where, name, amount, keys = sys.argv[1:7]
    if kind == "rltrack":
        result = _rltrack(url, where, name, int(amount), int(keys))
    else:
        result = _mlflow(url, where, name, float(amount), int(keys))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
