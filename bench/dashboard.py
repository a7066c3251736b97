"""Dashboard and server benchmark: series latency (1M points), runs list (10,000 runs), HTTP ingest rate,
and the scale case: a project of 1,000 runs × 20 keys × 1,000 steps in chromium, beside trackio's dashboard.

Usage: python bench/dashboard.py [--points 1000000] [--runs 10000] [--ingest 2000000] [--repeat 7]
       python bench/dashboard.py --scale-only [--scale-runs 1000] [--no-trackio]   # the scale case alone

Everything runs against a real server (uvicorn on a loopback port) over a fresh store in a
temporary folder; times are medians over ``--repeat`` requests.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

import rltrack
from rltrack.remote import connect
from rltrack.remote.client import IngestClient
from rltrack.remote.wire import batch_to, new_run_to, who_to
from rltrack.server import ServerSettings
from rltrack.server.serve import BackgroundServer
from rltrack.store.chunks import pack
from rltrack.store.database import Database
from rltrack.store.writer import NewRun, StoreWriter, WriterInfo


def timed(fn, repeat: int) -> str:  # type: ignore[no-untyped-def]
    """Return "first / median of the rest" in ms: the first request reads the store, later ones hit the cache."""
    times = []
    for _ in range(repeat + 1):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return f"{times[0] * 1000:.0f} / {statistics.median(times[1:]) * 1000:.0f} ms"


def who() -> WriterInfo:
    return WriterInfo(host=os.uname().nodename, pid=os.getpid(), pid_started_ns=0, now_ns=time.time_ns())


def series_store(root: Path, points: int) -> str:
    run = rltrack.init(project="bench", name="million", dir=root, system_metrics=False)
    rng = np.random.default_rng(0)
    values = np.cumsum(rng.normal(size=points))
    for step in range(points):
        run.log({"train/loss": float(values[step])}, step=step)
    run.finish()
    return run.id


def many_runs(root: Path, n: int) -> None:
    store = StoreWriter(Database(root))
    for i in range(n):
        rid = f"r{i:06d}"
        store.create_run(NewRun(id=rid, project="sweep", name=f"trial-{i}", group="g", job_type=None, notes=None,
                                tags=("sweep",), config={"lr": 10 ** -(i % 5), "seed": i}, source="sim"), who())
        store.write(rid, "sim", summary={"reward": float(i % 97), "loss": 1.0 / (i + 1)})
        store.end(rid, "sim", state="finished", reason=None, exit_code=0, ended_ns=time.time_ns(), owner=True)


def page_render_ms(url: str) -> str:
    """Time from navigation to the run page's charts drawn, in Debian's chromium (second load: plotly cached)."""
    import shutil

    executable = shutil.which("chromium")
    if executable is None:
        return "n/a (no chromium)"
    from playwright.sync_api import sync_playwright

    times = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
        page = browser.new_page()
        for _ in range(3):
            start = time.perf_counter()
            page.goto(url)
            page.wait_for_selector("body[data-ready='1']", timeout=60_000)
            times.append(time.perf_counter() - start)
        browser.close()
    return f"{times[0] * 1000:.0f} / {statistics.median(times[1:]) * 1000:.0f} ms"


def ingest_rate(url: str, scalars: int) -> tuple[float, float]:
    """Return (packed batches over HTTP, end-to-end online run) in scalars per second."""
    client = IngestClient(url, None)
    client.send([{"id": "bench:create", "op": "create_run", "run": new_run_to(NewRun(
        id="ingest", project="bench", name="ingest", group=None, job_type=None, notes=None, tags=(), config={},
        source="sim")), "who": who_to(who())}])
    per_batch = 50_000
    batches = []
    for i, start in enumerate(range(0, scalars, per_batch)):
        steps = np.arange(start, min(scalars, start + per_batch), dtype=np.int64)
        batches.append({"id": f"bench:{i}", "op": "write", "run_id": "ingest", "source": "sim",
                        "batches": [batch_to(pack("sim", "x", steps, steps, steps.astype(np.float64)))]})
    start_t = time.perf_counter()
    for i in range(0, len(batches), 4):
        client.send(batches[i : i + 4])
    packed = scalars / (time.perf_counter() - start_t)
    client.close()

    spool = tempfile.mkdtemp(prefix="rltrack-bench-spool-")
    remote = connect(url, None, spool)
    from rltrack._run import Run

    remote.create_run(NewRun(id="online", project="bench", name="online", group=None, job_type=None, notes=None,
                             tags=(), config={}, source="sim"), who())
    run = Run(remote, id="online", name="online", project="bench", group=None, source="sim",
              run_dir=Path(spool) / "runs" / "online", config={}, summary={}, step=0, owner=True, metadata=None)
    keys = [f"k{j}" for j in range(10)]
    steps = scalars // len(keys)
    start_t = time.perf_counter()
    for step in range(steps):
        run.log(dict.fromkeys(keys, float(step)), step=step)
    run.finish()
    assert remote.wait(600)
    online = steps * len(keys) / (time.perf_counter() - start_t)
    remote.close()
    return packed, online


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--ingest", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--scale-only", action="store_true", help="run only the 1,000-run project case")
    parser.add_argument("--skip-scale", action="store_true", help="skip the 1,000-run project case")
    parser.add_argument("--scale-runs", type=int, default=1000)
    parser.add_argument("--scale-keys", type=int, default=20)
    parser.add_argument("--scale-steps", type=int, default=1000)
    parser.add_argument("--scale-timeout-s", type=float, default=180.0, help="give up on a page load after this")
    parser.add_argument("--no-trackio", action="store_true", help="time rltrack only (no trackio venv)")
    parser.add_argument("--trackio-venv", default=str(Path(__file__).parent / ".venv-trackio"),
                        help="venv trackio runs in (created with pip when missing; never the dev venv)")
    args = parser.parse_args()
    rows: list[tuple[str, str, str]] = []
    if not args.skip_scale:
        import _dashboard_scale

        _dashboard_scale.run_scale_case(args, rows)
    if args.scale_only:
        print_table(rows)
        return
    with tempfile.TemporaryDirectory(prefix="rltrack-bench-") as tmp:
        root = Path(tmp) / "store"
        t = time.perf_counter()
        run_id = series_store(root, args.points)
        print(f"logged {args.points:,} points in {time.perf_counter() - t:.1f} s", flush=True)
        t = time.perf_counter()
        many_runs(root, args.runs)
        print(f"created {args.runs:,} runs in {time.perf_counter() - t:.1f} s", flush=True)
        with BackgroundServer(ServerSettings(root=root, ingest=True)) as server, httpx.Client(timeout=60) as http:
            url = f"{server.url}/api/runs/{run_id}/series"
            body = http.get(url, params={"key": "train/loss"}).json()["series"]["train/loss"]
            ms = timed(lambda: http.get(url, params={"key": "train/loss", "x": "t_ns"}).raise_for_status(), args.repeat)
            rows.append((f"series API, {body['count']:,} points -> {len(body['value']):,}", ms, "< 200 ms"))
            rows.append(("run page in chromium, 1M-point chart drawn", page_render_ms(f"{server.url}/runs/{run_id}"),
                         "< 1000 ms"))
            zoom = {"key": "train/loss", "x_min": args.points // 4, "x_max": args.points // 2}
            ms = timed(lambda: http.get(url, params=zoom).raise_for_status(), args.repeat)
            rows.append(("series API, zoomed to a quarter", ms, "< 200 ms"))
            list_url = f"{server.url}/api/runs"
            ms = timed(lambda: http.get(list_url, params={"project": "sweep"}).raise_for_status(), args.repeat)
            rows.append((f"runs list, {args.runs:,} runs (with summaries)", ms, "< 1000 ms"))
            params = {"project": "sweep", "filter": "config.lr>=0.01", "sort": "-summary.reward"}
            ms = timed(lambda: http.get(list_url, params=params).raise_for_status(), args.repeat)
            rows.append((f"runs list, {args.runs:,} runs, filter + sort by summary", ms, "< 1000 ms"))
            packed, online = ingest_rate(server.url, args.ingest)
            rows.append((f"HTTP ingest, packed batches ({args.ingest:,} scalars)", f"{packed:,.0f} scalars/s", ""))
            rows.append((f"HTTP ingest, online run log() -> server ({args.ingest:,})", f"{online:,.0f} scalars/s",
                         ""))
    print_table(rows)


def print_table(rows: list[tuple[str, str, str]]) -> None:
    """Print the measures as one table (times: first or cold / median of the rest or warm)."""
    width = max(len(r[0]) for r in rows)
    print(f"\n{'measure (first or cold / median of the rest or warm)':<{width}}  {'result':>20}  target")
    for name, value, target in rows:
        print(f"{name:<{width}}  {value:>20}  {target}")


if __name__ == "__main__":
    main()
