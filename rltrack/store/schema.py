"""The store's SQLite schema and its numbered migrations.

The schema version lives in SQLite's ``user_version``. Migrations only ever append: migration
``n`` takes a store from version ``n - 1`` to ``n``. A store written by a newer rltrack (a higher
``user_version`` than :data:`SCHEMA_VERSION`) is refused rather than guessed at.

Values are stored in chunks: one ``chunks`` row per (run, source, key, flush) holding packed
little-endian arrays of steps (int64), times (int64 ns) and values (float64), plus their
min/max/count, so whole-series reads and downsampling never touch one row per point.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from rltrack.errors import UPGRADE_HINT, StoreError

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "migrate"]

_CORE = """
CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    project TEXT NOT NULL,
    name TEXT NOT NULL,
    group_name TEXT,
    job_type TEXT,
    notes TEXT,
    tags TEXT NOT NULL DEFAULT '[]',
    config TEXT NOT NULL DEFAULT '{}',
    metadata TEXT NOT NULL DEFAULT '{}',
    primary_source TEXT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT,
    exit_code INTEGER,
    created_ns INTEGER NOT NULL,
    ended_ns INTEGER,
    heartbeat_ns INTEGER NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    pid_started_ns INTEGER NOT NULL
);
CREATE INDEX runs_by_project ON runs (project, created_ns);
CREATE INDEX runs_by_group ON runs (group_name);

-- One row per process that wrote into a run under a source (the trainer as `sim`,
-- the robot's node as `real`, ...).
CREATE TABLE writers (
    run_id TEXT NOT NULL,
    source TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    state TEXT NOT NULL,
    started_ns INTEGER NOT NULL,
    heartbeat_ns INTEGER NOT NULL,
    ended_ns INTEGER,
    PRIMARY KEY (run_id, source)
);

CREATE TABLE summaries (
    run_id TEXT NOT NULL,
    source TEXT NOT NULL,
    summary TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (run_id, source)
);

CREATE TABLE series (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL,
    source TEXT NOT NULL,
    key TEXT NOT NULL,
    count INTEGER NOT NULL DEFAULT 0,
    UNIQUE (run_id, source, key)
);

CREATE TABLE chunks (
    series_id INTEGER NOT NULL,
    count INTEGER NOT NULL,
    step_min INTEGER NOT NULL,
    step_max INTEGER NOT NULL,
    t_min_ns INTEGER NOT NULL,
    t_max_ns INTEGER NOT NULL,
    vmin REAL,
    vmax REAL,
    steps BLOB NOT NULL,
    t_ns BLOB NOT NULL,
    vals BLOB NOT NULL
);
CREATE INDEX chunks_by_series ON chunks (series_id);

CREATE TABLE media (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL,
    source TEXT NOT NULL,
    key TEXT NOT NULL,
    step INTEGER NOT NULL,
    t_ns INTEGER NOT NULL,
    kind TEXT NOT NULL,
    path TEXT NOT NULL,
    caption TEXT,
    meta TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX media_by_run ON media (run_id, key, step);
"""

# Migration 2 (issue 3): artifacts. A version's files are rows of `artifact_files` (its
# manifest); contents live as sha256-named blobs under <store>/artifacts/blobs/, shared by
# every version that holds the same bytes. `latest` is not stored: it is the highest version.
_ARTIFACTS = """
CREATE TABLE artifacts (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    created_ns INTEGER NOT NULL
);

CREATE TABLE artifact_versions (
    id INTEGER PRIMARY KEY,
    artifact_id INTEGER NOT NULL REFERENCES artifacts (id),
    number INTEGER NOT NULL,
    digest TEXT NOT NULL,
    size INTEGER NOT NULL,
    file_count INTEGER NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}',
    description TEXT,
    created_ns INTEGER NOT NULL,
    run_id TEXT,
    UNIQUE (artifact_id, number),
    UNIQUE (artifact_id, digest)
);
CREATE INDEX artifact_versions_by_run ON artifact_versions (run_id);

CREATE TABLE artifact_files (
    version_id INTEGER NOT NULL REFERENCES artifact_versions (id),
    path TEXT NOT NULL,
    digest TEXT NOT NULL,
    size INTEGER NOT NULL,
    PRIMARY KEY (version_id, path)
);
CREATE INDEX artifact_files_by_size ON artifact_files (size);

CREATE TABLE artifact_aliases (
    artifact_id INTEGER NOT NULL REFERENCES artifacts (id),
    alias TEXT NOT NULL,
    version_id INTEGER NOT NULL REFERENCES artifact_versions (id),
    PRIMARY KEY (artifact_id, alias)
);
CREATE INDEX artifact_aliases_by_version ON artifact_aliases (version_id);

CREATE TABLE artifact_usage (
    version_id INTEGER NOT NULL REFERENCES artifact_versions (id),
    run_id TEXT NOT NULL,
    source TEXT NOT NULL,
    used_ns INTEGER NOT NULL,
    PRIMARY KEY (version_id, run_id, source)
);
CREATE INDEX artifact_usage_by_run ON artifact_usage (run_id);
"""

#: Append-only list of (version, SQL script). Issue-owned migrations go at the end.
MIGRATIONS: list[tuple[int, str]] = [
    (1, _CORE),
    (2, _ARTIFACTS),
]

SCHEMA_VERSION = MIGRATIONS[-1][0]


def migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Bring the store at ``path`` up to :data:`SCHEMA_VERSION`.

    Raises:
        StoreError: the store was written by a newer rltrack.
    """
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"store {str(path)!r} has schema version {version}, newer than this rltrack understands "
            f"({SCHEMA_VERSION}); {UPGRADE_HINT} or use another --dir"
        )
    if version == SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Re-read under the write lock: another process may have migrated meanwhile.
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        for number, script in MIGRATIONS:
            if number > version:
                for statement in _statements(script):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number:d}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _statements(script: str) -> list[str]:
    # executescript() would commit our open transaction, so split on ';' ourselves
    # (the DDL above holds no ';' inside literals).
    return [s.strip() for s in script.split(";") if s.strip()]
