"""The store's artifact tables: versions with their manifests, aliases and usage (lineage).

Only :mod:`rltrack.artifacts` calls this. Blob contents are not stored here: this module
records which sha256 each file of a version has, and the blob store holds the bytes. A
version is added in one transaction (its row, its manifest and its aliases), after its
blobs were written, so a crash never leaves a version that points at a missing blob.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rltrack.store.base import Backend, Connection

__all__ = ["Added", "ArtifactStore", "FileRow", "NewVersion", "VersionRow"]

#: The alias every artifact's highest version answers to; computed on read, never stored.
LATEST = "latest"


@dataclass(frozen=True, slots=True)
class FileRow:
    """One manifest entry: a file's path inside the version, its sha256 and its size."""

    path: str
    digest: str
    size: int


@dataclass(frozen=True, slots=True)
class VersionRow:
    """One artifact version as stored."""

    id: int
    name: str
    type: str
    number: int
    digest: str
    size: int
    file_count: int
    metadata: dict[str, Any]
    description: str | None
    created_ns: int
    run_id: str | None


@dataclass(frozen=True, slots=True)
class NewVersion:
    """What the store needs to add a version (its blobs are already stored)."""

    name: str
    type: str
    digest: str
    files: tuple[FileRow, ...]
    metadata: Mapping[str, Any]
    description: str | None
    run_id: str | None
    created_ns: int


@dataclass(frozen=True, slots=True)
class Added:
    """The outcome of :meth:`ArtifactStore.add_version`.

    ``version`` is None (and nothing was written) when the name already holds another type.
    """

    version: VersionRow | None
    created: bool
    stored_type: str
    #: True when ``owner_ok`` refused the artifact's owning project (nothing was written).
    refused: bool = False


_VERSION_COLUMNS = (
    "v.id, a.name, a.type, v.number, v.digest, v.size, v.file_count, v.metadata, v.description,"
    " v.created_ns, v.run_id"
)
_FROM = " FROM artifact_versions v JOIN artifacts a ON a.id = v.artifact_id"


def _row(r: Sequence[Any]) -> VersionRow:
    return VersionRow(
        id=int(r[0]), name=r[1], type=r[2], number=int(r[3]), digest=r[4], size=int(r[5]),
        file_count=int(r[6]), metadata=json.loads(r[7]), description=r[8], created_ns=int(r[9]), run_id=r[10],
    )


class ArtifactStore:
    """Artifact queries and writes over one database (SQLite or PostgreSQL: a :class:`Backend`)."""

    def __init__(self, db: Backend) -> None:
        self.db = db

    def add_version(
        self, new: NewVersion, aliases: Sequence[str], *, owner_ok: Callable[[str | None], bool] | None = None
    ) -> Added:
        """Add a version unless the name already holds the same content, then point ``aliases`` at it.

        Args:
            new: The version.
            aliases: Aliases to point at it.
            owner_ok: When the name exists, called inside the transaction with the project of the run that
                logged its first version (None: no run); False refuses (``Added.refused``). The server's
                permission check, made here so that two teams creating one new name at once cannot both pass
                a check made before either wrote.

        Returns the new version (``created``), or the existing one with the same digest.
        """
        metadata = json.dumps(dict(new.metadata), allow_nan=True)
        try:
            with self.db.transaction() as conn:
                row = conn.execute("SELECT id, type FROM artifacts WHERE name = ?", (new.name,)).fetchone()
                if row is not None and owner_ok is not None and not owner_ok(self._owner(conn, int(row[0]))):
                    return Added(None, False, row[1], refused=True)
                if row is None:
                    cur = conn.execute(
                        "INSERT INTO artifacts (name, type, created_ns) VALUES (?, ?, ?)",
                        (new.name, new.type, new.created_ns),
                    )
                    artifact_id = int(cur.lastrowid or 0)
                elif row[1] != new.type:
                    return Added(None, False, row[1])
                else:
                    artifact_id = int(row[0])
                found = conn.execute(
                    "SELECT id FROM artifact_versions WHERE artifact_id = ? AND digest = ?", (artifact_id, new.digest)
                ).fetchone()
                created = found is None
                version_id = self._insert(conn, artifact_id, new, metadata) if created else int(found[0])
                self._point(conn, artifact_id, version_id, aliases)
                version = self._by_id(conn, version_id)
        except sqlite3.Error as err:
            raise self.db.error(f"add a version of artifact {new.name!r}", err) from err
        return Added(version, created, new.type)

    @staticmethod
    def _owner(conn: Connection, artifact_id: int) -> str | None:
        """The project of the run that logged the artifact's first version (None: no run, or it is gone)."""
        row = conn.execute(
            "SELECT r.project FROM artifact_versions v LEFT JOIN runs r ON r.id = v.run_id"
            " WHERE v.artifact_id = ? ORDER BY v.number LIMIT 1", (artifact_id,)
        ).fetchone()
        return None if row is None or row[0] is None else str(row[0])

    @staticmethod
    def _insert(conn: Connection, artifact_id: int, new: NewVersion, metadata: str) -> int:
        number = conn.execute(
            "SELECT COALESCE(MAX(number) + 1, 0) FROM artifact_versions WHERE artifact_id = ?", (artifact_id,)
        ).fetchone()[0]
        cur = conn.execute(
            "INSERT INTO artifact_versions (artifact_id, number, digest, size, file_count, metadata, description,"
            " created_ns, run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                artifact_id, number, new.digest, sum(f.size for f in new.files), len(new.files), metadata,
                new.description, new.created_ns, new.run_id,
            ),
        )
        version_id = int(cur.lastrowid or 0)
        conn.executemany(
            "INSERT INTO artifact_files (version_id, path, digest, size) VALUES (?, ?, ?, ?)",
            [(version_id, f.path, f.digest, f.size) for f in new.files],
        )
        return version_id

    @staticmethod
    def _point(conn: Connection, artifact_id: int, version_id: int, aliases: Sequence[str]) -> None:
        # An alias names one version of an artifact: pointing it here moves it from wherever it was.
        conn.executemany(
            "INSERT INTO artifact_aliases (artifact_id, alias, version_id) VALUES (?, ?, ?)"
            " ON CONFLICT (artifact_id, alias) DO UPDATE SET version_id = excluded.version_id",
            [(artifact_id, alias, version_id) for alias in aliases],
        )

    @staticmethod
    def _by_id(conn: Connection, version_id: int) -> VersionRow:
        return _row(conn.execute(f"SELECT {_VERSION_COLUMNS}{_FROM} WHERE v.id = ?", (version_id,)).fetchone())

    def set_aliases(self, version_id: int, aliases: Sequence[str], *, replace: bool) -> None:
        """Point ``aliases`` at a version (moving them); with ``replace``, drop its other aliases."""
        try:
            with self.db.transaction() as conn:
                artifact_id = conn.execute(
                    "SELECT artifact_id FROM artifact_versions WHERE id = ?", (version_id,)
                ).fetchone()[0]
                if replace:
                    conn.execute("DELETE FROM artifact_aliases WHERE version_id = ?", (version_id,))
                self._point(conn, artifact_id, version_id, aliases)
        except sqlite3.Error as err:
            raise self.db.error(f"set aliases {list(aliases)!r}", err) from err

    def find(self, name: str, *, number: int | None = None, alias: str | None = None) -> VersionRow | None:
        """Return a version by number, by alias, or the highest one (neither given / ``latest``)."""
        sql = f"SELECT {_VERSION_COLUMNS}{_FROM}"
        if number is not None:
            sql += " WHERE a.name = ? AND v.number = ?"
            args: tuple[Any, ...] = (name, number)
        elif alias is not None and alias != LATEST:
            sql += " JOIN artifact_aliases al ON al.version_id = v.id WHERE a.name = ? AND al.alias = ?"
            args = (name, alias)
        else:
            sql += " WHERE a.name = ? ORDER BY v.number DESC LIMIT 1"
            args = (name,)
        with self.db.reading() as conn:
            r = conn.execute(sql, args).fetchone()
        return None if r is None else _row(r)

    def versions(
        self, name: str | None = None, *, type: str | None = None, run_id: str | None = None
    ) -> list[VersionRow]:
        """Return versions by name then number; every filter given must match (``run_id``: logged by)."""
        clauses, args = [], []
        for column, value in (("a.name", name), ("a.type", type), ("v.run_id", run_id)):
            if value is not None:
                clauses.append(f"{column} = ?")
                args.append(value)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        with self.db.reading() as conn:
            rows = conn.execute(f"SELECT {_VERSION_COLUMNS}{_FROM}{where} ORDER BY a.name, v.number", args)
            return [_row(r) for r in rows]

    def used_by_run(self, run_id: str, source: str | None = None) -> list[VersionRow]:
        """Return the versions a run used (under ``source``, or any), each once, in the order first used."""
        where = " WHERE u.run_id = ?" + ("" if source is None else " AND u.source = ?")
        args = (run_id,) if source is None else (run_id, source)
        with self.db.reading() as conn:
            rows = conn.execute(
                f"SELECT {_VERSION_COLUMNS}{_FROM} JOIN artifact_usage u ON u.version_id = v.id{where}"
                " GROUP BY v.id, a.id ORDER BY MIN(u.used_ns), a.name, v.number",  # a.id: PostgreSQL wants it named
                args,
            )
            return [_row(r) for r in rows]

    def type_of(self, name: str) -> str | None:
        """Return the type an artifact name holds, or None when the name is new."""
        with self.db.reading() as conn:
            row = conn.execute("SELECT type FROM artifacts WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def labels(self, name: str) -> tuple[list[int], list[str]] | None:
        """Return an artifact's version numbers and stored aliases (for messages), or None if unknown."""
        with self.db.reading() as conn:
            row = conn.execute("SELECT id FROM artifacts WHERE name = ?", (name,)).fetchone()
            if row is None:
                return None
            numbers = [int(r[0]) for r in conn.execute(
                "SELECT number FROM artifact_versions WHERE artifact_id = ? ORDER BY number", (row[0],)
            )]
            aliases = [r[0] for r in conn.execute(
                "SELECT alias FROM artifact_aliases WHERE artifact_id = ? ORDER BY alias", (row[0],)
            )]
        return numbers, aliases

    def names(self) -> list[str]:
        """Return every artifact name, sorted."""
        with self.db.reading() as conn:
            return [r[0] for r in conn.execute("SELECT name FROM artifacts ORDER BY name")]

    def files(self, version_id: int) -> list[FileRow]:
        """Return a version's manifest, sorted by path."""
        with self.db.reading() as conn:
            rows = conn.execute(
                "SELECT path, digest, size FROM artifact_files WHERE version_id = ? ORDER BY path", (version_id,)
            )
            return [FileRow(r[0], r[1], int(r[2])) for r in rows]

    def aliases(self, version_id: int) -> list[str]:
        """Return a version's aliases, sorted, with ``latest`` when it is the highest version."""
        with self.db.reading() as conn:
            stored = [r[0] for r in conn.execute(
                "SELECT alias FROM artifact_aliases WHERE version_id = ?", (version_id,)
            )]
            newest = conn.execute(
                "SELECT v.id FROM artifact_versions v WHERE v.artifact_id ="
                " (SELECT artifact_id FROM artifact_versions WHERE id = ?) ORDER BY v.number DESC LIMIT 1",
                (version_id,),
            ).fetchone()
        if newest is not None and int(newest[0]) == version_id:
            stored.append(LATEST)
        return sorted(stored)

    def record_use(self, version_id: int, run_id: str, source: str, now_ns: int) -> None:
        """Record that a run used a version under ``source`` (once; the first use time is kept)."""
        try:
            with self.db.transaction() as conn:
                conn.execute(
                    "INSERT INTO artifact_usage (version_id, run_id, source, used_ns) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (version_id, run_id, source) DO NOTHING",
                    (version_id, run_id, source, now_ns),
                )
        except sqlite3.Error as err:
            raise self.db.error(f"record that run {run_id!r} used an artifact", err) from err

    def users(self, version_id: int) -> list[str]:
        """Return the ids of runs that used a version, each once, in the order they first used it."""
        with self.db.reading() as conn:
            return [r[0] for r in conn.execute(
                "SELECT run_id FROM artifact_usage WHERE version_id = ? GROUP BY run_id"
                " ORDER BY MIN(used_ns), run_id",
                (version_id,),
            )]

    def digests_of_size(self, size: int, limit: int) -> list[str]:
        """Return up to ``limit`` distinct digests of stored files of exactly ``size`` bytes, newest first."""
        with self.db.reading() as conn:
            rows = conn.execute(
                "SELECT digest FROM artifact_files WHERE size = ? GROUP BY digest ORDER BY MAX(version_id) DESC"
                " LIMIT ?",
                (size, limit),
            )
            return [r[0] for r in rows]
