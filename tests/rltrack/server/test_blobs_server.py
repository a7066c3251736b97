"""``rltrack server --blobs s3://...`` against a real S3 endpoint on loopback (moto's standalone server).

An online run's video lands in the bucket under its sha256 (not in the server's folder), the
dashboard's file route serves it back through the server with HTTP Range (206, 416), a damaged
upload is refused, and a synced store's artifact blobs land in the same bucket.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

import rltrack
from rltrack.errors import StoreError
from rltrack.remote import push_store
from rltrack.server import ServerSettings
from rltrack.server.run_files import BlobSettings
from rltrack.server.serve import BackgroundServer

boto3 = pytest.importorskip("boto3", reason="S3 blobs need boto3: pip install 'rltrack[s3]'")
moto_server = pytest.importorskip("moto.server", reason="the S3 tests need moto[server]")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    port = free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def bucket(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in (("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "test"),
                        ("AWS_DEFAULT_REGION", "us-east-1"), ("AWS_ENDPOINT_URL", endpoint)):
        monkeypatch.setenv(name, value)
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="team")
    yield s3
    for obj in s3.list_objects_v2(Bucket="team").get("Contents", []):
        s3.delete_object(Bucket="team", Key=obj["Key"])
    s3.delete_bucket(Bucket="team")


def objects(s3: Any) -> dict[str, bytes]:
    return {o["Key"]: s3.get_object(Bucket="team", Key=o["Key"])["Body"].read()
            for o in s3.list_objects_v2(Bucket="team").get("Contents", [])}


def serve(root: Path) -> BackgroundServer:
    return BackgroundServer(ServerSettings(root=root, ingest=True), blobs=BlobSettings("s3://team/lab"))


def test_an_online_video_lands_in_the_bucket_and_plays_with_range_requests(bucket: Any, tmp_path: Path) -> None:
    frames = np.random.default_rng(0).integers(0, 255, size=(12, 32, 32, 3), dtype=np.uint8)
    with serve(tmp_path / "srv") as server:
        run = rltrack.init(project="robot", mode="online", url=server.url, dir=tmp_path / "spool",
                           system_metrics=False)
        run.log({"eval/video": rltrack.Video(frames, fps=10)}, step=5)
        run.finish()
        (item,) = httpx.get(f"{server.url}/api/runs/{run.id}/media", timeout=10).json()
        local = next((tmp_path / "spool" / "runs" / run.id).rglob(Path(item["path"]).name)).read_bytes()
        digest = hashlib.sha256(local).hexdigest()
        stored = objects(bucket)
        # The bytes live once, under their sha256; the run's file name is a small reference to them.
        assert stored[f"lab/blobs/{digest[:2]}/{digest}"] == local
        assert stored[f"lab/files/{run.id}/{item['path']}"] == (
            f'{{"sha256": "{digest}", "size": {len(local)}}}'.encode())
        assert not (tmp_path / "srv" / "runs" / run.id / item["path"]).exists()
        assert not [k for k in stored if k.startswith("lab/tmp/")]

        whole = httpx.get(server.url + item["url"], timeout=10)
        assert whole.status_code == 200
        assert whole.headers["content-type"] == "video/mp4"
        assert whole.headers["accept-ranges"] == "bytes"
        assert whole.content == local
        part = httpx.get(server.url + item["url"], headers={"range": "bytes=10-99"}, timeout=10)
        assert part.status_code == 206
        assert part.headers["content-range"] == f"bytes 10-99/{len(local)}"
        assert part.content == local[10:100]
        tail = httpx.get(server.url + item["url"], headers={"range": "bytes=-16"}, timeout=10)
        assert (tail.status_code, tail.content) == (206, local[-16:])
        beyond = httpx.get(server.url + item["url"], headers={"range": f"bytes={len(local)}-"}, timeout=10)
        assert beyond.status_code == 416
        assert beyond.headers["content-range"] == f"bytes */{len(local)}"
        missing = httpx.get(f"{server.url}/api/runs/{run.id}/files/media/none.mp4", timeout=10)
        assert missing.status_code == 404
        hostile = httpx.get(f"{server.url}/api/runs/{run.id}/files/media/%2e%2e/%2e%2e/x", timeout=10)
        assert hostile.status_code in (400, 404)


def test_a_damaged_upload_is_refused_and_nothing_is_named(bucket: Any, tmp_path: Path) -> None:
    with serve(tmp_path / "srv") as server:
        run = rltrack.init(project="robot", mode="online", url=server.url, dir=tmp_path / "spool",
                           system_metrics=False)
        run.finish()
        answer = httpx.put(f"{server.url}/api/ingest/files/{run.id}/media/clip.mp4", content=b"x" * 100,
                           headers={"x-rltrack-sha256": "0" * 64}, timeout=10)
        assert answer.status_code == 400
        assert "damaged" in answer.json()["detail"]
        assert not [k for k in objects(bucket) if "/files/" in k or "/blobs/" in k]
        good = httpx.put(f"{server.url}/api/ingest/files/{run.id}/media/clip.mp4", content=b"x" * 100, timeout=10)
        assert good.status_code == 200
        assert good.json()["sha256"] == hashlib.sha256(b"x" * 100).hexdigest()


def test_synced_artifacts_land_in_the_bucket(bucket: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    local = tmp_path / "robot"
    checkpoint = tmp_path / "policy.bin"
    checkpoint.write_bytes(np.random.default_rng(1).bytes(300_000))
    run = rltrack.init(project="robot", dir=local, system_metrics=False)
    run.log({"r": 1.0}, step=0)
    run.log_artifact(checkpoint, name="policy", aliases=["best"])
    run.finish()
    with serve(tmp_path / "srv") as server:
        done = push_store(local, server.url)
        again = push_store(local, server.url)
    assert (done.runs, done.versions, done.blobs) == (1, 1, 1)
    assert (again.versions, again.blobs, again.points) == (0, 0, 0)
    digest = hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    assert objects(bucket)[f"lab/blobs/{digest[:2]}/{digest}"] == checkpoint.read_bytes()
    monkeypatch.setenv("RLTRACK_BLOBS", "s3://team/lab")  # how the server's own artifact code finds them
    version = rltrack.Api(tmp_path / "srv").artifact("policy:best")
    assert version.logged_by_id == run.id
    assert (Path(version.download(tmp_path / "out")) / "policy.bin").read_bytes() == checkpoint.read_bytes()


def test_a_bucket_that_does_not_exist_fails_at_start(bucket: Any, tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="create the bucket"):
        BackgroundServer(ServerSettings(root=tmp_path / "srv", ingest=True), blobs=BlobSettings("s3://nope/x"))


def test_histogram_panels_read_their_files_from_the_bucket(bucket: Any, tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    with serve(tmp_path / "srv") as server:
        run = rltrack.init(project="robot", mode="online", url=server.url, dir=tmp_path / "spool",
                           system_metrics=False)
        for step in (0, 10):
            run.log({"weights/actor": rltrack.Histogram(rng.normal(step, 1, size=400), num_bins=8)}, step=step)
        run.finish()
        assert not list((tmp_path / "srv" / "runs").rglob("*.json"))  # nothing on the server's disk
        data = httpx.get(f"{server.url}/api/runs/{run.id}/histograms", params={"key": "weights/actor"},
                         timeout=10).json()
        assert data["steps"] == [0, 10]
        assert [round(sum(row)) for row in data["counts"]] == [400, 400]
        # A copy whose bytes no longer match the reference's sha256 is refused, not parsed.
        ref = json.loads(bucket.get_object(Bucket="team", Key=f"lab/files/{run.id}/"
                                           + httpx.get(f"{server.url}/api/runs/{run.id}/media",
                                                       timeout=10).json()[0]["path"])["Body"].read())
        bucket.put_object(Bucket="team", Key=f"lab/blobs/{ref['sha256'][:2]}/{ref['sha256']}", Body=b"{}")
        shutil.rmtree(tmp_path / "srv" / "tmp" / "cache")
        damaged = httpx.get(f"{server.url}/api/runs/{run.id}/histograms", params={"key": "weights/actor"},
                            timeout=10)
        assert damaged.status_code == 200
        assert damaged.json()["skipped"] == 1  # counted as unreadable, like a damaged file on disk
        assert damaged.json()["steps"] == [10]


def test_the_command_line_server_on_two_workers_keeps_files_in_the_bucket(
    bucket: Any, endpoint: str, tmp_path: Path
) -> None:
    import re
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-c", "from rltrack.cli import main; main()", "server", "--dir", str(tmp_path / "srv"),
         "--port", "0", "--workers", "2", "--blobs", "s3://team/cli", "--s3-endpoint", endpoint],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"(http://\S+?)/?\s", line)
        assert match and "on 2 worker processes" in line, line + proc.stdout.read()
        url = match.group(1)
        run = rltrack.init(project="robot", mode="online", url=url, dir=tmp_path / "spool", system_metrics=False)
        run.log({"camera": rltrack.Image(np.full((8, 8, 3), 40, dtype=np.uint8))}, step=1)
        run.finish()
        (item,) = httpx.get(f"{url}/api/runs/{run.id}/media", timeout=30).json()
        body = httpx.get(url + item["url"], timeout=30)
        assert body.status_code == 200 and body.headers["content-type"] == "image/png"
        assert objects(bucket)[f"cli/files/{run.id}/{item['path']}"]
        digest = hashlib.sha256(body.content).hexdigest()
        assert objects(bucket)[f"cli/blobs/{digest[:2]}/{digest}"] == body.content
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)


def test_saved_files_of_an_online_run_are_listed_from_the_bucket(bucket: Any, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("hello bucket")
    with serve(tmp_path / "srv") as server:
        run = rltrack.init(project="robot", mode="online", url=server.url, dir=tmp_path / "spool",
                           system_metrics=False)
        run.save("notes.txt", policy="now")
        run.log({"x": 1.0}, step=0)
        run.finish()
        assert not (tmp_path / "srv" / "runs" / run.id / "files").exists()  # only in the bucket
        listed = httpx.get(f"{server.url}/api/runs/{run.id}/files", timeout=10).json()
        assert [(f["path"], f["size"]) for f in listed["files"]] == [("files/notes.txt", 12)]
        assert not listed["truncated"]
        got = httpx.get(server.url + listed["files"][0]["url"], timeout=10)
        assert got.status_code == 200 and got.content == b"hello bucket"
