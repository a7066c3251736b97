"""Run files (videos, images, tables) of ``rltrack server --blobs s3://bucket/prefix`` kept in an S3 bucket.

Folder blobs stay the default: without ``--blobs`` a run's files live in ``<store>/runs/<id>/`` and the
routes in :mod:`rltrack.server.routes_ingest` and :mod:`rltrack.server.routes_media` serve them.

With ``--blobs`` an uploaded file is streamed to a temporary file on the server (counted against
the upload limit, hashed as it arrives), compared with the sha256 the client declared
(``x-rltrack-sha256``), stored once under its digest (``<prefix>/blobs/<sha[:2]>/<sha>``, the layout
of artifact blobs, so a checkpoint logged as media and as an artifact is one object; multipart above
64 MiB), and only then named by a small reference object ``<prefix>/files/<run_id>/<path>`` holding
``{"sha256", "size"}``. A reader never sees a name that points at a half-written blob.

Reads go through the server (:func:`read_range`): the bucket may sit on a network the browser cannot
reach (MinIO inside docker compose), credentials never leave the server, every read passes the same
access checks as the rest of the API, and the sandbox headers that keep a writer's file from acting
as a page of the dashboard are kept. A presigned redirect would lose all of that for the saving of
one proxy hop.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Request

from rltrack.artifacts.blobs import Blob
from rltrack.artifacts.s3 import S3BlobStore
from rltrack.errors import RltrackError, StoreError
from rltrack.server.deps import Reader
from rltrack.server.files import fetch_from, spooled_body
from rltrack.validate import check_media_path, check_run_id

__all__ = ["BlobSettings", "FileRef", "S3RunFiles", "install", "run_files_of"]

#: Largest run file the server copies to its disk to parse (tables, histograms).
MAX_LOCAL_COPY = 256 << 20
#: Header a client may send with an upload: the sha256 (hex) of the body; a mismatch is a 400.
DIGEST_HEADER = "x-rltrack-sha256"


@dataclass(frozen=True)
class BlobSettings:
    """Where ``rltrack server --blobs`` keeps blobs.

    Attributes:
        url: ``s3://bucket[/prefix]``.
        endpoint_url: An S3-compatible endpoint (MinIO, Ceph); None: ``AWS_ENDPOINT_URL`` or AWS itself.
    """

    url: str
    endpoint_url: str | None = None


@dataclass(frozen=True, slots=True)
class FileRef:
    """What a run file's name points at: a blob's sha256 and size."""

    digest: str
    size: int


class S3RunFiles:
    """Run files as content-addressed blobs plus one reference object per (run, path)."""

    def __init__(self, blobs: S3BlobStore, tmp_dir: Path) -> None:
        self.blobs = blobs
        self.tmp_dir = tmp_dir

    def _ref_key(self, run_id: str, path: str) -> str:
        return self.blobs.location.key("files", check_run_id(run_id), check_media_path(path))

    def stat(self, run_id: str, path: str) -> FileRef | None:
        """Return what ``path`` of run ``run_id`` points at, or None when it was never uploaded."""
        client = self.blobs.client
        try:
            body = client.get_object(Bucket=self.blobs.location.bucket, Key=self._ref_key(run_id, path))["Body"]
        except client.exceptions.NoSuchKey:
            return None
        except Exception as err:
            raise StoreError(f"cannot read run file {path!r} of run {run_id!r} in {self.blobs.url}: {err}") from err
        with contextlib.closing(body):
            try:
                ref = json.loads(body.read(4096))
                return FileRef(str(ref["sha256"]), int(ref["size"]))
            except (ValueError, KeyError, TypeError) as err:
                raise StoreError(f"the reference object of run file {path!r} of run {run_id!r} in "
                                 f"{self.blobs.url} is damaged ({err}); upload the file again") from err

    def listing(self, run_id: str, top: str, limit: int) -> list[tuple[str, int, int]]:
        """Return ``(path, size, modified_ns)`` of up to ``limit`` files of a run under folder ``top``, by path.

        One listing of the reference objects, then one small read per file for its size.
        """
        prefix = self.blobs.location.key("files", check_run_id(run_id), top) + "/"
        strip = len(self.blobs.location.key("files", run_id)) + 1
        client = self.blobs.client
        found: list[tuple[str, int]] = []
        try:
            pages = client.get_paginator("list_objects_v2").paginate(Bucket=self.blobs.location.bucket, Prefix=prefix)
            for page in pages:
                for item in page.get("Contents", ()):
                    found.append((str(item["Key"])[strip:], int(item["LastModified"].timestamp() * 1e9)))
                if len(found) >= limit:
                    break
        except Exception as err:
            raise StoreError(f"cannot list the files of run {run_id!r} in {self.blobs.url}: {err}") from err
        out = []
        for path, modified_ns in sorted(found)[:limit]:
            ref = self.stat(run_id, path)
            if ref is not None:
                out.append((path, ref.size, modified_ns))
        return out

    def store(self, run_id: str, path: str, spooled: Path, blob: Blob) -> None:
        """Put the spooled upload (already hashed: ``blob``) under its digest, then point the name at it."""
        stored = self.blobs.put(spooled, expected=blob)
        body = json.dumps({"sha256": stored.digest, "size": stored.size}).encode()
        try:
            self.blobs.client.put_object(Bucket=self.blobs.location.bucket, Key=self._ref_key(run_id, path),
                                         Body=body, ContentType="application/json")
        except Exception as err:
            raise StoreError(f"cannot name run file {path!r} of run {run_id!r} in {self.blobs.url}: {err}") from err

    def local_copy(self, run_id: str, path: str) -> Path | None:
        """Return a local copy of a run file (cached by sha256, checked as downloaded), or None if there is none.

        For the panels that parse a file on the server (tables, histograms); videos stream instead.

        Raises:
            StoreError: the file is larger than :data:`MAX_LOCAL_COPY`, or arrived damaged.
        """
        try:
            ref = self.stat(run_id, path)
        except RltrackError:
            return None  # not a run file path: no such file
        if ref is None:
            return None
        if ref.size > MAX_LOCAL_COPY:
            raise StoreError(f"run file {path!r} ({ref.size} bytes) is too large to read on the server")
        cached = self.tmp_dir.parent / "cache" / ref.digest[:2] / ref.digest
        if cached.is_file() and cached.stat().st_size == ref.size:
            return cached
        cached.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cached.parent, prefix=".fetch-")
        try:
            digest = hashlib.sha256()
            with os.fdopen(fd, "wb") as out:
                for block in self.read_range(ref, 0, ref.size):
                    digest.update(block)
                    out.write(block)
            if digest.hexdigest() != ref.digest:
                raise StoreError(f"run file {path!r} of run {run_id!r} in {self.blobs.url} does not match its "
                                 f"sha256 {ref.digest[:12]}...: the bucket's copy is damaged; upload it again")
            os.replace(tmp, cached)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        return cached

    def read_range(self, ref: FileRef, start: int, stop: int) -> Iterator[bytes]:
        """Yield bytes ``start``..``stop`` (exclusive) of the blob ``ref`` points at."""
        return self.blobs.open_range(ref.digest, start, stop)


def open_run_files(blobs: BlobSettings, root: Path) -> S3RunFiles:
    """Connect to the bucket of ``blobs`` (checked with one request, so a wrong bucket fails at start).

    Raises:
        StoreError: boto3 is missing, the URL is not ``s3://``, or the bucket cannot be reached.
    """
    store = S3BlobStore(blobs.url, endpoint_url=blobs.endpoint_url)
    try:
        store.client.head_bucket(Bucket=store.location.bucket)
    except Exception as err:
        raise StoreError(
            f"cannot reach the bucket of --blobs {blobs.url} ({type(err).__name__}: {err}); create the bucket and "
            "check the endpoint (--s3-endpoint / AWS_ENDPOINT_URL) and credentials (AWS_ACCESS_KEY_ID/"
            "AWS_SECRET_ACCESS_KEY)"
        ) from err
    tmp = root / "tmp" / "uploads"
    tmp.mkdir(parents=True, exist_ok=True)
    return S3RunFiles(store, tmp)


def run_files_of(app: Any) -> S3RunFiles | None:
    """Return the app's S3 run files, or None when run files live in the store folder."""
    found: S3RunFiles | None = getattr(app.state, "run_files", None)
    return found


_router = APIRouter(prefix="/api/ingest", tags=["ingest"])


@_router.put("/files/{run_id}/{path:path}", summary="Upload a file of a run into the S3 bucket (idempotent)")
async def upload(run_id: str, path: str, request: Request, reader: Reader) -> dict[str, Any]:
    """Store the body as run ``run_id``'s file ``path`` in the bucket; the same checks as the folder upload."""
    reader.run(check_run_id(run_id))
    check_media_path(path)
    files = run_files_of(request.app)
    assert files is not None  # installed only with run files in S3
    declared = request.headers.get(DIGEST_HEADER, "").strip().lower() or None
    async with spooled_body(request, files.tmp_dir, ".upload-", f"{path!r} before storing it") as (tmp, got, size):
        blob = Blob(got, size)
        if declared is not None and declared != blob.digest:
            raise HTTPException(400, f"upload of {path!r} arrived damaged: sha256 {blob.digest[:12]}..., the "
                                     f"client sent {declared[:12]}...; send it again")
        from starlette.concurrency import run_in_threadpool

        await run_in_threadpool(files.store, run_id, path, tmp, blob)
    return {"path": path, "bytes": size, "sha256": blob.digest}


def install(app: FastAPI, blobs: BlobSettings, root: Path) -> None:
    """Keep the app's run files and artifact blobs in the bucket of ``blobs``.

    The upload route goes in front of the folder upload of :mod:`rltrack.server.routes_ingest` (the
    first matching route answers); reads consult :func:`run_files_of` in :mod:`rltrack.server.routes_media`.
    """
    files = open_run_files(blobs, root)
    app.state.run_files = files
    fetch_from(root, files.local_copy)  # the table and histogram panels read files through safe_file
    app.state.blob_store = files.blobs  # artifact blobs: the same bucket and layout
    if getattr(app.state.settings, "ingest", False):
        app.include_router(_router)
        app.router.routes.insert(0, app.router.routes.pop())  # ahead of the folder upload
