"""Ingest endpoints: a retried batch is stored once; tokens; size limits; bad input is a 4xx."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

import rltrack
from rltrack.remote import wire
from rltrack.server import ServerSettings, create_app
from rltrack.server.security import AccessControl, read_tokens
from rltrack.store.chunks import pack
from rltrack.store.writer import NewRun, WriterInfo

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

TOKEN = "s3cret-token"
AUTH = {"authorization": f"Bearer {TOKEN}"}


def create_batch(run_id: str, batch_id: str = "w:1") -> dict[str, Any]:
    new = NewRun(id=run_id, project="p", name=run_id, group=None, job_type=None, notes=None, tags=("a",),
                 config={"lr": 1}, source="sim")
    who = WriterInfo(host=os.uname().nodename, pid=os.getpid(), pid_started_ns=0, now_ns=time.time_ns())
    return {"id": batch_id, "op": "create_run", "run": wire.new_run_to(new), "who": wire.who_to(who)}


def write_batch(run_id: str, batch_id: str, start: int, n: int) -> dict[str, Any]:
    steps = np.arange(start, start + n, dtype=np.int64)
    chunk = pack("sim", "loss", steps, steps * 10, steps.astype(np.float64) / 2)
    return {"id": batch_id, "op": "write", "run_id": run_id, "source": "sim", "batches": [wire.batch_to(chunk)],
            "summary": {"loss": float(start + n - 1) / 2}}


@pytest.fixture
def ingest(tmp_path: Path, make_client: Callable[..., TestClient]) -> Iterator[TestClient]:
    access = AccessControl(tokens=frozenset({TOKEN}), public_read=False, max_body_bytes=200_000)
    settings = ServerSettings(root=tmp_path / "srv", ingest=True, access=access)
    with make_client(create_app(settings), headers=AUTH) as c:
        yield c


def test_a_retried_batch_is_stored_once(ingest: TestClient, tmp_path: Path) -> None:
    batches = [create_batch("r1"), write_batch("r1", "w:2", 0, 100)]
    assert ingest.post("/api/ingest/batches", json={"batches": batches}).json() == {"applied": 2, "duplicates": []}
    again = ingest.post("/api/ingest/batches", json={"batches": [*batches, write_batch("r1", "w:3", 100, 5)]})
    assert again.json() == {"applied": 1, "duplicates": ["w:1", "w:2"]}
    steps, _, values = rltrack.Api(tmp_path / "srv").run("r1").series("loss")
    assert steps.tolist() == list(range(105))
    assert values.tolist() == [s / 2 for s in range(105)]


def test_end_marks_the_run(ingest: TestClient, tmp_path: Path) -> None:
    end = {"id": "w:9", "op": "end", "run_id": "r2", "source": "sim", "state": "failed", "reason": "boom",
           "exit_code": 1, "ended_ns": time.time_ns(), "owner": True}
    assert ingest.post("/api/ingest/batches", json={"batches": [create_batch("r2"), end]}).status_code == 200
    view = rltrack.Api(tmp_path / "srv").run("r2")
    assert (view.state, view.reason, view.exit_code, view.tags) == ("failed", "boom", 1, ["a"])


@pytest.mark.parametrize(
    ("batch", "status", "phrase"),
    [
        ({"id": "x:1", "op": "explode"}, 400, "unknown op 'explode'"),
        ({"op": "write"}, 400, "field 'id' is missing"),
        ({"id": "x:2", "op": "write", "run_id": "ghost", "source": "sim"}, 404, "'ghost'"),
        ({"id": "x:3", "op": "create_run", "run": {"id": 5, "tags": []}}, 400, "wrong type"),
        ({**write_batch("r3", "x:4", 0, 3), "batches": [{**wire.batch_to(pack(
            "sim", "k", np.arange(3), np.arange(3), np.ones(3))), "count": 7}]}, 400, "declares 7 points"),
    ],
)
def test_bad_batches_are_4xx_naming_the_batch(ingest: TestClient, batch: dict[str, Any], status: int,
                                               phrase: str) -> None:
    ingest.post("/api/ingest/batches", json={"batches": [create_batch("r3", "c:1")]})
    response = ingest.post("/api/ingest/batches", json={"batches": [batch]})
    assert response.status_code == status
    assert phrase in response.json()["detail"]["message"]
    assert response.json()["detail"]["index"] == 0


def test_an_existing_id_is_409(ingest: TestClient) -> None:
    ingest.post("/api/ingest/batches", json={"batches": [create_batch("dup", "a:1")]})
    response = ingest.post("/api/ingest/batches", json={"batches": [create_batch("dup", "b:1")]})
    assert response.status_code == 409 and "'dup'" in response.json()["detail"]["message"]


@pytest.mark.parametrize("body", [b"{not json", b"[]", b'{"batches": 3}'])
def test_invalid_bodies_are_400(ingest: TestClient, body: bytes) -> None:
    response = ingest.post("/api/ingest/batches", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["detail"]


def test_too_large_a_body_is_413(ingest: TestClient) -> None:
    response = ingest.post("/api/ingest/batches", content=b"x" * 300_000, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert "over the limit" in response.json()["detail"]


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"authorization": "Bearer nope"}, 403), ({"authorization": "Basic abc"}, 401)],
)
def test_writes_and_private_reads_need_the_token(ingest: TestClient, headers: dict[str, str], status: int) -> None:
    ingest.headers.pop("authorization")
    ingest.headers.update(headers)
    assert ingest.post("/api/ingest/batches", json={"batches": []}).status_code == status
    assert ingest.get("/api/projects").status_code == status


def test_public_read_opens_reads_but_not_writes(tmp_path: Path, make_client: Callable[..., TestClient]) -> None:
    settings = ServerSettings(root=tmp_path / "srv", ingest=True,
                              access=AccessControl(tokens=frozenset({TOKEN}), public_read=True))
    with make_client(create_app(settings)) as c:
        assert c.get("/api/projects").status_code == 200
        assert c.post("/api/ingest/batches", json={"batches": []}).status_code == 401
        assert c.get("/api/ingest/count", params={"project": "p"}).status_code == 401


def test_upload_cannot_escape_the_run_folder(ingest: TestClient, tmp_path: Path) -> None:
    ingest.post("/api/ingest/batches", json={"batches": [create_batch("up")]})
    assert ingest.put("/api/ingest/files/up/media/a.png", content=b"png").json() == {"path": "media/a.png", "bytes": 3}
    assert (tmp_path / "srv" / "runs" / "up" / "media" / "a.png").read_bytes() == b"png"
    for bad in ("../../evil", "%2e%2e/%2e%2e/evil", "/tmp/evil"):
        assert ingest.put(f"/api/ingest/files/up/{bad}", content=b"x").status_code in (400, 404)
    assert not (tmp_path / "srv" / "evil").exists()
    assert ingest.put("/api/ingest/files/ghost/a.png", content=b"x").status_code == 404


def test_attach_owner_exists_count(ingest: TestClient) -> None:
    ingest.post("/api/ingest/batches", json={"batches": [create_batch("att"), write_batch("att", "w:5", 0, 10)]})
    assert ingest.get("/api/ingest/runs/att/exists").json() is True
    assert ingest.get("/api/ingest/runs/nope/exists").json() is False
    assert ingest.get("/api/ingest/count", params={"project": "p"}).json() == 1
    assert wire.owner_from(ingest.get("/api/ingest/runs/att/owner").json()).source == "sim"  # type: ignore[union-attr]
    who = WriterInfo(host="robot", pid=1, pid_started_ns=0, now_ns=time.time_ns())
    body = {"run_id": "att", "source": "real", "who": wire.who_to(who), "owner_alive": True}
    attached = wire.attached_from(ingest.post("/api/ingest/attach", json=body).json())
    assert (attached.owner, attached.next_step, attached.config) == (False, 0, {"lr": 1})
    assert ingest.post("/api/ingest/attach", json={**body, "run_id": "nope"}).status_code == 404


def test_token_file(tmp_path: Path) -> None:
    path = tmp_path / "tokens"
    path.write_text("# team\nabc\n\n def \n")
    assert read_tokens(path) == frozenset({"abc", "def"})
    path.write_text("# nothing\n")
    with pytest.raises(rltrack.RltrackError, match="holds no token"):
        read_tokens(path)


def test_upload_onto_a_folder_or_under_a_file_is_409(ingest: TestClient) -> None:
    ingest.post("/api/ingest/batches", json={"batches": [create_batch("f")]})
    ingest.put("/api/ingest/files/f/media/a.png", content=b"png")
    assert ingest.put("/api/ingest/files/f/media", content=b"x").status_code == 409
    assert ingest.put("/api/ingest/files/f/media/a.png/b", content=b"x").status_code == 409


def test_integers_beyond_64_bits_are_400(ingest: TestClient) -> None:
    ingest.post("/api/ingest/batches", json={"batches": [create_batch("big")]})
    batch = {"id": "w:big", "op": "write", "run_id": "big", "source": "sim", "heartbeat_ns": 2**70}
    response = ingest.post("/api/ingest/batches", json={"batches": [batch]})
    assert response.status_code == 400
    assert "64-bit" in response.json()["detail"]["message"]
