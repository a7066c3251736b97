"""One storage file of a recording behind one interface: sqlite3, MCAP or ROS 1 ``.bag``.

Each file reports its own connections (never paired against ``metadata.yaml``), its stored
message counts where an index has them, and its messages as ``(connection id, log time, data)``.
A file that can only be partly read says so in :meth:`StorageFile.problem` instead of raising.
"""

from __future__ import annotations

import sqlite3
import struct
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from .mcapscan import McapScan, zstd_decompressor
from .sqlitescan import SqliteFile, StoredConn

__all__ = ["McapFile", "Ros1File", "StorageFile", "StoredConn", "decompress_file", "open_storage"]


class StorageFile(Protocol):
    """What :mod:`rltrack_ros.bagread` needs from one storage file."""

    path: Path
    conns: list[StoredConn]

    def counts(self) -> dict[int, int] | None:  # noqa: D102
        ...

    def messages(self, wanted: set[int]) -> Iterator[tuple[int, int, bytes]]:  # noqa: D102
        ...

    def problem(self) -> str | None:  # noqa: D102
        ...

    def close(self) -> None:  # noqa: D102
        ...


class Sqlite3Storage:
    """A ``.db3`` file (see :class:`~rltrack_ros.sqlitescan.SqliteFile`).

    A file cut short (its header counts more pages than it has) does not open at all in SQLite; a
    copy whose header counts the pages that are there opens, and its rows are salvaged.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.cut: str | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        try:
            self.db = SqliteFile(path)
        except sqlite3.DatabaseError:
            copy = self._header_fixed_copy()
            if copy is None:
                raise
            try:
                self.db = SqliteFile(copy)
            except sqlite3.DatabaseError:  # not even the repaired copy opens: remove it now
                assert self._tmp is not None
                self._tmp.cleanup()
                raise
        self.conns = self.db.topics

    def _header_fixed_copy(self) -> Path | None:
        data = self.path.read_bytes()
        if len(data) < 100 or not data.startswith(b"SQLite format 3\x00"):
            return None
        (page,) = struct.unpack(">H", data[16:18])
        page = 65536 if page == 1 else page
        (pages,) = struct.unpack(">I", data[28:32])
        have = len(data) // page
        if have >= pages or have < 1:
            return None
        self.cut = f"the file is cut short ({have} of {pages} pages)"
        self._tmp = tempfile.TemporaryDirectory(prefix="rltrack-db3-")
        copy = Path(self._tmp.name) / self.path.name
        copy.write_bytes(data[:28] + struct.pack(">I", have) + data[32 : have * page])
        return copy

    def counts(self) -> dict[int, int] | None:
        """Stored messages per topic id, or None when the table cannot be counted (damaged)."""
        try:
            return self.db.counts()
        except Exception:  # sqlite3.DatabaseError: the salvage read will say more
            return None

    def messages(self, wanted: set[int]) -> Iterator[tuple[int, int, bytes]]:
        """Messages of the wanted topic ids in time order."""
        return self.db.messages(wanted)

    def problem(self) -> str | None:
        """Why reading ended early, with the repair tool; None when the file read cleanly."""
        if self.db.stopped is None and self.cut is None:
            return None
        what = "; ".join(x for x in (self.cut, self.db.stopped and f"the database is damaged ({self.db.stopped})") if x)
        lost = f"; {self.db.lost} rows found but unreadable" if self.db.lost else ""
        return (f"{what}; every readable row was imported{lost} (`ros2 bag reindex` or sqlite3's `.recover` can "
                "repair the file)")  # fmt: skip

    def close(self) -> None:
        """Close the database (and remove a repaired copy)."""
        self.db.close()
        if self._tmp is not None:
            self._tmp.cleanup()


class McapFile:
    """An ``.mcap`` file, read forward with :class:`~rltrack_ros.mcapscan.McapScan`.

    Connections and counts come from the summary (through rosbags) when the file has one; a file
    without a readable summary (cut short) is scanned once to learn its channels.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._counts: dict[int, int] | None = None
        self._scan: McapScan | None = None
        conns = self._from_summary()
        if conns is None:
            probe = McapScan(path)
            for _ in probe.messages(wanted=None):  # every message, so a whole file gives exact counts
                pass
            if probe.stopped and "magic" in probe.stopped:
                raise ValueError(f"not an MCAP file: {probe.stopped}")
            conns = _mcap_conns(probe)
            if probe.stopped is None and not probe.bad_chunks:  # read to its end: the counts are the file's
                self._counts = {c.id: probe.counts.get(c.id, 0) for c in conns}
            self._scan = probe  # a file cut before any wanted channel is never read again: it still says why
        self.conns: list[StoredConn] = conns

    def _from_summary(self) -> list[StoredConn] | None:
        from rosbags.rosbag2.storage_mcap import McapReader

        reader = McapReader(self.path)
        try:
            reader.open()
        except Exception:  # rosbags' ReaderError (no footer, bad summary): scan instead
            return None
        try:
            self._counts = {c.id: c.msgcount for c in reader.connections}
            return [
                StoredConn(c.id, c.topic, c.msgtype, getattr(c.ext, "serialization_format", "cdr"),
                           _MCAP_ENCODINGS.get(c.msgdef.format.name, ""), c.msgdef.data)
                for c in reader.connections
            ]  # fmt: skip
        finally:
            reader.close()

    def counts(self) -> dict[int, int] | None:
        """Messages per channel from the summary; None when the file has no readable summary."""
        return self._counts

    def messages(self, wanted: set[int]) -> Iterator[tuple[int, int, bytes]]:
        """Messages of the wanted channels, chunk by chunk."""
        self._scan = McapScan(self.path)
        return self._scan.messages(wanted)

    def problem(self) -> str | None:
        """How much of the file could not be read, with the repair tool."""
        scan = self._scan
        if scan is None or (scan.stopped is None and not scan.bad_chunks):
            return None
        parts = []
        if scan.stopped:
            parts.append(f"the recording is cut short ({scan.stopped})")
        if scan.bad_chunks:
            parts.append(f"{scan.bad_chunks} chunk(s) failed their checksum or decompression and were skipped")
        return "; ".join(parts) + "; every readable message was imported (`mcap recover` can repair the file)"

    def close(self) -> None:
        """Nothing stays open between reads."""


_MCAP_ENCODINGS = {"MSG": "ros2msg", "IDL": "ros2idl"}


def _mcap_conns(scan: McapScan) -> list[StoredConn]:
    conns = []
    for ch in scan.channels.values():
        schema = scan.schemas.get(ch.schema_id)
        name = schema.name if schema else ""
        conns.append(StoredConn(ch.id, ch.topic, name, ch.encoding, schema.encoding if schema else "",
                                schema.data if schema else ""))  # fmt: skip
    return conns


class Ros1File:
    """A ROS 1 ``.bag`` through rosbags' ROS 1 reader; messages stay ROS 1 serialized."""

    def __init__(self, path: Path) -> None:
        from rosbags.rosbag1 import Reader

        self.path = path
        self.reader = Reader(path)
        self.reader.open()
        self._by_id = {c.id: c for c in self.reader.connections}
        self.conns = [StoredConn(c.id, c.topic, c.msgtype, "ros1", "ros1msg", c.msgdef.data)
                      for c in self.reader.connections]  # fmt: skip
        self._stopped: str | None = None

    def counts(self) -> dict[int, int] | None:
        """Messages per connection from the bag's index."""
        return {c.id: c.msgcount for c in self.reader.connections}

    def messages(self, wanted: set[int]) -> Iterator[tuple[int, int, bytes]]:
        """Messages of the wanted connections in time order."""
        conns = [self._by_id[i] for i in wanted]
        if not conns:
            return
        try:
            for conn, t_ns, raw in self.reader.messages(connections=conns):
                yield conn.id, t_ns, raw
        except Exception as err:  # rosbags' ReaderError on a damaged chunk
            self._stopped = str(err)

    def problem(self) -> str | None:
        """Why reading ended early (`rosbag reindex` repairs ROS 1 bags)."""
        if self._stopped is None:
            return None
        return f"reading stopped at a damaged chunk ({self._stopped}) (`rosbag reindex` can repair the file)"

    def close(self) -> None:
        """Close the bag."""
        self.reader.close()


def decompress_file(src: Path, folder: Path) -> tuple[Path, str | None]:
    """Unpack a zstd-compressed storage file (``x.db3.zstd``) into ``folder``.

    Returns:
        The unpacked file and None, or the part that could be unpacked and why it stopped (a cut
        file still gives the storage's first pages).
    """
    dest = folder / src.name.removesuffix(".zstd")
    decomp = zstd_decompressor()
    problem = None
    with src.open("rb") as fin, dest.open("wb") as fout:
        while block := fin.read(1 << 20):
            try:
                fout.write(decomp.decompress(block))
            except Exception as err:  # zstd errors differ between the zstd packages
                problem = f"its zstd data is damaged ({err})"
                break
    if problem is None and not getattr(decomp, "eof", True):
        problem = "its zstd data is cut short"
    return dest, problem


def open_storage(path: Path) -> StorageFile:
    """Open one storage file by its suffix (``.db3``, ``.mcap``, ``.bag``)."""
    if path.suffix == ".db3":
        return Sqlite3Storage(path)
    if path.suffix == ".mcap":
        return McapFile(path)
    if path.suffix == ".bag":
        return Ros1File(path)
    raise ValueError(f"unknown storage file type {path.suffix!r}")
