"""The dashboard's scale case: a project of 1,000 runs × 20 keys × 1,000 steps, rltrack beside trackio.

Both dashboards serve the same values (``_dashboard_trackio.curves``) in the same invocation and
are timed in the same chromium: a fresh browser per measure (cold: nothing cached), then one
reload (warm). Two measures per dashboard:

- *interactive*: the project page's run list and panel grid are laid out (rltrack: the page sets
  ``body[data-interactive]``; trackio: its first ``.plot-container`` exists).
- *charts drawn*: every panel in the first screen shows its lines (rltrack: ``body[data-ready]``,
  set when the on-screen panels are drawn; trackio: every on-screen ``.plot-container`` holds a
  rendered vega canvas or svg).

rltrack's project page shows the 50 newest runs by default; trackio selects every run, so trackio
is timed twice: as it opens (all 1,000 runs) and with the same 50 runs picked by its ``runs=`` URL
parameter. trackio runs in its own venv (``bench/.venv-trackio``, created here with pip; never the
dev venv), filled through trackio's own bulk writer.
"""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _dashboard_trackio as data  # noqa: E402  # the shared values and trackio's side

TRACKIO = "trackio==0.43.0"
QUIET = {"PIP_DISABLE_PIP_VERSION_CHECK": "1", "DO_NOT_TRACK": "1", "HF_HUB_OFFLINE": "1",
         "HF_HUB_DISABLE_TELEMETRY": "1", "GRADIO_ANALYTICS_ENABLED": "False", "TRACKIO_SQLITE_SYNCHRONOUS": "off"}
RLTRACK_INTERACTIVE = "() => document.body?.dataset.interactive === '1'"
RLTRACK_DRAWN = "() => document.body?.dataset.ready === '1'"
TRACKIO_INTERACTIVE = "() => document.querySelectorAll('.plot-container').length > 0"
TRACKIO_DRAWN = """() => {
  const shown = [...document.querySelectorAll('.plot-container')].filter((c) => {
    const r = c.getBoundingClientRect(); return r.height > 0 && r.top < innerHeight && r.bottom > 0; });
  return shown.length > 0 && shown.every((c) => c.querySelector('.plot canvas, .plot svg'));
}"""


def ensure_trackio_venv(venv: Path) -> Path:
    """Create ``venv`` with trackio (pinned) unless it already imports; return its interpreter."""
    python = venv / "bin" / "python"
    env = {**os.environ, **QUIET}
    ok = python.exists() and subprocess.run([str(python), "-c", "import trackio, numpy"], env=env,
                                            capture_output=True).returncode == 0
    if not ok:
        print(f"trackio venv: installing {TRACKIO} into {venv}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", TRACKIO, "numpy"], check=True, env=env)
    return python


def fill_rltrack(root: Path, runs: int, keys: int, steps: int) -> None:
    """Store the scale project through rltrack's store writer: one chunk per run and key, as a flush makes."""
    from rltrack.store.chunks import pack
    from rltrack.store.database import Database
    from rltrack.store.writer import NewRun, StoreWriter, WriterInfo

    store = StoreWriter(Database(root))
    names = data.key_names(keys)
    step_ids = np.arange(steps, dtype=np.int64)
    for i in range(runs):
        rid = f"r{i:06d}"
        now = time.time_ns()
        who = WriterInfo(host=os.uname().nodename, pid=os.getpid(), pid_started_ns=0, now_ns=now)
        store.create_run(NewRun(id=rid, project="scale", name=data.run_name(i), group=None, job_type=None, notes=None,
                                tags=(), config={"lr": 10 ** -(i % 5), "seed": i}, source="sim"), who)
        values = data.curves(i, keys, steps)
        t_ns = now + step_ids * 1_000_000
        batches = [pack("sim", name, step_ids, t_ns, values[j]) for j, name in enumerate(names)]
        store.write(rid, "sim", batches=batches, summary={n: float(values[j, -1]) for j, n in enumerate(names)})
        store.end(rid, "sim", state="finished", reason=None, exit_code=0, ended_ns=time.time_ns(), owner=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def time_page(url: str, checks: dict[str, str], timeout_s: float, loads: int = 2) -> dict[str, list[float | None]]:
    """Open ``url`` in a fresh chromium ``loads`` times (first cold); return seconds until each check holds."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    out: dict[str, list[float | None]] = {name: [] for name in checks}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        for _ in range(loads):
            start = time.perf_counter()
            page.goto(url, wait_until="commit", timeout=int(timeout_s * 1000))
            for name, check in checks.items():
                left = timeout_s - (time.perf_counter() - start)
                try:
                    page.wait_for_function(check, timeout=max(1, int(left * 1000)), polling=50)
                    out[name].append(time.perf_counter() - start)
                except PlaywrightTimeout:
                    out[name].append(None)
        browser.close()
    return out


def fmt(times: list[float | None], timeout_s: float) -> str:
    """Return "cold / warm" in seconds (``> N s`` for a load that never got there)."""
    def one(t: float | None) -> str:
        return f"> {timeout_s:.0f} s" if t is None else f"{t:.2f} s"

    warm = [t for t in times[1:] if t is not None]
    rest = one(statistics.median(warm)) if warm else one(None) if times[1:] else "-"
    return f"{one(times[0])} / {rest}"


def check_rltrack_page(url: str) -> int:
    """Return how many runs the first panel of rltrack's workspace draws (the page must show 50)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), headless=True,
                                    args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        page.goto(url)
        page.wait_for_selector("body[data-ready='1']", timeout=60_000)
        runs = int(page.evaluate("() => Number(document.querySelector('.chart[data-loaded]').dataset.runs)"))
        browser.close()
    return runs


def run_scale_case(args: Any, rows: list[tuple[str, str, str]]) -> None:
    """Fill both trackers with the scale project, time both dashboards, and append the table rows."""
    import tempfile

    from rltrack.server import ServerSettings
    from rltrack.server.serve import BackgroundServer

    runs, keys, steps, timeout_s = args.scale_runs, args.scale_keys, args.scale_steps, args.scale_timeout_s
    label = f"{runs:,} runs × {keys} keys × {steps:,} steps"
    with tempfile.TemporaryDirectory(prefix="rltrack-bench-scale-") as tmp:
        tmp_path = Path(tmp)
        trackio_dir = tmp_path / "trackio"
        trackio_dir.mkdir()
        python: Path | None = None
        filling = None
        if not args.no_trackio:
            python = ensure_trackio_venv(Path(args.trackio_venv))
            env = {**os.environ, **QUIET, "TRACKIO_DIR": str(trackio_dir)}
            filling = subprocess.Popen([str(python), str(HERE / "_dashboard_trackio.py"), "fill", str(trackio_dir),
                                        "scale", str(runs), str(keys), str(steps)], env=env)
        t = time.perf_counter()
        fill_rltrack(tmp_path / "store", runs, keys, steps)
        print(f"rltrack: stored {label} in {time.perf_counter() - t:.1f} s", flush=True)
        if filling is not None and filling.wait() != 0:
            raise SystemExit("filling trackio failed (see its output above)")
        load = os.getloadavg()[0]
        with BackgroundServer(ServerSettings(root=tmp_path / "store")) as server:
            url = f"{server.url}/projects/scale"
            shown = check_rltrack_page(url)
            got = time_page(url, {"interactive": RLTRACK_INTERACTIVE, "drawn": RLTRACK_DRAWN}, timeout_s)
        rows.append((f"rltrack project page interactive ({label})", fmt(got["interactive"], timeout_s), "≤ 2 s"))
        rows.append((f"rltrack workspace, {shown} newest runs drawn (its default)", fmt(got["drawn"], timeout_s),
                     "≤ 2 s"))
        if python is not None:
            _time_trackio(python, trackio_dir, runs, timeout_s, rows)
        rows.append(("load average (1 min) when timing started", f"{load:.1f}", ""))


def _time_trackio(python: Path, trackio_dir: Path, runs: int, timeout_s: float,
                  rows: list[tuple[str, str, str]]) -> None:
    port = free_port()
    env = {**os.environ, **QUIET, "TRACKIO_DIR": str(trackio_dir)}
    server = subprocess.Popen([str(python), str(HERE / "_dashboard_trackio.py"), "serve", str(trackio_dir), str(port)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_listening(port, server, 60)
        base = f"http://127.0.0.1:{port}/?project=scale"
        newest = ",".join(data.run_name(i) for i in range(runs - 1, max(-1, runs - 51), -1))
        checks = {"interactive": TRACKIO_INTERACTIVE, "drawn": TRACKIO_DRAWN}
        got = time_page(base, checks, timeout_s)
        rows.append((f"trackio project page interactive (opens with all {runs:,} runs)",
                     fmt(got["interactive"], timeout_s), ""))
        rows.append((f"trackio charts drawn, all {runs:,} runs (its default)", fmt(got["drawn"], timeout_s), ""))
        got = time_page(f"{base}&runs={newest}", checks, timeout_s)
        rows.append(("trackio charts drawn, the same 50 newest runs (runs= in the URL)",
                     fmt(got["drawn"], timeout_s), ""))
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()


def _wait_listening(port: int, proc: subprocess.Popen[str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            output = proc.stdout.read() if proc.stdout else ""
            raise SystemExit(f"trackio's dashboard exited with {proc.returncode}: {output}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise SystemExit(f"trackio's dashboard did not listen on 127.0.0.1:{port} within {timeout_s:.0f} s")

