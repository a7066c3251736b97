"""Opening stores: bad folders, foreign files, newer schemas; and failures while a run writes."""

from __future__ import annotations

import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import rltrack
from rltrack.errors import RltrackWarning, StoreError
from rltrack.store.database import Database
from rltrack.store.schema import SCHEMA_VERSION


def test_a_new_store_gets_the_current_schema(store_dir: Path) -> None:
    Database(store_dir)
    conn = sqlite3.connect(store_dir / "rltrack.db")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_a_dir_that_cannot_be_created_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match=r"cannot create the store folder .*a-file/store.*pass a writable dir="):
        rltrack.init(dir=blocker / "store", system_metrics=False)


def test_a_file_that_is_not_a_database_is_a_store_error_and_is_left_alone(store_dir: Path) -> None:
    store_dir.mkdir()
    (store_dir / "rltrack.db").write_bytes(b"these are my notes, not a database" * 100)
    with pytest.raises(StoreError, match="is not a usable rltrack database"):
        rltrack.init(dir=store_dir, system_metrics=False)
    assert (store_dir / "rltrack.db").read_bytes().startswith(b"these are my notes")


def test_a_store_from_a_newer_rltrack_is_refused_untouched(store_dir: Path) -> None:
    run = rltrack.init(project="p", dir=store_dir, system_metrics=False)
    run.log({"x": 1.0})
    run.finish()
    conn = sqlite3.connect(store_dir / "rltrack.db")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    # rltrack is on no package index: the hint names what installs a newer one (not `pip install -U rltrack`).
    hint = r"upgrade rltrack \(install a newer wheel, or pip install -U 'rltrack @ git\+<repository URL>'\)"
    with pytest.raises(StoreError, match=r"newer than this rltrack understands.*" + hint):
        Database(store_dir)
    conn = sqlite3.connect(store_dir / "rltrack.db")
    assert conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0] == 1
    conn.close()


def test_reading_a_folder_without_a_store_says_so(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no rltrack store at"):
        rltrack.Api(tmp_path / "empty")


def test_a_locked_store_warns_once_keeps_the_values_and_stores_them_later(
    store_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RLTRACK_BUSY_TIMEOUT_S", "0.05")
    run = rltrack.init(project="p", dir=store_dir / "locked", system_metrics=False)
    other = sqlite3.connect(store_dir / "locked" / "rltrack.db", isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # another process holding the write lock for a long time
    with pytest.warns(RltrackWarning, match="store-write failed .*training goes on") as caught:
        for i in range(100):
            run.log({"x": float(i)})
        run.flush()
        run.log({"x": 100.0})
        run.flush()
    assert len([w for w in caught if issubclass(w.category, RltrackWarning)]) == 1
    other.execute("ROLLBACK")
    other.close()
    run.finish()
    view = rltrack.Api(store_dir / "locked").run(run.id)
    np.testing.assert_array_equal(view.series("x")[2], np.arange(101.0))
    assert view.summary["_rltrack/errors/store-write"] >= 2


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount_point)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {done.stderr.decode().strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_a_full_disk_warns_once_and_training_goes_on(tiny_disk: Path) -> None:
    run = rltrack.init(project="p", dir=tiny_disk / "store", system_metrics=False)
    run.flush()
    filler = tiny_disk / "filler"
    with filler.open("wb", buffering=0) as f:  # take every free byte
        try:
            while f.write(b"\0" * 4096):
                pass
        except OSError:
            pass  # ENOSPC: the disk is full, which is the point
    with pytest.warns(RltrackWarning, match="store-write failed"):
        for i in range(20_000):
            run.log({"x": float(i), "y": 2.0 * i})  # never raises: telemetry must not stop training
        run.flush()
    filler.unlink()  # space comes back
    run.finish()
    view = rltrack.Api(tiny_disk / "store").run(run.id)
    np.testing.assert_array_equal(view.series("x")[2], np.arange(20_000.0))
    assert view.summary["_rltrack/errors/store-write"] >= 1


def test_eight_connections_opening_a_new_store_at_once_all_succeed(tmp_path: Path) -> None:
    # SQLite answers the switch to WAL "database is locked" at once (no busy wait) when others race it:
    # without a retry, about 1 start in 30 of 8 processes failed.
    import threading

    for trial in range(30):
        root = tmp_path / f"s{trial}"
        start = threading.Barrier(8)
        errors: list[BaseException] = []

        def open_store(root: Path = root, start: threading.Barrier = start,
                       errors: list[BaseException] = errors) -> None:
            start.wait()
            try:
                Database(root)
            except BaseException as err:  # reported below
                errors.append(err)

        threads = [threading.Thread(target=open_store) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == [], errors[0]
