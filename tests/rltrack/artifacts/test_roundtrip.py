from __future__ import annotations

import datetime
import hashlib
import pathlib
from collections.abc import Callable

import numpy as np

import rltrack
from rltrack.artifacts import Artifact, ArtifactVersion, get_artifact, list_artifacts
from rltrack.artifacts.blobs import BLOCK_SIZE

from .conftest import write_bytes


def test_logged_file_downloads_byte_identical(tmp_path: pathlib.Path, make_run: Callable[..., rltrack.Run]) -> None:
    source = write_bytes(tmp_path / "src" / "policy.zip", 3 * BLOCK_SIZE + 17)
    run = make_run()

    version = run.log_artifact(source)
    out = version.download(tmp_path / "out")

    assert (version.name, version.version, version.type) == ("policy.zip", "v0", "model")
    assert version.size == source.stat().st_size
    assert sorted(p.name for p in out.iterdir()) == ["policy.zip"]
    assert (out / "policy.zip").read_bytes() == source.read_bytes()
    assert [(f.path, f.digest, f.size) for f in version.files] == [
        ("policy.zip", hashlib.sha256(source.read_bytes()).hexdigest(), source.stat().st_size)
    ]


def test_folder_round_trips_with_nested_names(tmp_path: pathlib.Path, make_run: Callable[..., rltrack.Run]) -> None:
    folder = tmp_path / "ckpt"
    write_bytes(folder / "model.pt", 1000, seed=1)
    write_bytes(folder / "optim" / "adam.pt", 2000, seed=2)
    (folder / "empty.txt").write_bytes(b"")
    art = Artifact("ckpt", description="a checkpoint")
    assert art.add_dir(folder, prefix="run1") == ["run1/empty.txt", "run1/model.pt", "run1/optim/adam.pt"]

    version = make_run().log_artifact(art)
    out = version.download(tmp_path / "out")

    got = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert got == ["run1/empty.txt", "run1/model.pt", "run1/optim/adam.pt"]
    for name in ("model.pt", "optim/adam.pt", "empty.txt"):
        assert (out / "run1" / name).read_bytes() == (folder / name).read_bytes()
    assert version.description == "a checkpoint"


def test_download_defaults_to_the_store_folder(
    tmp_path: pathlib.Path, store_dir: pathlib.Path, make_run: Callable[..., rltrack.Run]
) -> None:
    source = write_bytes(tmp_path / "p.bin", 100)
    out = make_run().log_artifact(source, name="policy").download()
    assert out == store_dir / "artifacts" / "downloads" / "policy" / "v0"
    assert (out / "p.bin").read_bytes() == source.read_bytes()


def test_metadata_round_trips_as_json(tmp_path: pathlib.Path, make_run: Callable[..., rltrack.Run]) -> None:
    art = Artifact(
        "policy",
        metadata={"step": np.int64(20_000), "reward": np.float32(1.5), "obs": np.arange(3), "nested": {"a": (1, 2)}},
    )
    art.add_file(write_bytes(tmp_path / "p.zip", 10))
    run = make_run()
    logged = run.log_artifact(art)
    read = rltrack.Api(run._store.db.root).artifact("policy:v0")

    expected = {"step": 20_000, "reward": 1.5, "obs": [0, 1, 2], "nested": {"a": [1, 2]}}
    assert logged.metadata == expected
    assert read.metadata == expected
    assert type(read.metadata["step"]) is int


def test_version_fields_read_back_through_api(tmp_path: pathlib.Path, make_run: Callable[..., rltrack.Run]) -> None:
    run = make_run()
    logged = run.log_artifact(write_bytes(tmp_path / "p.zip", 10), name="policy", type="checkpoint")
    api = rltrack.Api(run._store.db.root)

    read = api.artifact("policy")
    assert isinstance(read, ArtifactVersion)
    assert read == logged
    assert (read.name, read.version, read.type, read.digest, read.size) == (
        "policy", "v0", "checkpoint", logged.digest, 10,
    )
    assert read.created_at.tzinfo == datetime.timezone.utc
    assert read.ref == "policy:v0"
    assert api.artifacts() == [logged]
    assert api.artifacts(type="dataset") == []
    assert list_artifacts(run._store.db, "policy") == [logged]
    assert get_artifact(run._store.db, "policy:latest") == logged


def test_disabled_run_returns_an_unstored_version(tmp_path: pathlib.Path) -> None:
    run = rltrack.init(project="p", mode="disabled")
    version = run.log_artifact(write_bytes(tmp_path / "p.zip", 10), aliases=["best"])
    run.finish()
    assert (version.name, version.version, version.size, version.aliases) == ("p.zip", "v0", 10, [])
