"""Ingest bookkeeping: which remote batches a server has already stored, so a retried batch is stored once.

A remote writer gives every batch an id (``<writer uuid>:<sequence>``). The server stores a
batch and its id in one transaction; a batch whose id is already there is skipped. The table
is created when a server with ingest starts (``ensure_schema``); the statement is idempotent,
so it can also become a numbered migration in :mod:`rltrack.store.schema` unchanged.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from rltrack.store.base import Backend, Connection

__all__ = ["INGEST_SCHEMA", "BoundDatabase", "ensure_schema", "mark_applied", "was_applied"]

INGEST_SCHEMA = """
CREATE TABLE IF NOT EXISTS ingest_batches (
    id TEXT PRIMARY KEY,
    run_id TEXT,
    applied_ns INTEGER NOT NULL
)
"""


def ensure_schema(db: Backend) -> None:
    """Create the ingest table if this store does not have it yet."""
    with db.transaction() as conn:
        conn.execute(INGEST_SCHEMA)


def was_applied(conn: Connection, batch_id: str) -> bool:
    """Return whether a batch with this id was stored before (inside the caller's transaction)."""
    return conn.execute("SELECT 1 FROM ingest_batches WHERE id = ?", (batch_id,)).fetchone() is not None


def mark_applied(conn: Connection, batch_id: str, run_id: str | None, now_ns: int) -> None:
    """Record that a batch was stored (inside the same transaction that stored it)."""
    conn.execute("INSERT INTO ingest_batches (id, run_id, applied_ns) VALUES (?, ?, ?)", (batch_id, run_id, now_ns))


class BoundDatabase:
    """A :class:`Database` stand-in whose transactions all join one already-open transaction.

    ``StoreWriter(BoundDatabase(db, conn))`` lets the server run a writer call and
    :func:`mark_applied` atomically: both commit or neither does.
    """

    def __init__(self, db: Backend, conn: Connection) -> None:
        self.root: Path = db.root
        self.path: object = db.path
        self._db = db
        self._conn = conn

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """Yield the open connection (the outer transaction commits)."""
        yield self._conn

    @contextlib.contextmanager
    def reading(self) -> Iterator[Connection]:
        """Yield the open connection (reads see the outer transaction's writes)."""
        yield self._conn

    def error(self, doing: str, err: BaseException) -> Exception:
        """Translate like :meth:`Database.error`."""
        return self._db.error(doing, err)
