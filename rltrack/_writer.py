"""The background writer: drains what ``log()`` enqueued, packs chunks and stores them.

``log()`` appends ``(step, t_ns, {key: number})`` to a deque and returns. This thread wakes at
least every :data:`FLUSH_INTERVAL_S` (sooner when the queue grows), turns the entries into one
packed chunk per key, folds them into the summary and stores everything in one transaction.
Media objects are encoded on a second thread so a slow video never delays scalars.

Failures here never reach the training loop: each cause warns once
(:class:`rltrack.errors.RltrackWarning`) and is counted in the summary under
``_rltrack/errors/<cause>``; unstored data is kept and retried.
"""

from __future__ import annotations

import queue
import re
import sqlite3
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rltrack._columns import Entry, clamp_overflows, to_columns
from rltrack._state import Summary
from rltrack.errors import RltrackError, RltrackWarning
from rltrack.store.base import WriterBackend
from rltrack.store.chunks import pack
from rltrack.types import Media, MediaRecord, SeriesBatch

__all__ = ["FLUSH_INTERVAL_S", "BackgroundWriter"]

#: Longest time a logged value waits in memory before it is stored.
FLUSH_INTERVAL_S = 1.0
#: Heartbeat period; readers call a run crashed when it stops (see reader.CRASH_AFTER_S).
HEARTBEAT_S = 5.0
#: Queue length (log calls) that wakes the writer before the interval is up.
WAKE_AT = 20_000
#: Queue length at which ``log()`` waits for the writer (backpressure, never dropping).
MAX_PENDING = 100_000
#: Pause before the writer thread imports numpy and starts the samplers (time to first log).
WARM_UP_S = 0.05
#: Values kept for retry while the store refuses writes; beyond it the oldest are dropped and counted.
MAX_UNSAVED_VALUES = 5_000_000


class BackgroundWriter:
    """Moves one run's logged values and media into the store, off the caller's thread."""

    def __init__(
        self,
        store: WriterBackend,
        *,
        run_id: str,
        source: str,
        run_dir: Path,
        summary: Summary,
        owner: bool,
        metadata: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self.queue: deque[Entry] = deque()
        self._store = store
        self._run_id = run_id
        self._source = source
        self._run_dir = run_dir
        self._summary = summary
        self.owner = owner
        self._metadata_fn = metadata
        self._wake = threading.Event()
        self._space = threading.Condition()
        self._lock = threading.Lock()
        self._waiters: list[threading.Event] = []
        self._media_rows: list[MediaRecord] = []
        self._config: dict[str, Any] | None = None
        self._metadata: dict[str, Any] | None = None
        self._unsaved: list[SeriesBatch] = []
        self._warned: set[str] = set()
        self._stopping = False
        self._last_heartbeat = 0.0
        self._media_jobs: queue.Queue[tuple[str, int, int, Media] | None] | None = None
        self._media_thread: threading.Thread | None = None
        self._media_seq = 0
        self._on_warm: list[Callable[[], None]] = []
        self._warm = False
        self._thread = threading.Thread(target=self._loop, name=f"rltrack-writer-{run_id}", daemon=True)
        self._thread.start()

    # ---- called from the caller's thread -------------------------------------------------

    def kick(self) -> None:
        """Wake the writer early; block while the queue is full (backpressure)."""
        # is_set() is ~10x cheaper than set() on an event that is already set, and log()
        # calls this on every call while the writer catches up.
        if not self._wake.is_set():
            self._wake.set()
        if len(self.queue) >= MAX_PENDING:
            with self._space:
                while len(self.queue) >= MAX_PENDING and self._thread.is_alive():
                    self._space.wait(0.1)

    def add_media(self, key: str, step: int, t_ns: int, media: Media) -> None:
        """Queue a media object for encoding and storing."""
        if self._media_jobs is None:
            self._media_jobs = queue.Queue()
            self._media_thread = threading.Thread(
                target=self._media_loop, name=f"rltrack-media-{self._run_id}", daemon=True
            )
            self._media_thread.start()
        self._media_jobs.put((key, step, t_ns, media))

    def set_config(self, config: dict[str, Any]) -> None:
        """Store the run's config at the next flush."""
        with self._lock:
            self._config = config
        self._wake.set()

    def when_warm(self, start: Callable[[], None]) -> None:
        """Call ``start`` once the writer has warmed up (at once if it has)."""
        with self._lock:
            if not self._warm:
                self._on_warm.append(start)
                return
        start()

    def add_metadata(self, patch: dict[str, Any]) -> None:
        """Merge ``patch`` into the run's stored metadata at the next flush."""
        with self._lock:
            self._metadata = {**(self._metadata or {}), **patch}
        self._wake.set()

    def flush(self, timeout: float | None = None) -> bool:
        """Block until everything queued before this call (media included) is stored."""
        if self._media_jobs is not None:
            self._media_jobs.join()
        done = threading.Event()
        with self._lock:
            self._waiters.append(done)
        self._wake.set()
        while not done.wait(0.5):
            if not self._thread.is_alive():
                return False
            if timeout is not None:
                timeout -= 0.5
                if timeout <= 0:
                    return False
        return True

    def close(self) -> None:
        """Store everything still queued, then stop both threads."""
        if self._media_jobs is not None and self._media_thread is not None:
            self._media_jobs.put(None)
            self._media_thread.join()
        self._stopping = True
        self._wake.set()
        self._thread.join()

    def end(self, *, state: str, reason: str | None, exit_code: int | None) -> None:
        """Record this writer's (and, if it owns the run, the run's) final state."""
        self._store.end(
            self._run_id, self._source, state=state, reason=reason, exit_code=exit_code,
            ended_ns=time.time_ns(), owner=self.owner,
        )

    # ---- background -----------------------------------------------------------------------

    def _loop(self) -> None:
        # Let init() return and the first log() happen before competing for the GIL; then import
        # numpy (0.1-0.3 s) now rather than inside the first flush or finish(), and start the
        # helpers that import psutil and run git.
        self._wake.wait(WARM_UP_S)
        import numpy  # noqa: F401

        with self._lock:
            self._warm, hooks = True, self._on_warm
        for start in hooks:
            start()
        if self._metadata_fn is not None:
            try:
                self.add_metadata(self._metadata_fn())
            except (OSError, ValueError) as err:
                self.report("metadata", err)
        while True:
            self._wake.wait(FLUSH_INTERVAL_S)
            self._wake.clear()
            stopping = self._stopping
            with self._lock:
                waiters, self._waiters = self._waiters, []
            self._cycle(force_heartbeat=stopping)
            for w in waiters:
                w.set()
            if stopping and not self.queue:
                return

    def _cycle(self, *, force_heartbeat: bool = False) -> None:
        q = self.queue
        entries = [q.popleft() for _ in range(len(q))]
        with self._space:
            self._space.notify_all()
        batches = self._unsaved + (self._to_batches(entries) if entries else [])
        with self._lock:
            media, self._media_rows = self._media_rows, []
            config, self._config = self._config, None
            metadata, self._metadata = self._metadata, None
        now = time.monotonic()
        beat = force_heartbeat or now - self._last_heartbeat >= HEARTBEAT_S
        if not (batches or media or config is not None or metadata is not None or beat or self._summary.dirty):
            return
        summary = self._summary.snapshot() if self._summary.dirty else None
        try:
            self._store.write(
                self._run_id,
                self._source,
                batches=batches,
                media=media,
                summary=summary,
                config=config,
                metadata=metadata,
                heartbeat_ns=time.time_ns() if beat else None,
                owner=self.owner,
            )
        except (RltrackError, sqlite3.Error, OSError) as err:
            self.report("store-write", err)
            self._keep_for_retry(batches)
            with self._lock:
                self._media_rows = media + self._media_rows
                if config is not None and self._config is None:
                    self._config = config
                if metadata is not None and self._metadata is None:
                    self._metadata = metadata
            if summary is not None:
                self._summary.dirty = True
            return
        self._unsaved = []
        if beat:
            self._last_heartbeat = now

    def _keep_for_retry(self, batches: list[SeriesBatch]) -> None:
        total = sum(b.count for b in batches)
        while batches and total > MAX_UNSAVED_VALUES:
            dropped = batches.pop(0)
            total -= dropped.count
            self._summary.count("_rltrack/dropped_points", dropped.count)
        self._unsaved = batches

    def _to_batches(self, entries: list[Entry]) -> list[SeriesBatch]:
        try:
            columns = list(to_columns(entries))
        except OverflowError as err:  # an int beyond float64 (log() lets ints through unchecked)
            self.report("value-overflow", err)
            columns = list(to_columns(clamp_overflows(entries)))
        batches = []
        for key, steps, times, values in columns:
            self._summary.absorb(key, values)
            batches.append(pack(self._source, key, steps, times, values))
        return batches

    def _media_loop(self) -> None:
        assert self._media_jobs is not None  # started by add_media after creating the queue
        media_dir = self._run_dir / "media"
        while True:
            job = self._media_jobs.get()
            try:
                if job is None:
                    return
                key, step, t_ns, media = job
                self._media_seq += 1
                stem = f"{_safe(self._source)}-{_safe(key)}-{step}-{self._media_seq}"
                try:
                    media_dir.mkdir(parents=True, exist_ok=True)
                    name, meta = media.write(media_dir, stem)
                except (RltrackError, OSError, ValueError, RuntimeError) as err:
                    # PyAV raises its own errors, subclasses of OSError/ValueError.
                    self.report(f"media-{media.kind}", err)
                    continue
                record = MediaRecord(
                    source=self._source, key=key, step=step, t_ns=t_ns, kind=media.kind,
                    path=f"media/{name}", caption=media.caption, meta=meta,
                )
                with self._lock:
                    self._media_rows.append(record)
            finally:
                self._media_jobs.task_done()

    def report(self, cause: str, err: BaseException) -> None:
        """Count a background failure and warn the first time this cause occurs."""
        self._summary.count(f"_rltrack/errors/{cause}")
        if cause in self._warned:
            return
        self._warned.add(cause)
        try:
            warnings.warn(
                f"rltrack run {self._run_id!r}: {cause} failed ({type(err).__name__}: {err}); training goes on, "
                f"later failures of this kind are only counted in the summary under '_rltrack/errors/{cause}'",
                RltrackWarning,
                stacklevel=2,
            )
        except RltrackWarning:
            # Filters that turn warnings into errors must not kill this thread: the
            # counter above still records the failure.
            return

    @property
    def alive(self) -> bool:
        """Whether the writer thread still runs."""
        return self._thread.is_alive()


def _safe(key: str) -> str:
    # File stems never contain separators or dots, so a key cannot leave the media folder.
    return re.sub(r"[^A-Za-z0-9_-]+", "_", key)[:80]
