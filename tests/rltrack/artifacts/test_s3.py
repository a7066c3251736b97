"""S3-compatible blobs against a real S3 endpoint on loopback (moto's standalone server): content
addressing, sha256 integrity, multipart uploads, no half-written object under a digest's name."""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rltrack.artifacts import s3 as s3_module
from rltrack.artifacts.blobs import Blob, copy_file_hashing
from rltrack.artifacts.errors import ArtifactError
from rltrack.artifacts.s3 import S3BlobStore, parse_s3_url
from rltrack.errors import StoreError

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
def client(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    for name, value in (("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "test"),
                        ("AWS_DEFAULT_REGION", "us-east-1"), ("AWS_ENDPOINT_URL", endpoint)):
        monkeypatch.setenv(name, value)
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="lab")
    yield s3
    listed = s3.list_objects_v2(Bucket="lab").get("Contents", [])
    for obj in listed:
        s3.delete_object(Bucket="lab", Key=obj["Key"])
    s3.delete_bucket(Bucket="lab")


def keys(client: Any) -> list[str]:
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket="lab").get("Contents", []))


def test_a_file_is_stored_once_under_its_sha256_and_reads_back(client: Any, tmp_path: Path) -> None:
    data = os.urandom(300_000)
    digest = hashlib.sha256(data).hexdigest()
    (tmp_path / "a.bin").write_bytes(data)
    (tmp_path / "same.bin").write_bytes(data)
    store = S3BlobStore("s3://lab/team/artifacts")  # endpoint and credentials from the AWS_* variables
    assert not store.contains(Blob(digest, len(data)))
    assert store.put(tmp_path / "a.bin") == Blob(digest, len(data))
    assert store.put(tmp_path / "same.bin", expected=Blob(digest, len(data))) == Blob(digest, len(data))
    assert keys(client) == [f"team/artifacts/blobs/{digest[:2]}/{digest}"]  # one object, no temporary left
    assert store.contains(Blob(digest, len(data))) and not store.contains(Blob(digest, len(data) + 1))
    assert store.locate(digest) == f"s3://lab/team/artifacts/blobs/{digest[:2]}/{digest}"
    with store.open(digest) as src, (tmp_path / "copy.bin").open("w+b", buffering=0) as dst:
        assert copy_file_hashing(src, dst) == Blob(digest, len(data))  # what a download does
    assert (tmp_path / "copy.bin").read_bytes() == data


def test_a_large_file_goes_up_in_parts(client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(s3_module, "MULTIPART_THRESHOLD", 5 << 20)
    monkeypatch.setattr(s3_module, "PART_SIZE", 5 << 20)  # S3's smallest part
    data = os.urandom((12 << 20) + 123)
    (tmp_path / "big.bin").write_bytes(data)
    blob = S3BlobStore("s3://lab").put(tmp_path / "big.bin")
    assert blob == Blob(hashlib.sha256(data).hexdigest(), len(data))
    uploaded = client.head_object(Bucket="lab", Key=f"blobs/{blob.digest[:2]}/{blob.digest}")
    assert uploaded["ContentLength"] == len(data) and uploaded["ETag"].strip('"').endswith("-3")  # 3 parts
    with S3BlobStore("s3://lab").open(blob.digest) as src:
        assert hashlib.sha256(src.read()).hexdigest() == blob.digest


def test_a_file_that_changed_while_logged_is_refused_and_nothing_is_stored(client: Any, tmp_path: Path) -> None:
    (tmp_path / "a.bin").write_bytes(b"new content")
    old = Blob(hashlib.sha256(b"old content").hexdigest(), 11)
    with pytest.raises(ArtifactError, match=r"a.bin' changed while it was being logged .*log it again"):
        S3BlobStore("s3://lab/p").put(tmp_path / "a.bin", expected=old)
    assert keys(client) == []


def test_missing_blobs_bad_digests_and_unreadable_files_say_so(client: Any, tmp_path: Path) -> None:
    store = S3BlobStore("s3://lab/p")
    with pytest.raises(FileNotFoundError, match="no blob s3://lab/p/blobs/00/0000"):
        store.open("0" * 64)
    with pytest.raises(ArtifactError, match=r"'\.\./\.\./etc' is not a sha256 digest"):
        store.open("../../etc")
    with pytest.raises(ArtifactError, match=r"cannot read .*missing.bin.* check that the file exists"):
        store.put(tmp_path / "missing.bin")
    assert keys(client) == []


def test_a_missing_bucket_is_a_store_error_naming_it(client: Any, tmp_path: Path) -> None:
    (tmp_path / "a.bin").write_bytes(b"x")
    with pytest.raises(StoreError, match=r"cannot upload artifact blobs in s3://no-such-bucket/p: .*NoSuchBucket"):
        S3BlobStore("s3://no-such-bucket/p").put(tmp_path / "a.bin")


@pytest.mark.parametrize(
    ("url", "message"),
    [("bucket/p", "is not an S3 URL"), ("s3:///p", "is not an S3 URL"), ("s3://b/a/../c", "may not contain '..'")],
)
def test_bad_s3_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(StoreError, match=message):
        parse_s3_url(url)


def test_prefixes_are_normalised() -> None:
    assert parse_s3_url("s3://b").key("blobs", "x") == "blobs/x"
    assert parse_s3_url("s3://b/team/run/").key("blobs", "x") == "team/run/blobs/x"


def test_rltrack_blobs_puts_a_runs_artifacts_in_the_bucket_and_downloads_check_them(
    client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import rltrack

    monkeypatch.setenv("RLTRACK_BLOBS", "s3://lab/team")
    data = os.urandom(100_000)
    (tmp_path / "policy.zip").write_bytes(data)
    run = rltrack.init(project="p", dir=tmp_path / "store", system_metrics=False)
    art = rltrack.Artifact("policy", type="model")
    art.add_file(tmp_path / "policy.zip")
    run.log_artifact(art, aliases=["best"])
    run.log_artifact(art)  # the same content again: no new object
    run.finish()
    digest = hashlib.sha256(data).hexdigest()
    assert keys(client) == [f"team/blobs/{digest[:2]}/{digest}"]
    assert not (tmp_path / "store" / "artifacts" / "blobs").exists()  # nothing on the local disk
    robot = rltrack.init(project="p", dir=tmp_path / "store", system_metrics=False)
    path = robot.use_artifact("policy:best").download(tmp_path / "got")
    robot.finish()
    assert (Path(path) / "policy.zip").read_bytes() == data
    client.put_object(Bucket="lab", Key=f"team/blobs/{digest[:2]}/{digest}", Body=b"tampered" + data[8:])
    robot = rltrack.init(project="p", dir=tmp_path / "store", system_metrics=False)
    with pytest.raises(ArtifactError, match="sha256"):
        robot.use_artifact("policy:best").download(tmp_path / "again")
    robot.finish()
