"""Import rosbag2 recordings (sqlite3 or mcap folders, bare ``.mcap`` files) into a run.

Messages are read with rosbags in log-time order and go through the same :class:`Mirror` as
the live node. Type definitions come from the bag itself when it carries them (mcap schemas,
Iron+ sqlite3 ``message_definitions``), else from the configured distro's typestore plus the
``msg_dirs`` folders (Humble-era sqlite3 bags carry none).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rosbags.highlevel import AnyReader, AnyReaderError
from rosbags.typesys import Stores, get_typestore
from rosbags.typesys.store import Typestore

from .decode import Decoder, make_typestore
from .errors import BagImportError, DecodeError
from .mirror import Mirror, RunLike
from .topics import MirrorConfig

__all__ = ["BagImportResult", "bag_paths", "import_bag", "topics_in"]

#: Called with (messages read, messages in the bag) every ``_PROGRESS_EVERY`` messages and at the end.
Progress = Callable[[int, int], None]
_PROGRESS_EVERY = 5000


@dataclass(frozen=True)
class BagImportResult:
    """What an import read and logged."""

    path: Path
    messages: int  # read from the bag (selected topics)
    logged: int  # log() calls with values
    episodes: int
    videos: int
    errors: int
    duration_s: float

    @property
    def rate_msgs_per_s(self) -> float:
        """Messages read, decoded and stored per second."""
        return self.messages / self.duration_s if self.duration_s > 0 else float("inf")


def bag_paths(path: str | Path) -> list[Path]:
    """Return what to hand rosbags for ``path``: a bag folder, or the bare ``.mcap`` files.

    Raises:
        BagImportError: the path does not exist or holds no bag.
    """
    p = Path(path)
    if p.is_file():
        if p.name == "metadata.yaml":
            return [p.parent]
        if p.suffix in (".mcap", ".db3"):
            return [p] if p.suffix == ".mcap" else [p.parent]
        raise BagImportError(f"{str(p)!r} is not a bag: pass a rosbag2 folder or an .mcap file")
    if p.is_dir():
        if (p / "metadata.yaml").is_file():
            return [p]
        # A folder of .mcap files without metadata.yaml: rosbags reads bare mcap files one by one.
        mcaps = sorted(p.glob("*.mcap"))
        if mcaps:
            return mcaps
        raise BagImportError(f"{str(p)!r} holds neither metadata.yaml nor .mcap files; pass a rosbag2 folder")
    raise BagImportError(f"bag {str(p)!r} does not exist; check the path")


def _merged_typestore(bag_store: Typestore, default: Typestore) -> Typestore:
    """Return a store that decodes the bag: its own definitions win over the distro's."""
    try:
        # Common case: the bag's definitions agree with the distro's; registering only adds the
        # types the distro lacks, without generating code for the whole distro again.
        default.register(dict(bag_store.fielddefs))
        return default
    except Exception:  # rosbags' TypesysError: some type differs between bag and distro
        typs: dict[str, Any] = dict(default.fielddefs)
        typs.update(bag_store.fielddefs)
        store = get_typestore(Stores.EMPTY)
        store.register(typs)
        return store


def _open(paths: list[Path], path: str | Path, config: MirrorConfig) -> tuple[AnyReader, Typestore | None]:
    """Open the bag with its own definitions; load a distro typestore only if it has none.

    Building a distro typestore costs about a second of class creation, and bags with embedded
    definitions (mcap, Iron+ sqlite3) do not need it.
    """
    default = None
    try:
        try:
            reader = AnyReader(paths)
            reader.open()
        except AnyReaderError as err:
            if "no type definitions" not in str(err):
                raise
            default = make_typestore(config.distro, config.msg_dirs)
            reader = AnyReader(paths, default_typestore=default)
            reader.open()
    except DecodeError:
        raise
    except Exception as err:  # rosbags raises several reader error types plus OSError/sqlite3
        hint = " (a truncated recording? `ros2 bag reindex` / `mcap recover` can repair it)" if "magic" in str(
            err
        ) else ""
        raise BagImportError(f"cannot open bag {str(path)!r}: {err}{hint}") from err
    return reader, default


def import_bag(
    path: str | Path,
    run: RunLike,
    config: MirrorConfig,
    *,
    step_offset: int | None = None,
    progress: Progress | None = None,
) -> BagImportResult:
    """Mirror the selected topics of the bag at ``path`` into ``run`` and flush.

    Args:
        path: A rosbag2 folder (sqlite3 or mcap storage), an ``.mcap`` file, or a folder of them.
        run: The run to write into (usually attached as source ``real``).
        config: Topics, episodes and images; an empty topic list imports every topic.
        step_offset: Training step of the deployed policy, where episode values are placed.
        progress: Called with (messages read, total) as the import goes.

    Raises:
        BagImportError: the bag cannot be opened, or reading stopped part-way (truncated or
            corrupt file); everything read before that is kept and stored, and the message says
            how much.
    """
    paths = bag_paths(path)
    start = time.perf_counter()
    reader, default = _open(paths, path, config)
    read = 0
    mirror: Mirror | None = None
    try:
        mirror = Mirror(run, config, Decoder(reader.typestore), step_offset=step_offset)
        wanted = [c for c in reader.connections if mirror.wants(c.topic)]
        if config.msg_dirs or any(c.msgtype not in reader.typestore.fielddefs for c in wanted):
            # The bag lacks some definitions (or the user gave their own): add the distro's.
            default = default or make_typestore(config.distro, config.msg_dirs)
            mirror.decoder = Decoder(_merged_typestore(reader.typestore, default))
        total = sum(c.msgcount for c in wanted)
        handle = mirror.handle
        if wanted:
            try:
                for connection, timestamp, raw in reader.messages(connections=wanted):
                    handle(connection.topic, connection.msgtype, raw, timestamp)
                    read += 1
                    if progress is not None and read % _PROGRESS_EVERY == 0:
                        progress(read, total)
            except Exception as err:  # truncated/corrupt storage: keep what was read, say so
                raise BagImportError(
                    f"reading bag {str(path)!r} stopped after {read} of {total} messages: {err}; the {read} "
                    "messages read before the error were imported and kept"
                ) from err
        if progress is not None:
            progress(read, total)
    finally:
        reader.close()
        if mirror is not None:
            mirror.close()
        flush = getattr(run, "flush", None)
        if callable(flush):
            flush()
    assert mirror is not None  # set before any path that returns normally
    return BagImportResult(
        path=Path(path),
        messages=read,
        logged=sum(mirror.counts.logged.values()),
        episodes=mirror.episodes.episodes if mirror.episodes else 0,
        videos=mirror.counts.videos,
        errors=sum(mirror.counts.errors.values()),
        duration_s=time.perf_counter() - start,
    )


def topics_in(path: str | Path) -> dict[str, tuple[str, int]]:
    """Return ``{topic: (type, message count)}`` of a bag, for listing before an import."""
    try:
        with AnyReader(bag_paths(path), default_typestore=get_typestore(Stores.LATEST)) as reader:
            return {name: (info.msgtype or "?", info.msgcount) for name, info in reader.topics.items()}
    except BagImportError:
        raise
    except Exception as err:
        raise BagImportError(f"cannot open bag {str(path)!r}: {err}") from err
