"""Hostile ingest (issue 19, findings 1, 8 and 9): every value passes the same door as log(), never a 500.

Each test is written from the finding's reproduction: the request an attacker (or a broken
client) sent, and what the server must answer instead.
"""

from __future__ import annotations

import base64
import json
import math
import os
import sqlite3
import struct
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rltrack
from rltrack.errors import RltrackError
from rltrack.remote import wire
from rltrack.server import ServerSettings, create_app
from rltrack.server.security import AccessControl
from rltrack.store.chunks import pack
from rltrack.store.database import Database
from rltrack.store.writer import NewRun, WriterInfo
from rltrack.validate import check_key

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

JSON = {"content-type": "application/json"}
TOKEN = "s3cret-token"
AUTH = {"authorization": f"Bearer {TOKEN}"}


def create_batch(run_id: str, batch_id: str) -> dict[str, Any]:
    new = NewRun(id=run_id, project="p", name=run_id, group=None, job_type=None, notes=None, tags=("a",),
                 config={"lr": 1}, source="sim")
    who = WriterInfo(host=os.uname().nodename, pid=os.getpid(), pid_started_ns=0, now_ns=time.time_ns())
    return {"id": batch_id, "op": "create_run", "run": wire.new_run_to(new), "who": wire.who_to(who)}


@pytest.fixture
def server(tmp_path: Path, make_client: Callable[..., TestClient]) -> Iterator[TestClient]:
    access = AccessControl(tokens=frozenset({TOKEN}), public_read=False, max_body_bytes=1_000_000)
    with make_client(create_app(ServerSettings(root=tmp_path / "srv", ingest=True, access=access)), headers=AUTH) as c:
        c.post("/api/ingest/batches", json={"batches": [create_batch("r1", "c:1")]}).raise_for_status()
        yield c


def send(client: TestClient, *batches: dict[str, Any]) -> Any:
    return client.post("/api/ingest/batches", json={"batches": list(batches)})


def chunk(key: str = "loss", steps: Any = (0, 1, 2), values: Any = (1.0, 2.0, 3.0), **over: Any) -> dict[str, Any]:
    s = np.asarray(steps, dtype=np.int64)
    return {**wire.batch_to(pack("sim", key, s, s * 10, np.asarray(values, dtype=np.float64))), **over}


def write(batch_id: str, *chunks: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"id": batch_id, "op": "write", "run_id": "r1", "source": "sim", "batches": list(chunks), **fields}


def message(response: Any) -> str:
    detail = response.json()["detail"]
    return str(detail["message"] if isinstance(detail, dict) else detail)


# Finding 1: store takeover through a run id of "..".


@pytest.mark.parametrize("run_id", ["..", ".", "a/b", "", "x" * 65, "r\x00"])
def test_create_run_refuses_ids_that_init_refuses(server: TestClient, run_id: str) -> None:
    batch = create_batch("ok", "c:dots")
    batch["run"]["id"] = run_id
    response = send(server, batch)
    assert response.status_code == 400
    assert f"run id {run_id!r} must be 1-64 letters" in message(response)


def test_a_dotdot_run_cannot_overwrite_the_database(server: TestClient, tmp_path: Path) -> None:
    db_file = tmp_path / "srv" / "rltrack.db"
    before = db_file.read_bytes()
    batch = create_batch("ok", "c:takeover")
    batch["run"]["id"] = ".."
    assert send(server, batch).status_code == 400
    for url in ("/api/ingest/files/%2E%2E/rltrack.db", "/api/ingest/files/%2E/r1/media/x.png",
                "/api/ingest/files/r1/%2E%2E/%2E%2E/rltrack.db", "/api/ingest/files/r1/.hidden"):
        response = server.put(url, content=b"30 bytes of text, not a store.")
        assert response.status_code in (400, 404), url
    assert db_file.read_bytes()[:100] == before[:100]
    with sqlite3.connect(db_file) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert rltrack.Api(tmp_path / "srv").run("r1").project == "p"


def test_even_a_stored_dotdot_run_cannot_reach_the_store_folder(server: TestClient, tmp_path: Path) -> None:
    # A store written before ids were checked may hold such a run: its files are still out of reach.
    db = Database(tmp_path / "srv")
    try:
        with db.transaction() as conn:
            conn.execute("UPDATE runs SET id = '..' WHERE id = 'r1'")
    finally:
        db.close()
    response = server.put("/api/ingest/files/%2E%2E/rltrack.db", content=b"x")
    assert response.status_code in (400, 404)
    assert server.get("/api/runs/%2E%2E/files/rltrack.db").status_code in (400, 404)
    with sqlite3.connect(tmp_path / "srv" / "rltrack.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_media_rows_and_uploads_take_media_paths_only(server: TestClient) -> None:
    media = {"source": "sim", "key": "video", "step": 1, "t_ns": 1, "kind": "video", "path": "../../rltrack.db"}
    response = send(server, write("w:m1", media=[media]))
    assert response.status_code == 400 and "media path '../../rltrack.db' must be relative" in message(response)
    ok = {**media, "path": "media/video/step_1.mp4"}
    assert send(server, write("w:m2", media=[ok])).status_code == 200
    assert server.get("/api/runs/r1/media").json()[0]["url"] == "/api/runs/r1/files/media/video/step_1.mp4"


# Finding 8: what log() refuses, ingest refused too; what crashed the server is a 4xx.


@pytest.mark.parametrize(
    ("key", "phrase"),
    [
        ("k" * 10_000, "is 10000 characters long"),
        ("", "empty key"),
        ("a\x00b", "control characters"),
        ("step", "is reserved by rltrack"),
        ("_rltrack/errors/boom", "is reserved by rltrack"),
    ],
)
def test_keys_log_refuses_are_refused(server: TestClient, key: str, phrase: str) -> None:
    response = send(server, write("w:k", chunk(key)))
    assert response.status_code == 400
    assert phrase in message(response)
    with pytest.raises(RltrackError):
        check_key(key)  # the same door as log()


def test_negative_steps_are_refused(server: TestClient) -> None:
    response = send(server, write("w:neg", chunk(steps=(0, -5, 2))))
    assert response.status_code == 400
    assert "holds step -5; steps must be in 0" in message(response)
    media = {"source": "sim", "key": "img", "step": 2**63, "t_ns": 0, "kind": "image", "path": "media/a.png"}
    assert "64-bit" in message(send(server, write("w:big", media=[media])))
    media["step"] = -1
    assert "media step must be in 0" in message(send(server, write("w:neg2", media=[media])))


def test_chunk_statistics_are_recomputed_not_trusted(server: TestClient, tmp_path: Path) -> None:
    lying = chunk(steps=(5, 6, 7), values=(1.0, float("nan"), 3.0), step_min=10**6, step_max=-3, t_min_ns=0,
                  t_max_ns=1, vmin=-1e300, vmax=1e300, count=3)
    assert send(server, write("w:lie", lying)).status_code == 200
    db = Database(tmp_path / "srv")
    try:
        with db.reading() as conn:
            row = conn.execute(
                "SELECT count, step_min, step_max, t_min_ns, t_max_ns, vmin, vmax FROM chunks"
            ).fetchone()
    finally:
        db.close()
    assert tuple(row) == (3, 5, 7, 50, 70, 1.0, 3.0)


@pytest.mark.parametrize("state", ["exploded", "", "FINISHED"])
def test_end_takes_known_states_only(server: TestClient, state: str) -> None:
    end = {"id": "e:1", "op": "end", "run_id": "r1", "source": "sim", "state": state, "ended_ns": 1}
    response = send(server, end)
    assert response.status_code == 400 and f"run state {state!r} must be one of" in message(response)


@pytest.mark.parametrize(
    "body",
    [
        b'{"batches": [{"id": "\\ud800", "op": "write"}]}',  # a lone surrogate escape
        b'{"batches": [{"\\udfff": 1, "id": "x", "op": "write"}]}',  # ... as an object key
        b'{"batches": [{"id": "\xff\xfe", "op": "write"}]}',  # bytes that are not UTF-8
    ],
)
def test_strings_that_are_not_unicode_are_400(server: TestClient, body: bytes) -> None:
    response = server.post("/api/ingest/batches", content=body, headers=JSON)
    assert response.status_code == 400
    assert "not valid" in message(response)


def test_lone_surrogate_in_a_key_is_400_and_the_run_is_intact(server: TestClient, tmp_path: Path) -> None:
    good = chunk()
    bad = json.dumps({"batches": [write("w:s", good)]}).replace('"key": "loss"', '"key": "lo\\udcffss"')
    assert server.post("/api/ingest/batches", content=bad.encode(), headers=JSON).status_code == 400
    assert send(server, write("w:after", good)).status_code == 200
    assert rltrack.Api(tmp_path / "srv").run("r1").series("loss")[0].tolist() == [0, 1, 2]


@pytest.mark.parametrize("depth", [65, 100_000])
def test_deep_json_is_400_not_a_recursion_error(server: TestClient, depth: int) -> None:
    body = '{"batches": [' + "[" * depth + "]" * depth + "]}"
    response = server.post("/api/ingest/batches", content=body.encode(), headers=JSON)
    assert response.status_code == 400
    assert response.json()["detail"] == "request body is nested deeper than 64 levels"


def test_nested_config_within_the_limit_is_stored(server: TestClient, tmp_path: Path) -> None:
    config: dict[str, Any] = {"leaf": 1}
    for _ in range(40):
        config = {"n": config}
    assert send(server, write("w:cfg", config=config)).status_code == 200
    assert rltrack.Api(tmp_path / "srv").run("r1").config["n"]["n"]["n"]["n"] is not None


def test_a_non_ascii_token_is_403_not_500(server: TestClient) -> None:
    token = {"authorization": "Bearer tökén".encode()}
    assert server.get("/api/projects", headers=token).status_code == 403
    assert server.post("/api/ingest/batches", json={"batches": []}, headers=token).status_code == 403


def test_a_huge_body_is_413_before_it_is_read(server: TestClient) -> None:
    response = server.post("/api/ingest/batches", content=b"[" * 2_000_000, headers=JSON)
    assert response.status_code == 413
    assert response.json()["detail"] == "request body of 2000000 bytes is over the limit of 1000000 bytes"

    def pieces() -> Iterator[bytes]:  # no Content-Length: counted while it arrives
        for _ in range(100):
            yield b" " * 100_000

    response = server.post("/api/ingest/batches", content=pieces(), headers=JSON)
    assert response.status_code == 413
    assert response.json()["detail"] == "request body is over the limit of 1000000 bytes"


def test_the_default_limit_fits_what_the_clients_send() -> None:
    # Near what the clients send, never below it: a limit under the client's request size would
    # refuse every large sync for good.
    # `rltrack sync` sends the largest requests (online runs send about 4 MiB of points at most).
    from rltrack.remote import sync
    from rltrack.server.security import DEFAULT_MAX_BODY_BYTES

    base64_bytes = 4 * 24 // 3  # 24 bytes a point (step, t_ns, value), 4/3 as base64
    sync_request = sync.PIECES_PER_REQUEST * sync.PIECE_POINTS * base64_bytes
    assert sync_request * 1.1 < DEFAULT_MAX_BODY_BYTES < 2 * sync_request


# Finding 9: no server paths in messages; one error shape; 405 with Allow.


def test_messages_carry_no_server_path(server: TestClient, tmp_path: Path) -> None:
    (tmp_path / "srv" / "runs" / "r1" / "media").mkdir(parents=True)
    response = server.put("/api/ingest/files/r1/media", content=b"x")
    assert response.status_code == 409
    answers = [response, server.get("/api/runs/nope"), server.get("/api/runs/r1/files/media/none.png"),
               send(server, write("w:x", chunk(steps=(-1,), values=(1.0,))))]
    for answer in answers:
        assert str(tmp_path) not in answer.text


def test_store_errors_are_told_without_the_store_path(tmp_path: Path) -> None:
    from rltrack.server.problems import scrub

    root = tmp_path / "srv"
    message = f"cannot write {root}/rltrack.db: database or disk is full"
    assert scrub(message, root) == "cannot write <store>/rltrack.db: database or disk is full"
    assert scrub({"message": message, "index": 0}, root) == {
        "message": "cannot write <store>/rltrack.db: database or disk is full", "index": 0}


def test_405_names_the_allowed_methods(server: TestClient) -> None:
    response = server.delete("/api/ingest/batches")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json() == {"detail": "Method Not Allowed"}


def test_422_has_the_documented_shape(server: TestClient) -> None:
    response = server.get("/api/ingest/count")  # the required `project` parameter is missing
    assert response.status_code == 422
    assert response.json() == {"detail": "query.project: Field required"}
    problem = server.get("/openapi.json").json()["components"]["schemas"]["Problem"]
    assert problem["required"] == ["detail"]


def test_ingest_bodies_are_in_the_openapi_document(server: TestClient) -> None:
    paths = server.get("/openapi.json").json()["paths"]
    batches = paths["/api/ingest/batches"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    one_of = batches["properties"]["batches"]["items"]["oneOf"]
    assert [b["properties"]["op"]["enum"] for b in one_of] == [["create_run"], ["write"], ["end"]]
    assert all(b["additionalProperties"] is False for b in one_of)  # each op its own fields, no others
    assert "run_id" in paths["/api/ingest/attach"]["post"]["requestBody"]["content"]["application/json"]["schema"][
        "properties"]
    assert "application/octet-stream" in paths["/api/ingest/files/{run_id}/{path}"]["put"]["requestBody"]["content"]
    for operations in paths.values():
        for operation in operations.values():
            assert operation["responses"]["400"]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/Problem"}


# Property: any key, value or step is refused with a 4xx or stored exactly, and the server goes on.

_counter = iter(range(10**9))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    key=st.one_of(st.text(max_size=300), st.sampled_from(["loss", "a/b", "step", "_rltrack/x", "a//b", "/a"])),
    value=st.floats(allow_nan=True, allow_infinity=True),
    step=st.one_of(st.integers(min_value=-(2**63), max_value=2**63 - 1), st.sampled_from([0, 2**63 - 1, -1])),
)
def test_any_point_is_refused_or_stored_exactly(server: TestClient, tmp_path: Path, key: str, value: float,
                                                step: int) -> None:
    n = next(_counter)
    run_id = f"p{n}"
    send(server, create_batch(run_id, f"c:p{n}")).raise_for_status()
    raw = {"source": "sim", "key": key, "count": 1, "steps": base64.b64encode(struct.pack("<q", step)).decode(),
           "t_ns": base64.b64encode(struct.pack("<q", 7)).decode(),
           "values": base64.b64encode(struct.pack("<d", value)).decode()}
    body = json.dumps({"batches": [{"id": f"w:p{n}", "op": "write", "run_id": run_id, "source": "sim",
                                    "batches": [raw]}]})
    response = server.post("/api/ingest/batches", content=body.encode("utf-8", "surrogatepass"), headers=JSON)
    try:
        check_key(key)
        acceptable = step >= 0
    except RltrackError:
        acceptable = False
    view = rltrack.Api(tmp_path / "srv").run(run_id)
    if acceptable:
        assert response.status_code == 200, response.text
        steps, _, values = view.series(key)
        assert steps.tolist() == [step]
        assert math.isnan(values[0]) if math.isnan(value) else values.tolist() == [value]
    else:
        assert 400 <= response.status_code < 500, response.text
        assert view.keys() == []
    # The server is alive and stores the next clean batch.
    assert send(server, write(f"w:after{n}", chunk(steps=(n,), values=(1.0,)))).status_code == 200
