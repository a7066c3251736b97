"""The artifact tables: migration from a core-only store, and versions numbered under concurrent writers."""

from __future__ import annotations

import pathlib
import sqlite3
import subprocess
import sys

import rltrack
from rltrack.store.database import Database
from rltrack.store.paths import DB_FILENAME
from rltrack.store.schema import MIGRATIONS, SCHEMA_VERSION

from .conftest import write_bytes


def test_a_store_from_before_artifacts_is_migrated(tmp_path: pathlib.Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    conn = sqlite3.connect(store / DB_FILENAME)
    version, core = MIGRATIONS[0]
    for statement in filter(str.strip, core.split(";")):
        conn.execute(statement)
    conn.execute(f"PRAGMA user_version = {version}")
    conn.commit()
    conn.close()

    Database(store).close()
    with rltrack.init(project="p", dir=store, system_metrics=False) as run:
        logged = run.log_artifact(write_bytes(tmp_path / "p.zip", 10), name="policy")

    conn = sqlite3.connect(store / DB_FILENAME)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 2
    conn.close()
    assert rltrack.Api(store).artifact("policy") == logged


_WRITER = """
import sys
import rltrack
store, source, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
with rltrack.init(project="p", dir=store, system_metrics=False) as run:
    for i in range(count):
        with open(source, "wb") as f:
            f.write(f"{source}-{i}".encode())
        run.log_artifact(source, name="policy")
"""


def test_two_processes_logging_one_name_get_distinct_versions(tmp_path: pathlib.Path) -> None:
    store = tmp_path / "store"
    rltrack.init(project="p", dir=store, system_metrics=False).finish()  # create the store first
    count = 10
    procs = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(store), str(tmp_path / f"w{i}.bin"), str(count)])
        for i in range(2)
    ]
    assert [p.wait() for p in procs] == [0, 0]

    versions = rltrack.Api(store).artifacts("policy")
    assert [v.version for v in versions] == [f"v{i}" for i in range(2 * count)]
    assert len({v.digest for v in versions}) == 2 * count
    assert len({v.logged_by_id for v in versions}) == 2
