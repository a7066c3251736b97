"""Exactly once under failure: a server process killed with SIGKILL, and answers lost after the server stored."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

import rltrack
from rltrack._run import Run
from rltrack.remote import RemoteWriter, connect
from rltrack.server import ServerSettings
from rltrack.server.serve import BackgroundServer
from rltrack.store.writer import NewRun, WriterInfo

WAIT_S = 30.0
START_TIMEOUT_S = 30.0


def start_run(remote: RemoteWriter, run_id: str) -> Run:
    remote.create_run(
        NewRun(id=run_id, project="p", name=run_id, group=None, job_type=None, notes=None, tags=(), config={},
               source="sim"),
        WriterInfo(host="robot", pid=1, pid_started_ns=0, now_ns=1),
    )
    return Run(remote, id=run_id, name=run_id, project="p", group=None, source="sim",
               run_dir=remote.root / "runs" / run_id, config={}, summary={}, step=0, owner=True, metadata=None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_process(root: Path, port: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", "from rltrack.cli import main; main()", "server", "--dir", str(root),
         "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()  # printed once the socket listens
    assert f":{port}/" in line, line
    return proc


def kill(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=START_TIMEOUT_S)


def test_server_killed_with_sigkill_mid_run(tmp_path: Path) -> None:
    port = free_port()
    proc = server_process(tmp_path / "server", port)
    remote = connect(f"http://127.0.0.1:{port}", None, tmp_path / "spool")
    try:
        run = start_run(remote, "killed")
        for step in range(3000):
            run.log({"a": float(step)}, step=step)
            if step == 1000:
                kill(proc)  # whatever was in flight is lost with the process
        run.flush()
        proc = server_process(tmp_path / "server", port)
        run.finish()
        assert remote.wait(WAIT_S)
    finally:
        remote.close()
        kill(proc)
    steps, _, values = rltrack.Api(tmp_path / "server").run("killed").series("a")
    assert steps.tolist() == list(range(3000))
    assert values.tolist() == [float(s) for s in range(3000)]


class LoseAnswers(httpx.BaseTransport):
    """Forward requests to a real server, but drop the answers to the first ``n`` batch posts.

    The server has stored those batches; the client sees a network error and sends them again.
    """

    def __init__(self, n: int) -> None:
        self.left = n
        self.inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.url.path == "/api/ingest/batches" and self.left > 0:
            response.read()
            self.left -= 1
            raise httpx.ReadError("connection reset after the server answered", request=request)
        return response

    def close(self) -> None:
        self.inner.close()


@pytest.mark.parametrize("lost", [1, 3])
def test_batches_resent_after_lost_answers_are_stored_once(tmp_path: Path, lost: int) -> None:
    with BackgroundServer(ServerSettings(root=tmp_path / "server", ingest=True)) as server:
        transport: Any = LoseAnswers(lost)
        remote = RemoteWriter(server.url, spool_dir=tmp_path / "spool", transport=transport)
        run = start_run(remote, "lossy")  # the first post (create_run) is spooled and resent too
        for step in range(200):
            run.log({"a": float(step)}, step=step)
        run.finish()
        assert remote.wait(WAIT_S)
        remote.close()
        assert transport.left == 0
        view = rltrack.Api(tmp_path / "server").run("lossy")
        assert view.series("a")[0].tolist() == list(range(200))
        assert view.state == "finished"
