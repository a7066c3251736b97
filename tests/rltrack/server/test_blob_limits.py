"""Artifact blob uploads are uploads: limited by ``--max-upload-mb`` (1 GiB), not ``--max-body-mb`` (32 MiB)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import httpx
import pytest

pytest.importorskip("fastapi", reason="the server needs the ui extra: pip install 'rltrack[server]'")

import rltrack
from rltrack.artifacts.blobs import Blob
from rltrack.artifacts.version import blob_store
from rltrack.remote import push_store
from rltrack.server import ServerSettings
from rltrack.server.security import DEFAULT_MAX_BODY_BYTES, AccessControl, is_upload
from rltrack.server.serve import BackgroundServer
from rltrack.store.artifacts import ArtifactStore
from rltrack.store.open import open_database

MIB = 1024 * 1024


def test_a_40_mib_artifact_blob_syncs_with_the_default_limits(tmp_path: Path) -> None:
    local = tmp_path / "robot"
    checkpoint = tmp_path / "policy.bin"
    checkpoint.write_bytes(os.urandom(40 * MIB))  # over the 32 MiB JSON limit, far under the 1 GiB upload limit
    assert checkpoint.stat().st_size > DEFAULT_MAX_BODY_BYTES
    run = rltrack.init(project="fleet", name="train", dir=local, system_metrics=False)
    run.log_artifact(checkpoint, name="policy", aliases=["best"])
    run.finish()
    digest = hashlib.sha256(checkpoint.read_bytes()).hexdigest()

    with BackgroundServer(ServerSettings(root=tmp_path / "srv", ingest=True)) as server:
        done = push_store(local, server.url)
    assert (done.versions, done.blobs, done.blob_bytes) == (1, 1, 40 * MIB)
    db = open_database(tmp_path / "srv")
    try:
        [version] = ArtifactStore(db).versions("policy")
        [stored] = ArtifactStore(db).files(version.id)
        assert (stored.path, stored.digest, stored.size) == ("policy.bin", digest, 40 * MIB)
        assert ArtifactStore(db).aliases(version.id) == ["best", "latest"]
        assert blob_store(db).contains(Blob(digest, 40 * MIB))
    finally:
        db.close()


def test_a_blob_over_the_upload_limit_is_refused_unread_and_json_keeps_its_own_limit(tmp_path: Path) -> None:
    access = AccessControl(max_body_bytes=1 * MIB, max_upload_bytes=2 * MIB)
    fits, too_big = os.urandom(MIB + MIB // 2), os.urandom(3 * MIB)
    with BackgroundServer(ServerSettings(root=tmp_path / "srv", ingest=True, access=access)) as server:
        octets = {"content-type": "application/octet-stream"}
        sha = hashlib.sha256(fits).hexdigest()
        stored = httpx.put(f"{server.url}/api/ingest/blobs/{sha}", content=fits, headers=octets, timeout=30)
        assert stored.status_code == 200, stored.text  # over the JSON limit: an upload is not JSON
        assert stored.json() == {"sha256": sha, "size": len(fits)}
        big_sha = hashlib.sha256(too_big).hexdigest()
        refused = httpx.put(f"{server.url}/api/ingest/blobs/{big_sha}", content=too_big, headers=octets, timeout=30)
        assert refused.status_code == 413 and f"limit of {2 * MIB} bytes" in refused.json()["detail"]
        # The blob query is JSON: it keeps the JSON limit, whatever the upload limit is.
        query = b'{"blobs": [' + b" " * (MIB + 10) + b"]}"
        json_refused = httpx.post(f"{server.url}/api/ingest/blobs/missing", content=query, timeout=30,
                                  headers={"content-type": "application/json"})
        assert json_refused.status_code == 413 and f"limit of {MIB} bytes" in json_refused.json()["detail"]
    db = open_database(tmp_path / "srv")
    try:
        assert blob_store(db).contains(Blob(sha, len(fits)))
        assert not blob_store(db).contains(Blob(big_sha, len(too_big)))
    finally:
        db.close()


@pytest.mark.parametrize(("method", "path", "upload"), [
    ("PUT", "/api/ingest/blobs/" + "a" * 64, True),
    ("PUT", "/api/ingest/files/run1/media/clip.mp4", True),
    ("POST", "/api/ingest/blobs/missing", False),
    ("POST", "/api/ingest/artifacts", False),
    ("PUT", "/api/ingest/blobsy", False),
    ("PUT", "/api/projects/p/dashboards/1", False),
])
def test_which_requests_are_uploads(method: str, path: str, upload: bool) -> None:
    assert is_upload(method, path) is upload
