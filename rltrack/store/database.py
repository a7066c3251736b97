"""One SQLite connection to a store folder: opening, pragmas, transactions and error translation."""

from __future__ import annotations

import contextlib
import os
import random
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from rltrack.errors import StoreError
from rltrack.store.paths import DB_FILENAME
from rltrack.store.schema import migrate

__all__ = ["Database"]

#: How long a writer waits for another process's write lock before giving up
#: (``RLTRACK_BUSY_TIMEOUT_S`` overrides it).
BUSY_TIMEOUT_S = 60.0


def _busy_timeout_s() -> float:
    try:
        return float(os.environ.get("RLTRACK_BUSY_TIMEOUT_S", BUSY_TIMEOUT_S))
    except ValueError:
        return BUSY_TIMEOUT_S


class Database:
    """A thread-safe SQLite connection to ``<root>/rltrack.db`` in WAL mode.

    Args:
        root: The store folder; created when ``create`` is true.
        create: Create the folder and the database if they do not exist.

    Raises:
        StoreError: the folder cannot be created or written, the file is not an rltrack
            database, or it was written by a newer rltrack.
    """

    def __init__(self, root: Path, *, create: bool = True) -> None:
        self.root = root
        self.path = root / DB_FILENAME
        if create:
            try:
                root.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                raise StoreError(
                    f"cannot create the store folder {str(root)!r}: {err.strerror}; "
                    "pass a writable dir= or set RLTRACK_DIR"
                ) from err
            if not os.access(root, os.W_OK | os.X_OK):
                raise StoreError(
                    f"the store folder {str(root)!r} is not writable; pass a writable dir= or set RLTRACK_DIR"
                )
        elif not self.path.exists():
            raise StoreError(
                f"no rltrack store at {str(root)!r} (no {DB_FILENAME}); log a run first or pass the right dir="
            )
        self._lock = threading.RLock()
        timeout_s = _busy_timeout_s()
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self._open(timeout_s)
                return
            except sqlite3.OperationalError as err:
                # Processes opening a new store at once race to switch it to WAL, and SQLite answers that
                # switch "database is locked" at once, without waiting out the busy timeout: wait here.
                if "locked" not in str(err) or time.monotonic() > deadline:
                    raise StoreError(
                        f"{str(self.path)!r} is not a usable rltrack database ({err}); "
                        "point dir= at an rltrack store folder or move the file away"
                    ) from err
                conn = getattr(self, "_conn", None)
                if conn is not None:
                    with contextlib.suppress(sqlite3.Error):
                        conn.close()
                time.sleep(0.02 + random.random() * 0.08)

    def _open(self, timeout_s: float) -> None:
        try:
            self._conn = sqlite3.connect(self.path, timeout=timeout_s, isolation_level=None, check_same_thread=False)
            self._conn.execute(f"PRAGMA busy_timeout = {int(timeout_s * 1000)}")
            mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise StoreError(f"store {str(self.path)!r} cannot use WAL mode (got {mode!r}); use a local disk")
            # NORMAL is durable across process crashes in WAL mode; only a power loss can
            # lose the last commits. That is the trade every tracker makes for speed.
            self._conn.execute("PRAGMA synchronous = NORMAL")
            # One flush of a busy run writes several MB; the default (1000 pages, ~4 MB) would
            # checkpoint inside most large commits, tripling their cost.
            self._conn.execute("PRAGMA wal_autocheckpoint = 10000")
            migrate(self._conn, self.path)
        except sqlite3.OperationalError:
            raise  # "locked": retried by __init__
        except sqlite3.DatabaseError as err:
            raise StoreError(
                f"{str(self.path)!r} is not a usable rltrack database ({err}); "
                "point dir= at an rltrack store folder or move the file away"
            ) from err

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Run a write transaction (``BEGIN IMMEDIATE``), committing on success."""
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as err:
                raise self.error("begin a write", err) from err
            try:
                yield self._conn
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
                raise
            try:
                self._conn.execute("COMMIT")
            except sqlite3.Error as err:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
                raise self.error("commit", err) from err

    @contextlib.contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """Hold the connection for a consistent read (one snapshot for all statements inside)."""
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                yield self._conn
            finally:
                self._conn.execute("COMMIT")

    def error(self, doing: str, err: BaseException) -> StoreError:
        """Translate a low-level error into a :class:`StoreError` that names the database file."""
        return StoreError(f"cannot {doing} in store {str(self.path)!r}: {err}")

    def close(self) -> None:
        """Close the connection; later calls fail."""
        with self._lock:
            self._conn.close()
