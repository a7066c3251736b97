"""The remote writer's forwarder: one thread that sends spooled batches and acknowledges what the server stored.

Each spool file is a queue of its own — this process's spool and every orphan adopted from a
dead process on the same folder — served in turn, one request each, so a long backlog of one run
never holds up another. A batch the server refuses (4xx), or fails on :attr:`Forwarder.max_tries`
times (5xx), moves to a dead letter (:mod:`rltrack.remote.deadletters`) and its queue goes on.
A request the server refused without saying which batch was at fault is retried one batch at a
time until the culprit is found. Only "the server is away" (network errors, 502/503/504/507) and
"the token is wrong" (401/403, and 408/429) hold every batch back, because no batch could get through.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rltrack.remote.client import IngestClient, Rejected, ServerError, Unreachable, saved_files, upload_media
from rltrack.remote.deadletters import batch_run_id, batch_values, bury, dead_dir, reason_of
from rltrack.remote.spool import UNREADABLE, Spool

__all__ = ["DeadCount", "Forwarder"]

#: Bytes of spooled batches sent in one request.
REQUEST_BYTES = 4 * 1024 * 1024
#: First and longest wait between two tries while the server is unreachable.
FIRST_BACKOFF_S, MAX_BACKOFF_S = 0.05, 2.0
#: Tries of a batch the server fails on (5xx) before it becomes a dead letter.
MAX_TRIES = 5
#: Wait before the second try of such a batch; it doubles with every further try (0.25 s ... 2 s: 3.75 s in all).
RETRY_BASE_S = 0.25
#: Longest wait between two tries of one batch.
MAX_RETRY_WAIT_S = 30.0


class _Offline(Exception):
    """No batch can get through now (server away, or our token refused)."""


@dataclass(eq=False)
class _Queue:
    spool: Spool
    tries: int = 0  # failed tries of the batch at the head
    solo: bool = False  # send one batch per request until the head batch is through
    retry_at: float = 0.0  # time.monotonic() before which the head batch is not tried again


@dataclass(frozen=True)
class DeadCount:
    """Batches of one run this writer moved to dead letters, their values, and the server's last reason."""

    batches: int = 0
    values: int = 0
    reason: str = ""


class Forwarder:
    """Owns the spool files of one remote writer and the thread that empties them.

    Args:
        client: The connection to the server.
        root: The spool folder (``<root>/spool/*.jsonl``, dead letters in ``<root>/spool/dead/``).
        max_tries: Tries of a batch the server fails on (5xx) before it becomes a dead letter.
        retry_base_s: Wait before the second such try; it doubles with each further try.
        warn: Called with (cause, message) for a warning (the writer warns once per cause).
    """

    def __init__(
        self,
        client: IngestClient,
        root: Path,
        *,
        max_tries: int = MAX_TRIES,
        retry_base_s: float = RETRY_BASE_S,
        warn: Callable[[str, str], None],
    ) -> None:
        self.client = client
        self.root = root
        self.spool_dir = root / "spool"
        self.dead_dir = dead_dir(root)
        self.max_tries = max_tries
        self.retry_base_s = retry_base_s
        self._warn = warn
        self._name = uuid.uuid4().hex[:16]
        self._generation = 0
        self._lock = threading.Lock()  # guards the queue list against append() and _ack()
        self._own: _Queue | None = None
        self._orphans = [
            _Queue(orphan) for path in sorted(self.spool_dir.glob("*.jsonl")) if (orphan := Spool.adopt(path))
        ]
        self._dead: dict[str, DeadCount] = {}
        #: Files this forwarder uploaded, as they were then (see upload_media); only its thread uses it.
        self._uploaded: dict[Path, tuple[int, int, int]] = {}
        self._wake = threading.Event()
        self._progress = threading.Condition()
        self.online: bool | None = None
        self._stuck = False
        #: Rounds the thread has begun, and which of them last found the server away: wait() gives up
        #: only on a try begun after it was called (the server may be back since the last one).
        self._rounds_begun = 0
        self._stuck_round = 0
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name="rltrack-remote", daemon=True)
        self._thread.start()

    # ---- what the writer calls -------------------------------------------------------------

    def append(self, *batches: dict[str, Any]) -> None:
        """Spool batches, all or none (a new spool file is started after the last one was all acknowledged).

        Raises:
            StoreError: the spool file cannot be created.
            OSError: the disk is full or failing; nothing was spooled.
        """
        with self._lock:
            if self._own is None:
                self._generation += 1
                self._own = _Queue(Spool(self.spool_dir / f"{self._name}-{self._generation}.jsonl"))
            self._own.spool.append(list(batches))
        self._wake.set()

    @property
    def pending_bytes(self) -> int:
        """Spooled bytes the server has not acknowledged yet (own spool and adopted orphans)."""
        with self._lock:
            return sum(q.spool.pending_bytes for q in self._queues())

    @property
    def own_pending_bytes(self) -> int:
        """Bytes of this writer's own spool not yet acknowledged (adopted orphans left out)."""
        with self._lock:
            return 0 if self._own is None else self._own.spool.pending_bytes

    def dead_count(self, run_id: str) -> DeadCount:
        """What this writer moved to dead letters for ``run_id``."""
        with self._lock:
            return self._dead.get(run_id, DeadCount())

    @property
    def dead_total(self) -> int:
        """Batches this writer moved to dead letters, every run together."""
        with self._lock:
            return sum(d.batches for d in self._dead.values())

    def wait(self, timeout: float, *, give_up_offline: bool = False, own_only: bool = False) -> bool:
        """Block until everything spooled is stored or a dead letter; return False on timeout.

        With ``give_up_offline`` it returns False as soon as a try finds the server unreachable
        (or refusing our token). With ``own_only`` it waits for this writer's own batches only,
        not for the orphans it adopted (another run's backlog).
        """
        deadline = time.monotonic() + timeout
        begun = self._rounds_begun
        self._wake.set()
        with self._progress:
            while (self.own_pending_bytes if own_only else self.pending_bytes) > 0:
                left = deadline - time.monotonic()
                # A try from before this call does not count: the server may be back since (a restart, space
                # freed); finish() right then gave up at once and left the whole run in the spool.
                if left <= 0 or (give_up_offline and self._stuck and self._stuck_round > begun):
                    return False
                self._progress.wait(min(left, 0.05))
        return True

    def close(self, timeout: float) -> None:
        """Stop the thread (after it finishes the request in flight); unsent batches stay spooled."""
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout=timeout + 1)
        with self._lock:
            for q in self._queues():
                q.spool.close()
            self._orphans, self._own = [], None

    # ---- the thread ------------------------------------------------------------------------

    def _queues(self) -> list[_Queue]:
        return [*self._orphans, *([self._own] if self._own is not None else [])]

    def _loop(self) -> None:
        backoff = FIRST_BACKOFF_S
        while not self._stopping:
            self._wake.clear()
            self._rounds_begun += 1
            this_round = self._rounds_begun
            try:
                sent = self._round()
                offline = False
            except _Offline:
                sent, offline = False, True
            except Exception as err:  # the forwarder must outlive any one failure
                self._warn("forwarder", f"the rltrack forwarder hit {type(err).__name__}: {err}; it tries again")
                sent, offline = False, True
            self._stuck, self._stuck_round = offline, this_round
            with self._progress:
                self._progress.notify_all()
            if offline:
                self._wake.wait(backoff)
                backoff = min(MAX_BACKOFF_S, backoff * 2)
            else:
                backoff = FIRST_BACKOFF_S
                if not sent:
                    self._wake.wait(self._idle_s())

    def _idle_s(self) -> float:
        with self._lock:
            due = [q.retry_at for q in self._queues() if q.spool.pending_bytes > 0]
        return min([1.0, *(max(0.0, t - time.monotonic()) for t in due)])

    def _round(self) -> bool:
        """Send one request from each queue whose head batch is due; return whether any was tried."""
        sent = False
        with self._lock:
            queues = self._queues()
        for q in queues:
            if self._stopping:
                break
            if q.spool.pending_bytes > 0 and q.retry_at <= time.monotonic():
                try:
                    sent = self._send_once(q) or sent
                except OSError as err:
                    if q is self._own:
                        raise
                    self._drop_orphan(q, err)
        return sent

    def _drop_orphan(self, q: _Queue, err: OSError) -> None:
        """Stop serving an orphan spool that cannot be read or acknowledged: it must not hold up the others."""
        with self._lock:
            if q in self._orphans:
                self._orphans.remove(q)
        with contextlib.suppress(OSError):
            q.spool.close(remove_if_done=False)
        self._warn(
            f"orphan:{q.spool.path.name}",
            f"the spool file {str(q.spool.path)!r} left by an earlier run cannot be read or acknowledged "
            f"({type(err).__name__}: {err}); it stays on disk and is skipped, later batches go on",
        )
        with self._progress:
            self._progress.notify_all()

    def _send_once(self, q: _Queue) -> bool:
        """Send the next request of one queue; return False when it had no whole batch to send."""
        items = q.spool.read(1 if q.solo else REQUEST_BYTES)
        if not items:
            if q is not self._own:
                # An orphan's torn last line: its writer died mid-append and will never finish it.
                end, raw = q.spool.tail()
                self._bury(q, (end, {UNREADABLE: raw.decode("utf-8", "replace")}), status=None,
                           reason="the spool ends in half a batch (its writer died while appending it)")
                return True
            return False
        bad = next((i for i, (_, b) in enumerate(items) if UNREADABLE in b), None)
        if bad == 0:
            self._bury(q, items[0], status=None, reason="the spool line is not a JSON batch (damaged on disk)")
            return True
        items = items[:bad]
        # A batch that brings files heads its own request: its uploads need the batches before it
        # stored (the run's creation, when the server was away), and a refused upload names it.
        later = next((i for i, (_, b) in enumerate(items) if i and _brings_files(b)), None)
        items = items[:later]
        batches = [b for _, b in items]
        try:
            for batch in batches:
                for path in upload_media(self.client, self.root, batch, self._uploaded):
                    self._warn("media-missing", f"media file {str(path)!r} is gone; its row is sent without it")
            self.client.send(batches)
        except ServerError as err:
            failure: ServerError | Rejected = err
        except Unreachable:
            self.online = False
            raise _Offline from None
        except Rejected as err:
            self.online = True
            if err.transient:
                self._warn(f"refused-{err.status}", f"{err}; batches stay spooled in {str(self.spool_dir)!r}")
                raise _Offline from None
            failure = err
        else:
            self.online = True
            q.tries, q.solo = 0, False
            self._ack(q, items[-1][0])
            return True
        self.online = True
        self._isolate(q, items, failure)
        return True

    def _isolate(self, q: _Queue, items: list[tuple[int, dict[str, Any]]], err: ServerError | Rejected) -> None:
        """Find the batch at fault in a failed request; bury it now (4xx) or after max_tries (5xx)."""
        body = err.body if isinstance(err.body, dict) else {}
        index = body.get("index")
        if isinstance(err, Rejected) and type(index) is int and 0 <= index < len(items):
            # The server stored the batches before `index` and names the one it refuses.
            if index:
                self._ack(q, items[index - 1][0])
            self._bury(q, items[index], status=err.status, reason=reason_of(err))
            return
        if len(items) > 1:
            q.solo = True  # which batch? send them one by one
            return
        q.tries += 1
        if isinstance(err, ServerError) and q.tries < self.max_tries:
            q.retry_at = time.monotonic() + min(MAX_RETRY_WAIT_S, self.retry_base_s * 2 ** (q.tries - 1))
            self._warn("server-error", f"{err}; trying that batch again ({q.tries} of {self.max_tries} tries)")
            return
        self._bury(q, items[0], status=err.status, reason=reason_of(err))

    def _bury(self, q: _Queue, item: tuple[int, dict[str, Any]], *, status: int | None, reason: str) -> None:
        offset, batch = item
        try:
            letter = bury(self.dead_dir, batch, url=self.client.url, status=status, reason=reason,
                          tries=max(q.tries, 1))
        except OSError as err:
            # Keep it spooled (nothing is lost) and try again later.
            self._warn("dead-letter-unwritable", f"cannot write a dead letter in {str(self.dead_dir)!r}: {err}")
            q.retry_at = time.monotonic() + MAX_BACKOFF_S
            return
        with self._lock:
            old = self._dead.get(letter.run_id, DeadCount())
            self._dead[letter.run_id] = DeadCount(old.batches + 1, old.values + batch_values(batch), reason)
        self._warn(
            "dead-letter",
            f"rltrack server {self.client.url!r} refused a batch of run {batch_run_id(batch)!r} "
            f"({status or 'unsent'}: {reason}); it is kept in {str(letter.path)!r} and later batches go on. "
            f"List dead letters with `rltrack sync --dir {self.root}`, send them again with "
            f"`rltrack sync --retry --dir {self.root}`",
        )
        q.tries, q.solo = 0, False
        self._ack(q, offset)

    def _ack(self, q: _Queue, offset: int) -> None:
        # Under the lock, so pending_bytes never sees an acknowledged spool that is not yet deleted.
        with self._lock:
            q.spool.ack(offset)
            if q.spool.pending_bytes == 0:
                q.spool.close()  # deletes the file and its .ack
                if q is self._own:
                    self._own = None
                elif q in self._orphans:
                    self._orphans.remove(q)
        with self._progress:
            self._progress.notify_all()


def _brings_files(batch: dict[str, Any]) -> bool:
    """Whether sending ``batch`` uploads files first (media rows, saved files)."""
    return bool(batch.get("media")) or bool(saved_files(batch.get("metadata")))
