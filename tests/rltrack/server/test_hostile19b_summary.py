"""Issue 19 audit: a summary of 4,000,000 values (within the body limits) made reading the run cost 834 MiB.

Ingest refuses a summary, config or metadata of more than ``MAX_ENTRIES`` values (nested ones counted)
with a 400 naming the limit, before anything is stored; a run at the limit is read in bounded memory.
Against a real ``rltrack server`` process (its peak memory read from ``/proc``).
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
from rltrack.server.routes_ingest import MAX_ENTRIES


class Server:
    """``rltrack server`` in its own process, so that its peak memory is the server's alone."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from rltrack.cli import main; main()", "server", "--dir", str(root), "--port", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        assert self.proc.stdout is not None
        match = re.search(r"(http://\S+?)/?\s", self.proc.stdout.readline())
        assert match
        self.client = httpx.Client(base_url=match.group(1), timeout=120)

    def peak_mib(self) -> int:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) // 1024  # type: ignore[union-attr]

    def batch(self, **fields: Any) -> httpx.Response:
        return self.client.post("/api/ingest/batches", json={"batches": [{"id": uuid.uuid4().hex, **fields}]})


def _run(run_id: str, config: dict[str, Any]) -> dict[str, Any]:
    return {"op": "create_run",
            "run": {"id": run_id, "project": "p", "name": run_id, "group": None, "job_type": None, "notes": None,
                    "tags": [], "config": config, "source": "sim"},
            "who": {"host": "h", "pid": os.getpid(), "pid_started_ns": 0, "now_ns": time.time_ns()}}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    if not Path("/proc/self/status").exists():
        pytest.skip("peak memory is read from /proc (Linux)")
    s = Server(tmp_path / "srv")
    try:
        assert s.batch(**_run("r1", {})).status_code == 200
        yield s
    finally:
        s.client.close()
        s.proc.send_signal(signal.SIGINT)
        s.proc.communicate(timeout=30)


def _refusal(answer: httpx.Response, field: str) -> None:
    assert answer.status_code == 400, answer.text[:300]
    message = answer.json()["detail"]["message"]
    assert message.endswith(f": its {field} holds over {MAX_ENTRIES:,} values (nested ones counted), the most a "
                            "run's summary, config or metadata may hold; log large data as an artifact or a media file")


@pytest.mark.parametrize("field", ["summary", "config", "metadata"])
def test_a_write_over_the_limit_is_400_and_stores_nothing(server: Server, field: str) -> None:
    over = {"a": list(range(MAX_ENTRIES // 2)), "b": {"c": [{"d": i} for i in range(MAX_ENTRIES // 4)]}}
    _refusal(server.batch(op="write", run_id="r1", source="sim", **{field: over}), field)
    run = rltrack.Api(server.root).run("r1")
    assert run.summary == {} and run.config == {}


def test_a_new_run_whose_config_is_over_the_limit_is_400(server: Server) -> None:
    _refusal(server.batch(**_run("r2", {"grid": [[0] * 1000 for _ in range(100)]})), "config")
    assert [r.id for r in rltrack.Api(server.root).runs("p")] == ["r1"]


def test_a_summary_at_the_limit_is_stored_and_read_in_bounded_memory(server: Server) -> None:
    at_limit = {"x": ["ab"] * (MAX_ENTRIES - 1)}  # the list and its values: MAX_ENTRIES
    assert server.batch(op="write", run_id="r1", source="sim", summary=at_limit).status_code == 200
    before = server.peak_mib()
    answer = server.client.get("/api/runs/r1")
    assert answer.status_code == 200
    assert json.loads(answer.content)["summary"]["x"] == at_limit["x"]
    # 4,000,000 values (now refused) peaked at 834 MiB; the largest summary stored costs a few tens of MiB.
    assert server.peak_mib() - before < 100, (before, server.peak_mib())
