"""Ingest takes a run's name and project only as ``init()`` does (issue 19 follow-up, found by probing).

``init()`` refuses a name or project that is empty, longer than 128 characters or holds a control
character; ingest stored all three (a NUL in a name, which PostgreSQL cannot even hold). Both
doors now refuse them alike: 400 naming the field, nothing stored.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import rltrack
from rltrack.errors import InvalidValueError
from rltrack.remote import wire
from rltrack.server import ServerSettings
from rltrack.server.serve import BackgroundServer
from rltrack.store.writer import NewRun, WriterInfo


@pytest.fixture
def client(tmp_path: Path) -> Iterator[httpx.Client]:
    with BackgroundServer(ServerSettings(root=tmp_path / "server", ingest=True)) as s, \
            httpx.Client(base_url=s.url, timeout=30) as c:
        yield c


def create(run_id: str, **fields: Any) -> dict[str, Any]:
    new = NewRun(id=run_id, project="p", name="n", group=None, job_type=None, notes=None, tags=(), config={},
                 source="sim")
    who = WriterInfo(host="h", pid=os.getpid(), pid_started_ns=0, now_ns=time.time_ns())
    return {"batches": [{"id": f"c:{run_id}", "op": "create_run", "run": {**wire.new_run_to(new), **fields},
                         "who": wire.who_to(who)}]}


@pytest.mark.parametrize("field", ["name", "project"])
@pytest.mark.parametrize("value", ["", "a\x00b", "tab\there", "x" * 129], ids=["empty", "nul", "tab", "129"])
def test_ingest_refuses_the_names_init_refuses(client: httpx.Client, store_dir: Path, field: str, value: str) -> None:
    if value:  # init() reads an empty name or project as "not given" and picks one; a stored run needs one
        with pytest.raises(InvalidValueError, match="printable characters"):
            rltrack.init(dir=store_dir, system_metrics=False, quiet=True, **{"project": "p", field: value})
    answer = client.post("/api/ingest/batches", json=create("r1", **{field: value}))
    assert answer.status_code == 400, answer.text
    message = answer.json()["detail"]["message"]
    assert message.startswith(f"field {field!r}") and "at most 128" in message
    assert client.get("/api/ingest/runs/r1/exists").json() is False


def test_ingest_takes_the_names_init_takes(client: httpx.Client) -> None:
    name = "résumé 🎉 " + "x" * 119  # 128 characters, unicode and spaces
    assert len(name) == 128
    answer = client.post("/api/ingest/batches", json=create("r2", name=name, project="robot/arm-1"))
    assert answer.status_code == 200, answer.text
    run = client.get("/api/runs/r2").json()
    assert (run["name"], run["project"]) == (name, "robot/arm-1")


LONG_PART = "media/" + "é" * 200 + ".png"  # 204 characters, 404 bytes: longer than a file system takes


def test_a_name_too_long_for_the_file_system_is_a_400_at_ingest_and_a_404_to_read(client: httpx.Client) -> None:
    assert client.post("/api/ingest/batches", json=create("r3")).status_code == 200
    upload = client.put(f"/api/ingest/files/r3/{LONG_PART}", content=b"x")
    assert upload.status_code == 400, upload.text  # was 507 "cannot store", as if the disk were full
    assert "must be relative to the run's folder" in upload.json()["detail"]
    media = {"source": "sim", "key": "media/v", "step": 1, "t_ns": 1, "kind": "image", "path": LONG_PART,
             "caption": None, "meta": {}}
    row = client.post("/api/ingest/batches", json={"batches": [
        {"id": "w:3", "op": "write", "run_id": "r3", "source": "sim", "batches": [], "media": [media]}]})
    assert row.status_code == 400, row.text  # was stored: a row naming a file that can never exist
    assert client.get("/api/runs/r3/media").json() == []
    for path in (LONG_PART, "x" * 5000, "a/" * 3000 + "f"):
        read = client.get(f"/api/runs/r3/files/{path}")
        assert read.status_code == 404, (path[:20], read.status_code, read.text[:200])  # was 500 (ENAMETOOLONG)
