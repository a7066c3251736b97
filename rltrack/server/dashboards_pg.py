"""Saved dashboards in the server's PostgreSQL database (``rltrack server --db``), through psycopg 3.

The tables sit beside the store's; their schema has its own version (table ``rltrack_dashboards_schema``),
so the store's migrations and these never wait on each other. A small connection pool serves them:
dashboards are saved by people, not robots, so two connections are plenty.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
import psycopg_pool

from rltrack.errors import UPGRADE_HINT, StoreError
from rltrack.server.dashboards_sql import DashboardStore

__all__ = ["PostgresDashboards"]

_CONNECT_TIMEOUT_S = 10


def _redact(url: str) -> str:
    from rltrack.store.postgres.database import redact

    return redact(url)


class _Conn:
    """Runs ``?``-placeholder statements on a psycopg connection (the shared SQL's dialect)."""

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self._raw = raw

    def execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor[Any]:
        return self._raw.execute(sql.replace("?", "%s"), tuple(params))


class PostgresDashboards(DashboardStore):
    """Dashboards in PostgreSQL.

    Args:
        url: The server's ``--db`` URL.
        migrations: The numbered schema scripts (:data:`rltrack.server.dashboards_sql.MIGRATIONS`).
        lock: The advisory lock key that serialises migrations.

    Raises:
        StoreError: the database cannot be reached, or its dashboards schema is newer than this rltrack's.
    """

    def __init__(self, url: str, *, migrations: Sequence[tuple[int, str]], lock: int) -> None:
        self.where = _redact(url)
        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=_CONNECT_TIMEOUT_S) as conn:
                self._migrate(conn, migrations, lock)
        except psycopg.Error as err:
            raise StoreError(f"cannot keep dashboards in {self.where}: {str(err).strip()}; check the --db URL") from err
        self._pool = psycopg_pool.ConnectionPool(url, min_size=1, max_size=2, kwargs={"autocommit": True},
                                                 timeout=_CONNECT_TIMEOUT_S, open=True, name="rltrack-dashboards")

    def _migrate(self, conn: psycopg.Connection[Any], migrations: Sequence[tuple[int, str]], lock: int) -> None:
        latest = migrations[-1][0]
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock,))
            if conn.execute("SELECT to_regclass('rltrack_dashboards_schema') IS NULL").fetchone() == (True,):
                conn.execute("CREATE TABLE rltrack_dashboards_schema (version INTEGER NOT NULL)")
                conn.execute("INSERT INTO rltrack_dashboards_schema (version) VALUES (0)")
            row = conn.execute("SELECT version FROM rltrack_dashboards_schema").fetchone()
            version = int(row[0]) if row else 0
            if version > latest:
                raise StoreError(f"the dashboards tables in {self.where} have schema version {version}, newer than "
                                 f"this rltrack understands ({latest}); {UPGRADE_HINT}")
            for number, script in migrations:
                if number > version:
                    for statement in filter(None, (s.strip() for s in script.split(";"))):
                        conn.execute(statement)
                    conn.execute("UPDATE rltrack_dashboards_schema SET version = %s", (number,))

    @contextlib.contextmanager
    def _session(self, write: bool) -> Iterator[_Conn]:
        try:
            with self._pool.connection() as raw:
                if write:
                    with raw.transaction():
                        yield _Conn(raw)
                else:
                    yield _Conn(raw)
        except psycopg_pool.PoolTimeout as err:
            raise StoreError(f"no free connection to {self.where} within {_CONNECT_TIMEOUT_S} s; retry later") from err
        except psycopg.Error as err:
            raise StoreError(f"dashboards in {self.where}: {str(err).strip()}") from err

    @contextlib.contextmanager
    def _read(self) -> Iterator[Any]:
        with self._session(write=False) as conn:
            yield conn

    @contextlib.contextmanager
    def _write(self) -> Iterator[Any]:
        with self._session(write=True) as conn:
            yield conn

    def close(self) -> None:
        """Close the pool."""
        self._pool.close()
