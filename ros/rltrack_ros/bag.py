"""Import recordings (rosbag2 sqlite3/MCAP folders or files, ROS 1 bags) into a run.

:mod:`.bagread` opens the recording and streams every readable message (salvaging damaged files,
skipping what cannot be decoded with its reason); messages go through the same :class:`Mirror` as
the live node; :mod:`.report` says per topic what was read against what the recording lists.
A shortfall is a warning naming the topic and its counts, and an error under ``strict``.
"""

from __future__ import annotations

import difflib
import hashlib
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rltrack.errors import RltrackWarning

from .bagread import BagSource, bag_files, norm_topic, open_bag
from .decode import IMAGE_TYPES, Decoder
from .errors import BagImportError
from .mirror import Mirror, RunLike
from .report import PREFIX as REPORT_PREFIX
from .report import ImportReport, build_report
from .topics import EpisodeConfig, MirrorConfig

__all__ = [
    "BagImportResult",
    "bag_paths",
    "check_topics",
    "guess_episodes",
    "import_bag",
    "open_for",
    "topics_in",
]

#: Run config key listing the recordings imported into the run, as "<source>:<bag_fingerprint>".
IMPORTED_KEY = "ros_imported_bags"
#: Called with (messages read, messages in the bag) every ``_PROGRESS_EVERY`` messages and at the end.
Progress = Callable[[int, int], None]
_PROGRESS_EVERY = 5000
_NUMERIC_STD = frozenset(f"std_msgs/msg/{t}" for t in ("Float32", "Float64", "Int8", "Int16", "Int32", "Int64",
                                                      "UInt8", "UInt16", "UInt32", "UInt64"))  # fmt: skip
_DONE_TYPES = frozenset({"std_msgs/msg/Bool", "std_msgs/msg/Empty"})


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
    report: ImportReport | None = None

    @property
    def rate_msgs_per_s(self) -> float:
        """Messages read, decoded and stored per second."""
        return self.messages / self.duration_s if self.duration_s > 0 else float("inf")


def bag_paths(path: str | Path) -> list[Path]:
    """Return the storage files of the recording at ``path``.

    Raises:
        BagImportError: the path does not exist or holds no recording.
    """
    return bag_files(path)[0]


def open_for(path: str | Path, config: MirrorConfig) -> BagSource:
    """Open the recording at ``path`` for ``config`` and check that every named topic is in it.

    This is the check to run before creating a run: it reads only indexes and definitions.

    Raises:
        BagImportError: the recording cannot be opened, or a named topic is not in it.
    """
    # Topics guess_episodes may add later (`*/reward`, `*/done`) need their types too, or they are skipped.
    source = open_bag(path, distro=config.distro if config.distro_given else None, msg_dirs=config.msg_dirs,
                      wanted=lambda t: config.reads(norm_topic(t)) or t.endswith(("/reward", "/done")))  # fmt: skip
    try:
        check_topics(source, config)
    except BagImportError:
        source.close()
        raise
    return source


def check_topics(source: BagSource, config: MirrorConfig) -> None:
    """Raise when a topic the config names (``--topic``, ``topics:``, ``episodes:``) is not in the recording.

    Raises:
        BagImportError: names the missing topic, a close match and the recording's topics.
    """
    have = sorted(source.topics)
    for name in config.wanted():
        if name in source.topics:
            continue
        guess = difflib.get_close_matches(name, have, n=1, cutoff=0.6)
        tail = [t for t in have if t.rsplit("/", 1)[-1] == name.rsplit("/", 1)[-1]]
        near = guess or tail
        hint = f"; did you mean {near[0]!r}?" if near else ""
        listing = ", ".join(have[:30]) + (f" and {len(have) - 30} more" if len(have) > 30 else "")
        raise BagImportError(f"topic {name!r} is not in bag {str(source.path)!r}{hint} Its topics: "
                             f"{listing or '(none)'}")  # fmt: skip


def guess_episodes(source: BagSource) -> EpisodeConfig | None:
    """Return episodes on a single ``*/reward`` number topic and ``*/done`` Bool/Empty topic, if the bag has them.

    The demo's recordings (and the convention of its README) publish ``/rl/reward`` and ``/rl/done``.
    """
    rewards = [t for t, i in source.topics.items() if t.endswith("/reward") and i.msgtype in _NUMERIC_STD]
    dones = [t for t, i in source.topics.items() if t.endswith("/done") and i.msgtype in _DONE_TYPES]
    if len(rewards) == 1 and len(dones) == 1:
        return EpisodeConfig(reward=rewards[0], done=dones[0])
    return None


def import_bag(
    path: str | Path | BagSource,
    run: RunLike,
    config: MirrorConfig,
    *,
    step_offset: int | None = None,
    progress: Progress | None = None,
    strict: bool = False,
) -> BagImportResult:
    """Mirror the selected topics of a recording into ``run`` and flush.

    Args:
        path: A recording (see :mod:`.bagread`) or a source from :func:`open_for` (closed here).
        run: The run to write into (usually attached as source ``real``).
        config: Topics, episodes and images; an empty topic list imports every topic.
        step_offset: Training step of the deployed policy, where episode values are placed.
        progress: Called with (messages read, total) as the import goes.
        strict: Raise when any selected topic lost messages (after storing what was read).

    Raises:
        BagImportError: the recording cannot be opened, a named topic is not in it, or (``strict``)
            messages were lost; everything read is stored before the strict error.
    """
    start = time.perf_counter()
    source = path if isinstance(path, BagSource) else open_for(path, config)
    imported = getattr(run, "config", None)
    entry = f"{getattr(run, 'source', '')}:{bag_fingerprint(source.path)}"
    done = list(imported.get(IMPORTED_KEY) or []) if imported is not None else []
    if entry in done:
        source.close()
        raise BagImportError(already_imported(source.path, str(getattr(run, "id", "")), getattr(run, "source", "")))
    # Counters of a recording imported earlier into this run and source are added to, not replaced.
    earlier = _take_counters(run.summary) if any(d.startswith(f"{getattr(run, 'source', '')}:") for d in done) else {}
    mirror: Mirror | None = None
    selected: set[str] = set()
    try:
        mirror = Mirror(run, config, Decoder(source.typestore), step_offset=step_offset)
        selected = {t for t in source.topics if mirror.wants(t)}
        total = sum(source.topics[t].expected or 0 for t in selected if source.topics[t].skip is None)
        handle = mirror.handle
        read = 0
        for topic, msgtype, raw, t_ns in source.messages(selected):
            handle(topic, msgtype, raw, t_ns)
            read += 1
            if progress is not None and read % _PROGRESS_EVERY == 0:
                progress(read, total)
        if progress is not None:
            progress(read, max(total, read))
    finally:
        source.close()
        if mirror is not None:
            mirror.close()
        summary = run.summary
        for key, value in earlier.items():
            now = summary.get(key, 0)
            summary[key] = value + (now if isinstance(now, int) else 0)
        flush = getattr(run, "flush", None)
        if callable(flush):
            flush()
    report = build_report(source, mirror.counts, selected)
    if imported is not None:
        imported[IMPORTED_KEY] = [*done, entry]  # a second import of this bag would double every value
    for key, value in report.counters().items():
        summary[key] = value + (earlier.get(key, 0) if key.startswith(f"{REPORT_PREFIX}/") else 0)
    _warn(report)
    if strict:
        lost = report.shortfalls(strict=True) + report.problems
        if lost:
            raise BagImportError("--strict: messages were lost (everything read is stored): " + "; ".join(lost))
    counts = mirror.counts
    return BagImportResult(
        path=source.path,
        messages=sum(source.read[t] for t in selected),
        logged=sum(counts.logged.values()),
        episodes=mirror.episodes.episodes if mirror.episodes else 0,
        videos=counts.videos,
        errors=sum(counts.errors.values()) + sum(source.unconverted.values()),
        duration_s=time.perf_counter() - start,
        report=report,
    )


def _take_counters(summary: Any) -> dict[str, int]:
    """Remove and return the import counters already in ``summary`` (a run that holds an earlier recording)."""
    keys = [k for k, v in summary.items() if k.startswith(f"{REPORT_PREFIX}/") and "/warnings/" not in k
            and isinstance(v, int) and not isinstance(v, bool)]  # fmt: skip
    return {k: summary.pop(k) for k in keys}


def bag_fingerprint(path: str | Path) -> str:
    """Identify a recording: its resolved path and the names and sizes of its storage files."""
    files = bag_files(path)[0]
    parts = [str(Path(path).resolve())] + [f"{f.name}:{f.stat().st_size if f.is_file() else -1}" for f in files]
    digest = hashlib.sha1("|".join(parts).encode(), usedforsecurity=False).hexdigest()[:16]
    return f"{Path(path).resolve()}#{digest}"


def already_imported(path: str | Path, run_id: str, source: str) -> str:
    """The refusal for a recording that is already in the run under that source."""
    return (f"bag {str(path)!r} is already imported into run {run_id!r} as source {source!r}; importing it again "
            "would store every value twice: start a new run (--project) or attach under another --source")  # fmt: skip


def _warn(report: ImportReport) -> None:
    for problem in report.problems:
        warnings.warn(f"bag file {problem}", RltrackWarning, stacklevel=3)
    for line in report.shortfalls():
        warnings.warn(line, RltrackWarning, stacklevel=3)


def quiet_topics(source: BagSource, config: MirrorConfig) -> frozenset[str]:
    """Topics that give no values by design (episode roles, cameras, /clock): no 'no numbers' hint."""
    quiet = {"/clock"}
    if config.episodes is not None:
        quiet |= {config.episodes.reward, config.episodes.done, config.episodes.success or ""}
    quiet |= {t for t, info in source.topics.items() if info.msgtype in IMAGE_TYPES}
    return frozenset(quiet)


def topics_in(path: str | Path) -> dict[str, tuple[str, int]]:
    """Return ``{topic: (type, message count)}`` of a recording, for listing before an import."""
    with open_bag(path, wanted=lambda _t: False) as source:
        return {name: (info.msgtype, info.expected or 0) for name, info in source.topics.items()}
