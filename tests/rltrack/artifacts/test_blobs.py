from __future__ import annotations

import hashlib
import io
import os
import pathlib
import socket
import stat
import subprocess
import sys
import time
import tracemalloc

import pytest

from rltrack.artifacts import ArtifactError, LocalBlobStore
from rltrack.artifacts.blobs import BLOCK_SIZE, STALE_AFTER_S, Blob, copy_file_hashing, hash_file

from .conftest import write_bytes


def test_put_stores_under_the_sha256_and_reads_back(tmp_path: pathlib.Path) -> None:
    source = write_bytes(tmp_path / "f", 2 * BLOCK_SIZE + 5)
    blobs = LocalBlobStore(tmp_path / "artifacts")

    blob = blobs.put(source)

    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    assert blob == Blob(digest, source.stat().st_size)
    assert blobs.path(digest) == tmp_path / "artifacts" / "blobs" / digest[:2] / digest
    assert blobs.contains(blob)
    assert stat.S_IMODE(blobs.path(digest).stat().st_mode) == 0o444
    with blobs.open(digest) as f:
        assert f.read() == source.read_bytes()
    assert list((tmp_path / "artifacts" / "tmp").iterdir()) == []


def test_contains_checks_the_size(tmp_path: pathlib.Path) -> None:
    blobs = LocalBlobStore(tmp_path / "artifacts")
    blob = blobs.put(write_bytes(tmp_path / "f", 100))
    blobs.path(blob.digest).chmod(0o644)
    with open(blobs.path(blob.digest), "r+b") as f:
        f.truncate(50)
    assert not blobs.contains(blob)


def test_put_and_hash_stream_in_blocks(tmp_path: pathlib.Path) -> None:
    # A file 8x the block size must never be held whole: peak Python allocation stays near two blocks.
    source = write_bytes(tmp_path / "big", 8 * BLOCK_SIZE)
    blobs = LocalBlobStore(tmp_path / "artifacts")
    tracemalloc.start()
    try:
        blobs.put(source)
        hash_file(source)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * BLOCK_SIZE


def test_put_refuses_content_that_changed(tmp_path: pathlib.Path) -> None:
    source = write_bytes(tmp_path / "f", 100)
    blobs = LocalBlobStore(tmp_path / "artifacts")
    with pytest.raises(ArtifactError, match="changed while it was being logged"):
        blobs.put(source, expected=Blob("0" * 64, 100))
    assert not (tmp_path / "artifacts" / "blobs").exists()
    assert list((tmp_path / "artifacts" / "tmp").iterdir()) == []


def test_put_of_a_missing_file_names_it(tmp_path: pathlib.Path) -> None:
    missing = tmp_path / "nope.zip"
    with pytest.raises(ArtifactError, match=r"nope\.zip"):
        LocalBlobStore(tmp_path / "artifacts").put(missing)


def test_temporary_files_of_dead_writers_are_removed(tmp_path: pathlib.Path) -> None:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True)
    dead_pid = int(proc.stdout)
    tmp = tmp_path / "artifacts" / "tmp"
    tmp.mkdir(parents=True)
    host = socket.gethostname().replace("-", "_")
    stale = tmp / f"{host}-{dead_pid}-abc.part"
    live = tmp / f"{host}-{os.getppid()}-abc.part"
    other_host = tmp / f"otherhost-{dead_pid}-abc.part"
    recent = tmp / f"{host}-{dead_pid}-recent.part"
    old = time.time() - STALE_AFTER_S - 60
    for path in (stale, live, other_host, recent):
        path.write_bytes(b"x")
        if path is not recent:
            os.utime(path, (old, old))

    LocalBlobStore(tmp_path / "artifacts").put(write_bytes(tmp_path / "f", 10))

    assert sorted(p.name for p in tmp.iterdir()) == sorted([live.name, other_host.name, recent.name])


def test_a_stream_without_a_file_descriptor_is_copied_through_python(tmp_path: pathlib.Path) -> None:
    data = write_bytes(tmp_path / "f", BLOCK_SIZE + 3).read_bytes()
    with open(tmp_path / "out", "x+b", buffering=0) as out:
        blob = copy_file_hashing(io.BytesIO(data), out)
    assert blob == Blob(hashlib.sha256(data).hexdigest(), len(data))
    assert (tmp_path / "out").read_bytes() == data
