"""A forward MCAP reader that keeps every message it can reach.

rosbags' MCAP reader starts from the summary at the end of the file, so a recording cut short
(power lost, disk full) opens as nothing at all. This reader walks the data section from the
start instead, one record at a time and one chunk in memory at a time: schemas and channels are
learnt as they appear, a chunk that fails its checksum or decompression is skipped and counted,
and the last, cut chunk gives the complete records it still holds. The same walk serves intact
files, so there is one read path.

Record layout: https://mcap.dev/spec (opcode u8, length u64, fields; strings u32-prefixed).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO
from zlib import crc32

__all__ = ["MAGIC", "Channel", "McapScan", "Schema", "zstd_decompressor"]

MAGIC = b"\x89MCAP0\r\n"
_HEADER, _FOOTER, _SCHEMA, _CHANNEL, _MESSAGE, _CHUNK, _DATA_END = 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x0F
_U16, _U32, _U64 = struct.Struct("<H"), struct.Struct("<I"), struct.Struct("<Q")
_MSG_HEAD = struct.Struct("<HIQQ")  # channel id, sequence, log time, publish time
_CHUNK_HEAD = struct.Struct("<QQQI")  # start, end, uncompressed size, uncompressed crc


@dataclass(frozen=True)
class Schema:
    """An MCAP schema record: a message type and its definition text."""

    id: int
    name: str
    encoding: str
    data: str


@dataclass(frozen=True)
class Channel:
    """An MCAP channel record: a topic, its schema and its message encoding."""

    id: int
    schema_id: int
    topic: str
    encoding: str


def zstd_decompressor() -> Any:
    """Return a streaming zstd decompressor (``.decompress(bytes) -> bytes``) from what rosbags uses."""
    try:
        from compression import zstd  # Python 3.14+
    except ImportError:
        try:
            from backports import zstd  # rosbags 0.11 on Python < 3.14
        except ImportError:
            import zstandard  # rosbags 0.10

            return zstandard.ZstdDecompressor().decompressobj()
    return zstd.ZstdDecompressor()


def _partial(data: bytes, compression: str) -> bytes:
    """Decompress as much of ``data`` as is there (a cut chunk still holds whole records)."""
    if compression == "":
        return data
    if compression == "zstd":
        return bytes(zstd_decompressor().decompress(data))
    if compression == "lz4":
        from lz4.frame import LZ4FrameDecompressor  # a rosbags dependency

        return bytes(LZ4FrameDecompressor().decompress(data))
    raise ValueError(f"unsupported chunk compression {compression!r}")


def _string(buf: bytes | memoryview, pos: int) -> tuple[str, int]:
    (n,) = _U32.unpack_from(buf, pos)
    pos += 4
    return bytes(buf[pos : pos + n]).decode(), pos + n


@dataclass
class McapScan:
    """Walk one MCAP file from its start; see the module docstring.

    After :meth:`messages` is exhausted, ``stopped`` says why the walk ended early (None when the
    file ended with its footer) and ``bad_chunks`` how many chunks were unreadable.
    """

    path: Path
    schemas: dict[int, Schema] = field(default_factory=dict)
    channels: dict[int, Channel] = field(default_factory=dict)
    stopped: str | None = None
    bad_chunks: int = 0
    counts: dict[int, int] = field(default_factory=dict)  # messages yielded per channel

    def messages(self, wanted: set[int] | None = None) -> Iterator[tuple[int, int, bytes]]:
        """Yield ``(channel id, log time ns, data)``; chunks are sorted by log time.

        Args:
            wanted: Channel ids to yield (None: all). Schemas and channels are learnt regardless.
        """
        with self.path.open("rb") as f:
            if f.read(8) != MAGIC:
                self.stopped = "it does not start with the MCAP magic bytes"
                return
            yield from self._walk(f, wanted)

    def _walk(self, f: BinaryIO, wanted: set[int] | None) -> Iterator[tuple[int, int, bytes]]:
        while True:
            head = f.read(9)
            if not head:
                self.stopped = "the file ends without a footer"
                return
            if len(head) < 9:
                self.stopped = f"the file is cut inside a record at byte {f.tell()}"
                return
            op = head[0]
            (size,) = _U64.unpack_from(head, 1)
            if op in (_FOOTER, _DATA_END):
                return
            body = f.read(size)
            if len(body) < size:
                if op == _CHUNK:  # the cut chunk still holds whole records
                    yield from self._chunk(body, wanted, cut=True)
                self.stopped = f"the file is cut inside a record at byte {f.tell()}"
                return
            if op == _CHUNK:
                yield from self._chunk(body, wanted, cut=False)
            else:
                msg = self._record(op, body, wanted)
                if msg is not None:
                    yield msg

    def _record(self, op: int, body: bytes | memoryview, wanted: set[int] | None) -> tuple[int, int, bytes] | None:
        if op == _MESSAGE:
            cid, _, log_time, _ = _MSG_HEAD.unpack_from(body, 0)
            if wanted is None or cid in wanted:
                self.counts[cid] = self.counts.get(cid, 0) + 1
                return cid, log_time, bytes(body[22:])
        elif op == _SCHEMA:
            (sid,) = _U16.unpack_from(body, 0)
            name, pos = _string(body, 2)
            encoding, pos = _string(body, pos)
            (n,) = _U32.unpack_from(body, pos)
            data = bytes(body[pos + 4 : pos + 4 + n]).decode(errors="replace")
            self.schemas[sid] = Schema(sid, name, encoding, data)
        elif op == _CHANNEL:
            cid, sid = struct.unpack_from("<HH", body, 0)
            topic, pos = _string(body, 4)
            encoding, _ = _string(body, pos)
            self.channels[cid] = Channel(cid, sid, topic, encoding)
        return None

    def _chunk(self, body: bytes, wanted: set[int] | None, *, cut: bool) -> Iterator[tuple[int, int, bytes]]:
        try:
            _, _, size, crc = _CHUNK_HEAD.unpack_from(body, 0)
            compression, pos = _string(body, 28)
            (length,) = _U64.unpack_from(body, pos)
            data = _partial(body[pos + 8 : pos + 8 + length], compression)
            if not cut and (len(data) != size or (crc and crc32(data) != crc)):
                raise ValueError("chunk checksum mismatch")
        except Exception:  # struct, decompressor or checksum errors: this chunk is lost
            if not cut:
                self.bad_chunks += 1
            return
        view = memoryview(data)
        found: list[tuple[int, int, bytes]] = []
        pos, end = 0, len(data)
        try:
            while pos + 9 <= end:
                op = view[pos]
                (rsize,) = _U64.unpack_from(view, pos + 1)
                if pos + 9 + rsize > end:
                    break  # the cut end of a chunk
                msg = self._record(op, view[pos + 9 : pos + 9 + rsize], wanted)
                if msg is not None:
                    found.append(msg)
                pos += 9 + rsize
        except (struct.error, UnicodeDecodeError):
            pass  # a damaged record: what came before it is kept
        if pos != end and not cut:
            self.bad_chunks += 1  # its records do not add up: the rest of this chunk is lost
        found.sort(key=lambda m: m[1])  # rosbag2 writers keep a chunk in arrival order, not log time
        yield from found
