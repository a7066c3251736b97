"""Text with NUL reaches no text column through ingest: a 400 naming the field, on PostgreSQL (which cannot store
NUL) as on SQLite, exactly as ``init()``/``log()`` refuse it (one door), never a 500."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the server needs the ui extra: pip install 'rltrack[server]'")

import rltrack
from rltrack.errors import InvalidValueError
from rltrack.media.image import check_caption
from rltrack.remote import wire
from rltrack.store.records import NewRun, WriterInfo
from rltrack.types import MediaRecord

_ids = iter(range(10**9))


def new_run(run_id: str, **fields: Any) -> dict[str, Any]:
    run = NewRun(id=run_id, project="nul", name=run_id, group=None, job_type=None, notes=None, tags=(),
                 config={"lr": 0.1}, source="sim")
    who = WriterInfo(host="robot", pid=os.getpid(), pid_started_ns=0, now_ns=time.time_ns())
    encoded = wire.new_run_to(run) | fields
    return {"id": f"nul-{os.getpid()}-{next(_ids)}", "op": "create_run", "run": encoded, "who": wire.who_to(who)}


@pytest.fixture(scope="module", params=["postgresql", "sqlite"])
def client(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """An ingesting server (no token: the test client is loopback) over PostgreSQL, then SQLite."""
    from fastapi.testclient import TestClient

    from rltrack.server import create_app
    from rltrack.server.app import ServerSettings

    url = None
    if request.param == "postgresql":
        pytest.importorskip("psycopg", reason="PostgreSQL needs psycopg: pip install 'rltrack[server]'")
        url = request.getfixturevalue("pg_cluster").new_database()
    root = tmp_path_factory.mktemp(f"nul-{request.param}") / "store"
    with TestClient(create_app(ServerSettings(root=root, ingest=True, db=url)), base_url="http://127.0.0.1",
                    client=("127.0.0.1", 50000)) as c:
        yield c


@pytest.mark.parametrize(("field", "value"), [
    ("notes", "first line\x00hidden"), ("group", "ppo\x00"), ("job_type", "\x00train"), ("tags", ["ok", "b\x00d"]),
])
def test_a_run_field_with_nul_is_a_400_naming_the_field(client: Any, field: str, value: Any) -> None:
    run_id = f"nul{next(_ids)}"
    answer = client.post("/api/ingest/batches", json={"batches": [new_run(run_id, **{field: value})]})
    assert answer.status_code == 400, answer.text
    message = answer.json()["detail"]["message"]
    named = "tag" if field == "tags" else field  # each tag is checked as field 'tag'
    assert f"field {named!r}" in message and "NUL" in message, message
    assert client.get(f"/api/ingest/runs/{run_id}/exists").json() is False
    # The same value is refused offline by init(): one door, one answer.
    with pytest.raises(InvalidValueError, match="NUL"):
        rltrack.init(project="nul", mode="disabled", **{field: value})


def test_a_caption_with_nul_is_a_400_and_no_media_is_stored(client: Any) -> None:
    run_id = f"cap{next(_ids)}"
    assert client.post("/api/ingest/batches", json={"batches": [new_run(run_id)]}).status_code == 200
    media = MediaRecord(source="sim", key="camera", step=0, t_ns=1, kind="image", path="media/a.png",
                        caption="dock\x00")
    write = {"id": f"w-{next(_ids)}", "op": "write", "run_id": run_id, "source": "sim",
             "media": [wire.media_to(media)]}
    answer = client.post("/api/ingest/batches", json={"batches": [write]})
    assert answer.status_code == 400 and "field 'caption'" in answer.json()["detail"]["message"], answer.text
    assert client.get(f"/api/runs/{run_id}/media").json() in ([], {"media": []})
    with pytest.raises(InvalidValueError, match="NUL"):
        check_caption("dock\x00")  # what log() checks a media caption with


def test_an_artifact_description_with_nul_is_a_400(client: Any) -> None:
    run_id = f"art{next(_ids)}"
    assert client.post("/api/ingest/batches", json={"batches": [new_run(run_id)]}).status_code == 200
    blob = b"weights"
    sha = hashlib.sha256(blob).hexdigest()
    put = client.put(f"/api/ingest/blobs/{sha}", content=blob, headers={"content-type": "application/octet-stream"})
    assert put.status_code == 200, put.text
    body = {"name": "policy", "type": "model", "files": [{"path": "p.bin", "sha256": sha, "size": len(blob)}],
            "run_id": run_id, "created_ns": 1, "description": "best\x00policy"}
    answer = client.post("/api/ingest/artifacts", json=body)
    assert answer.status_code == 400 and "description" in answer.json()["detail"], answer.text
    assert client.post("/api/ingest/artifacts", json=body | {"description": "best policy"}).status_code == 200
    from rltrack.artifacts import Artifact, ArtifactError

    with pytest.raises(ArtifactError, match="NUL"):
        Artifact("policy", description="best\x00policy")
