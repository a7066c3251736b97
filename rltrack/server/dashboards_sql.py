"""Where saved dashboards live: a SQLite file beside the store, or tables in the server's PostgreSQL database.

Both backends run the same statements (written with ``?`` placeholders; PostgreSQL's get ``%s``) and
the same numbered migrations, applied forward only: SQLite keeps the version in ``user_version``,
PostgreSQL in the one-row table ``rltrack_dashboards_schema``. A database whose version is newer than
this rltrack knows is refused untouched (an older server must not write a format it does not know).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from rltrack.errors import UPGRADE_HINT, StoreError
from rltrack.server.dashboards import (
    Dashboard,
    DashboardNotFoundError,
    DashboardSpec,
    Share,
    StaleDashboardError,
)

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "DashboardStore", "SqliteDashboards"]

#: Numbered schema scripts; script ``n`` takes the tables from version ``n - 1`` to ``n``.
MIGRATIONS: tuple[tuple[int, str], ...] = (
    (1, """
CREATE TABLE dashboards (
    id TEXT PRIMARY KEY, project TEXT NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL, body TEXT NOT NULL,
    created_by TEXT, created_ns BIGINT NOT NULL, updated_by TEXT, updated_ns BIGINT NOT NULL,
    version BIGINT NOT NULL);
CREATE INDEX dashboards_project ON dashboards (project, updated_ns);
CREATE TABLE dashboard_shares (
    id TEXT PRIMARY KEY, dashboard TEXT NOT NULL, token_sha256 TEXT NOT NULL UNIQUE, created_by TEXT,
    created_ns BIGINT NOT NULL, revoked_ns BIGINT);
CREATE INDEX dashboard_shares_dashboard ON dashboard_shares (dashboard)
"""),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]
#: PostgreSQL advisory lock that serialises migrations of several server processes starting at once.
_MIGRATE_LOCK = 0x726C_0D01
_COLUMNS = "id, project, kind, name, body, created_by, created_ns, updated_by, updated_ns, version"


class _Cursor(Protocol):
    rowcount: int

    def fetchall(self) -> list[Any]: ...


class _Conn(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ()) -> _Cursor: ...


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _row(row: Sequence[Any]) -> Dashboard:
    body = json.loads(row[4])
    return Dashboard(id=row[0], project=row[1], kind=row[2], name=row[3], layout=body["layout"],
                     blocks=body["blocks"], created_by=row[5], created_ns=int(row[6]), updated_by=row[7],
                     updated_ns=int(row[8]), version=int(row[9]))


class DashboardStore:
    """The dashboards of every project, in one database (subclasses open its connections)."""

    where = "the dashboards database"

    @contextlib.contextmanager
    def _read(self) -> Iterator[_Conn | None]:  # pragma: no cover - every backend overrides it
        raise NotImplementedError
        yield None

    @contextlib.contextmanager
    def _write(self) -> Iterator[_Conn]:  # pragma: no cover - every backend overrides it
        raise NotImplementedError
        yield None

    def close(self) -> None:
        """Release the connections (the store cannot be used afterwards)."""

    def of_project(self, project: str, kind: str | None = None) -> list[Dashboard]:
        """Return the project's dashboards (of ``kind`` if given), the last saved first."""
        with self._read() as conn:
            if conn is None:
                return []
            sql = f"SELECT {_COLUMNS} FROM dashboards WHERE project = ?"
            params: list[Any] = [project]
            if kind is not None:
                sql += " AND kind = ?"
                params.append(kind)
            return [_row(r) for r in conn.execute(sql + " ORDER BY updated_ns DESC, id", params).fetchall()]

    def _get(self, conn: _Conn | None, project: str, dashboard_id: str) -> Dashboard:
        rows = [] if conn is None else conn.execute(
            f"SELECT {_COLUMNS} FROM dashboards WHERE id = ? AND project = ?", (dashboard_id, project)).fetchall()
        if not rows:
            raise DashboardNotFoundError(f"no dashboard {dashboard_id!r} in project {project!r}; "
                                         f"list them at /api/projects/{{project}}/dashboards")
        return _row(rows[0])

    def get(self, project: str, dashboard_id: str) -> Dashboard:
        """Return one dashboard of the project.

        Raises:
            DashboardNotFoundError: there is none with that id in that project.
        """
        with self._read() as conn:
            return self._get(conn, project, dashboard_id)

    def create(self, project: str, spec: DashboardSpec, user: str | None) -> Dashboard:
        """Store a new dashboard (version 1) and return it."""
        now = time.time_ns()
        new_id = secrets.token_hex(8)
        with self._write() as conn:
            conn.execute(f"INSERT INTO dashboards ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         (new_id, project, spec.kind, spec.name, spec.body(), user, now, user, now, 1))
            return self._get(conn, project, new_id)

    def update(self, project: str, dashboard_id: str, spec: DashboardSpec, version: int, user: str | None) -> Dashboard:
        """Replace a dashboard's name, layout and blocks if it is still at ``version``; return it (version + 1).

        Raises:
            DashboardNotFoundError: there is no such dashboard.
            StaleDashboardError: someone saved it since ``version`` (the error names who and when).
        """
        with self._write() as conn:
            done = conn.execute(
                "UPDATE dashboards SET name = ?, body = ?, updated_by = ?, updated_ns = ?, version = version + 1"
                " WHERE id = ? AND project = ? AND version = ?",
                (spec.name, spec.body(), user, time.time_ns(), dashboard_id, project, version),
            )
            if done.rowcount != 1:
                current = self._get(conn, project, dashboard_id)
                who = current.updated_by or "someone"
                when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(current.updated_ns / 1e9))
                raise StaleDashboardError(
                    f"dashboard {current.name!r} was saved by {who} at {when} (version {current.version}) since you "
                    f"opened version {version}; reload it to see their changes, or save yours under a new name",
                    current,
                )
            return self._get(conn, project, dashboard_id)

    def delete(self, project: str, dashboard_id: str) -> None:
        """Delete a dashboard and every share link of it.

        Raises:
            DashboardNotFoundError: there is no such dashboard.
        """
        with self._write() as conn:
            self._get(conn, project, dashboard_id)
            conn.execute("DELETE FROM dashboard_shares WHERE dashboard = ?", (dashboard_id,))
            conn.execute("DELETE FROM dashboards WHERE id = ? AND project = ?", (dashboard_id, project))

    def share(self, project: str, dashboard_id: str, user: str | None) -> tuple[str, Share]:
        """Make a read-only share link; return its token (shown only now) and the link."""
        token = secrets.token_urlsafe(32)
        link = Share(id=secrets.token_hex(6), dashboard=dashboard_id, created_by=user, created_ns=time.time_ns())
        with self._write() as conn:
            self._get(conn, project, dashboard_id)
            conn.execute("INSERT INTO dashboard_shares (id, dashboard, token_sha256, created_by, created_ns)"
                         " VALUES (?, ?, ?, ?, ?)", (link.id, dashboard_id, _hash(token), user, link.created_ns))
        return token, link

    def shares(self, project: str, dashboard_id: str) -> list[Share]:
        """Return the dashboard's share links, revoked ones included, the newest first."""
        with self._read() as conn:
            self._get(conn, project, dashboard_id)
            assert conn is not None  # _get found the dashboard
            rows = conn.execute("SELECT id, dashboard, created_by, created_ns, revoked_ns FROM dashboard_shares"
                                " WHERE dashboard = ? ORDER BY created_ns DESC", (dashboard_id,)).fetchall()
        return [Share(r[0], r[1], r[2], int(r[3]), None if r[4] is None else int(r[4])) for r in rows]

    def revoke(self, project: str, dashboard_id: str, share_id: str) -> None:
        """Revoke a share link at once (its token then answers 404).

        Raises:
            DashboardNotFoundError: there is no such dashboard or link.
        """
        with self._write() as conn:
            self._get(conn, project, dashboard_id)
            done = conn.execute("UPDATE dashboard_shares SET revoked_ns = ? WHERE id = ? AND dashboard = ?"
                                " AND revoked_ns IS NULL", (time.time_ns(), share_id, dashboard_id))
            if done.rowcount != 1:
                raise DashboardNotFoundError(f"no share link {share_id!r} of dashboard {dashboard_id!r} to revoke")

    def shared(self, token: str) -> Dashboard:
        """Return the dashboard a share token opens.

        Raises:
            DashboardNotFoundError: the token is unknown or revoked, or its dashboard was deleted.
        """
        with self._read() as conn:
            rows = [] if conn is None else conn.execute(
                f"SELECT {', '.join('d.' + c.strip() for c in _COLUMNS.split(','))} FROM dashboard_shares s"
                " JOIN dashboards d ON d.id = s.dashboard WHERE s.token_sha256 = ? AND s.revoked_ns IS NULL",
                (_hash(token),),
            ).fetchall()
        if not rows:
            raise DashboardNotFoundError("this share link does not exist or was revoked; ask its owner for a new one")
        return _row(rows[0])


class SqliteDashboards(DashboardStore):
    """Dashboards in a SQLite file (created on the first save; reads of a missing file find nothing)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.where = str(path)
        self._ready = False
        self._lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        except sqlite3.Error as err:
            raise StoreError(
                f"cannot open the dashboards file {self.where}: {err}; check the folder is writable"
            ) from err
        conn.execute("PRAGMA busy_timeout = 30000")
        with self._lock:
            if not self._ready:
                self._migrate(conn)
                self._ready = True
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise StoreError(f"the dashboards file {self.where} has schema version {version}, newer than this "
                                 f"rltrack understands ({SCHEMA_VERSION}); {UPGRADE_HINT}")
            for number, script in MIGRATIONS:
                if number > version:
                    for statement in filter(None, (s.strip() for s in script.split(";"))):
                        conn.execute(statement)
                    conn.execute(f"PRAGMA user_version = {number:d}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            conn.close()
            raise

    @contextlib.contextmanager
    def _read(self) -> Iterator[_Conn | None]:
        if not self.path.exists():
            yield None
            return
        conn = self._connect()
        try:
            yield conn  # type: ignore[misc]  # sqlite3's cursor has fetchall and rowcount
        except sqlite3.Error as err:
            raise StoreError(f"cannot read {self.where}: {err}") from err
        finally:
            conn.close()

    @contextlib.contextmanager
    def _write(self) -> Iterator[_Conn]:
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn  # type: ignore[misc]
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as err:
            raise StoreError(f"cannot write {self.where}: {err}") from err
        finally:
            conn.close()
