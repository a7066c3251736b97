"""Mirroring what an in-process ``SummaryWriter`` writes into a run, while it writes (``sync_tensorboard``).

A background thread polls the log dir every ``interval_s``: it finds new event files and reads the
records added since the last poll with tensorboard's own reader (a record still being written is
read on a later poll), and logs every scalar, histogram and image into the run at its step and
wall time; hparams go into the config. :meth:`TensorBoardMirror.stop` polls one last time, so
everything the writer had flushed is in the run when it returns: close (or flush) the
``SummaryWriter`` before stopping, as CleanRL does before ``finish()``. With
``follow_writers=True`` the mirror also learns the folder of every writer made after it starts
and takes their events as they are given them (see :mod:`rltrack.tensorboard.hooks`): each goes
into that writer's own deque (one C-level append on the training thread, ~0.1 µs), and the thread
logs a poll's worth in one :meth:`RunSink.add_events` call. About 2 µs of CPU per scalar in all,
beside torch's own ~27 µs per ``add_scalar`` (bench/_tb_sync_micro.py; bench/tb_sync.py measures
the CleanRL-style loop), and nothing waits for the writer to flush.

Example:
    >>> from rltrack.tensorboard import mirror
    >>> sync = mirror(run, "runs/ppo")  # doctest: +SKIP
    >>> writer = SummaryWriter("runs/ppo"); ...; writer.close()  # doctest: +SKIP
    >>> sync.stop()  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rltrack.errors import RltrackError, RltrackWarning
from rltrack.tensorboard import hooks
from rltrack.tensorboard.events import EventFileReader, is_event_file
from rltrack.tensorboard.sink import RunSink

__all__ = ["TensorBoardMirror", "mirror"]

_TIMESTAMP = re.compile(r"^\d+(\.\d+)?$")
#: Seconds between two listings of the log dirs by the polling thread.
_RELIST_S = 1.0


class TensorBoardMirror:
    """Tails the event files under one or more log dirs and logs their values into a run.

    Args:
        run: The :class:`rltrack.Run` to log into.
        logdir: The folder a ``SummaryWriter`` writes into (it may not exist yet); None to
            :meth:`add` folders later, e.g. from a hook that sees each writer being made.
        interval_s: Seconds between two polls.
        skip_existing: Leave out the event files already in ``logdir``: for a shared folder such
            as ``runs/``, where earlier experiments left their files.
        follow_writers: Also mirror every ``SummaryWriter`` (torch or tensorboardX) made in this
            process after :meth:`start`, wherever it writes, by taking each event it is given
            (its files are then not tailed): nothing needs flushing or closing before
            :meth:`stop`. What ``init(sync_tensorboard=True)`` wants.
    """

    def __init__(
        self,
        run: Any,
        logdir: str | os.PathLike[str] | None,
        *,
        interval_s: float = 0.2,
        skip_existing: bool = False,
        follow_writers: bool = False,
    ) -> None:
        if not interval_s > 0:
            raise RltrackError(f"interval_s={interval_s!r} must be > 0 seconds; pass e.g. 0.2")
        self.run = run
        self.interval_s = float(interval_s)
        self._logdirs: list[Path] = []
        self._readers: dict[Path, tuple[EventFileReader, RunSink]] = {}
        #: Files not read: corrupt ones, and with skip_existing those there before.
        self._failed: set[Path] = set()
        self._files: list[tuple[Path, Path]] = []  # (log dir, event file) as last listed
        self._listed_at = -math.inf
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._follow = follow_writers
        # Followed writers (a weak reference and the tap on it), their folders' sinks, their events.
        self._writers: list[tuple[Callable[[], Any], Callable[[Any], None]]] = []
        self._tapped: dict[Path, tuple[RunSink, dict[str, Any]]] = {}
        self._queues: list[tuple[RunSink, dict[str, Any], deque[Any]]] = []
        #: Problems met while mirroring (a corrupt file, a value the run refused), in order.
        self.errors: list[str] = []
        self._skips_reported = False
        if logdir is not None:
            self.add(logdir, skip_existing=skip_existing)

    def add(self, logdir: str | os.PathLike[str], *, skip_existing: bool = False) -> None:
        """Mirror one more log dir (e.g. of a second ``SummaryWriter``), with its files already there unless skipped."""
        path = Path(logdir).expanduser().absolute()
        with self._lock:
            if path not in self._logdirs:
                self._logdirs.append(path)
                if skip_existing:
                    self._failed.update(_event_files(path))
                self._listed_at = -math.inf

    def start(self) -> TensorBoardMirror:
        """Start polling on a background thread (once); return self."""
        if self._thread is None:
            if self._follow:
                hooks.follow_writers(self._writer_made)
            self._thread = threading.Thread(target=self._loop, name="rltrack-tensorboard", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop polling, then log everything written (and, with ``follow_writers``, given) so far. Safe twice."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._follow:
            hooks.unfollow_writers(self._writer_made)
            for ref, on_event in self._writers:
                writer = ref()
                if writer is not None:
                    hooks.untap(writer, on_event)
        self.poll()
        skipped = self.skipped
        if skipped and not self._skips_reported:  # nothing lost silently: counted and warned once, at the end
            self._skips_reported = True
            self._problem("values not stored: " + ", ".join(f"{n} {why}" for why, n in sorted(skipped.items())))

    def _writer_made(self, writer: Any, logdir: str) -> None:
        """A SummaryWriter was made: take its events as it is given them; its files are not tailed."""
        path = Path(logdir).expanduser().absolute()
        # The writer's own queue: in the training thread each event costs one C-level append.
        queue: deque[Any] = deque()
        with self._lock:
            if path not in self._tapped:
                self._tapped[path] = (RunSink(self.run, self._tap_prefix(path)), {})
            sink, metadata = self._tapped[path]
            self._queues.append((sink, metadata, queue))
            self._writers.append((hooks.writer_ref(writer), queue.append))
        hooks.tap(writer, queue.append)

    def _tap_prefix(self, path: Path) -> str:
        """Tags of a followed writer: prefixed by its folder under a mirrored log dir or an earlier writer's."""
        for root in [*self._logdirs, *self._tapped]:  # the first that holds it
            if path != root and path.is_relative_to(root):
                return _prefix(root, path / "file")
        return ""

    def __enter__(self) -> TensorBoardMirror:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def skipped(self) -> dict[str, int]:
        """Values not logged so far, by reason (a tag that cannot be a key, a negative step, audio, ...)."""
        total: dict[str, int] = {}
        sinks = [sink for _, sink in list(self._readers.values())] + [sink for sink, _ in list(self._tapped.values())]
        for sink in sinks:
            for why, n in sink.skipped.items():
                total[why] = total.get(why, 0) + n
        return total

    @property
    def logged(self) -> dict[str, int]:
        """Values logged so far by kind (``scalars``, ``histograms``, ``images``, ``hparams``)."""
        total: dict[str, int] = {}
        sinks = [sink for _, sink in list(self._readers.values())] + [sink for sink, _ in list(self._tapped.values())]
        for sink in sinks:
            for kind, n in sink.logged.items():
                total[kind] = total.get(kind, 0) + n
        return total

    def poll(self, *, relist: bool = True) -> None:
        """Read what the event files gained since the last poll and log it.

        Args:
            relist: Look for new event files first (the thread does so once a second: listing
                a folder of many runs costs more than reading the files it follows).
        """
        with self._lock:
            now = time.monotonic()
            if relist or now - self._listed_at >= _RELIST_S:
                # A file under two followed dirs (a writer's and its parent's) is read once, under the first.
                listed = {f: d for d in reversed(self._logdirs) for f in _event_files(d)}
                self._files = sorted(((d, f) for f, d in listed.items()), key=lambda df: df[1])
                self._listed_at = now
            for sink, metadata, queue in self._queues:
                # Only the events there now: the writer may go on appending while these are logged.
                taken = [queue.popleft() for _ in range(len(queue))]
                for err in sink.add_events(taken, metadata):
                    self._problem(f"{type(err).__name__}: {err}")
            for sink, _ in self._tapped.values():
                sink.flush()
            for logdir, file in self._files:
                if file not in self._failed and file.parent not in self._tapped:
                    self._read(logdir, file)

    def _read(self, logdir: Path, file: Path) -> None:
        entry = self._readers.get(file)
        try:
            if entry is None:
                entry = self._readers[file] = (EventFileReader(file), RunSink(self.run, _prefix(logdir, file)))
            reader, sink = entry
            while True:
                sink.add(reader.read(max_records=1000))
                if reader.at_end:
                    break
            sink.flush()
        except Exception as err:  # a corrupt file, a refused value: this file stops, the others go on
            if entry is not None:
                entry[1].flush()
            self._failed.add(file)
            self._problem(f"{type(err).__name__}: {err}")

    def _problem(self, text: str) -> None:
        self.errors.append(text)
        writer = getattr(self.run, "_writer", None)
        if writer is not None and hasattr(writer, "report"):
            # The run's own counter (_rltrack/errors/tensorboard) and its warn-once rule.
            writer.report("tensorboard", RltrackError(text))
            return
        # Warnings turned into errors must not kill the polling thread.
        with contextlib.suppress(RltrackWarning):
            warnings.warn(f"rltrack tensorboard mirror: {text}", RltrackWarning, stacklevel=2)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.poll(relist=False)
            except Exception as err:  # an unreadable folder, say: keep polling, say it once per cause
                self._problem(f"{type(err).__name__}: {err}")


def mirror(
    run: Any,
    logdir: str | os.PathLike[str] | None,
    *,
    interval_s: float = 0.2,
    skip_existing: bool = False,
    follow_writers: bool = False,
) -> TensorBoardMirror:
    """Start mirroring the event files under ``logdir`` into ``run``; call ``.stop()`` when the writer is closed.

    Files directly in ``logdir`` log their tags as they are; files in a sub-folder prefix their
    tags with its path (``eval/...``), except PyTorch ``add_hparams``' timestamp folder, whose
    values belong to the run itself. With ``skip_existing``, files already there are left out
    (mirror a shared ``runs/`` folder this way: ``SummaryWriter()``'s default is ``runs/<date>_<host>``).
    ``mirror(run, None, follow_writers=True)`` follows every writer made from now on, wherever it writes.
    """
    mirrored = TensorBoardMirror(
        run, logdir, interval_s=interval_s, skip_existing=skip_existing, follow_writers=follow_writers
    )
    return mirrored.start()


def _event_files(logdir: Path) -> list[Path]:
    if not logdir.is_dir():
        return []  # not created yet: the writer makes it when it starts
    return sorted(p for p in logdir.rglob("*tfevents*") if is_event_file(p))


def _prefix(logdir: Path, file: Path) -> str:
    parts = [p for p in file.parent.relative_to(logdir).parts if not _TIMESTAMP.match(p)]
    return "/".join(parts) + "/" if parts else ""
