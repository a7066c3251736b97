"""The demo's dashboard: the run page's URL on 127.0.0.1, served until Ctrl-C, which stops it cleanly."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import rltrack

httpx = pytest.importorskip("httpx", reason="the dashboard test talks HTTP (rltrack[ui])")
pytest.importorskip("uvicorn", reason="the dashboard runs on uvicorn (rltrack[ui])")

START_TIMEOUT_S = 60  # a watchdog, not a wait: the test reads the URL line as soon as it is printed


def test_serves_the_run_page_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    store = tmp_path / "store"
    with rltrack.init(project="p", dir=store, system_metrics=False) as run:
        run.log({"x": 1.0})
    code = (
        "from pathlib import Path\n"
        "from rltrack.demo.dashboard import serve_run\n"
        f"serve_run(Path({str(store)!r}), {run.id!r}, port=0)\n"
    )
    proc = subprocess.Popen([sys.executable, "-u", "-c", code], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)  # fmt: skip
    watchdog = threading.Timer(START_TIMEOUT_S, proc.kill)
    watchdog.start()
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        url = line.split()[1]
        assert url.startswith("http://127.0.0.1:") and url.endswith(f"/runs/{run.id}"), line
        page = httpx.get(url, timeout=30)
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=30)
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, rest
    assert rest.strip().endswith("dashboard stopped")
    assert "Traceback" not in rest


def test_a_taken_port_is_an_error_unless_falling_back(tmp_path: Path) -> None:
    from rltrack.demo.dashboard import HOST
    from rltrack.errors import RltrackError
    from rltrack.server.serve import bind

    taken = bind(HOST, 0)
    try:
        port = taken.getsockname()[1]
        from rltrack.demo.dashboard import serve_run

        with pytest.raises(RltrackError, match=f"{port}"):
            serve_run(tmp_path, "run", port=port)
    finally:
        taken.close()
