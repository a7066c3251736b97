"""The background writer: drains what ``log()`` enqueued, packs chunks and stores them.

``log()`` appends ``(step, t_ns, {key: number})`` to a deque and returns. This thread wakes at
least every :data:`FLUSH_INTERVAL_S` (sooner when the queue grows), turns the entries into one
packed chunk per key, folds them into the summary and stores everything in one transaction.
Media objects are encoded on a second thread so a slow video never delays scalars.

Failures here never reach the training loop, and this thread never dies of one: each cause
warns once (:class:`rltrack.errors.RltrackWarning`) and is counted in the summary under
``_rltrack/errors/<cause>``. Data the store refuses (locked, disk full) is kept, up to
:data:`MAX_UNSAVED_VALUES` values, and retried oldest first in pieces of :data:`_backlog.PIECE_VALUES`;
a batch that cannot be stored at all is found by storing the batches one by one. Every value
that is never stored is counted under ``_rltrack/dropped/<cause>`` and reported by ``finish()``.
"""

from __future__ import annotations

import queue
import re
import sqlite3
import sys
import threading
import time
import traceback
import warnings
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rltrack import _backlog
from rltrack._columns import Column, Entry, clamp_overflows, to_columns
from rltrack._state import Summary
from rltrack.errors import RltrackWarning, StoreError
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
#: Pause after the store refused a write (a full disk fails fast, but each try writes a piece).
RETRY_AFTER_S = 1.0
# Errors after which the same data may be stored later: locked, disk full, I/O, offline spool.
_TRANSIENT = (StoreError, sqlite3.OperationalError, OSError)
_OK, _RETRY, _BAD = object(), object(), object()


@dataclass
class _Extras:
    """What a flush stores beside values: media rows, config and metadata patches, heartbeat, summary."""

    media: list[MediaRecord]
    config: dict[str, Any] | None
    metadata: dict[str, Any] | None
    beat: bool
    summary: dict[str, Any] | None = field(default=None)


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
        self._bad: BaseException | None = None
        #: Values stored, values given up (counted in the summary) and keys seen, for finish()'s report.
        self.stored_values = 0
        self.dropped_values = 0
        self.keys: set[str] = set()
        #: Set when the thread died of an error it did not expect (a bug); finish() reports it.
        self.death: BaseException | None = None
        self._converting: list[Entry] = []
        self._retry_at = 0.0  # monotonic time before which a refused store is not tried again
        self._refused: BaseException | None = None  # why the store last refused a write
        self._stopping = False
        self._last_heartbeat = 0.0
        self._media_jobs: queue.Queue[tuple[str, int, int, Media] | None] | None = None
        self._media_thread: threading.Thread | None = None
        self._media_seq = 0
        self._media_tag: str | None = None  # set at the first media file: "" in a new folder, else a session tag
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
            if not self._thread.is_alive():
                self._discard_queue()

    def _discard_queue(self) -> None:
        """The thread is dead: nothing will store the queue, so count it instead of growing forever."""
        lost = 0
        while self.queue:
            lost += len(self.queue.popleft()[2])
        self.drop("writer-died", lost)

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
        if not self._thread.is_alive():
            return False
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
        if self.death is not None:
            self.queue.extendleft(reversed(self._converting))
            self._converting = []
            self._discard_queue()
            self.drop("writer-died", sum(b.count for b in self._unsaved))
            self._unsaved = []

    def end(self, *, state: str, reason: str | None, exit_code: int | None) -> None:
        """Record this writer's (and, if it owns the run, the run's) final state."""
        self._store.end(
            self._run_id, self._source, state=state, reason=reason, exit_code=exit_code,
            ended_ns=time.time_ns(), owner=self.owner,
        )
        # Values an online run's server refused wait as dead letters (their own warning names them).
        self.stored_values = max(0, self.stored_values - self._store.undelivered_values(self._run_id))

    # ---- background -----------------------------------------------------------------------

    def _loop(self) -> None:
        try:
            self._run()
        except BaseException as err:  # a bug: finish() says so loudly and marks the run crashed
            self.death = err
            traceback.print_exception(err, file=sys.stderr)

    def _run(self) -> None:
        # Let init() return and the first log() happen before competing for the GIL; then import
        # numpy (0.1-0.3 s) now rather than inside the first flush or finish(), and start the
        # helpers that import psutil and run git.
        self._wake.wait(WARM_UP_S)
        import numpy  # noqa: F401

        with self._lock:
            self._warm, hooks = True, self._on_warm
        for start in hooks:
            try:
                start()
            except Exception as err:  # a helper that cannot start must not stop the writer
                self.report("start-helper", err)
        if self._metadata_fn is not None:
            try:
                self.add_metadata(self._metadata_fn())
            except Exception as err:
                self.report("metadata", err)
        while True:
            self._wake.wait(FLUSH_INTERVAL_S)
            self._wake.clear()
            stopping = self._stopping
            with self._lock:
                waiters, self._waiters = self._waiters, []
            try:
                self._cycle(final=stopping, asked=bool(waiters))
            except Exception as err:  # a bug in a cycle: count it, keep the thread
                self.report("writer", err)
            finally:
                for w in waiters:
                    w.set()
            if stopping and not self.queue:
                return

    def _cycle(self, *, final: bool = False, asked: bool = False) -> None:
        q = self.queue
        entries = [q.popleft() for _ in range(len(q))]
        with self._space:
            self._space.notify_all()
        one_shot = not self._unsaved  # no backlog from failed writes: this flush goes in one transaction
        if entries:
            self._converting = entries  # counted as lost if a bug kills the thread while packing them
            self._keep(self._to_batches(entries))
            self._converting = []
        now = time.monotonic()
        if not (final or asked) and now < self._retry_at:
            return  # the store refused the last write: values wait (bounded) until the next try or flush()
        with self._lock:
            media, self._media_rows = self._media_rows, []
            config, self._config = self._config, None
            metadata, self._metadata = self._metadata, None
        beat = final or now - self._last_heartbeat >= HEARTBEAT_S
        if not (self._unsaved or media or config is not None or metadata is not None or beat or self._summary.dirty):
            return
        extras = _Extras(media, config, metadata, beat)
        if one_shot:
            extras.summary = self._summary.snapshot() if self._summary.dirty else None
            outcome = self._write(self._unsaved, extras)
            if outcome is _OK:
                self._stored(self._unsaved)
                self._unsaved = []
                if beat:
                    self._last_heartbeat = now
                return
            if outcome is _RETRY and not final:
                self._restore(extras)
                return
        # A backlog (the store refused earlier writes), a failed final write or a batch that
        # cannot be stored: values go oldest first in bounded pieces, each bad batch alone, and
        # the small rest (summary with its counters, heartbeat, config, media rows) on its own.
        refused = self._store_backlog(final=final)
        if refused and not final:
            self._restore(extras)  # the store refuses writes now: one try per cycle is enough
            return
        if final and self._unsaved:
            lost = sum(b.count for b in self._unsaved)
            self._unsaved = []
            self.drop("unstored-at-finish", lost)
        self._store_extras(extras, now)

    def _write(self, batches: Sequence[SeriesBatch], extras: _Extras | None = None) -> object:
        """Store ``batches`` (and ``extras``) in one transaction: _OK, _RETRY (store refused) or _BAD."""
        try:
            self._store.write(
                self._run_id,
                self._source,
                batches=batches,
                media=extras.media if extras else (),
                summary=extras.summary if extras else None,
                config=extras.config if extras else None,
                metadata=extras.metadata if extras else None,
                heartbeat_ns=time.time_ns() if extras and extras.beat else None,
                owner=self.owner,
            )
        except _TRANSIENT as err:  # locked, disk full, I/O error, offline spool: the same data may fit later
            self.report("store-write", err)
            self._retry_at = time.monotonic() + RETRY_AFTER_S
            self._refused = err
            return _RETRY
        except Exception as err:  # something in this data cannot be stored; find it and drop only that
            self._bad = err
            return _BAD
        return _OK

    def _store_backlog(self, *, final: bool) -> bool:
        """Store the unsaved batches oldest first, :data:`_backlog.PIECE_VALUES` at a time; keep what the store refuses.

        At ``finish()`` (``final``) a refused piece is halved down to :data:`_backlog.MIN_PIECE_VALUES`, pieces
        leave :data:`HEADROOM_BYTES` free on the store's disk for the summary and the run's end, and
        each piece carries a summary that counts everything after it as dropped: whichever write is
        the last to fit, the stored summary's counts add up.

        Returns:
            Whether the store refused a write (values are left in the backlog).
        """
        size = _backlog.PIECE_VALUES
        while self._unsaved:
            if final:
                size = min(size, _backlog.values_that_fit(self._store.db.root))
                if size < _backlog.MIN_PIECE_VALUES:
                    return True
            piece, rest = _backlog.take(self._unsaved, size)
            extras = None
            if final:
                later = sum(b.count for b in rest)
                self.drop("unstored-at-finish", later)  # provisional, taken back below
                extras = _Extras([], None, None, False, self._summary.snapshot())
                self.drop("unstored-at-finish", -later)
            outcome = self._write(piece, extras)
            if outcome is _OK:
                self._stored(piece)
                self._unsaved = rest
                size = _backlog.PIECE_VALUES
            elif outcome is _BAD:
                self._unsaved = self._isolate(piece) + rest
                if self._unsaved and self._unsaved[0] is piece[0]:
                    return True  # the store refused the first batch alone: retry later
            elif final and size > _backlog.MIN_PIECE_VALUES and _backlog.is_full(self._refused):
                size //= 2  # at the end, store what still fits in smaller pieces (not for a lock: each try waits)
            else:
                return True
        return False

    def _isolate(self, piece: list[SeriesBatch]) -> list[SeriesBatch]:
        """Store each batch of a failed piece alone, dropping (and counting) those that cannot be stored.

        Returns:
            The batches not yet stored because the store refused writes (to retry), oldest first.
        """
        for i, batch in enumerate(piece):
            outcome = self._write([batch])
            if outcome is _OK:
                self._stored([batch])
            elif outcome is _BAD:
                self.report("bad-batch", self._bad)
                self.drop("bad-batch", batch.count)
            else:
                return piece[i:]
        return []

    def _store_extras(self, extras: _Extras, now: float) -> None:
        # Summary and heartbeat first, on their own: the counters must reach the store if anything does.
        if self._summary.dirty or extras.summary is not None:
            extras.summary = self._summary.snapshot()
        small = _Extras([], None, None, extras.beat)
        small.summary = extras.summary
        outcome = self._write([], small)
        if outcome is _BAD:
            # Summary values are made portable when set (rltrack.validate.portable), so this is a store
            # that refuses what JSON holds (PostgreSQL and a NUL in a string): counted, warned once.
            self.report("summary", self._bad)
        if outcome is _RETRY:
            self._restore(extras)
            return
        if extras.beat:
            self._last_heartbeat = now
        rest = _Extras(extras.media, extras.config, extras.metadata, False)
        if not (rest.media or rest.config is not None or rest.metadata is not None):
            return
        outcome = self._write([], rest)
        if outcome is _RETRY:
            self._restore(rest)
        elif outcome is _BAD:
            self._extras_one_by_one(rest)
            if self._summary.dirty:  # the counts it just took (a refused media row) reach the store too
                counted = _Extras([], None, None, False)
                counted.summary = self._summary.snapshot()
                if self._write([], counted) is _RETRY:
                    self._restore(counted)

    def _extras_one_by_one(self, extras: _Extras) -> None:
        parts = [("config", _Extras([], extras.config, None, False))] if extras.config is not None else []
        if extras.metadata is not None:
            parts.append(("metadata", _Extras([], None, extras.metadata, False)))
        parts += [("media-row", _Extras([m], None, None, False)) for m in extras.media]
        for cause, part in parts:
            outcome = self._write([], part)
            if outcome is _BAD:
                self.report(cause, self._bad)
            elif outcome is _RETRY:
                self._restore(part)

    def _restore(self, extras: _Extras) -> None:
        """Put what a failed write carried back, to go with the next one."""
        with self._lock:
            self._media_rows = list(extras.media) + self._media_rows
            if extras.config is not None and self._config is None:
                self._config = extras.config
            if extras.metadata is not None and self._metadata is None:
                self._metadata = extras.metadata
        if extras.summary is not None:
            self._summary.dirty = True

    def _stored(self, batches: Sequence[SeriesBatch]) -> None:
        self.stored_values += sum(b.count for b in batches)

    def _keep(self, batches: list[SeriesBatch]) -> None:
        """Add new batches to the unsaved ones; past the backlog's cap the oldest are dropped and counted."""
        self._unsaved, dropped = _backlog.cap(self._unsaved + batches, _backlog.MAX_UNSAVED_VALUES)
        if dropped:
            self.drop("backlog-full", dropped)

    def drop(self, cause: str, count: int) -> None:
        """Count ``count`` values that will never be stored (``_rltrack/dropped/<cause>`` in the summary).

        A negative ``count`` takes back a provisional count (see :meth:`_store_backlog`).
        """
        if count:
            self.dropped_values += count
            self._summary.count(f"_rltrack/dropped/{cause}", count)

    def _to_batches(self, entries: list[Entry]) -> list[SeriesBatch]:
        try:
            columns = list(to_columns(entries))
        except Exception:  # whatever log() let through, the writer must not die of it
            columns = self._columns_of_good(entries)
        batches = []
        for key, steps, times, values in columns:
            try:
                batch = pack(self._source, key, steps, times, values)
                self._summary.absorb(key, values)
            except Exception as err:
                self.report("bad-value", err)
                self.drop("bad-value", int(values.shape[0]))
                continue
            self.keys.add(key)
            batches.append(batch)
        return batches

    def _columns_of_good(self, entries: list[Entry]) -> list[Column]:
        """Columns of the entries that pack on their own; the others are dropped and counted.

        An int beyond float64 is stored as ±inf (counted once per flush under ``value-overflow``).
        """
        good: list[Entry] = []
        overflowed: BaseException | None = None
        for entry in entries:
            try:
                list(to_columns([entry]))
            except OverflowError as err:
                try:
                    (clamped,) = clamp_overflows([entry])
                    list(to_columns([clamped]))
                except Exception as still:  # a step or time beyond int64, not a value
                    self._drop_entry(entry, still)
                else:
                    overflowed = err
                    good.append(clamped)
            except Exception as err:
                self._drop_entry(entry, err)
            else:
                good.append(entry)
        if overflowed is not None:
            self.report("value-overflow", overflowed)
        return list(to_columns(good)) if good else []

    def _drop_entry(self, entry: Entry, err: BaseException) -> None:
        self.report("bad-value", err)
        values = entry[2] if len(entry) == 3 else None
        self.drop("bad-value", len(values) if isinstance(values, dict) else 1)

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
                try:
                    media_dir.mkdir(parents=True, exist_ok=True)
                    if self._media_tag is None:
                        self._media_tag = _session_tag(media_dir)
                    stem = f"{_safe(self._source)}-{_safe(key)}-{step}-{self._media_tag}{self._media_seq}"
                    name, meta = media.write(media_dir, stem)
                except Exception as err:  # encoder errors of every kind: count, go on
                    self.report(f"media-{getattr(media, 'kind', 'object')}", err)
                    continue
                record = MediaRecord(
                    source=self._source, key=key, step=step, t_ns=t_ns, kind=media.kind,
                    path=f"media/{name}", caption=media.caption, meta=meta,
                )
                with self._lock:
                    self._media_rows.append(record)
            finally:
                self._media_jobs.task_done()

    def report(self, cause: str, err: BaseException | None) -> None:
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


def _session_tag(media_dir: Path) -> str:
    """Return "" for a run's first media files, else a tag unique to this writer.

    File names count from 1 in each process: a resumed run (or a second source) that logs an image at
    a step used before would otherwise write the same name and overwrite the earlier file, so both
    rows would show the new image.
    """
    import secrets

    return "" if not any(media_dir.iterdir()) else secrets.token_hex(3) + "-"
