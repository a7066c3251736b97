"""Open a recording — rosbag2 folder, storage files, ROS 1 bags — and stream every readable message.

What a user hands us and what we read:

- a rosbag2 folder with ``metadata.yaml``: its files; the metadata gives the expected count per
  topic, but each file's own connections are read (metadata and storage often disagree on QoS);
- a folder of storage files without ``metadata.yaml`` (a split set from a crashed recorder):
  the files are indexed from their own tables, as ``ros2 bag reindex`` would;
- a bare ``.mcap``/``.db3`` file, a ROS 1 ``.bag`` file, or a folder of ``.bag`` files.

Topic names are normalised to a leading slash (``groundtruth`` is ``/groundtruth``), as the topic
config normalises its names, so both sides meet. A file that cannot be opened, a connection whose
schema cannot be parsed or whose serialization is not CDR is skipped with its reason; the rest
is read. Messages come as ``(topic, type, CDR bytes, log time)``: ROS 1 messages are converted to
CDR exactly as ``rosbags.convert`` converts the bag to rosbag2.
"""

from __future__ import annotations

import contextlib
import heapq
import re
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

from .errors import BagImportError
from .mcapscan import zstd_decompressor
from .storage import StorageFile, StoredConn, decompress_file, open_storage
from .typedefs import BagTypes, build_types

__all__ = ["BagSource", "TopicInfo", "bag_files", "norm_topic", "open_bag"]

_SUFFIXES = (".db3", ".mcap", ".db3.zstd", ".mcap.zstd")
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
#: The tool that repairs a file of each kind when even salvage cannot open it.
_REPAIR = {
    ".bag": " (`rosbag reindex` repairs a ROS 1 bag whose index was not written)",
    ".mcap": " (`mcap recover` rewrites what is readable)",
    ".db3": " (`ros2 bag reindex` or sqlite3's `.recover`)",
}


def norm_topic(name: str) -> str:
    """Return ``name`` with exactly one leading slash (how the topic config spells topics)."""
    return "/" + name.strip().lstrip("/")


@dataclass
class TopicInfo:
    """One topic of the recording, merged over its files and connections."""

    topic: str
    msgtype: str
    expected: int | None  # messages the recording says it holds (None: unknown, e.g. a cut file)
    skip: str | None = None  # why none of its messages can be read (schema, serialization)


@dataclass
class _Conn:
    file: int
    stored: StoredConn
    topic: str
    out_type: str = ""  # the type of the CDR message yielded (ROS 1 renames a few)


@dataclass
class BagSource:
    """An opened recording; see the module docstring. Close it (or use ``with``)."""

    path: Path
    kind: str  # 'rosbag2', 'rosbag2 (reindexed: no metadata.yaml)', 'ROS 1'
    files: list[StorageFile]
    topics: dict[str, TopicInfo]
    types: BagTypes
    compression: str | None = None  # 'message': every message is zstd; 'sniff': no metadata.yaml says
    problems: list[str] = field(default_factory=list)  # per-file: unreadable, salvaged, missing
    read: Counter[str] = field(default_factory=Counter)  # messages read from storage per topic
    unconverted: Counter[str] = field(default_factory=Counter)  # read but not decompressible/convertible
    _conns: list[_Conn] = field(default_factory=list)
    _tmp: Any = None

    def __enter__(self) -> BagSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every file and remove unpacked copies."""
        for f in self.files:
            with contextlib.suppress(Exception):  # closing must not hide the import's own outcome
                f.close()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def recount(self) -> bool:
        """Take each topic's expected count from the storage's own index instead of ``metadata.yaml``.

        A stale ``metadata.yaml`` (written before the recording ended) can list 0 messages for topics
        the files hold. Counting reads a whole sqlite3 table, so it is done only when asked.

        Returns:
            Whether any count changed.
        """
        counts = [f.counts() for f in self.files]
        stored: Counter[str] = Counter()
        for c in self._conns:
            n = counts[c.file]
            if n is not None:
                stored[c.topic] += n.get(c.stored.id, 0)
        changed = False
        for topic, n in stored.items():
            info = self.topics[topic]
            if info.expected is not None and n > info.expected:
                info.expected, changed = n, True
        return changed

    @property
    def typestore(self) -> Any:
        """The rosbags typestore that decodes the (CDR) messages this source yields."""
        return self.types.store

    def messages(self, topics: set[str]) -> Iterator[tuple[str, str, bytes, int]]:
        """Yield ``(topic, type, CDR bytes, log time ns)`` of ``topics`` in log-time order.

        Topics with a ``skip`` reason are not read. Problems met while reading (a cut file) are
        appended to :attr:`problems` once the file is done; reading goes on with the next file.
        """
        streams = []
        for index, f in enumerate(self.files):
            conns = {c.stored.id: c for c in self._conns
                     if c.file == index and c.topic in topics and self.topics[c.topic].skip is None}  # fmt: skip
            if conns:
                streams.append(self._file_messages(f, conns))
            elif problem := f.problem():  # e.g. a split part cut before its channels: nothing to read, still said
                self.problems.append(f"{f.path.name}: {problem}")
        if len(streams) == 1:
            yield from streams[0]
        else:
            yield from heapq.merge(*streams, key=lambda m: m[3])

    def _file_messages(self, f: StorageFile, conns: dict[int, _Conn]) -> Iterator[tuple[str, str, bytes, int]]:
        convert = self.types.converter
        unzip = self.compression == "message"
        sniff = self.compression == "sniff"  # CDR never starts with zstd's magic bytes
        read = self.read
        try:
            for cid, t_ns, data in f.messages(set(conns)):
                conn = conns[cid]
                read[conn.topic] += 1
                try:
                    if unzip or (sniff and data.startswith(_ZSTD_MAGIC)):
                        data = zstd_decompressor().decompress(data)
                    if convert is not None:
                        data = convert(conn.stored.type, data)
                except Exception:  # zstd or ROS 1 conversion errors: one bad message
                    self.unconverted[conn.topic] += 1
                    continue
                yield conn.topic, conn.out_type, data, t_ns
        except Exception as err:  # one bad file must not stop the others
            self.problems.append(f"{f.path.name}: reading stopped ({_short(err)}); the other files go on")
        problem = f.problem()
        if problem:
            self.problems.append(f"{f.path.name}: {problem}")


def _short(err: BaseException, limit: int = 160) -> str:
    """One line of an error, at most ``limit`` characters (schemas can be kilobytes)."""
    text = " ".join(str(err).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _natural(path: Path) -> list[Any]:
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", path.name)]


def bag_files(path: str | Path) -> tuple[list[Path], dict[str, Any] | None]:
    """Return the storage files at ``path`` and the parsed ``metadata.yaml`` (None without one).

    Raises:
        BagImportError: the path does not exist or holds no recording.
    """
    p = Path(path)
    if not p.exists():
        raise BagImportError(f"bag {str(p)!r} does not exist; check the path")
    if p.is_file():
        if p.name == "metadata.yaml":
            p = p.parent
        elif p.name.endswith(_SUFFIXES) or p.suffix == ".bag":
            meta = p.parent / "metadata.yaml"
            if p.suffix == ".db3" and meta.is_file():
                p = p.parent  # a .db3 of a rosbag2 folder: read the folder
            else:
                return [p], None
        else:
            raise BagImportError(f"{str(p)!r} is not a bag: pass a rosbag2 folder, an .mcap/.db3 file or a ROS 1 .bag")
    meta_path = p / "metadata.yaml"
    if meta_path.is_file():
        import yaml

        try:
            info = yaml.safe_load(meta_path.read_text(encoding="utf-8"))["rosbag2_bagfile_information"]
            names = [PurePath(x).name for x in info["relative_file_paths"]]
        except Exception as err:  # YAML or key errors: say which file
            raise BagImportError(f"cannot read {str(meta_path)!r}: {_short(err)}; remove it to index the files "
                                 "themselves") from err  # fmt: skip
        return [p / n for n in names] + _unlisted(p, names), info
    files = sorted((f for f in p.iterdir() if f.name.endswith(_SUFFIXES)), key=_natural)
    if not files:
        files = sorted(p.glob("*.bag"), key=_natural)
    if not files:
        inside = sorted(d.name for d in p.iterdir() if d.is_dir() and ((d / "metadata.yaml").is_file() or any(
            f.name.endswith(_SUFFIXES) or f.suffix == ".bag" for f in d.iterdir())))  # fmt: skip
        hint = f"; it holds recordings: {', '.join(str(p / n) for n in inside[:10])} (import each)" if inside else ""
        raise BagImportError(f"{str(p)!r} holds neither metadata.yaml nor .db3/.mcap/.bag files; pass a rosbag2 "
                             f"folder{hint}")  # fmt: skip
    return files, None


#: metadata.yaml versions up to this one are written by rosbag2 before Iron (Humble writes 5); such
#: bags store no message definitions, and their types are Humble's.
OLD_META_VERSION = 6


def _meta_version(meta: dict[str, Any]) -> int:
    try:
        return int(meta.get("version") or 0)
    except (TypeError, ValueError):
        return 0


def _unlisted(folder: Path, listed: list[str]) -> list[Path]:
    """Return the storage files in ``folder`` that ``metadata.yaml`` does not list, in recording order.

    Such files were written after it (a crash after a split). An unpacked twin of a listed ``.zstd``
    file is not one.
    """
    known = set(listed) | {n.removesuffix(".zstd") for n in listed} | {n + ".zstd" for n in listed}
    extra = [f for f in folder.iterdir() if f.name.endswith(_SUFFIXES) and f.name not in known]
    return sorted(extra, key=_natural)


def open_bag(
    path: str | Path,
    *,
    distro: str | None = None,
    msg_dirs: tuple[str, ...] = (),
    wanted: Callable[[str], bool] | None = None,
) -> BagSource:
    """Open the recording at ``path`` and index its topics.

    Args:
        path: See the module docstring.
        distro: Typestore for types the recording does not define (Humble-era sqlite3 bags). None:
            ``humble`` for a ``metadata.yaml`` of version 6 or older (rosbag2 before Iron: Humble and
            Iron lay out ``sensor_msgs/Range`` without Jazzy's ``variance``), else ``jazzy``.
        msg_dirs: Folders of ``<pkg>/msg/*.msg`` for custom types.
        wanted: Topics whose types must be decodable (default: all).

    Raises:
        BagImportError: no file of the recording can be opened; the message names each file.
    """
    files, meta = bag_files(path)
    if distro is None:
        distro = "humble" if meta is not None and _meta_version(meta) <= OLD_META_VERSION else "jazzy"
    tmp = None
    opened: list[StorageFile] = []
    problems: list[str] = []
    compression = None
    if meta is not None:
        mode = str(meta.get("compression_mode") or "").lower()
        compression = mode if mode in ("file", "message") else None
    listed = {PurePath(x).name for x in meta.get("relative_file_paths") or []} if meta is not None else set()
    for f in files:
        if not f.is_file():
            problems.append(f"{f.name}: listed in metadata.yaml but missing; the other files go on")
            continue
        if meta is not None and f.name not in listed:
            problems.append(f"{f.name}: not listed in metadata.yaml (written before the recording ended?); read too "
                            "(`ros2 bag reindex` rewrites metadata.yaml)")  # fmt: skip
        src, note = f, None
        try:
            if f.name.endswith(".zstd"):
                if tmp is None:
                    tmp = tempfile.TemporaryDirectory(prefix="rltrack-bag-")
                src, note = decompress_file(f, Path(tmp.name))
            opened.append(open_storage(src))
            if note:
                problems.append(f"{f.name}: {note}; the part before it was read (`ros2 bag reindex` after "
                                "re-compressing repairs it)")  # fmt: skip
        except Exception as err:  # sqlite3/MCAP/ROS 1/zstd errors: name the file, go on
            others = "; the other files go on" if len(files) > 1 else ""
            problems.append(f"{f.name}: cannot be opened ({_short(err)}){_REPAIR.get(src.suffix, '')}{others}")
    if not opened:
        if tmp is not None:
            tmp.cleanup()
        detail = "; ".join(problems) or "no storage files"
        raise BagImportError(f"cannot open bag {str(path)!r}: {detail}")
    if compression == "file":
        compression = None  # already unpacked
    elif meta is None and not all(f.path.suffix == ".bag" for f in opened):
        compression = "sniff"  # a reindexed set does not say whether its messages are compressed
    kind = "ROS 1" if all(f.path.suffix == ".bag" for f in opened) else "rosbag2"
    if meta is None and kind == "rosbag2" and len(opened) > 1:
        kind = "rosbag2 (reindexed: no metadata.yaml)"
    conns = [_Conn(i, c, norm_topic(c.topic)) for i, f in enumerate(opened) for c in f.conns]
    topics = _topics(opened, conns, meta)
    try:
        types = build_types([c.stored for c in conns if wanted is None or wanted(c.topic)], distro, msg_dirs,
                            ros1=kind == "ROS 1")  # fmt: skip
    except BagImportError:
        for storage in opened:
            storage.close()
        raise
    for c in conns:
        c.out_type = types.rename.get(c.stored.type, c.stored.type)
    for info in topics.values():
        reason = types.bad.get(info.msgtype)
        if reason and info.skip is None:
            info.skip = reason
        info.msgtype = types.rename.get(info.msgtype, info.msgtype)
    source = BagSource(Path(path), kind, opened, topics, types, compression, problems, _conns=conns)
    source._tmp = tmp
    return source


def _topics(files: list[StorageFile], conns: list[_Conn], meta: dict[str, Any] | None) -> dict[str, TopicInfo]:
    """Merge connections into topics; expected counts from metadata, else the storage's index."""
    # With metadata.yaml its counts are the expectation: counting a sqlite3 table reads the whole file.
    counts: list[dict[int, int] | None] = [None if meta is not None else f.counts() for f in files]
    topics: dict[str, TopicInfo] = {}
    for c in conns:
        n = counts[c.file]
        stored = None if n is None else n.get(c.stored.id, 0)
        info = topics.get(c.topic)
        if info is None:
            info = topics[c.topic] = TopicInfo(c.topic, c.stored.type, stored)
        else:
            info.expected = None if info.expected is None or stored is None else info.expected + stored
        fmt = c.stored.serialization_format
        if fmt not in ("cdr", "ros1"):
            info.skip = f"serialization format {fmt!r} is not CDR"
    if meta is not None:
        listed: dict[str, tuple[str, int]] = {}  # a topic recorded with two types has an entry per type
        for entry in meta.get("topics_with_message_count") or []:
            try:
                name = norm_topic(entry["topic_metadata"]["name"])
                count = int(entry["message_count"])
                typ = entry["topic_metadata"]["type"]
            except (KeyError, TypeError, ValueError):
                continue
            first, total = listed.get(name, (typ, 0))
            listed[name] = (first, total + count)
        for name, (typ, count) in listed.items():
            info = topics.get(name)
            if info is None:  # in the metadata, in no readable file
                topics[name] = TopicInfo(name, typ, count, skip=None)
            else:
                info.expected = count
    return topics
