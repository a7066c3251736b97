"""``RemoteWriter``: the store-writer interface over HTTP, spooling to local disk while the server is away.

The run API's background writer calls ``write()``/``end()`` exactly as it calls
:class:`rltrack.store.writer.StoreWriter`. Here those calls only append a batch to a local spool
file and return; a forwarder thread (:mod:`rltrack.remote.forwarder`) sends spooled batches in
order and acknowledges them once the server has stored them. A batch carries an id, so one resent
after a lost answer is stored once: nothing is lost, nothing doubles, and ``log()`` never waits for
the network. A batch the server will not store becomes a dead letter (``rltrack sync`` shows it)
and never holds up the batches behind it.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rltrack.errors import InvalidValueError, RltrackWarning, RunExistsError, RunNotFoundError, StoreError
from rltrack.remote import wire
from rltrack.remote.client import IngestClient, Rejected, Unreachable
from rltrack.remote.fit import fit_extra
from rltrack.remote.forwarder import MAX_TRIES, RETRY_BASE_S, DeadCount, Forwarder
from rltrack.store.writer import Attached, NewRun, Owner, WriterInfo
from rltrack.types import MediaRecord, SeriesBatch

__all__ = ["RemoteWriter", "connect"]

#: Raw chunk bytes per spooled batch; larger writes are split (the server limits request size).
SPLIT_BYTES = 2 * 1024 * 1024
#: Largest summary (JSON bytes) sent in the same batch as a flush's values.
SUMMARY_WITH_VALUES_BYTES = 256 * 1024
#: How long ``end()`` waits for the spool to drain while the server answers.
END_WAIT_S = 30.0
#: Summary keys that count a run's batches (and their values) kept as dead letters.
DEAD_BATCHES_KEY = "_rltrack/dead_letters/batches"
DEAD_VALUES_KEY = "_rltrack/dead_letters/values"
#: Environment variable that sets ``max_tries`` for ``init(mode="online")``.
TRIES_ENV = "RLTRACK_REMOTE_TRIES"


@dataclass(frozen=True)
class _Location:
    # What messages print as "the store" (StoreWriter.db.path / .root).
    path: str
    root: Path


def connect(url: str, api_key: str | None, spool_dir: str | os.PathLike[str]) -> RemoteWriter:
    """Return a :class:`RemoteWriter` for ``rltrack.init(mode="online", url=..., api_key=...)``.

    Args:
        url: The server, e.g. ``http://robot-lab:8080``.
        api_key: A token from the server's ``--token-file`` (None on loopback).
        spool_dir: Local folder for the spool and the run folders: media files are written under
            ``<spool_dir>/runs/<run_id>/`` (pass it as the run's store root) and uploaded from there.

    A batch the server fails on (5xx) is tried ``$RLTRACK_REMOTE_TRIES`` times (default 5) before it
    becomes a dead letter.
    """
    tries = os.environ.get(TRIES_ENV, "").strip()
    if tries and not (tries.isdigit() and int(tries) >= 1):
        raise InvalidValueError(f"{TRIES_ENV}={tries!r} must be a whole number >= 1 (tries before a dead letter)")
    return RemoteWriter(url, api_key=api_key, spool_dir=spool_dir, max_tries=int(tries) if tries else MAX_TRIES)


class RemoteWriter:
    """Sends one process's runs to an rltrack server (see the module docstring).

    Args:
        url: The server's base URL.
        api_key: Bearer token for a server beyond loopback.
        spool_dir: Local folder for spool files, dead letters and run folders (media files).
        transport: An httpx transport (tests use an in-process app).
        max_tries: Tries of a batch the server fails on (5xx) before it becomes a dead letter.
        retry_base_s: Wait before the second such try; it doubles with each further try.
    """

    def __init__(
        self,
        url: str,
        *,
        api_key: str | None = None,
        spool_dir: str | os.PathLike[str],
        transport: Any = None,
        max_tries: int = MAX_TRIES,
        retry_base_s: float = RETRY_BASE_S,
    ) -> None:
        if type(max_tries) is not int or max_tries < 1:
            raise InvalidValueError(f"max_tries={max_tries!r} must be an int >= 1 (tries before a dead letter)")
        self.root = Path(spool_dir)
        self.db = _Location(url, self.root)
        self._client = IngestClient(url, api_key, transport=transport)
        self._writer_id = uuid.uuid4().hex[:16]
        self._seq = 0
        self._seq_lock = threading.Lock()
        self._warned: set[str] = set()
        #: The last summary written per (run, source): end() adds the dead-letter counts to it.
        self._summaries: dict[tuple[str, str], dict[str, Any]] = {}
        self._forwarder = Forwarder(self._client, self.root, max_tries=max_tries, retry_base_s=retry_base_s,
                                    warn=self._warn)

    # ---- StoreWriter interface -------------------------------------------------------------

    def count_runs(self, project: str) -> int:
        """Return how many runs the project holds on the server (0 while it is unreachable)."""
        try:
            return int(self._client.get("/api/ingest/count", project=project))
        except (Unreachable, Rejected):
            return 0

    def run_exists(self, run_id: str) -> bool:
        """Return whether the server has this run.

        Raises:
            StoreError: the server cannot be asked.
        """
        return bool(self._ask("GET", f"/api/ingest/runs/{run_id}/exists"))

    def owner_of(self, run_id: str) -> Owner | None:
        """Return the run's owner as the server stores it."""
        return wire.owner_from(self._ask("GET", f"/api/ingest/runs/{run_id}/owner"))

    def attach_run(self, run_id: str, source: str, who: WriterInfo, *, owner_alive: bool) -> Attached:
        """Attach to a run on the server (needs the server: a resume cannot be spooled).

        Raises:
            RunNotFoundError: the server has no such run.
            StoreError: the server cannot be reached.
        """
        body = {"run_id": run_id, "source": source, "who": wire.who_to(who), "owner_alive": owner_alive}
        return wire.attached_from(self._ask("POST", "/api/ingest/attach", body))

    def create_run(self, run: NewRun, who: WriterInfo) -> None:
        """Create the run on the server now, or spool the creation while it is unreachable.

        Raises:
            RunExistsError: the server already has this id.
            StoreError: the server refused the run for another reason (its answer says which).
        """
        batch = {"id": self._next_id(), "op": "create_run", "run": wire.new_run_to(run), "who": wire.who_to(who)}
        if self._forwarder.own_pending_bytes == 0:  # else it would overtake batches spooled before it
            try:
                self._client.send([batch])
                self._forwarder.online = True
                return
            except Unreachable:  # a 5xx too: the forwarder retries it, then keeps it as a dead letter
                self._forwarder.online = False
            except Rejected as err:
                if err.status == 409:
                    raise RunExistsError(str(err)) from err
                if not err.transient:
                    raise StoreError(str(err)) from err
        self._forwarder.append(batch)

    def write(
        self,
        run_id: str,
        source: str,
        *,
        batches: Sequence[SeriesBatch] = (),
        media: Sequence[MediaRecord] = (),
        summary: Mapping[str, Any] | None = None,
        config: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        heartbeat_ns: int | None = None,
        owner: bool = True,
    ) -> None:
        """Spool one flush (split into pieces of about :data:`SPLIT_BYTES`) and return at once."""
        sent_summary = self._fit("summary", summary)
        if sent_summary is not None:
            self._summaries[(run_id, source)] = sent_summary
        pieces = _split(list(batches))
        extras: dict[str, Any] = {
            "media": [wire.media_to(m) for m in media],
            "summary": sent_summary,
            "config": self._fit("config", config),
            "metadata": self._fit("metadata", metadata),
            "heartbeat_ns": heartbeat_ns,
        }
        by_hand = extras["media"] or extras["config"] is not None or extras["metadata"] is not None
        if pieces[-1] and (by_hand or _json_size(sent_summary) > SUMMARY_WITH_VALUES_BYTES):
            # Values travel apart from what a user set by hand: a config or a summary the server
            # refuses (too large, say) becomes a dead letter of its own and takes no values with it.
            # A small summary (the usual flush) rides with the values: one batch, one transaction.
            pieces.append([])
        spooled: list[dict[str, Any]] = []
        for i, piece in enumerate(pieces):
            batch: dict[str, Any] = {
                "id": self._next_id(), "op": "write", "run_id": run_id, "source": source, "owner": owner,
                "batches": [wire.batch_to(b) for b in piece],
            }
            if i == len(pieces) - 1:
                batch.update(extras)
            spooled.append(batch)
        # All pieces or none: the run API retries a write that raised, and a piece spooled twice
        # under two ids would be stored twice.
        self._forwarder.append(*spooled)

    def end(
        self,
        run_id: str,
        source: str,
        *,
        state: str,
        reason: str | None,
        exit_code: int | None,
        ended_ns: int,
        owner: bool,
    ) -> None:
        """Spool the end of the run, then wait (up to :data:`END_WAIT_S`) while the server takes the spool.

        Batches of the run that went to dead letters are counted in its stored summary
        (``_rltrack/dead_letters/batches`` and ``.../values``) and named in a warning.
        """
        deadline = time.monotonic() + END_WAIT_S
        # Settle this run's batches first, so the summary sent before the end counts its dead letters.
        # Only this writer's own spool is waited for: an adopted orphan's backlog is another run's.
        self._forwarder.wait(END_WAIT_S, give_up_offline=True, own_only=True)
        counted = self._count_dead_letters(run_id, source, owner)
        self._forwarder.append({
            "id": self._next_id(), "op": "end", "run_id": run_id, "source": source, "state": state,
            "reason": reason, "exit_code": exit_code, "ended_ns": ended_ns, "owner": owner,
        })
        done = self._forwarder.wait(max(0.0, deadline - time.monotonic()), give_up_offline=True, own_only=True)
        if self._forwarder.dead_count(run_id).batches != counted:
            # The end itself (or a batch still in flight) became a dead letter: count that too.
            self._count_dead_letters(run_id, source, owner)
            done = self._forwarder.wait(max(0.0, deadline - time.monotonic()), give_up_offline=True, own_only=True)
        dead = self._forwarder.dead_count(run_id)
        if dead.batches:
            self._warn(
                f"dead-letters:{run_id}:{source}",
                f"run {run_id!r}: {dead.batches} batch{'es' if dead.batches != 1 else ''} ({dead.values} values) "
                f"did not reach rltrack server {self.db.path!r} and are kept as dead letters in "
                f"{str(self._forwarder.dead_dir)!r} (last answer: {dead.reason}); list them with "
                f"`rltrack sync --dir {self.root}`, send them again with `rltrack sync --retry --dir {self.root}`",
            )
        if not done:
            self._warn(
                "offline-at-end",
                f"rltrack server {self.db.path!r} has not stored run {run_id!r} yet; its batches stay in "
                f"{str(self._forwarder.spool_dir)!r} and are sent by the next online run using spool_dir "
                f"{str(self.root)!r}",
            )

    # ---- control ---------------------------------------------------------------------------

    @property
    def pending_bytes(self) -> int:
        """Spooled bytes the server has not acknowledged yet (own spool and adopted orphans)."""
        return self._forwarder.pending_bytes

    @property
    def online(self) -> bool | None:
        """Whether the last request reached the server (None before the first)."""
        return self._forwarder.online

    @property
    def dead_letters(self) -> int:
        """Batches this writer moved to dead letters (``rltrack sync`` lists them)."""
        return self._forwarder.dead_total

    def dead_count(self, run_id: str) -> DeadCount:
        """Batches (and values) of ``run_id`` this writer moved to dead letters, and the server's last reason."""
        return self._forwarder.dead_count(run_id)

    def undelivered_values(self, run_id: str) -> int:
        """Return the values of ``run_id`` that wait as dead letters (the server refused them): not stored there."""
        return self._forwarder.dead_count(run_id).values

    def wait(self, timeout: float, *, give_up_offline: bool = False) -> bool:
        """Block until every spooled batch is stored on the server or kept as a dead letter.

        Returns False on timeout, or with ``give_up_offline`` as soon as a try finds the server
        unreachable.
        """
        return self._forwarder.wait(timeout, give_up_offline=give_up_offline)

    def close(self, timeout: float = 5.0) -> None:
        """Try to send what is left for ``timeout`` seconds, then stop; unsent batches stay spooled."""
        self._forwarder.wait(timeout, give_up_offline=True)
        self._forwarder.close(timeout)
        self._client.close()

    # ---- helpers ---------------------------------------------------------------------------

    def _next_id(self) -> str:
        with self._seq_lock:
            self._seq += 1
            return f"{self._writer_id}:{self._seq}"

    def _count_dead_letters(self, run_id: str, source: str, owner: bool) -> int:
        """Spool a summary write that counts the run's dead letters (if any); return the count sent."""
        dead = self._forwarder.dead_count(run_id)
        if dead.batches:
            summary = {**self._summaries.get((run_id, source), {}),
                       DEAD_BATCHES_KEY: dead.batches, DEAD_VALUES_KEY: dead.values}
            self._summaries[(run_id, source)] = summary
            self._forwarder.append({"id": self._next_id(), "op": "write", "run_id": run_id, "source": source,
                                    "owner": owner, "batches": [], "summary": summary})
        return dead.batches

    def _ask(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        try:
            return self._client.get(path) if method == "GET" else self._client.post(path, body or {})
        except Unreachable as err:
            raise StoreError(f"{err}; resuming or inspecting a run needs the server to answer") from err
        except Rejected as err:
            if err.status == 404:
                raise RunNotFoundError(str(err)) from err
            raise StoreError(str(err)) from err

    def _fit(self, what: str, values: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """Return ``values`` as :func:`rltrack.validate.portable` JSON that a server takes (:func:`fit_extra`).

        The whole config (or summary) is sent at every change, so one value too large for the
        server's limits would make every later write of it a dead letter; such a value is sent
        as a note saying what it was, with one warning.
        """
        if values is None:
            return None
        out, noted = fit_extra(values)
        for key, why in noted:
            self._warn(
                f"too-large:{what}:{key}",
                f"{what} value {key!r} {why}; the server stores a note in its place "
                "(log large data as an artifact or media instead)",
            )
        return out

    def _warn(self, cause: str, message: str) -> None:
        if cause in self._warned:
            return
        self._warned.add(cause)
        try:
            warnings.warn(message, RltrackWarning, stacklevel=3)
        except RltrackWarning:
            # Warnings escalated to errors must not kill the forwarder thread.
            return


def _json_size(value: Any) -> int:
    return len(json.dumps(value, allow_nan=True))


def _split(batches: list[SeriesBatch]) -> list[list[SeriesBatch]]:
    """Group chunks into pieces of at most about SPLIT_BYTES; a single huge chunk is cut by points."""
    pieces: list[list[SeriesBatch]] = [[]]
    size = 0
    for batch in batches:
        for part in _cut(batch):
            nbytes = 24 * part.count
            if pieces[-1] and size + nbytes > SPLIT_BYTES:
                pieces.append([])
                size = 0
            pieces[-1].append(part)
            size += nbytes
    return pieces


def _cut(batch: SeriesBatch) -> list[SeriesBatch]:
    per_piece = SPLIT_BYTES // 24
    if batch.count <= per_piece:
        return [batch]
    import numpy as np

    from rltrack.store.chunks import pack

    steps = np.frombuffer(batch.steps, "<i8")
    times = np.frombuffer(batch.t_ns, "<i8")
    values = np.frombuffer(batch.values, "<f8")
    return [
        pack(batch.source, batch.key, steps[i : i + per_piece], times[i : i + per_piece], values[i : i + per_piece])
        for i in range(0, batch.count, per_piece)
    ]
