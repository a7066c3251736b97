"""A pool of PostgreSQL connections that holds a store, with the same transactions as the SQLite one."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import psycopg_pool

from rltrack.errors import StoreError
from rltrack.store.postgres.connection import PgConnection
from rltrack.store.postgres.schema import WRITE_LOCK, migrate

__all__ = ["PostgresDatabase", "redact"]

#: Seconds to wait for the server when connecting, and for a free pooled connection.
CONNECT_TIMEOUT_S = 10.0
#: Connections per server process (``RLTRACK_PG_POOL`` overrides it).
POOL_SIZE = 8


def redact(url: str) -> str:
    """Return ``url`` without its password (it names the database in messages and logs)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


class _Pool(psycopg_pool.ConnectionPool[psycopg.Connection[Any]]):
    """A pool that can be garbage-collected in any thread.

    A pool nobody closed (a server stopped without shutdown hooks) joins its worker threads when collected;
    when the collector happens to run in one of them, that join raises. The workers were already told to
    stop, so the error is dropped rather than printed.
    """

    def __del__(self) -> None:
        with contextlib.suppress(RuntimeError):
            super().__del__()


def _pool_size() -> int:
    try:
        return max(1, int(os.environ.get("RLTRACK_PG_POOL", POOL_SIZE)))
    except ValueError:
        return POOL_SIZE


class PostgresDatabase:
    """A store in a PostgreSQL database; run folders (media) still live under ``root``.

    Args:
        url: ``postgresql://user:password@host:port/dbname`` (libpq's URL or key=value forms).
        root: The local folder for run folders and artifact blobs.
        create: Create the tables if the database has none (the ingest server does; a reader does not).

    Raises:
        StoreError: the server cannot be reached or refuses the login, the database holds no store
            (and ``create`` is false), or it was written by a newer rltrack.
    """

    def __init__(self, url: str, root: Path, *, create: bool = True) -> None:
        self.root = root
        self.path = redact(url)
        if create:
            try:
                root.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                raise StoreError(f"cannot create the store folder {str(root)!r}: {err.strerror}") from err
        try:
            # One direct connection first: its error says why (refused, bad password, no such database),
            # where a pool would only time out.
            with psycopg.connect(url, autocommit=True, connect_timeout=int(CONNECT_TIMEOUT_S)) as conn:
                migrate(conn, self.path, create=create)
        except psycopg.Error as err:
            raise StoreError(
                f"cannot use the PostgreSQL database {self.path}: {str(err).strip()}; check the --db URL, "
                "that the server runs and the user may connect"
            ) from err
        self._pool = _Pool(
            url, min_size=1, max_size=_pool_size(), kwargs={"autocommit": True}, timeout=CONNECT_TIMEOUT_S,
            open=True, name="rltrack",
        )

    @contextlib.contextmanager
    def _connection(self, doing: str) -> Iterator[psycopg.Connection[Any]]:
        try:
            with self._pool.connection() as raw:
                yield raw
        except psycopg_pool.PoolTimeout as err:
            raise StoreError(f"cannot {doing} in {self.path}: no free connection within {CONNECT_TIMEOUT_S:g} s "
                             "(the database is slow or unreachable)") from err

    @contextlib.contextmanager
    def _begin(self, statement: str, doing: str) -> Iterator[psycopg.Connection[Any]]:
        """Yield a pooled connection inside a transaction opened by ``statement``.

        A pooled connection the server dropped (a restart, an idle timeout) fails on its first statement;
        the pool replaces it, and the transaction begins on the next one, so a database restart costs
        no write.
        """
        for attempt in range(_pool_size() + 1):
            with self._connection(doing) as raw:
                try:
                    raw.execute(statement)
                except psycopg.OperationalError as err:
                    if raw.broken and attempt < _pool_size():
                        continue
                    raise self.error(doing, err) from err
                except psycopg.Error as err:
                    raise self.error(doing, err) from err
                yield raw
                return

    @contextlib.contextmanager
    def transaction(self) -> Iterator[PgConnection]:
        """Run a write transaction, committing on success; writers queue on one advisory lock."""
        # One round trip: BEGIN and the write lock (held until COMMIT/ROLLBACK).
        with self._begin(f"BEGIN; SELECT pg_advisory_xact_lock({WRITE_LOCK:d})", "begin a write") as raw:
            try:
                yield PgConnection(raw)
            except BaseException:
                with contextlib.suppress(psycopg.Error):
                    raw.execute("ROLLBACK")
                raise
            try:
                # The change counter moves after the commit, so a reader never caches old rows under it.
                raw.execute("COMMIT; SELECT nextval('rltrack_data_version')")
            except psycopg.Error as err:
                with contextlib.suppress(psycopg.Error):
                    raw.execute("ROLLBACK")
                raise self.error("commit", err) from err

    @contextlib.contextmanager
    def reading(self) -> Iterator[PgConnection]:
        """Hold one snapshot (a read-only repeatable-read transaction) for the reads inside."""
        with self._begin("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", "read") as raw:
            try:
                yield PgConnection(raw)
            finally:
                with contextlib.suppress(psycopg.Error):
                    raw.execute("COMMIT")

    def error(self, doing: str, err: BaseException) -> StoreError:
        """Translate a low-level error into a :class:`StoreError` that names the database."""
        return StoreError(f"cannot {doing} in {self.path}: {str(err).strip()}")

    def close(self) -> None:
        """Close every pooled connection."""
        self._pool.close()
