"""A small read cache for the dashboard, invalidated whenever the store changes.

SQLite's ``PRAGMA data_version`` changes when another connection commits (a training process
flushing, a robot's node writing); the app's own ingest writes bump :attr:`ReadCache.generation`.
Entries also expire after :data:`MAX_AGE_S`, because a run's derived state (``crashed`` when its
heartbeat stops) changes without any commit.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

from rltrack.store.database import Database

__all__ = ["ReadCache"]

T = TypeVar("T")
#: Longest time an entry is trusted without a store change.
MAX_AGE_S = 5.0
#: Bytes of cached arrays kept (least recently used entries go first).
MAX_BYTES = 512 * 1024 * 1024


class ReadCache:
    """Memoize read results per store version, bounded in bytes."""

    def __init__(self, db: Database, *, max_bytes: int = MAX_BYTES) -> None:
        self._db = db
        self._max_bytes = max_bytes
        self._entries: OrderedDict[Any, tuple[tuple[int, int], float, int, Any]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        #: Bumped by the app's own writes (ingest), which ``data_version`` does not see.
        self.generation = 0

    def version(self) -> tuple[int, int]:
        """Return the store's current version (changes on every commit)."""
        with self._db.reading() as conn:
            data_version = int(conn.execute("PRAGMA data_version").fetchone()[0])
        return data_version, self.generation

    def bump(self) -> None:
        """Invalidate everything (called after the app itself wrote)."""
        with self._lock:
            self.generation += 1

    def get_or_compute(self, key: Any, compute: Callable[[], T], size: Callable[[T], int] = lambda _: 1) -> T:
        """Return the cached value of ``key`` for the current store version, computing it when stale."""
        version = self.version()
        now = time.monotonic()
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None and hit[0] == version and now - hit[1] < MAX_AGE_S:
                self._entries.move_to_end(key)
                return hit[3]  # type: ignore[no-any-return]  # stored by this method with type T
        value = compute()
        nbytes = size(value)
        if nbytes > self._max_bytes:
            return value
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old[2]
            self._entries[key] = (version, now, nbytes, value)
            self._bytes += nbytes
            while self._bytes > self._max_bytes and self._entries:
                _, (_, _, dropped, _) = self._entries.popitem(last=False)
                self._bytes -= dropped
        return value
