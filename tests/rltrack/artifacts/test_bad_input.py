from __future__ import annotations

import os
import pathlib
from collections.abc import Callable

import pytest

import rltrack
from rltrack.artifacts import (
    Artifact,
    ArtifactCorruptedError,
    ArtifactError,
    ArtifactNotFoundError,
    LocalBlobStore,
)
from rltrack.errors import RltrackError, RunFinishedError

from .conftest import blob_files, write_bytes


def _nothing_stored(store_dir: pathlib.Path) -> None:
    assert rltrack.Api(store_dir).artifacts() == []
    assert blob_files(store_dir) == []


@pytest.mark.parametrize("name", ["..", "a/b", "/abs", "a\x00b", "a\nb", "", "a:b", "a..b", "x" * 129, "a b"])
def test_bad_artifact_names_are_refused(
    tmp_path: pathlib.Path, store_dir: pathlib.Path, make_run: Callable[..., rltrack.Run], name: str
) -> None:
    run = make_run()
    source = write_bytes(tmp_path / "p.zip", 10)
    with pytest.raises(ArtifactError, match=r"artifact name .* is not allowed") as info:
        run.log_artifact(source, name=name)
    assert repr(name) in str(info.value)
    assert len(info.value.args) == 1
    with pytest.raises(ArtifactError, match="is not allowed"):
        Artifact(name)
    _nothing_stored(store_dir)


@pytest.mark.parametrize(
    ("file_name", "phrase"),
    [("../escape.zip", "'..' part"), ("a/../../b", "'..' part"), ("/etc/passwd", "absolute"),
     ("a\x01b", "control characters"), ("a\\b", "use '/'"), ("a//b", "empty"), ("dir/", "empty"), ("", "non-empty")],
)
def test_file_names_that_leave_the_artifact_are_refused(tmp_path: pathlib.Path, file_name: str, phrase: str) -> None:
    art = Artifact("policy")
    with pytest.raises(ArtifactError, match=phrase) as info:
        art.add_file(write_bytes(tmp_path / "p.zip", 10), name=file_name)
    assert repr(file_name) in str(info.value)
    assert art.files == {}


def test_a_file_on_disk_with_a_control_character_is_refused_by_add_dir(tmp_path: pathlib.Path) -> None:
    write_bytes(tmp_path / "d" / "bad\x1bname", 10)
    art = Artifact("policy")
    with pytest.raises(ArtifactError, match="control characters"):
        art.add_dir(tmp_path / "d")
    assert art.files == {}


def test_missing_source_file_is_refused(
    tmp_path: pathlib.Path, store_dir: pathlib.Path, make_run: Callable[..., rltrack.Run]
) -> None:
    run = make_run()
    missing = tmp_path / "missing.zip"
    with pytest.raises(ArtifactError, match=r"missing\.zip.*does not exist"):
        run.log_artifact(missing)
    with pytest.raises(ArtifactError, match=r"missing\.zip.*does not exist"):
        Artifact("policy").add_file(missing)
    with pytest.raises(ArtifactError, match=r"nodir.*does not exist"):
        Artifact("policy").add_dir(tmp_path / "nodir")
    _nothing_stored(store_dir)


def test_a_file_removed_after_add_is_refused_and_nothing_is_versioned(
    tmp_path: pathlib.Path, store_dir: pathlib.Path, make_run: Callable[..., rltrack.Run]
) -> None:
    art = Artifact("policy")
    art.add_file(write_bytes(tmp_path / "a.zip", 10))
    art.add_file(write_bytes(tmp_path / "b.zip", 10, seed=1))
    os.unlink(tmp_path / "b.zip")
    with pytest.raises(ArtifactError, match=r"b\.zip.*gone"):
        make_run().log_artifact(art)
    assert rltrack.Api(store_dir).artifacts() == []


def test_empty_artifact_and_empty_folder_are_refused(
    tmp_path: pathlib.Path, make_run: Callable[..., rltrack.Run]
) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ArtifactError, match="holds no files"):
        Artifact("policy").add_dir(tmp_path / "empty")
    with pytest.raises(ArtifactError, match="has no files"):
        make_run().log_artifact(Artifact("policy"))


@pytest.mark.parametrize(("first", "second"), [("a", "a/b.pt"), ("a/b.pt", "a"), ("x/a", "x/a/b")])
def test_a_file_and_a_folder_of_the_same_name_are_refused(tmp_path: pathlib.Path, first: str, second: str) -> None:
    art = Artifact("policy")
    art.add_file(write_bytes(tmp_path / "p.zip", 10), name=first)
    with pytest.raises(ArtifactError, match="both a file and a folder"):
        art.add_file(write_bytes(tmp_path / "p.zip", 10), name=second)
    assert list(art.files) == [first]


def test_add_dir_adds_all_or_nothing(tmp_path: pathlib.Path) -> None:
    write_bytes(tmp_path / "d" / "a.pt", 10)
    write_bytes(tmp_path / "d" / "b.pt", 10)
    art = Artifact("policy")
    art.add_file(write_bytes(tmp_path / "p.zip", 10), name="b.pt")
    with pytest.raises(ArtifactError, match=r"already has a file named 'b\.pt'"):
        art.add_dir(tmp_path / "d")
    assert list(art.files) == ["b.pt"]


def test_duplicate_file_names_are_refused(tmp_path: pathlib.Path) -> None:
    art = Artifact("policy")
    art.add_file(write_bytes(tmp_path / "p.zip", 10))
    with pytest.raises(ArtifactError, match=r"already has a file named 'p\.zip'"):
        art.add_file(write_bytes(tmp_path / "other" / "p.zip", 10))


@pytest.mark.parametrize(
    ("ref", "error", "phrase"),
    [("policy:v7", ArtifactNotFoundError, r"no version 'v7'.*v0\.\.v0; aliases latest, best"),
     ("policy:worst", ArtifactNotFoundError, r"no alias 'worst'"),
     ("nothing", ArtifactNotFoundError, r"no artifact named 'nothing'.*'policy'"),
     ("policy:", ArtifactError, "bad alias or version ''"),
     ("../policy", ArtifactError, "is not allowed"),
     ("policy:a:b", ArtifactError, "bad alias or version 'a:b'")],
)
def test_unknown_or_malformed_refs_are_refused(
    tmp_path: pathlib.Path, make_run: Callable[..., rltrack.Run], ref: str, error: type[Exception], phrase: str
) -> None:
    run = make_run()
    run.log_artifact(write_bytes(tmp_path / "p.zip", 10), name="policy", aliases=["best"])
    user = make_run()
    with pytest.raises(error, match=phrase):
        rltrack.Api(run._store.db.root).artifact(ref)
    with pytest.raises(error, match=phrase):
        user.use_artifact(ref)
    assert rltrack.Api(run._store.db.root).artifact("policy").used_by == []


def test_a_corrupted_blob_is_refused_on_download(
    tmp_path: pathlib.Path, store_dir: pathlib.Path, make_run: Callable[..., rltrack.Run]
) -> None:
    version = make_run().log_artifact(write_bytes(tmp_path / "p.zip", 1000), name="policy")
    blob = LocalBlobStore(store_dir / "artifacts").path(version.files[0].digest)
    data = bytearray(blob.read_bytes())
    data[500] ^= 0xFF
    blob.chmod(0o644)  # blobs are read-only; corrupt it the way a disk or a careless user would
    blob.write_bytes(bytes(data))
    out = tmp_path / "out"

    with pytest.raises(ArtifactCorruptedError) as info:
        version.download(out)

    message = str(info.value)
    assert str(blob) in message
    assert "'p.zip'" in message
    assert "'policy:v0'" in message
    assert list(out.iterdir()) == []  # neither the bad file nor its temporary copy


def test_a_missing_blob_is_refused_on_download(
    tmp_path: pathlib.Path, store_dir: pathlib.Path, make_run: Callable[..., rltrack.Run]
) -> None:
    version = make_run().log_artifact(write_bytes(tmp_path / "p.zip", 1000), name="policy")
    blob = LocalBlobStore(store_dir / "artifacts").path(version.files[0].digest)
    blob.unlink()
    with pytest.raises(ArtifactCorruptedError, match=r"p\.zip.*policy:v0.* cannot be read"):
        version.download(tmp_path / "out")


def test_a_name_keeps_its_type(tmp_path: pathlib.Path, make_run: Callable[..., rltrack.Run]) -> None:
    run = make_run()
    run.log_artifact(write_bytes(tmp_path / "p.zip", 10), name="policy")
    with pytest.raises(ArtifactError, match="holds type 'model', not 'dataset'"):
        run.log_artifact(write_bytes(tmp_path / "q.zip", 10, seed=1), name="policy", type="dataset")
    assert [v.version for v in rltrack.Api(run._store.db.root).artifacts()] == ["v0"]


@pytest.mark.parametrize("metadata", [{"f": object()}, {1: "int key"}, {"nested": {("t",): 1}}, ["not", "a", "dict"]])
def test_non_json_metadata_is_refused(metadata: object) -> None:
    with pytest.raises(ArtifactError, match="metadata"):
        Artifact("policy", metadata=metadata)  # type: ignore[arg-type]


def test_logging_after_finish_is_refused(tmp_path: pathlib.Path, make_run: Callable[..., rltrack.Run]) -> None:
    run = make_run()
    run.finish()
    with pytest.raises(RunFinishedError, match="has finished"):
        run.log_artifact(write_bytes(tmp_path / "p.zip", 10))


def test_errors_are_rltrack_errors() -> None:
    assert issubclass(ArtifactCorruptedError, RltrackError)
    assert issubclass(ArtifactNotFoundError, LookupError)
