"""Where accounts live: a SQLite file beside the store, or tables in the store's PostgreSQL database.

Both speak one tiny interface (:class:`AccountsDB`): ``transaction()`` yields a :class:`Tx` whose
``execute(sql, args)`` takes ``?`` placeholders and returns the rows. Low-level errors leave as
:class:`~rltrack.errors.StoreError` naming the database (a unique-key clash as :class:`ConflictError`).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from rltrack.errors import UPGRADE_HINT, RltrackError, StoreError
from rltrack.server.accounts.schema import MIGRATIONS, SCHEMA_VERSION, VERSION_TABLE

__all__ = ["FILE_NAME", "AccountsDB", "ConflictError", "PostgresAccountsDB", "SqliteAccountsDB", "Tx", "open_db"]

#: The accounts file in a store folder (SQLite back-end).
FILE_NAME = "accounts.sqlite"
#: Advisory lock that serialises migrations of the accounts tables across server processes.
_MIGRATE_LOCK = 0x726C_0A01
_BUSY_TIMEOUT_S = 10.0


class ConflictError(RltrackError):
    """A name that must be unique (user, team, key) is taken."""


class Tx(Protocol):
    """One open transaction."""

    def execute(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement (``?`` placeholders) and return its rows (empty for writes)."""


class AccountsDB(Protocol):
    """A database holding the accounts tables."""

    where: str

    def transaction(self) -> contextlib.AbstractContextManager[Tx]:
        """Open a transaction, committed when the block ends without an error."""

    def reading(self) -> contextlib.AbstractContextManager[Tx]:
        """Open a transaction that only reads (it never waits for, nor blocks, a writer where the engine allows)."""

    def close(self) -> None:
        """Release connections."""


class _SqliteTx:
    def __init__(self, conn: sqlite3.Connection, where: str) -> None:
        self._conn = conn
        self._where = where

    def execute(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return [tuple(r) for r in self._conn.execute(sql, tuple(args)).fetchall()]
        except sqlite3.IntegrityError as err:
            raise ConflictError(f"{err} in {self._where}") from err
        except sqlite3.Error as err:
            raise StoreError(f"cannot use the accounts database {self._where}: {err}") from err


class SqliteAccountsDB:
    """Accounts in one SQLite file (a connection per transaction: any thread may call)."""

    def __init__(self, path: Path, *, create: bool) -> None:
        self.path = path
        self.where = repr(str(path))
        self._local = threading.local()
        if not create and not path.exists():
            raise StoreError(f"no accounts database at {self.where}; create a user first (rltrack server admin)")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise StoreError(f"cannot create the folder of {self.where}: {err.strerror}") from err
        with self.transaction() as tx:
            _migrate(tx, self.where)
        try:
            # WAL: the readers of every request never wait for a writer (a login, a new key).
            with sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_S) as conn:
                conn.execute("PRAGMA journal_mode = WAL")
        except sqlite3.Error as err:
            raise StoreError(f"cannot use the accounts database {self.where}: {err}") from err

    def transaction(self) -> contextlib.AbstractContextManager[Tx]:
        """Open an immediate (write-locking) transaction on a fresh connection."""
        return self._begin("BEGIN IMMEDIATE")

    def reading(self) -> contextlib.AbstractContextManager[Tx]:
        """Open a read transaction (deferred: it takes no write lock)."""
        return self._begin("BEGIN")

    def _connection(self) -> sqlite3.Connection:
        # One connection per thread, kept: opening one per request cost about a millisecond.
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_S, isolation_level=None)
                conn.execute("PRAGMA foreign_keys = ON")
            except sqlite3.Error as err:
                raise StoreError(f"cannot open the accounts database {self.where}: {err}") from err
            self._local.conn = conn
        return conn

    @contextlib.contextmanager
    def _begin(self, statement: str) -> Iterator[Tx]:
        conn = self._connection()
        try:
            conn.execute(statement)
            try:
                yield _SqliteTx(conn, self.where)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except sqlite3.Error as err:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise StoreError(f"cannot use the accounts database {self.where}: {err}") from err

    def close(self) -> None:
        """Close this thread's connection (other threads' close when their thread ends)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


class _PgTx:
    def __init__(self, conn: Any, where: str) -> None:
        self._conn = conn
        self._where = where

    def execute(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        import psycopg

        try:
            cursor = self._conn.execute(sql.replace("?", "%s"), tuple(args))
            return [tuple(r) for r in cursor.fetchall()] if cursor.description is not None else []
        except psycopg.IntegrityError as err:
            raise ConflictError(f"{str(err).strip()} in {self._where}") from err
        except psycopg.Error as err:
            raise StoreError(f"cannot use the accounts tables in {self._where}: {str(err).strip()}") from err


class PostgresAccountsDB:
    """Accounts as tables in a PostgreSQL database (the store's ``--db``), through a small pool."""

    def __init__(self, url: str, *, create: bool) -> None:
        import psycopg
        import psycopg_pool

        from rltrack.store.postgres.database import redact

        self.where = redact(url)
        try:
            with psycopg.connect(url, connect_timeout=10) as conn:
                tx = _PgTx(conn, self.where)
                tx.execute(f"SELECT pg_advisory_xact_lock({_MIGRATE_LOCK:d})")
                exists = tx.execute(f"SELECT to_regclass('{VERSION_TABLE}') IS NOT NULL")[0][0]
                if not exists and not create:
                    raise StoreError(f"no accounts tables in {self.where}; create a user first (rltrack server admin)")
                _migrate(tx, self.where)
        except psycopg.Error as err:
            raise StoreError(f"cannot use the PostgreSQL database {self.where}: {str(err).strip()}") from err
        class _Pool(psycopg_pool.ConnectionPool):  # connections are plain psycopg ones
            def __del__(self) -> None:
                # A pool nobody closed joins its workers when collected; collected in one of them, that join
                # raises. The workers were already told to stop (as rltrack.store.postgres's pool does).
                with contextlib.suppress(RuntimeError):
                    super().__del__()

        self._pool: Any = _Pool(url, min_size=1, max_size=4, timeout=10.0, open=True, name="rltrack-accounts")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Tx]:
        """Borrow a pooled connection for one transaction (committed on success, rolled back on error)."""
        import psycopg
        import psycopg_pool

        try:
            with self._pool.connection() as conn:
                yield _PgTx(conn, self.where)
        except psycopg_pool.PoolTimeout as err:
            raise StoreError(f"no free connection to {self.where} within 10 s (the database is slow or down)") from err
        except psycopg.OperationalError as err:
            raise StoreError(f"cannot reach {self.where}: {str(err).strip()}") from err

    def reading(self) -> contextlib.AbstractContextManager[Tx]:
        """Open a transaction for reads (PostgreSQL's readers never block writers)."""
        return self.transaction()

    def close(self) -> None:
        """Close the pool."""
        self._pool.close()


def _migrate(tx: Tx, where: str) -> None:
    # Called inside a transaction that holds the write lock (SQLite) or the advisory lock (PostgreSQL).
    if isinstance(tx, _SqliteTx):
        exists = bool(tx.execute("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?",
                                 (VERSION_TABLE,))[0][0])
    else:  # to_regclass follows search_path, as every other statement does
        exists = bool(tx.execute(f"SELECT to_regclass('{VERSION_TABLE}') IS NOT NULL")[0][0])
    if not exists:
        tx.execute(f"CREATE TABLE {VERSION_TABLE} (version INTEGER NOT NULL)")
        tx.execute(f"INSERT INTO {VERSION_TABLE} (version) VALUES (0)")
    version = int(tx.execute(f"SELECT version FROM {VERSION_TABLE}")[0][0])
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"the accounts database {where} has schema version {version}, newer than this rltrack understands "
            f"({SCHEMA_VERSION}); {UPGRADE_HINT}"
        )
    for number, statements in MIGRATIONS:
        if number > version:
            for statement in statements:
                tx.execute(statement)
            tx.execute(f"UPDATE {VERSION_TABLE} SET version = ?", (number,))


def open_db(root: Path, url: str | None, *, create: bool) -> AccountsDB:
    """Return the accounts database of a store: ``<root>/accounts.sqlite``, or tables in PostgreSQL at ``url``.

    Raises:
        StoreError: it does not exist (and ``create`` is false), cannot be reached, or is newer than rltrack.
    """
    if url is None:
        return SqliteAccountsDB(Path(root) / FILE_NAME, create=create)
    return PostgresAccountsDB(url, create=create)
