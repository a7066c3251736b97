from __future__ import annotations

import pathlib
from collections.abc import Callable

import pytest

import rltrack
from rltrack.artifacts import Artifact, LocalBlobStore
from rltrack.artifacts.blobs import BLOCK_SIZE
from rltrack.artifacts.log import _may_be_stored
from rltrack.store.artifacts import ArtifactStore

from .conftest import blob_files, write_bytes


def test_identical_content_in_a_second_run_adds_no_version_or_blob(
    tmp_path: pathlib.Path, store_dir: pathlib.Path, make_run: Callable[..., rltrack.Run]
) -> None:
    source = write_bytes(tmp_path / "p.zip", 5000)
    first = make_run().log_artifact(source, name="policy", aliases=["a"])
    blob = blob_files(store_dir)[0]
    inode, mtime = blob.stat().st_ino, blob.stat().st_mtime_ns

    second = make_run().log_artifact(source, name="policy", aliases=["b"])

    assert second == first
    assert second.version == "v0"
    assert second.logged_by_id == first.logged_by_id
    assert second.aliases == ["a", "b", "latest"]
    assert blob_files(store_dir) == [blob]
    assert (blob.stat().st_ino, blob.stat().st_mtime_ns) == (inode, mtime)  # not copied again
    assert [v.version for v in rltrack.Api(store_dir).artifacts("policy")] == ["v0"]


def test_same_file_under_two_names_is_stored_once(
    tmp_path: pathlib.Path, store_dir: pathlib.Path, make_run: Callable[..., rltrack.Run]
) -> None:
    source = write_bytes(tmp_path / "p.zip", 5000)
    run = make_run()
    a = run.log_artifact(source, name="a")
    b = run.log_artifact(source, name="b")
    assert (a.version, b.version) == ("v0", "v0")
    assert len(blob_files(store_dir)) == 1


def test_two_identical_files_in_one_version_share_a_blob(
    tmp_path: pathlib.Path, store_dir: pathlib.Path, make_run: Callable[..., rltrack.Run]
) -> None:
    source = write_bytes(tmp_path / "p.zip", 5000)
    art = Artifact("pair")
    art.add_file(source, name="one.zip")
    art.add_file(source, name="two.zip")
    version = make_run().log_artifact(art)
    assert [f.path for f in version.files] == ["one.zip", "two.zip"]
    assert len(blob_files(store_dir)) == 1
    out = version.download(tmp_path / "out")
    assert (out / "one.zip").read_bytes() == (out / "two.zip").read_bytes() == source.read_bytes()


def test_changed_content_adds_a_version_and_keeps_the_old_blob(
    tmp_path: pathlib.Path, store_dir: pathlib.Path, make_run: Callable[..., rltrack.Run]
) -> None:
    source = tmp_path / "p.zip"
    run = make_run()
    write_bytes(source, 5000, seed=1)
    v0 = run.log_artifact(source, name="policy")
    write_bytes(source, 5000, seed=2)  # same size, other bytes
    v1 = run.log_artifact(source, name="policy")
    assert (v0.version, v1.version) == ("v0", "v1")
    assert v0.digest != v1.digest
    assert len(blob_files(store_dir)) == 2
    assert (v0.download(tmp_path / "old") / "p.zip").read_bytes() != source.read_bytes()


def test_relogging_an_older_content_returns_that_version_and_latest_stays(
    tmp_path: pathlib.Path, make_run: Callable[..., rltrack.Run]
) -> None:
    source = tmp_path / "p.zip"
    run = make_run()
    write_bytes(source, 100, seed=1)
    v0 = run.log_artifact(source, name="policy")
    write_bytes(source, 100, seed=2)
    run.log_artifact(source, name="policy")
    write_bytes(source, 100, seed=1)

    again = run.log_artifact(source, name="policy", aliases=["best"])

    assert again == v0
    assert again.aliases == ["best"]
    assert rltrack.Api(run._store.db.root).artifact("policy").version == "v1"


def test_same_files_under_other_names_are_another_version(
    tmp_path: pathlib.Path, make_run: Callable[..., rltrack.Run]
) -> None:
    source = write_bytes(tmp_path / "p.zip", 100)
    run = make_run()
    v0 = run.log_artifact(source, name="policy")
    art = Artifact("policy")
    art.add_file(source, name="renamed.zip")
    v1 = run.log_artifact(art)
    assert v1.version == "v1"
    assert v1.digest != v0.digest


def test_a_truncated_blob_is_rewritten_by_the_next_log(
    tmp_path: pathlib.Path, store_dir: pathlib.Path, make_run: Callable[..., rltrack.Run]
) -> None:
    source = write_bytes(tmp_path / "p.zip", 5000)
    run = make_run()
    version = run.log_artifact(source, name="policy")
    blobs = LocalBlobStore(store_dir / "artifacts")
    path = blobs.path(version.files[0].digest)
    path.chmod(0o644)
    with open(path, "r+b") as f:
        f.truncate(10)
    run.log_artifact(source, name="policy")
    assert path.read_bytes() == source.read_bytes()


_SIZE = 3 * BLOCK_SIZE + 5


@pytest.mark.parametrize("offset", [0, _SIZE // 2, _SIZE - 1, 12345])  # start, middle, end, unsampled
def test_new_content_of_a_stored_size_is_a_new_version_wherever_it_differs(
    tmp_path: pathlib.Path, store_dir: pathlib.Path, make_run: Callable[..., rltrack.Run], offset: int
) -> None:
    source = write_bytes(tmp_path / "p.pt", _SIZE)
    run = make_run()
    v0 = run.log_artifact(source, name="policy")
    data = bytearray(source.read_bytes())
    data[offset] ^= 0xFF
    source.write_bytes(bytes(data))

    v1 = run.log_artifact(source, name="policy")

    assert (v0.version, v1.version) == ("v0", "v1")
    assert (v1.download(tmp_path / "out") / "p.pt").read_bytes() == bytes(data)
    assert len(blob_files(store_dir)) == 2


def test_samples_rule_out_stored_files_of_the_same_size(
    tmp_path: pathlib.Path, store_dir: pathlib.Path, make_run: Callable[..., rltrack.Run]
) -> None:
    run = make_run()
    run.log_artifact(write_bytes(tmp_path / "a.pt", _SIZE, seed=1), name="policy")
    blobs, records = LocalBlobStore(store_dir / "artifacts"), ArtifactStore(run._store.db)

    assert _may_be_stored(blobs, records, tmp_path / "a.pt", _SIZE)
    assert not _may_be_stored(blobs, records, write_bytes(tmp_path / "b.pt", _SIZE, seed=2), _SIZE)
    assert not _may_be_stored(blobs, records, write_bytes(tmp_path / "c.pt", _SIZE + 1, seed=1), _SIZE + 1)
