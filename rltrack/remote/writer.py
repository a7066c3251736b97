"""``RemoteWriter``: the store-writer interface over HTTP, spooling to local disk while the server is away.

The run API's background writer calls ``write()``/``end()`` exactly as it calls
:class:`rltrack.store.writer.StoreWriter`. Here those calls only append a batch to a local spool
file and return; a forwarder thread sends spooled batches in order and acknowledges them once the
server has stored them. A batch carries an id, so one resent after a lost answer is stored once:
nothing is lost, nothing doubles, and ``log()`` never waits for the network.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rltrack.errors import RltrackWarning, RunExistsError, RunNotFoundError, StoreError
from rltrack.remote import wire
from rltrack.remote.client import IngestClient, Rejected, Unreachable
from rltrack.remote.spool import Spool
from rltrack.store.writer import Attached, NewRun, Owner, WriterInfo
from rltrack.types import MediaRecord, SeriesBatch

__all__ = ["RemoteWriter", "connect"]

#: Bytes of spooled batches sent in one request.
REQUEST_BYTES = 4 * 1024 * 1024
#: Raw chunk bytes per spooled batch; larger writes are split (the server limits request size).
SPLIT_BYTES = 2 * 1024 * 1024
#: Longest wait between two tries while the server is unreachable.
MAX_BACKOFF_S = 2.0
#: How long ``end()`` waits for the spool to drain while the server answers.
END_WAIT_S = 30.0


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
    """
    return RemoteWriter(url, api_key=api_key, spool_dir=spool_dir)


class RemoteWriter:
    """Sends one process's runs to an rltrack server (see the module docstring).

    Args:
        url: The server's base URL.
        api_key: Bearer token for a server beyond loopback.
        spool_dir: Local folder for spool files and run folders (media files).
        transport: An httpx transport (tests use an in-process app).
    """

    def __init__(
        self, url: str, *, api_key: str | None = None, spool_dir: str | os.PathLike[str], transport: Any = None
    ) -> None:
        self.root = Path(spool_dir)
        self.db = _Location(url, self.root)
        self._client = IngestClient(url, api_key, transport=transport)
        self._writer_id = uuid.uuid4().hex[:16]
        self._seq = 0
        self._seq_lock = threading.Lock()
        spool_root = self.root / "spool"
        self._spool = Spool(spool_root / f"{self._writer_id}.jsonl")
        self._orphans: list[Spool] = []
        for path in sorted(spool_root.glob("*.jsonl")):
            if path != self._spool.path and (orphan := Spool.adopt(path)) is not None:
                self._orphans.append(orphan)
        self._wake = threading.Event()
        self._progress = threading.Condition()
        self._online: bool | None = None
        self._stopping = False
        self._warned: set[str] = set()
        #: Batches the server refused for good (malformed, unknown run); they are dropped after a warning.
        self.dropped = 0
        self._thread = threading.Thread(target=self._loop, name="rltrack-remote", daemon=True)
        self._thread.start()

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
        """
        batch = {"id": self._next_id(), "op": "create_run", "run": wire.new_run_to(run), "who": wire.who_to(who)}
        if self._spool.pending_bytes == 0 and not self._orphans:
            try:
                self._client.send([batch])
                self._online = True
                return
            except Unreachable:
                self._online = False
            except Rejected as err:
                if err.status == 409:
                    raise RunExistsError(str(err)) from err
                raise StoreError(str(err)) from err
        self._append(batch)

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
        pieces = _split(list(batches))
        for i, piece in enumerate(pieces):
            last = i == len(pieces) - 1
            batch: dict[str, Any] = {
                "id": self._next_id(), "op": "write", "run_id": run_id, "source": source, "owner": owner,
                "batches": [wire.batch_to(b) for b in piece],
            }
            if last:
                batch.update(
                    media=[wire.media_to(m) for m in media],
                    summary=None if summary is None else dict(summary),
                    config=None if config is None else dict(config),
                    metadata=None if metadata is None else dict(metadata),
                    heartbeat_ns=heartbeat_ns,
                )
            self._append(batch)

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
        """Spool the end of the run, then wait (up to :data:`END_WAIT_S`) while the server takes the spool."""
        self._append({
            "id": self._next_id(), "op": "end", "run_id": run_id, "source": source, "state": state,
            "reason": reason, "exit_code": exit_code, "ended_ns": ended_ns, "owner": owner,
        })
        if not self.wait(END_WAIT_S, give_up_offline=True):
            self._warn(
                "offline-at-end",
                f"rltrack server {self.db.path!r} has not stored run {run_id!r} yet; its batches stay in "
                f"{str(self._spool.path)!r} and are sent by the next online run using spool_dir {str(self.root)!r}",
            )

    # ---- control ---------------------------------------------------------------------------

    @property
    def pending_bytes(self) -> int:
        """Spooled bytes the server has not acknowledged yet (own spool and adopted orphans)."""
        return self._spool.pending_bytes + sum(o.pending_bytes for o in self._orphans)

    @property
    def online(self) -> bool | None:
        """Whether the last request reached the server (None before the first)."""
        return self._online

    def wait(self, timeout: float, *, give_up_offline: bool = False) -> bool:
        """Block until everything spooled is stored on the server; return False on timeout.

        With ``give_up_offline`` it returns False as soon as a try finds the server unreachable.
        """
        deadline = time.monotonic() + timeout
        self._wake.set()
        with self._progress:
            while self.pending_bytes > 0:
                left = deadline - time.monotonic()
                if left <= 0 or (give_up_offline and self._online is False):
                    return False
                self._progress.wait(min(left, 0.05))
        return True

    def close(self, timeout: float = 5.0) -> None:
        """Try to send what is left for ``timeout`` seconds, then stop; unsent batches stay spooled."""
        self.wait(timeout, give_up_offline=True)
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout=timeout + 1)
        for spool in (*self._orphans, self._spool):
            spool.close()
        self._client.close()

    # ---- forwarding ------------------------------------------------------------------------

    def _next_id(self) -> str:
        with self._seq_lock:
            self._seq += 1
            return f"{self._writer_id}:{self._seq}"

    def _append(self, batch: dict[str, Any]) -> None:
        self._spool.append(batch)
        self._wake.set()

    def _ask(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        try:
            return self._client.get(path) if method == "GET" else self._client.post(path, body or {})
        except Unreachable as err:
            raise StoreError(f"{err}; resuming or inspecting a run needs the server to answer") from err
        except Rejected as err:
            if err.status == 404:
                raise RunNotFoundError(str(err)) from err
            raise StoreError(str(err)) from err

    def _loop(self) -> None:
        backoff = 0.05
        while not self._stopping:
            self._wake.clear()
            ok = True
            for spool in (*self._orphans, self._spool):
                ok = self._drain(spool)
                if not ok:
                    break
                if spool is not self._spool and spool.pending_bytes == 0:
                    spool.close()
                    self._orphans.remove(spool)
            with self._progress:
                self._progress.notify_all()
            if ok:
                backoff = 0.05
                self._wake.wait(1.0)
            else:
                self._wake.wait(backoff)
                backoff = min(MAX_BACKOFF_S, backoff * 2)

    def _drain(self, spool: Spool) -> bool:
        while spool.pending_bytes > 0 and not self._stopping:
            items = spool.read(REQUEST_BYTES)
            if not items:
                return True
            try:
                self._upload_media([b for _, b in items])
                self._client.send([b for _, b in items])
            except Unreachable:
                self._online = False
                return False
            except Rejected as err:
                self._online = True
                if not self._skip_refused(spool, items, err):
                    return False
                continue
            self._online = True
            spool.ack(items[-1][0])
            with self._progress:
                self._progress.notify_all()
        return True

    def _skip_refused(self, spool: Spool, items: list[tuple[int, dict[str, Any]]], err: Rejected) -> bool:
        body = err.body if isinstance(err.body, dict) else {}
        index = body.get("index")
        if err.status in (401, 403, 413) or not isinstance(index, int) or not 0 <= index < len(items):
            # Wrong token or limits: keep every batch and retry slowly; a fixed server gets them all.
            self._warn(f"refused-{err.status}", f"{err}; batches stay spooled in {str(spool.path)!r}")
            return False
        # Batches before `index` were stored; the one at `index` can never be stored: drop it.
        self.dropped += 1
        self._warn("dropped-batch", f"{err}; dropping batch {body.get('batch_id')!r} (counted in RemoteWriter.dropped)")
        spool.ack(items[index][0])
        return True

    def _upload_media(self, batches: list[dict[str, Any]]) -> None:
        for batch in batches:
            for m in batch.get("media") or ():
                local = self.root / "runs" / batch["run_id"] / m["path"]
                if local.is_file():
                    self._client.upload(batch["run_id"], m["path"], local)
                else:
                    self._warn("media-missing", f"media file {str(local)!r} is gone; its row is sent without it")

    def _warn(self, cause: str, message: str) -> None:
        if cause in self._warned:
            return
        self._warned.add(cause)
        try:
            warnings.warn(message, RltrackWarning, stacklevel=2)
        except RltrackWarning:
            # Warnings escalated to errors must not kill the forwarder thread.
            return


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
