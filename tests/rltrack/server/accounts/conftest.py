"""Fixtures of the accounts tests: a server with accounts, filled through its own ingest API.

Users: ``ada`` (admin of team ``lab``), ``max`` (member), ``vic`` (viewer), ``sam`` (no team),
``wes`` (admin of team ``other``), ``rex`` (member of ``lab`` whose only key is revoked).
Projects: ``lab-proj`` (team ``lab``, visible to the team) holding run ``labrun01`` with a ``loss``
series and a file; ``other-proj`` (``wes``'s own, claimed on first write); ``legacy`` (runs written
before accounts were turned on: nobody's).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rltrack.remote import wire
from rltrack.server.accounts import Accounts, open_accounts
from rltrack.store.chunks import pack
from rltrack.store.records import NewRun, WriterInfo

PASSWORD = "correct horse battery"
LAB_RUN = "labrun01"
OTHER_RUN = "othrun01"
LEGACY_RUN = "legacy01"
#: The roles of the permissions matrix, and the user behind each (None: no key at all).
USERS = {"admin": "ada", "member": "max", "viewer": "vic", "stranger": "sam", "wrong_team": "wes",
         "revoked": "rex", "no_key": None}
_counter = iter(range(10**9))
BLOB = b"policy weights"
BLOB_SHA = hashlib.sha256(BLOB).hexdigest()


def batch_id() -> str:
    return f"b{os.getpid()}-{time.time_ns()}-{next(_counter)}"


def create_batch(run_id: str, project: str) -> dict[str, Any]:
    new = NewRun(id=run_id, project=project, name=run_id, group=None, job_type=None, notes=None, tags=(),
                 config={"lr": 0.1}, source="sim")
    who = WriterInfo(host=os.uname().nodename, pid=os.getpid(), pid_started_ns=0, now_ns=time.time_ns())
    return {"id": batch_id(), "op": "create_run", "run": wire.new_run_to(new), "who": wire.who_to(who)}


def write_batch(run_id: str, key: str = "loss", n: int = 10) -> dict[str, Any]:
    steps = np.arange(n, dtype=np.int64)
    chunk = pack("sim", key, steps, steps * 1000, 1.0 / (steps + 1.0))
    return {"id": batch_id(), "op": "write", "run_id": run_id, "source": "sim", "batches": [wire.batch_to(chunk)],
            "heartbeat_ns": time.time_ns()}


def artifact_body() -> dict[str, Any]:
    """An artifact version of the lab run holding :data:`BLOB`."""
    return {"name": "policy", "type": "model", "files": [{"path": "policy.bin", "sha256": BLOB_SHA, "size": len(BLOB)}],
            "run_id": LAB_RUN, "created_ns": 1}


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


@dataclass
class World:
    """The filled server: its client (loopback), accounts, and each role's request headers."""

    client: Any
    accounts: Accounts
    root: Path
    db_url: str | None
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    artifact_digest: str = ""
    blob_sha = BLOB_SHA
    blob = BLOB

    artifact_body = staticmethod(artifact_body)
    create_batch = staticmethod(create_batch)
    write_batch = staticmethod(write_batch)

    def as_role(self, role: str) -> dict[str, str]:
        return dict(self.headers.get(role, {}))


def build_world(client: Any, root: Path, db_url: str | None) -> World:
    """Fill a fresh server (accounts still off) as described in the module docstring."""
    # Before accounts: the server token writes a run (as every writer did before accounts existed).
    legacy = {"batches": [create_batch(LEGACY_RUN, "legacy"), write_batch(LEGACY_RUN)]}
    assert client.post("/api/ingest/batches", headers=bearer("tok"), json=legacy).status_code == 200
    accounts = open_accounts(root, db_url)
    for user in USERS.values():
        if user is not None:
            accounts.create_user(user, PASSWORD)
    accounts.create_team("lab")
    accounts.create_team("other")
    for user, role in (("ada", "admin"), ("max", "member"), ("vic", "viewer"), ("rex", "member")):
        accounts.add_member("lab", user, role)
    accounts.add_member("other", "wes", "admin")
    accounts.set_project("lab-proj", team="lab")
    world = World(client, accounts, root, db_url)
    for role, user in USERS.items():
        if user is not None:
            world.keys[role] = accounts.create_key(user, f"{role} key")[1]
            world.headers[role] = bearer(world.keys[role])
    accounts.revoke_key(world.keys["revoked"][:12])
    assert client.get("/api/auth/me", headers=world.headers["admin"]).json()["user"] == "ada"
    done = client.post("/api/ingest/batches", headers=world.headers["member"],
                       json={"batches": [create_batch(LAB_RUN, "lab-proj"), write_batch(LAB_RUN)]})
    assert done.status_code == 200, done.text
    upload = client.put(f"/api/ingest/files/{LAB_RUN}/media/clip.bin", content=b"\x00clip",
                        headers={**world.headers["member"], "content-type": "application/octet-stream"})
    assert upload.status_code == 200, upload.text
    blob = client.put(f"/api/ingest/blobs/{BLOB_SHA}", content=BLOB,
                      headers={**world.headers["member"], "content-type": "application/octet-stream"})
    assert blob.status_code == 200, blob.text
    version = client.post("/api/ingest/artifacts", headers=world.headers["member"], json=artifact_body())
    assert version.status_code == 200, version.text
    world.artifact_digest = version.json()["digest"]
    done = client.post("/api/ingest/batches", headers=world.headers["wrong_team"],
                       json={"batches": [create_batch(OTHER_RUN, "other-proj"), write_batch(OTHER_RUN)]})
    assert done.status_code == 200, done.text
    return world


def loopback_client(app: Any, *, base_url: str = "http://127.0.0.1", address: str = "127.0.0.1") -> Any:
    """An in-process client that looks like a browser on this machine (as the server tests' ``make_client``)."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
        from fastapi.testclient import TestClient
    return TestClient(app, base_url=base_url, client=(address, 50000))


@pytest.fixture
def client_at() -> Any:
    """Return :func:`loopback_client`: another client of an app (another scheme or client address)."""
    return loopback_client


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A filled server with accounts on each back-end (server token: ``tok``)."""
    pytest.importorskip("fastapi", reason="the server needs the ui extra: pip install 'rltrack[server]'")
    from rltrack.server import create_app
    from rltrack.server.app import ServerSettings
    from rltrack.server.security import AccessControl

    url = None
    if request.param == "postgresql":
        pytest.importorskip("psycopg", reason="PostgreSQL needs psycopg: pip install 'rltrack[server]'")
        url = request.getfixturevalue("pg_cluster").new_database()
    root = tmp_path_factory.mktemp(f"accounts-{request.param}") / "store"
    app = create_app(ServerSettings(root=root, ingest=True, db=url, access=AccessControl(tokens=frozenset({"tok"}))))
    with loopback_client(app) as client:
        yield build_world(client, root, url)
