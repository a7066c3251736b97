"""Read one rosbag2 sqlite3 storage file with the standard library, keeping every readable row.

The storage's own ``topics`` table is the truth about its connections (``metadata.yaml`` may
disagree on QoS). Messages come in log-time order. When the file is damaged (a truncated or
overwritten page), reading goes on by row id past the unreadable pages, the way a B-tree can still
be entered beyond a bad leaf, and the rows that can still be read are returned in time order.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SqliteFile", "StoredConn"]

_MAX_JUMP = 1 << 40  # row ids beyond this are not probed when skipping unreadable pages


@dataclass(frozen=True)
class StoredConn:
    """A connection as its storage file records it: topic, type and definition.

    A sqlite3 ``topics`` row, an MCAP channel or a ROS 1 connection.
    """

    id: int
    topic: str
    type: str
    serialization_format: str
    msgdef_encoding: str  # 'ros2msg', 'ros2idl' or '' (no definition stored: Humble and older)
    msgdef: str


class SqliteFile:
    """One ``.db3`` file, opened read-only; see the module docstring."""

    def __init__(self, path: Path) -> None:
        self.path = path
        wal = Path(f"{path}-wal")
        # An unclean stop leaves messages in the write-ahead log: read it (mode=ro) when it holds any.
        mode = "mode=ro" if wal.is_file() and wal.stat().st_size > 0 else "immutable=1"
        self.conn = sqlite3.connect(f"file:{path}?{mode}", uri=True, check_same_thread=False)
        self.stopped: str | None = None  # why the ordered read ended early
        self.lost = 0  # rows found but unreadable in the salvage pass
        try:
            self.topics = self._topics()
        except sqlite3.DatabaseError:
            self.conn.close()
            raise

    def close(self) -> None:
        """Close the database connection."""
        self.conn.close()

    def _topics(self) -> list[StoredConn]:
        tables = {row[0] for row in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not {"topics", "messages"} <= tables:
            raise sqlite3.DatabaseError("not a rosbag2 database (no 'topics' and 'messages' tables)")
        defs: dict[str, tuple[str, str]] = {}
        if "message_definitions" in tables:
            for name, enc, text in self.conn.execute(
                "SELECT topic_type, encoding, encoded_message_definition FROM message_definitions"
            ):
                if text:
                    defs[name] = (enc, text)
        rows = self.conn.execute("SELECT id, name, type, serialization_format FROM topics ORDER BY id").fetchall()
        return [StoredConn(tid, name, typ, fmt, *defs.get(typ, ("", ""))) for tid, name, typ, fmt in rows]

    def counts(self) -> dict[int, int]:
        """Return the number of stored messages per topic id (reads the whole table)."""
        return dict(self.conn.execute("SELECT topic_id, count(*) FROM messages GROUP BY topic_id").fetchall())

    def messages(self, wanted: set[int]) -> Iterator[tuple[int, int, bytes]]:
        """Yield ``(topic id, log time ns, data)`` of the wanted topics, in time order."""
        if not wanted:
            return
        marks = ",".join("?" * len(wanted))
        query = f"SELECT id, topic_id, timestamp, data FROM messages WHERE topic_id IN ({marks}) ORDER BY timestamp, id"
        last: tuple[int, int] | None = None
        try:
            for rid, tid, t_ns, data in self.conn.execute(query, tuple(wanted)):
                last = (t_ns, rid)
                yield tid, t_ns, data
            return
        except sqlite3.DatabaseError as err:
            self.stopped = str(err)
        yield from self._salvage(wanted, last)

    def _salvage(self, wanted: set[int], after: tuple[int, int] | None) -> Iterator[tuple[int, int, bytes]]:
        rows = sorted(
            (t_ns, rid, tid)
            for rid, tid, t_ns in self._rows_by_id()
            if tid in wanted and (after is None or (t_ns, rid) > after)
        )
        for t_ns, rid, tid in rows:
            try:
                found = self.conn.execute("SELECT data FROM messages WHERE id = ?", (rid,)).fetchone()
            except sqlite3.DatabaseError:
                found = None
            if found is None:
                self.lost += 1
                continue
            yield tid, t_ns, found[0]

    def _rows_by_id(self) -> Iterator[tuple[int, int, int]]:
        """Yield ``(id, topic id, time)`` of every reachable row, jumping over unreadable pages."""
        cursor_id = -1
        while True:
            try:
                for rid, tid, t_ns in self.conn.execute(
                    "SELECT id, topic_id, timestamp FROM messages WHERE id > ? ORDER BY id", (cursor_id,)
                ):
                    cursor_id = rid
                    yield rid, tid, t_ns
                return
            except sqlite3.DatabaseError:
                # A scan stepping past the last row of a readable leaf fails on the missing leaf after
                # it before returning that row; a fresh descent from the root still reads it.
                row = self._row_after(cursor_id)
                if row is not None:
                    cursor_id = row[0]
                    yield row
                    continue
                resume = self._next_readable(cursor_id)
                if resume is None:
                    return
                cursor_id = resume - 1

    def _row_after(self, after: int) -> tuple[int, int, int] | None:
        """Return ``(id, topic id, time)`` of the first row above ``after`` when it can be read, else None."""
        try:
            row = self.conn.execute(
                "SELECT id, topic_id, timestamp FROM messages WHERE id > ? ORDER BY id LIMIT 1", (after,)
            ).fetchone()
        except sqlite3.DatabaseError:
            return None
        return None if row is None else (int(row[0]), int(row[1]), int(row[2]))

    def _probe(self, after: int) -> tuple[bool, int | None]:
        """Return (readable, first row id above ``after``)."""
        try:
            row = self.conn.execute("SELECT id FROM messages WHERE id > ? ORDER BY id LIMIT 1", (after,)).fetchone()
        except sqlite3.DatabaseError:
            return False, None
        return True, None if row is None else int(row[0])

    def _next_readable(self, after: int) -> int | None:
        """Return the first row id past the damage after row ``after`` (None: nothing more)."""
        step = 1
        while step < _MAX_JUMP:
            ok, rid = self._probe(after + step)
            if ok:
                break
            step *= 2
        else:
            return None
        lo, hi = step // 2, step  # probing after+lo failed (or lo == 0); after+hi works: narrow it
        while hi - lo > 1:
            mid = (lo + hi) // 2
            ok, found = self._probe(after + mid)
            if ok:
                hi, rid = mid, found
            else:
                lo = mid
        return rid
