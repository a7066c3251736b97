"""Team-server ingest and read: 8 online writer processes into ``rltrack server`` on PostgreSQL, on SQLite,
and into an MLflow tracking server on the same PostgreSQL, in one invocation.

    python bench/server.py                       # all three (creates bench/.venv-mlflow the first time)
    python bench/server.py --skip mlflow --quick # rltrack only, small (smoke)

What one configuration does:

- starts the server as a user would (``rltrack server --workers W [--db postgresql://...]`` /
  ``mlflow server --backend-store-uri postgresql://... --workers W``) on loopback;
- starts ``--writers`` processes (bench/_server_writer.py), waits until each has imported, connected
  and created its run, then releases them at once;
- rltrack writers call ``run.log(dict of --keys floats, step=i)`` ``--steps`` times, then ``finish()``
  (which returns once the server stored everything); MLflow writers call ``log_batch`` with 1,000
  metrics per call (MLflow's largest batch and its fastest way in) for ``--mlflow-budget-s``;
- aggregate scalars/s = all scalars / (first writer's start -> last writer's end), on CLOCK_MONOTONIC;
- ingest latency = duration of each ingest request (rltrack: every batch POST its background
  forwarder makes; MLflow: every log_batch), p50/p99 over all writers;
- stored = what the server holds afterwards (rltrack: its point counts; MLflow: metric history);
- series read (rltrack): one run logs ``--series-points`` points of one key, then
  ``GET /api/runs/{id}/series`` (the dashboard's chart call: 2,000 points downsampled with min/max/last)
  is timed: first call and the median of 10 more (a cache answers those), and once with 100,000 points.

The PostgreSQL cluster is a throwaway one (tests/pgcluster.py: initdb into a temp dir, fsync off, as in
the tests); both servers use it. The machine's load average is printed: these 2 cores are shared.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
import _server_venv  # noqa: E402

WRITER = HERE / "_server_writer.py"
ENV = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1", "PYTHONPATH": str(REPO)}


def _pg_cluster() -> Any:
    spec = importlib.util.spec_from_file_location("pgcluster", REPO / "tests" / "pgcluster.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    bindir = module.find_bindir()
    if bindir is None:
        raise SystemExit("PostgreSQL is not installed (no initdb): apt-get install postgresql")
    return module.PgCluster(bindir)


def _load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def _start_rltrack(root: Path, db_url: str | None, workers: int) -> tuple[subprocess.Popen[str], str]:
    args = ["server", "--dir", str(root), "--port", "0", "--workers", str(workers)]
    if db_url:
        args += ["--db", db_url]
    proc = subprocess.Popen([sys.executable, "-c", "from rltrack.cli import main; main()", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENV)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"(http://\S+?)/?\s", line)
    if not match:
        proc.kill()
        raise SystemExit(f"rltrack server did not start: {line}{proc.stdout.read()}")
    url = match.group(1)
    _drain(proc)
    _wait_http(f"{url}/api/projects")
    return proc, url


def _drain(proc: subprocess.Popen[str]) -> None:
    """Read a server's output on a thread: a full pipe would block the server mid-benchmark."""
    import threading

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "Traceback" in line or "ERROR" in line:
                print(f"  server: {line.rstrip()}", flush=True)

    threading.Thread(target=read, daemon=True).start()


def _start_mlflow(python: Path, db_url: str, workers: int, artifacts: Path) -> tuple[subprocess.Popen[str], str]:
    port = _free_port()
    mlflow = python.parent / "mlflow"
    proc = subprocess.Popen(
        [str(mlflow), "server", "--backend-store-uri", db_url, "--host", "127.0.0.1", "--port", str(port),
         "--workers", str(workers), "--default-artifact-root", artifacts.as_uri()],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENV,
    )
    url = f"http://127.0.0.1:{port}"
    _drain(proc)
    _wait_http(f"{url}/health", timeout_s=180, proc=proc)
    return proc, url


def _create_experiment(url: str) -> httpx.Response:
    """Create the MLflow experiment; a worker that is still setting up its database may drop the first tries."""
    for attempt in range(10):
        try:
            answer = httpx.post(f"{url}/api/2.0/mlflow/experiments/create", json={"name": "bench"}, timeout=60)
            answer.raise_for_status()
            return answer
        except httpx.HTTPError:
            if attempt == 9:
                raise
            time.sleep(1.0)
    raise AssertionError("unreachable")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_http(url: str, timeout_s: float = 120, proc: subprocess.Popen[str] | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"the server exited ({proc.returncode}) before answering {url}")
        try:
            if httpx.get(url, timeout=5).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)  # a bench harness waiting for a server to start, not a test waiting for data
    raise SystemExit(f"{url} did not answer within {timeout_s:.0f} s")


def _stop(proc: subprocess.Popen[str]) -> None:
    import signal

    proc.send_signal(signal.SIGINT)
    try:
        proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()


def _writers(python: str, kind: str, url: str, where: list[str], amount: str, keys: int) -> list[dict[str, Any]]:
    procs = [
        subprocess.Popen([python, str(WRITER), kind, url, w, f"writer-{n}", amount, str(keys)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
        for n, w in enumerate(where)
    ]
    for p in procs:  # every writer has imported, connected and created its run
        assert p.stdout is not None
        line = p.stdout.readline()
        if line.strip() != "ready":
            raise SystemExit(f"a {kind} writer failed to start: {line}{p.stderr.read() if p.stderr else ''}")
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    results = []
    for p in procs:
        out, err = p.communicate(timeout=1800)
        if p.returncode != 0:
            raise SystemExit(f"a {kind} writer failed ({p.returncode}): {err[-3000:]}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def _tree_cpu(pid: int | None, *, reaped: bool = False) -> dict[int, float]:
    """CPU seconds of a process and each live descendant, by pid; with ``reaped`` the root's reaped children too.

    PostgreSQL's backends exit with their connections, so their CPU is in the postmaster's reaped
    children; a server's helpers that exit meanwhile would bring their whole lifetime, so not there.
    """
    import psutil

    if pid is None:
        return {}
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return {}
    out: dict[int, float] = {}
    for proc in procs:
        try:
            t = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        own = (t.children_user + t.children_system) if (reaped and proc.pid == pid) else 0.0
        out[proc.pid] = t.user + t.system + own
    return out


def _cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU spent between two :func:`_tree_cpu` readings (a process new in ``after`` counts from its start)."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def _postmaster(cluster: Any) -> int | None:
    try:
        return int((Path(cluster.dir) / "data" / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _settle(pid: int, timeout_s: float = 90.0) -> None:
    """Wait until a server's process tree is idle (MLflow starts a job runner and 7 huey consumers after it
    answers, each importing MLflow for a CPU second): the writers then measure ingest, not start-up."""
    deadline = time.monotonic() + timeout_s
    before = _tree_cpu(pid)
    while time.monotonic() < deadline:
        time.sleep(1.0)
        after = _tree_cpu(pid)
        if _cpu_delta(before, after) < 0.1:
            return
        before = after


def _measured(name: str, run: Any, server_pid: int, pg_pid: int | None) -> dict[str, Any]:
    """Run the writers (``run()``), adding the CPU the server and PostgreSQL spent meanwhile."""
    _settle(server_pid)
    server0, pg0 = _tree_cpu(server_pid), _tree_cpu(pg_pid, reaped=True)
    results = run()
    row = _summary(name, results)
    row["server_cpu_s"] = _cpu_delta(server0, _tree_cpu(server_pid))
    row["pg_cpu_s"] = _cpu_delta(pg0, _tree_cpu(pg_pid, reaped=True))
    row["cpu_s"] = row["writer_cpu_s"] + row["server_cpu_s"] + row["pg_cpu_s"]
    return row


def _summary(name: str, results: list[dict[str, Any]]) -> dict[str, Any]:
    start = min(r["start"] for r in results)
    end = max(r["end"] for r in results)
    scalars = sum(r["scalars"] for r in results)
    stored = sum(r["stored"] for r in results)
    lat = sorted(x for r in results for x in r["latencies_s"])
    p = (lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000) if lat else (lambda q: float("nan"))
    return {"name": name, "writers": len(results), "scalars": scalars, "stored": stored, "seconds": end - start,
            "rate": scalars / (end - start), "requests": len(lat), "p50_ms": p(0.50), "p99_ms": p(0.99),
            "load": _load(), "writer_cpu_s": sum(r["cpu_s"] for r in results)}


def _series_read(url: str, spool: Path, points: int) -> dict[str, float]:
    """Log ``points`` values of one key through the server, then time the dashboard's series call."""
    code = (
        "import sys, rltrack\n"
        "run = rltrack.init(project='bench-read', name='long', mode='online', url=sys.argv[1], dir=sys.argv[2],"
        " system_metrics=False)\n"
        f"for i in range({points}):\n    run.log({{'long/value': float(i % 1000)}}, step=i)\n"
        "run.finish()\nprint(run.id)\n"
    )
    done = subprocess.run([sys.executable, "-c", code, url, str(spool)], capture_output=True, text=True, env=ENV,
                          timeout=1800)
    if done.returncode != 0:
        raise SystemExit(f"series writer failed: {done.stderr[-2000:]}")
    run_id = done.stdout.strip().splitlines()[-1]
    endpoint = f"{url}/api/runs/{run_id}/series"
    with httpx.Client(timeout=120) as http:
        count = http.get(f"{url}/api/runs/{run_id}/counts").json()["long/value"]
        assert count == points, f"the server holds {count} of {points} points"
        times = []
        for _ in range(11):
            t0 = time.perf_counter()
            answer = http.get(endpoint, params={"key": "long/value"})
            times.append(time.perf_counter() - t0)
            assert answer.status_code == 200 and answer.json()["series"]["long/value"]["count"] == points
        t0 = time.perf_counter()
        wide = http.get(endpoint, params={"key": "long/value", "max_points": 100_000})
        wide_s = time.perf_counter() - t0
        assert wide.status_code == 200
    return {"first_ms": times[0] * 1000, "warm_ms": statistics.median(times[1:]) * 1000, "wide_ms": wide_s * 1000}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--writers", type=int, default=8)
    ap.add_argument("--steps", type=int, default=25_000, help="log() calls per rltrack writer")
    ap.add_argument("--keys", type=int, default=20, help="floats per log() call / per MLflow step")
    ap.add_argument("--workers", type=int, default=2, help="server worker processes (rltrack and MLflow alike)")
    ap.add_argument("--series-points", type=int, default=1_000_000)
    ap.add_argument("--mlflow-budget-s", type=float, default=15.0, help="seconds each MLflow writer logs")
    ap.add_argument("--skip", default="", help="comma-separated: postgresql,sqlite,mlflow,read")
    ap.add_argument("--quick", action="store_true", help="small sizes (smoke)")
    ap.add_argument("--mlflow-venv", type=Path, default=HERE / ".venv-mlflow")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    a = ap.parse_args()
    if a.quick:
        a.steps, a.series_points, a.mlflow_budget_s = 2_000, 100_000, 3.0
    skip = set(filter(None, a.skip.split(",")))
    print(f"bench/server.py: {a.writers} writers x {a.steps:,} log() x {a.keys} keys; {a.workers} server workers; "
          f"{os.cpu_count()} CPUs, load {_load()}", flush=True)
    mlflow_python = None if "mlflow" in skip else _server_venv.ensure_mlflow_venv(a.mlflow_venv)
    work = Path(tempfile.mkdtemp(prefix="rltrack-server-bench-"))
    cluster = _pg_cluster()
    rows: list[dict[str, Any]] = []
    reads: dict[str, dict[str, float]] = {}
    try:
        for backend in ("postgresql", "sqlite"):
            if backend in skip:
                continue
            db_url = cluster.new_database() if backend == "postgresql" else None
            proc, url = _start_rltrack(work / f"srv-{backend}", db_url, a.workers)
            try:
                print(f"rltrack on {backend}: {url}", flush=True)
                spools = [str(work / f"spool-{backend}-{n}") for n in range(a.writers)]
                rows.append(_measured(
                    f"rltrack / {backend}",
                    lambda: _writers(sys.executable, "rltrack", url, spools, str(a.steps), a.keys),  # noqa: B023
                    proc.pid, _postmaster(cluster) if db_url else None,
                ))
                print(f"  {rows[-1]['rate']:,.0f} scalars/s", flush=True)
                if "read" not in skip:
                    reads[backend] = _series_read(url, work / f"spool-read-{backend}", a.series_points)
                    print(f"  series read: {reads[backend]}", flush=True)
            finally:
                _stop(proc)
        if mlflow_python is not None:
            import psycopg

            with psycopg.connect(cluster.admin_url, autocommit=True) as conn:
                conn.execute("CREATE DATABASE mlflow")
            mlflow_db = cluster.admin_url.rsplit("/", 1)[0] + "/mlflow"
            proc, url = _start_mlflow(mlflow_python, mlflow_db, a.workers, work / "mlflow-artifacts")
            try:
                print(f"mlflow on postgresql: {url}", flush=True)
                exp = _create_experiment(url)
                experiment = [str(exp.json()["experiment_id"])] * a.writers
                rows.append(_measured(
                    "mlflow / postgresql",
                    lambda: _writers(str(mlflow_python), "mlflow", url, experiment, str(a.mlflow_budget_s), a.keys),
                    proc.pid, _postmaster(cluster),
                ))
                print(f"  {rows[-1]['rate']:,.0f} scalars/s", flush=True)
            finally:
                _stop(proc)
    finally:
        cluster.stop()
        shutil.rmtree(work, ignore_errors=True)
    _report(rows, reads, a)


def _report(rows: list[dict[str, Any]], reads: dict[str, dict[str, float]], a: argparse.Namespace) -> None:
    print()
    print("| server / store | writers | scalars | stored | s | scalars/s | requests | p50 ms | p99 ms "
          "| CPU s writers/server/PG | scalars per CPU s | load |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        print(f"| {r['name']} | {r['writers']} | {r['scalars']:,} | {r['stored']:,} | {r['seconds']:.1f} | "
              f"{r['rate']:,.0f} | {r['requests']:,} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
              f"{r['writer_cpu_s']:.1f}/{r['server_cpu_s']:.1f}/{r['pg_cpu_s']:.1f} | "
              f"{r['scalars'] / max(r['cpu_s'], 1e-9):,.0f} | {r['load']} |")
    if reads:
        print()
        print(f"| series read ({a.series_points:,} points, GET /api/runs/ID/series) | first ms "
              "| warm ms (median of 10) | 100,000-point answer ms |")
        print("|---|---:|---:|---:|")
        for backend, r in reads.items():
            print(f"| rltrack / {backend} | {r['first_ms']:.0f} | {r['warm_ms']:.1f} | {r['wide_ms']:.0f} |")
    by = {r["name"]: r for r in rows}
    print()
    pg = by.get("rltrack / postgresql")
    if pg:
        print(f"target >= 1,000,000 scalars/s with {a.writers} writers on PostgreSQL: {pg['rate']:,.0f} -> "
              f"{'met' if pg['rate'] >= 1e6 else 'NOT met'}")
        if "mlflow / postgresql" in by:
            ratio = pg["rate"] / by["mlflow / postgresql"]["rate"]
            print(f"target >= 10x MLflow's ingest: {ratio:,.1f}x -> {'met' if ratio >= 10 else 'NOT met'}")
    if "postgresql" in reads:
        first = reads["postgresql"]["first_ms"]
        print(f"target series read <= 200 ms (PostgreSQL, first call): {first:.0f} ms -> "
              f"{'met' if first <= 200 else 'NOT met'}")
    lost = [r["name"] for r in rows if r["stored"] != r["scalars"]]
    print("stored == logged for every server" if not lost else f"LOST OR SHORT: {lost}")
    if a.json:
        a.json.write_text(json.dumps({"rows": rows, "reads": reads}, indent=2))


if __name__ == "__main__":
    main()
