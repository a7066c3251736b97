"""A store in tmp_path, runs that finish at teardown, and files with known bytes."""

from __future__ import annotations

import hashlib
import pathlib
from collections.abc import Callable, Iterator

import pytest

import rltrack
from rltrack.store.database import Database


@pytest.fixture
def store_dir(tmp_path: pathlib.Path) -> pathlib.Path:
    return tmp_path / "store"


@pytest.fixture
def make_run(store_dir: pathlib.Path) -> Iterator[Callable[..., rltrack.Run]]:
    runs: list[rltrack.Run] = []

    def make(**kwargs: object) -> rltrack.Run:
        kwargs.setdefault("project", "artifacts")
        run = rltrack.init(dir=store_dir, system_metrics=False, **kwargs)  # type: ignore[arg-type]
        runs.append(run)
        return run

    yield make
    for run in runs:
        run.finish()


@pytest.fixture
def db(store_dir: pathlib.Path, make_run: Callable[..., rltrack.Run]) -> Database:
    return make_run()._store.db


def write_bytes(path: pathlib.Path, size: int, seed: int = 0) -> pathlib.Path:
    """Write ``size`` deterministic pseudo-random bytes (a sha256 chain) to ``path``."""
    out = bytearray()
    block = hashlib.sha256(seed.to_bytes(8, "little")).digest()
    while len(out) < size:
        block = hashlib.sha256(block).digest()
        out += block * 64
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(out[:size]))
    return path


def blob_files(store_dir: pathlib.Path) -> list[pathlib.Path]:
    return sorted(p for p in (store_dir / "artifacts" / "blobs").rglob("*") if p.is_file())
