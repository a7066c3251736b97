"""A bounded queue between the ROS executor and the run, so a slow store never blocks ROS.

The executor thread only calls :meth:`Sink.offer` (a non-blocking put of the raw bytes); a worker
thread decodes and logs through :class:`~rltrack_ros.mirror.Mirror`. When the queue is full the
message is dropped and counted per topic: the counts go into the run summary under
``_rltrack/ros/dropped`` and the first drop warns. Nothing is lost silently.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
import warnings
from collections import Counter
from typing import Any

from rltrack.errors import RltrackWarning

from .mirror import COUNTER_PREFIX, Mirror

__all__ = ["Sink"]

_STOP = object()


class Sink:
    """Feed a :class:`Mirror` from a bounded queue on its own thread."""

    def __init__(self, mirror: Mirror, *, maxsize: int = 10_000, counters_every_s: float = 2.0) -> None:
        self.mirror = mirror
        self.maxsize = maxsize
        self.dropped: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=maxsize)
        self._counters_every_s = counters_every_s
        self._warned: set[str] = set()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="rltrack-ros-sink", daemon=True)
        self._thread.start()

    def offer(self, topic: str, msgtype: str, raw: bytes, recv_t_ns: int) -> bool:
        """Queue one message without blocking; return False (and count it) when it was dropped."""
        try:
            self._queue.put_nowait((topic, msgtype, raw, recv_t_ns))
            return True
        except queue.Full:
            self.dropped[topic] += 1
            if "dropped" not in self._warned:
                self._warned.add("dropped")
                self._warn(
                    f"rltrack mirror: queue of {self.maxsize} messages is full (the store is slower than the "
                    f"robot); dropping messages from {topic!r} and others, counted in the run summary under "
                    f"'{COUNTER_PREFIX}/dropped'"
                )
            return False

    @property
    def pending(self) -> int:
        """Messages waiting to be decoded and logged."""
        return self._queue.qsize()

    def close(self, timeout_s: float | None = None) -> None:
        """Log everything queued, close the mirror and store the counters. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)  # blocks only until the worker frees a slot
        self._thread.join(timeout_s)
        self.mirror.close()
        self.write_counters()

    def write_counters(self) -> None:
        """Copy the mirror's and the sink's counters into the run summary."""
        extra: dict[str, int] = {f"{COUNTER_PREFIX}/dropped": sum(self.dropped.values())}
        extra.update({f"{COUNTER_PREFIX}/dropped/{t.strip('/')}": n for t, n in self.dropped.items()})
        if self.failed:
            extra.update({f"{COUNTER_PREFIX}/failed/{cause}": n for cause, n in self.failed.items()})
        self.mirror.write_counters(extra)

    def _loop(self) -> None:
        handle = self.mirror.handle
        get = self._queue.get
        next_counters = time.monotonic() + self._counters_every_s
        while True:
            item = get()
            try:
                if item is _STOP:
                    # Values held for the clock offset (mirror.py) are logged here, where failures are counted.
                    self.mirror.flush_held()
                    return
                handle(*item)
            except Exception as err:  # the worker must survive anything one message does (store error, bad key)
                cause = type(err).__name__
                self.failed[cause] += 1
                if cause not in self._warned:
                    self._warned.add(cause)
                    where = "held values" if item is _STOP else repr(item[0])
                    self._warn(
                        f"rltrack mirror: a message on {where} could not be logged ({cause}: {err}); "
                        f"the mirror goes on, counting under '{COUNTER_PREFIX}/failed/{cause}'"
                    )
                if item is _STOP:
                    return
            now = time.monotonic()
            if now >= next_counters:
                next_counters = now + self._counters_every_s
                self.write_counters()

    @staticmethod
    def _warn(message: str) -> None:
        # Warnings turned into errors must not stop the mirror; the counters still record it.
        with contextlib.suppress(RltrackWarning):
            warnings.warn(message, RltrackWarning, stacklevel=3)
