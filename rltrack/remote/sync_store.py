"""``rltrack sync DIR --to URL``: copy a whole offline store folder to a server, exactly once, resumable.

A robot or a laptop without network logs into a local store (``mode="offline"``); later one command
copies everything to the team server: every run (values, media, summary, state; :func:`push_run`),
then every artifact version (its blobs, then its manifest) and which runs used which version.

Every step asks the server what it already has, or is idempotent on the server, so a sync killed at
any moment and started again sends only what is missing and stores nothing twice:

- points: the server's per-key counts say where each series resumes; each piece is one batch
  stored in one transaction with its id (:mod:`rltrack.store.ingest`);
- media: rows the server lists are skipped; a row's files (its own, a table's cells) are uploaded
  before it, and any the server lacks are uploaded for rows already there too;
- saved files (``files/``, ``code/``): uploaded unless the server has them with the same size
  (and sha256, where it names one);
- artifact blobs: the server lists those it lacks (by sha256 and size) and stores an upload only
  under the sha256 it hashed; a version is added by its content digest (the same content twice is
  one version); uses are recorded once per (version, run, source).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rltrack.remote.client import IngestClient, Rejected
from rltrack.remote.sync import push_run

__all__ = ["StoreSync", "push_store"]

#: Blobs asked about per request.
_BLOBS_PER_QUERY = 1000


@dataclass
class StoreSync:
    """What one ``push_store`` sent (only what the server lacked); ``files``: table cells and saved files."""

    runs: int = 0
    points: int = 0
    media: int = 0
    files: int = 0
    blobs: int = 0
    blob_bytes: int = 0
    versions: int = 0
    uses: int = 0
    run_ids: list[str] = field(default_factory=list)


def push_store(
    dir: str | os.PathLike[str],
    url: str,
    *,
    api_key: str | None = None,
    transport: Any = None,
    progress: Callable[[str], None] | None = None,
) -> StoreSync:
    """Copy every run and artifact of the store folder ``dir`` to the server at ``url``.

    Args:
        dir: A store folder (holding ``runs.db``).
        url: The server, e.g. ``http://lab-server:8080``.
        api_key: A token the server accepts for writes.
        transport: An httpx transport (tests).
        progress: Called with one line per run and per artifact version sent.

    Raises:
        StoreError: ``dir`` holds no store.
        RltrackError: the server is unreachable or refused the data (``Unreachable``/``Rejected``);
            what was sent before stays, and the next call resumes after it.
    """
    from rltrack.api import Api

    api = Api(dir)
    say = progress or (lambda line: None)
    done = StoreSync()
    # Oldest first, so a server that numbers new runs by count sees them in the order they ran.
    for view in sorted(api.runs(), key=lambda v: (v.created_ns, v.id)):
        sent = push_run(view.id, url, dir=api.root, api_key=api_key, transport=transport)
        done.runs += 1
        done.run_ids.append(view.id)
        done.points += sent["points"]
        done.media += sent["media"]
        done.files += sent.get("files", 0)
        say(f"run {view.id} ({view.project}/{view.name}): {sent['points']} points, {sent['media']} media rows, "
            f"{sent.get('files', 0)} other files (table cells, saved files) sent")
    client = IngestClient(url, api_key, transport=transport)
    try:
        _push_artifacts(client, api, done, say)
    finally:
        client.close()
    return done


def _push_artifacts(client: IngestClient, api: Any, done: StoreSync, say: Callable[[str], None]) -> None:
    from rltrack.artifacts.version import blob_store
    from rltrack.store.artifacts import LATEST, ArtifactStore

    db = api.reader.db
    records = ArtifactStore(db)
    versions = records.versions()  # by name, then number: the server numbers them in the same order
    if not versions:
        return
    blobs = blob_store(db)
    every = {(f.digest, f.size) for v in versions for f in records.files(v.id)}
    missing: set[str] = set()
    listed = sorted(every)
    for start in range(0, len(listed), _BLOBS_PER_QUERY):
        query = [{"sha256": d, "size": s} for d, s in listed[start:start + _BLOBS_PER_QUERY]]
        missing.update(client.post("/api/ingest/blobs/missing", {"blobs": query})["missing"])
    for digest, size in listed:
        if digest in missing:
            with _blob_file(blobs, digest) as path:
                try:
                    client.put_file(f"/api/ingest/blobs/{digest}", path)
                except Rejected as err:
                    if err.status != 413:
                        raise
                    raise Rejected(
                        f"the server at {client.url} refuses artifact blob {digest[:12]}... ({size} bytes) as too "
                        f"large: {err}; then run the sync again (it resumes)",
                        err.status, err.body,
                    ) from err
            done.blobs += 1
            done.blob_bytes += size
    for v in versions:
        files = [{"path": f.path, "sha256": f.digest, "size": f.size} for f in records.files(v.id)]
        answer = client.post("/api/ingest/artifacts", {
            "name": v.name, "type": v.type, "files": files, "metadata": v.metadata, "description": v.description,
            "run_id": v.run_id, "created_ns": v.created_ns,
            "aliases": [a for a in records.aliases(v.id) if a != LATEST],
        })
        if answer.get("created"):
            done.versions += 1
            say(f"artifact {v.name}:v{v.number} sent (on the server: {v.name}:{answer.get('version')})")
    for run_id in done.run_ids:
        view = api.run(run_id)
        for source in view.sources or [view.primary_source]:
            for v in records.used_by_run(run_id, source):
                client.post("/api/ingest/artifacts/uses", {"name": v.name, "digest": v.digest, "run_id": run_id,
                                                           "source": source, "used_ns": view.created_ns})
                done.uses += 1


@contextlib.contextmanager
def _blob_file(blobs: Any, digest: str) -> Any:
    """Yield a local file holding the blob: its own file in a folder store, a temporary copy from a bucket."""
    path = getattr(blobs, "path", None)
    if path is not None:
        yield Path(path(digest))
        return
    fd, tmp = tempfile.mkstemp(prefix="rltrack-sync-blob-")
    try:
        with os.fdopen(fd, "wb") as out, blobs.open(digest) as src:
            shutil.copyfileobj(src, out, 4 << 20)
        yield Path(tmp)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
