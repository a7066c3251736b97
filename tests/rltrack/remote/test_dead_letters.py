"""A batch the server will not store becomes a dead letter; everything behind it, and every other run, goes on.

Issue 19, finding 3: a batch the server answered 500 for was retried forever, and nothing later
reached the server — not that run, not a later clean run sharing the spool folder. Here a real
rltrack server runs on loopback behind a small real HTTP proxy that answers 500 for any request
carrying the poison key (as a server that crashes on one value would), or the server itself
refuses a batch (a run it does not have: 404, whatever else it checks).
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

import rltrack
from rltrack._run import Run
from rltrack.cli import main
from rltrack.errors import RltrackWarning
from rltrack.remote import RemoteWriter
from rltrack.remote.forwarder import DeadCount
from rltrack.remote.writer import END_WAIT_S
from rltrack.server import ServerSettings
from rltrack.server.serve import BackgroundServer
from rltrack.store.chunks import pack

WAIT_S = 30.0
POISON = "poison"


class PoisonProxy:
    """A real HTTP proxy to ``upstream`` that answers 500 to every batch post carrying the key ``poison``."""

    def __init__(self, upstream: BackgroundServer) -> None:
        self.refused = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                if self.path == "/api/ingest/batches" and _carries_poison(body):
                    proxy.refused += 1
                    self._answer(500, b"Internal Server Error", "text/plain")
                    return
                conn = http.client.HTTPConnection(upstream.host, upstream.port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                conn.request(self.command, self.path, body=body, headers=headers)
                answer = conn.getresponse()
                self._answer(answer.status, answer.read(), answer.getheader("content-type") or "text/plain")
                conn.close()

            def _answer(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = _forward

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}"
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()


def _carries_poison(body: bytes) -> bool:
    batches = json.loads(body)["batches"]
    return any(chunk["key"] == POISON for b in batches for chunk in b.get("batches") or ())


@pytest.fixture
def server(tmp_path: Path) -> Iterator[BackgroundServer]:
    with BackgroundServer(ServerSettings(root=tmp_path / "server", ingest=True)) as s:
        yield s


@pytest.fixture
def proxy(server: BackgroundServer) -> Iterator[PoisonProxy]:
    p = PoisonProxy(server)
    yield p
    p.stop()


def sync(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["sync", *args])
    return result.exit_code, result.output


def spool_files(spool: Path) -> list[str]:
    return sorted(p.name for p in (spool / "spool").glob("*") if p.is_file())


def test_a_poison_batch_becomes_a_dead_letter_and_every_clean_value_reaches_the_server(
    tmp_path: Path, server: BackgroundServer, proxy: PoisonProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RLTRACK_REMOTE_TRIES", "3")
    spool = tmp_path / "spool"
    run = rltrack.init(project="p", mode="online", url=proxy.url, dir=spool, system_metrics=False)
    for step in range(100):
        run.log({"a": float(step)}, step=step)
    run.flush()
    run.log({POISON: 1.0, "b": 7.0}, step=100)  # one batch, refused whatever is tried
    run.flush()
    for step in range(101, 200):
        run.log({"a": float(step)}, step=step)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run.finish()
    said = [str(w.message) for w in caught if issubclass(w.category, RltrackWarning)]
    assert any(m.startswith(f"run '{run.id}': 1 batch (2 values) did not reach rltrack server {proxy.url!r} and are "
                            f"kept as dead letters in {str(spool / 'spool' / 'dead')!r} (last answer: Internal "
                            f"Server Error); list them with `rltrack sync --dir {spool}`") for m in said), said
    assert proxy.refused >= 3  # tried max_tries times (more when it first went with other batches)
    view = rltrack.Api(tmp_path / "server").run(run.id)
    steps = list(range(100)) + list(range(101, 200))
    assert view.series("a")[0].tolist() == steps
    assert view.state == "finished"
    assert view.summary["_rltrack/dead_letters/batches"] == 1
    assert view.summary["_rltrack/dead_letters/values"] == 2
    assert view.summary["a"] == 199.0
    assert POISON not in view.keys("sim")
    assert spool_files(spool) == []  # acknowledged spool files are deleted, not kept forever

    # A later clean run on the same spool folder is not held up by the earlier one.
    later = rltrack.init(project="p", mode="online", url=proxy.url, dir=spool, system_metrics=False)
    for step in range(50):
        later.log({"c": float(step)}, step=step)
    later.finish()
    assert rltrack.Api(tmp_path / "server").run(later.id).series("c")[0].tolist() == list(range(50))
    assert spool_files(spool) == []

    code, out = sync("--dir", str(spool))
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0] == (f"dead letters in {spool / 'spool' / 'dead'} (batches the server refused; "
                        "their values are not on the server):")
    assert lines[1] == f"run {run.id}: 1 batch, 2 values, for {proxy.url}"
    assert lines[2] == "  1 x 500: Internal Server Error"
    assert lines[3] == (f"send them again: rltrack sync --retry --dir {spool}   "
                        f"delete them: rltrack sync --discard --dir {spool}")

    # Refused again through the proxy: kept, with the new answer, and the command fails.
    code, out = sync("--retry", "--dir", str(spool))
    assert code == 1
    assert out.startswith("sent 0 dead letters (0 values): the server stored them\nstill refused: run ")
    assert "(500: Internal Server Error); kept in" in out
    # Straight to the server (the "bug" fixed): stored, and the dead letter is gone.
    code, out = sync("--retry", "--to", server.url, "--dir", str(spool))
    assert (code, out) == (0, "sent 1 dead letter (2 values): the server stored them\n")
    view = rltrack.Api(tmp_path / "server").run(run.id)
    assert view.series(POISON)[2].tolist() == [1.0]
    assert view.series("b")[2].tolist() == [7.0]
    code, out = sync("--dir", str(spool))
    assert (code, out) == (0, f"no dead letters in {spool / 'spool' / 'dead'}: every batch spooled there reached "
                              "the server or is still queued\n")


def test_a_refused_batch_of_one_run_does_not_hold_up_another_run(tmp_path: Path, server: BackgroundServer) -> None:
    spool = tmp_path / "spool"
    remote = RemoteWriter(server.url, spool_dir=spool)
    chunk = pack("sim", "x", np.arange(10), np.arange(10), np.arange(10, dtype=float))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RltrackWarning)
        remote.write("ghost", "sim", batches=[chunk])  # a run the server does not have: refused (4xx)
        run = rltrack.init(project="p", mode="online", url=server.url, dir=spool, system_metrics=False)
        for step in range(20):
            run.log({"y": float(step)}, step=step)
        run.finish()
        assert remote.wait(WAIT_S)
    remote.close()
    assert remote.dead_letters == 1
    assert rltrack.Api(tmp_path / "server").run(run.id).series("y")[0].tolist() == list(range(20))
    assert spool_files(spool) == []

    code, out = sync("ghost", "--dir", str(spool))
    assert code == 0, out
    lines = out.splitlines()
    assert lines[1] == f"run ghost: 1 batch, 10 values, for {server.url}"
    assert lines[2].startswith("  1 x 404: batch '") and "which this server does not have" in lines[2]
    assert lines[3] == "(to copy local run ghost to a server: rltrack sync ghost --to URL)"

    code, out = sync("--retry", "ghost", "--dir", str(spool))  # the run still does not exist: refused again
    assert code == 1 and "still refused: run ghost batch " in out
    code, out = sync("--discard", "--dir", str(spool))
    assert (code, out) == (0, f"discarded 1 dead letter (10 values) from {spool / 'spool' / 'dead'}\n")
    assert list((spool / "spool" / "dead").glob("*.json")) == []


def test_a_request_refused_without_naming_the_batch_is_split_until_the_culprit_is_found(
    tmp_path: Path, server: BackgroundServer, proxy: PoisonProxy
) -> None:
    spool = tmp_path / "spool"
    remote = RemoteWriter(proxy.url, spool_dir=spool, max_tries=2, retry_base_s=0.01)
    remote.create_run(*_new("mixed"))
    for i in range(5):
        key = POISON if i == 2 else "v"
        remote.write("mixed", "sim", batches=[pack("sim", key, np.array([i]), np.array([i]), np.array([float(i)]))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RltrackWarning)
        assert remote.wait(WAIT_S)
    remote.close()
    assert remote.dead_letters == 1
    assert remote.dead_count("mixed") == DeadCount(batches=1, values=1, reason="Internal Server Error")
    assert rltrack.Api(tmp_path / "server").run("mixed").series("v")[0].tolist() == [0, 1, 3, 4]
    (letter,) = (spool / "spool" / "dead").glob("*.json")
    record = json.loads(letter.read_text())
    assert (record["run_id"], record["status"], record["reason"], record["tries"]) == (
        "mixed", 500, "Internal Server Error", 2)
    assert record["batch"]["batches"][0]["key"] == POISON


def test_an_orphans_poison_in_retry_backoff_does_not_hold_up_a_new_run(
    tmp_path: Path, server: BackgroundServer, proxy: PoisonProxy
) -> None:
    spool = tmp_path / "spool"
    dead = RemoteWriter(proxy.url, spool_dir=spool)
    dead.create_run(*_new("old"))
    dead.write("old", "sim", batches=[pack("sim", POISON, np.array([0]), np.array([0]), np.array([0.0]))])
    dead.close(timeout=0.1)  # its process goes away: the poison stays spooled as an orphan
    (orphan,) = (spool / "spool").glob("*.jsonl")
    # The next writer adopts the orphan and would try its poison for a long time (1,000 tries).
    remote = RemoteWriter(proxy.url, spool_dir=spool, max_tries=1000, retry_base_s=60.0)
    run = _start(remote, "new")
    for step in range(300):
        run.log({"y": float(step)}, step=step)
    started = time.monotonic()
    run.finish()  # waits for its own batches only, not for the orphan's
    assert time.monotonic() - started < END_WAIT_S / 2  # waiting for the orphan would take END_WAIT_S
    assert proxy.refused >= 1
    assert orphan.exists()
    assert remote.pending_bytes > 0
    remote.close(timeout=0.1)
    view = rltrack.Api(tmp_path / "server").run("new")
    assert view.series("y")[0].tolist() == list(range(300))
    assert view.state == "finished"


def test_a_damaged_orphan_spool_is_sent_around_its_damage(tmp_path: Path, server: BackgroundServer) -> None:
    spool = tmp_path / "spool"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        nobody = f"http://127.0.0.1:{s.getsockname()[1]}"  # nothing listens there
    offline = RemoteWriter(nobody, spool_dir=spool)
    offline.create_run(*_new("torn"))
    for i in range(4):
        offline.write("torn", "sim", batches=[pack("sim", "v", np.array([i]), np.array([i]), np.array([float(i)]))])
    offline.close(timeout=0.1)
    (path,) = (spool / "spool").glob("*.jsonl")
    lines = path.read_bytes().splitlines(keepends=True)
    # A line spoiled on disk in the middle, and a writer killed halfway through its last append.
    path.write_bytes(b"".join([*lines[:3], b"\x00\x00not json\n", *lines[3:], b'{"id":"half']))
    remote = RemoteWriter(server.url, spool_dir=spool)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RltrackWarning)
        assert remote.wait(WAIT_S)
    remote.close()
    assert rltrack.Api(tmp_path / "server").run("torn").series("v")[0].tolist() == [0, 1, 2, 3]
    assert spool_files(spool) == []
    code, out = sync("--dir", str(spool))
    assert code == 0, out
    assert out.splitlines()[1:4] == [
        "run ?: 2 batches, 0 values, for " + server.url,
        "  1 x unsent: the spool line is not a JSON batch (damaged on disk)",
        "  1 x unsent: the spool ends in half a batch (its writer died while appending it)",
    ]


def test_retry_and_discard_together_are_refused(tmp_path: Path) -> None:
    code, out = sync("--retry", "--discard", "--dir", str(tmp_path))
    assert code == 2 and "Error: pass --retry or --discard, not both" in out


def test_a_bad_tries_setting_names_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RLTRACK_REMOTE_TRIES", "0")
    with pytest.raises(rltrack.RltrackError, match=r"RLTRACK_REMOTE_TRIES='0' must be a whole number >= 1"):
        rltrack.init(mode="online", url="http://127.0.0.1:9", dir=tmp_path, system_metrics=False)


def _start(remote: RemoteWriter, run_id: str) -> Run:
    remote.create_run(*_new(run_id))
    return Run(remote, id=run_id, name=run_id, project="p", group=None, source="sim",
               run_dir=remote.root / "runs" / run_id, config={}, summary={}, step=0, owner=True, metadata=None)


def _new(run_id: str) -> tuple[Any, Any]:
    from rltrack.store.writer import NewRun, WriterInfo

    return (NewRun(id=run_id, project="p", name=run_id, group=None, job_type=None, notes=None, tags=(), config={},
                   source="sim"), WriterInfo(host="h", pid=1, pid_started_ns=0, now_ns=1))
