"""An append-only spool file of batches waiting for the server, with an acknowledged offset.

``<spool>/<name>.jsonl`` holds one JSON batch per line; ``<name>.ack`` holds the byte offset up
to which the server has stored them; once everything is acknowledged both files are deleted.
Appends only flush to the OS (they survive the process dying, as SQLite's ``synchronous=NORMAL``
does). The owning process holds an ``flock`` on the file; a spool nobody holds is an orphan that
the next writer on this folder forwards.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
from pathlib import Path
from typing import Any

from rltrack.errors import StoreError

__all__ = ["UNREADABLE", "Spool"]

#: Key of the stand-in batch :meth:`Spool.read` returns for a line that is not a JSON batch.
UNREADABLE = "unreadable_spool_line"


class Spool:
    """One spool file: append batches, read the unacknowledged ones, acknowledge a prefix."""

    def __init__(self, path: Path, *, owned: bool = True) -> None:
        self.path = path
        self.ack_path = path.with_suffix(".ack")
        self._lock = threading.Lock()
        # A new owned spool is created under a name no other writer globs for, locked, then renamed:
        # a writer adopting orphans can never take a spool whose owner is still starting.
        fresh = owned and not path.exists()
        opened = path.parent / f".{path.name}.new" if fresh else path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(opened, "a+b")  # noqa: SIM115  # held open for the spool's life
            if owned:
                fcntl.flock(self._file.fileno(), fcntl.LOCK_EX)
            if fresh:
                os.replace(opened, path)
        except OSError as err:
            raise StoreError(
                f"cannot open the spool file {str(path)!r}: {err.strerror}; pass a writable spool_dir"
            ) from err
        self._size = os.fstat(self._file.fileno()).st_size
        self.acked = self._read_ack()

    @classmethod
    def adopt(cls, path: Path) -> Spool | None:
        """Open an orphaned spool (one no live process holds), or None when someone holds it or it is gone."""
        try:
            spool = cls(path, owned=False)
        except StoreError:
            return None  # deleted by its owner since the folder was listed
        try:
            fcntl.flock(spool._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            spool._file.close()
            return None
        if os.fstat(spool._file.fileno()).st_nlink == 0:
            spool._file.close()  # its owner sent it all and deleted it while we waited for the lock
            return None
        spool._size = os.fstat(spool._file.fileno()).st_size  # its owner may have appended until it died
        spool.acked = spool._read_ack()
        return spool

    def _read_ack(self) -> int:
        try:
            offset = int(self.ack_path.read_text().strip() or 0)
        except (OSError, ValueError):  # UnicodeDecodeError included: a damaged .ack
            return 0
        # A damaged .ack past either end would make every read fail (a negative seek) or skip batches.
        return offset if 0 <= offset <= self._size else 0

    def append(self, batches: list[dict[str, Any]]) -> None:
        """Add batches at the end, all or none (written to the OS before returning).

        Raises:
            OSError: the disk is full or failing; nothing was added (a retry adds them once).
        """
        data = b"".join(json.dumps(b, separators=(",", ":"), allow_nan=True).encode() + b"\n" for b in batches)
        with self._lock:
            fd = self._file.fileno()
            view = memoryview(data)
            try:
                while view:
                    view = view[os.write(fd, view) :]  # O_APPEND: at the end, past any reader's position
            except OSError:
                # Never leave half a batch: the next append would run into it and spoil both.
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, self._size)
                raise
            self._size += len(data)

    @property
    def pending_bytes(self) -> int:
        """Bytes appended but not yet acknowledged."""
        return self._size - self.acked

    def tail(self) -> tuple[int, bytes]:
        """Return the end offset and the unacknowledged bytes (a torn last line left by a writer that died)."""
        with self._lock:
            self._file.seek(self.acked)
            return self._size, self._file.read(self._size - self.acked)

    def read(self, max_bytes: int) -> list[tuple[int, dict[str, Any]]]:
        """Return unacknowledged batches, each with the offset just past it, up to about ``max_bytes``."""
        with self._lock:
            self._file.seek(self.acked)
            data = self._file.read(max(max_bytes, 1))
            if not data.endswith(b"\n"):
                # Read on to the end of a line: a batch is never split.
                data += self._file.readline()
        out = []
        offset = self.acked
        for line in data.splitlines(keepends=True):
            if not line.endswith(b"\n"):
                break  # a torn last line (the writer died mid-append) is never acknowledged
            offset += len(line)
            try:
                batch = json.loads(line)
            except ValueError:
                batch = None
            if not isinstance(batch, dict):
                # A damaged line (a disk fault): handed on marked, so it goes to the dead letters
                # instead of stopping every batch behind it.
                batch = {UNREADABLE: line.decode("utf-8", "replace")}
            out.append((offset, batch))
        return out

    def ack(self, offset: int) -> None:
        """Record that everything before ``offset`` is stored on the server."""
        tmp = self.ack_path.with_suffix(".ack.tmp")
        tmp.write_text(str(offset))
        os.replace(tmp, self.ack_path)
        self.acked = offset

    def close(self, *, remove_if_done: bool = True) -> None:
        """Release the file; delete it when every batch was acknowledged."""
        with self._lock:
            done = self.acked >= self._size
            if remove_if_done and done:
                for p in (self.path, self.ack_path):
                    with contextlib.suppress(FileNotFoundError):
                        p.unlink()
            self._file.close()
