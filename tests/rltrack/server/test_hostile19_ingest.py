"""Issue 19 audit: hostile ingest bodies a second outside probe found after the first fixes.

Against a real ``rltrack server`` process on loopback (its memory is measured from ``/proc``):

* a JSON body under the size limit that parses into millions of objects (``[{},{},...]``: 3 bytes
  of JSON, 64 bytes of Python each) took 1.6 GB of server memory and 27 s of the event loop (no
  other request answered meanwhile); it is now counted before parsing and refused with 413;
* an ``end`` batch could name the state ``running``, which ``finish()`` refuses;
* ``json.loads`` of bytes also took UTF-16 and a BOM, so "not UTF-8" was not always a 400.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import rltrack
from rltrack.server.routes_ingest import MAX_CONTAINERS, MAX_ENTRIES, MAX_VALUES, parse_json

JSON = {"content-type": "application/json"}


class CliServer:
    """``rltrack server`` in its own process (so its peak memory is its own)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from rltrack.cli import main; main()", "server", "--dir", str(root), "--port", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        match = re.search(r"(http://\S+?)/?\s", line)
        assert match, line
        self.url = match.group(1)
        self.client = httpx.Client(base_url=self.url, timeout=120)

    def peak_mib(self) -> int:
        """The server process's peak resident memory so far (VmHWM), in MiB."""
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) // 1024  # type: ignore[union-attr]

    def post(self, body: bytes, path: str = "/api/ingest/batches") -> httpx.Response:
        return self.client.post(path, content=body, headers=JSON)

    def stop(self) -> None:
        self.client.close()
        self.proc.send_signal(signal.SIGINT)
        self.proc.communicate(timeout=30)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[CliServer]:
    if not Path("/proc/self/status").exists():
        pytest.skip("peak memory is read from /proc (Linux)")
    s = CliServer(tmp_path / "srv")
    try:
        create = {"id": "c:r1", "op": "create_run",
                  "run": {"id": "r1", "project": "p", "name": "n", "group": None, "job_type": None, "notes": None,
                          "tags": [], "config": {}, "source": "sim"},
                  "who": {"host": "h", "pid": os.getpid(), "pid_started_ns": 0, "now_ns": time.time_ns()}}
        assert s.post(json.dumps({"batches": [create]}).encode()).status_code == 200
        yield s
    finally:
        s.stop()


def write(summary_json: bytes) -> bytes:
    head = {"id": uuid.uuid4().hex, "op": "write", "run_id": "r1", "source": "sim"}
    return json.dumps({"batches": [head]}).encode()[:-3] + b', "summary": {"x": ' + summary_json + b"}}]}"


def test_a_body_of_millions_of_objects_is_413_before_parsing_and_costs_no_memory(server: CliServer) -> None:
    before = server.peak_mib()
    body = write(b"[" + b"{}," * (10 * 1024 * 1024) + b"{}]")  # 30 MiB: under the 32 MiB body limit
    assert len(body) < 32 * 1024 * 1024
    started = time.monotonic()
    answer = server.post(body)
    assert answer.status_code == 413, answer.text
    assert answer.json()["detail"] == (
        f"request body holds over {MAX_CONTAINERS:,} JSON objects and arrays or over {MAX_VALUES:,} values; "
        "send it in smaller requests"
    )
    # Before: 1.6 GB peak and 27 s with every other request waiting.
    assert server.peak_mib() - before < 200, (before, server.peak_mib())
    assert time.monotonic() - started < 20
    assert "x" not in rltrack.Api(server.root).run("r1").summary


@pytest.mark.parametrize(
    ("what", "values"),
    [("objects", b"{}," * (MAX_CONTAINERS - 10) + b"{}"), ("short strings", b'"ab",' * (MAX_VALUES - 10) + b'"ab"')],
)
def test_the_largest_body_within_the_limits_is_parsed_in_bounded_memory(server: CliServer, what: str,
                                                                        values: bytes) -> None:
    before = server.peak_mib()
    answer = server.post(write(b"[" + values + b"]"))
    # Parsed, then refused: a summary holds at most MAX_ENTRIES values (reading a run loads them all).
    assert answer.status_code == 400, answer.text
    assert f"its summary holds over {MAX_ENTRIES:,} values" in answer.json()["detail"]["message"]
    # The parsed body and its check; the checking walk itself keeps one iterator per level, not one per value.
    assert server.peak_mib() - before < 450, (what, before, server.peak_mib())
    assert "x" not in rltrack.Api(server.root).run("r1").summary


def test_an_end_batch_cannot_name_running(server: CliServer) -> None:
    end = {"id": "e:1", "op": "end", "run_id": "r1", "source": "sim", "state": "running", "ended_ns": 1}
    answer = server.post(json.dumps({"batches": [end]}).encode())
    assert answer.status_code == 400, answer.text
    assert "not 'running'" in answer.json()["detail"]["message"]
    # finish() refuses it alike.
    run = rltrack.init(project="p", dir=server.root.parent / "local", system_metrics=False, quiet=True)
    with pytest.raises(rltrack.RltrackError, match="must be one of finished, failed, crashed, pruned"):
        run.finish(state="running")
    run.finish()


@pytest.mark.parametrize(
    "body",
    [json.dumps({"batches": []}).encode("utf-16"), json.dumps({"batches": []}).encode("utf-32"),
     b"\xef\xbb\xbf" + json.dumps({"batches": []}).encode()],
    ids=["utf-16", "utf-32", "utf-8 BOM"],
)
def test_a_body_that_is_not_plain_utf8_is_400(server: CliServer, body: bytes) -> None:
    answer = server.post(body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["detail"].startswith("request body is not valid UTF-8 JSON")


def test_the_walk_over_a_wide_body_keeps_no_entry_per_value() -> None:
    import tracemalloc

    body = json.dumps({"x": [[] for _ in range(200_000)]}).encode()
    tracemalloc.start()
    try:
        data = parse_json(body)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(data["x"]) == 200_000
    # The parsed lists alone are about 200,000 x 64 bytes; a stack entry per value would add as much again.
    assert peak < 200_000 * 64 * 1.6, peak


def _depth(levels: int) -> Any:
    return json.loads("[" * levels + "]" * levels)


def test_the_depth_limit_is_unchanged() -> None:
    assert parse_json(json.dumps(_depth(64)).encode()) == _depth(64)
    with pytest.raises(Exception, match="nested deeper than 64 levels"):
        parse_json(json.dumps(_depth(65)).encode())


def test_a_batch_carrying_fields_its_op_does_not_take_is_400(server: CliServer) -> None:
    # Found by schemathesis (ST201): a create_run carrying an end's ended_ns, out of range, was stored as if
    # the field were not there, though the document refuses it.
    create = {"id": "c:x", "op": "create_run",
              "run": {"id": "x1", "project": "p", "name": "n", "group": None, "job_type": None, "notes": None,
                      "tags": [], "config": {}, "source": "sim"},
              "who": {"host": "h", "pid": 1, "pid_started_ns": 0, "now_ns": 0},
              "state": "running", "ended_ns": -(2**63) - 1001}
    answer = server.post(json.dumps({"batches": [create]}).encode())
    assert answer.status_code == 400, answer.text
    assert answer.json()["detail"]["message"] == (
        "batch 'c:x' (create_run) carries 'ended_ns', 'state', which create_run does not take; "
        "it takes id, op, run, who"
    )
    assert rltrack.Api(server.root).runs(project="p")[0].id == "r1"  # x1 not created
    end = {"id": "e:x", "op": "end", "run_id": "r1", "source": "sim", "state": "finished", "ended_ns": 1,
           "batches": []}
    answer = server.post(json.dumps({"batches": [end]}).encode())
    assert answer.status_code == 400 and "'batches'" in answer.json()["detail"]["message"]


def test_a_chunk_statistic_of_the_wrong_type_is_400(server: CliServer) -> None:
    import base64

    zero = base64.b64encode(b"\0" * 8).decode()
    chunk = {"source": "sim", "key": "loss", "count": 1, "steps": zero, "t_ns": zero, "values": zero,
             "step_min": "abc", "vmax": True}
    write_batch = {"id": "w:s", "op": "write", "run_id": "r1", "source": "sim", "batches": [chunk]}
    answer = server.post(json.dumps({"batches": [write_batch]}).encode())
    assert answer.status_code == 400
    assert answer.json()["detail"]["message"] == "field 'step_min' has the wrong type (str)"
    del chunk["step_min"]
    answer = server.post(json.dumps({"batches": [write_batch]}).encode())
    assert answer.json()["detail"]["message"] == "field 'vmax' must be a number or null, got a boolean"


def test_the_document_says_what_the_server_takes(server: CliServer) -> None:
    paths = server.client.get("/openapi.json").json()["paths"]
    batch = paths["/api/ingest/batches"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    end = batch["properties"]["batches"]["items"]["oneOf"][2]
    assert end["properties"]["state"]["enum"] == ["finished", "failed", "crashed", "pruned"]
    assert paths["/api/ingest/files/{run_id}/{path}"]["put"]["requestBody"]["required"] is False
    answer = server.client.put("/api/ingest/files/r1/media/empty.txt", content=b"")  # an empty file is a file
    assert answer.json() == {"path": "media/empty.txt", "bytes": 0}
