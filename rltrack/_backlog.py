"""The writer's backlog policy: what it keeps while the store refuses writes, and in what pieces it retries.

Pure functions over :class:`~rltrack.types.SeriesBatch` lists, so :mod:`rltrack._writer` keeps only
the thread and the store calls. A full disk is retried in bounded pieces, oldest first; past
:data:`MAX_UNSAVED_VALUES` the oldest values are dropped and counted (never silently).
"""

from __future__ import annotations

import errno
import shutil
import sqlite3
from pathlib import Path

from rltrack.store.chunks import split
from rltrack.types import SeriesBatch

__all__ = [
    "DISK_BYTES_PER_VALUE",
    "HEADROOM_BYTES",
    "MAX_UNSAVED_VALUES",
    "MIN_PIECE_VALUES",
    "PIECE_VALUES",
    "cap",
    "is_full",
    "take",
    "values_that_fit",
]

#: Values kept for retry while the store refuses writes (24 bytes each); beyond it the oldest
#: are dropped and counted under ``_rltrack/dropped/backlog-full``.
MAX_UNSAVED_VALUES = 5_000_000
#: Values per transaction when a backlog is retried: a piece that fits a nearly full disk, and
#: a retry that costs little while the disk is still full.
PIECE_VALUES = 250_000
#: Disk a stored value takes at most (24 bytes in the WAL, again when checkpointed into the database).
DISK_BYTES_PER_VALUE = 64
#: Space a finishing run leaves free on a nearly full disk, for its summary and end state.
HEADROOM_BYTES = 1 << 20
#: At ``finish()`` a refused piece is halved down to this size before the rest is given up.
MIN_PIECE_VALUES = 2_000

_SQLITE_FULL = 13  # sqlite3.SQLITE_FULL from Python 3.11 on


def take(batches: list[SeriesBatch], size: int) -> tuple[list[SeriesBatch], list[SeriesBatch]]:
    """Split off the oldest ``size`` values (at least one batch or piece) from ``batches``."""
    piece: list[SeriesBatch] = []
    total = 0
    for i, batch in enumerate(batches):
        if total + batch.count > size:
            if piece:
                return piece, batches[i:]
            first, *more = split(batch, size)
            return [first], more + batches[i + 1 :]
        piece.append(batch)
        total += batch.count
    return piece, []


def cap(batches: list[SeriesBatch], limit: int) -> tuple[list[SeriesBatch], int]:
    """Return the newest batches holding at most ``limit`` values, and how many values were left out."""
    total = sum(b.count for b in batches)
    first = dropped = 0
    while total > limit and first < len(batches):
        total -= batches[first].count
        dropped += batches[first].count
        first += 1
    return batches[first:], dropped


def values_that_fit(root: Path) -> int:
    """How many more values the disk under ``root`` takes, keeping :data:`HEADROOM_BYTES` free (unknown: no limit)."""
    try:
        free = shutil.disk_usage(root).free
    except (OSError, ValueError):
        return PIECE_VALUES
    return max(0, (free - HEADROOM_BYTES) // DISK_BYTES_PER_VALUE)


def is_full(err: BaseException | None) -> bool:
    """Whether ``err`` (or what caused it) is a full disk: SQLITE_FULL or ENOSPC."""
    while err is not None:
        if isinstance(err, OSError) and err.errno == errno.ENOSPC:
            return True
        if isinstance(err, sqlite3.Error) and (
            getattr(err, "sqlite_errorcode", None) == _SQLITE_FULL or "full" in str(err)  # 3.10: message only
        ):
            return True
        err = err.__cause__
    return False
