"""Artifacts of a run (versions, aliases, lineage), shown when :mod:`rltrack.artifacts` is installed.

With ``rltrack server`` it also takes artifacts in (``rltrack sync DIR --to URL``): blobs first, each
hashed as it arrives and stored only under the sha256 it really has (in the store folder or the
``--blobs`` bucket), then the version's manifest, which names only blobs the server holds. Both are
idempotent, so an interrupted sync repeats them safely.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from rltrack.artifacts.blobs import Blob
from rltrack.errors import RltrackError
from rltrack.server.deps import Reader
from rltrack.store.reader import StoreReader
from rltrack.validate import check_run_id, check_source

if TYPE_CHECKING:
    from rltrack.artifacts import ArtifactVersion
    from rltrack.artifacts.blobs import BlobStore

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["artifacts"])


def _version(v: ArtifactVersion) -> dict[str, Any]:
    return {
        "ref": v.ref,
        "name": v.name,
        "version": v.version,
        "type": v.type,
        "aliases": v.aliases,
        "digest": v.digest,
        "size": v.size,
        "metadata": v.metadata,
        "created_ns": v.created_ns,
        "run_id": v.logged_by_id,
    }


@router.get("/runs/{run_id}/artifacts", summary="Artifact versions a run logged and used (lineage)")
def run_artifacts(run_id: str, reader: Reader) -> dict[str, Any]:
    """Return ``{"available", "logged": [...], "used": [...]}``; ``available`` is false without rltrack.artifacts."""
    reader.run(run_id)
    try:
        from rltrack.artifacts import logged_artifacts, used_artifacts
    except ImportError as err:
        return {"available": False, "reason": f"rltrack.artifacts is not installed ({err})", "logged": [], "used": []}
    return {
        "available": True,
        "logged": [_version(v) for v in logged_artifacts(reader.db, run_id)],
        "used": [_version(v) for v in used_artifacts(reader.db, run_id)],
    }


# --- Ingest: `rltrack sync DIR --to URL` copies artifact versions (blobs first, then the manifest). ---

_HEX = frozenset("0123456789abcdef")


def _digest(text: object) -> str:
    if not (isinstance(text, str) and len(text) == 64 and set(text) <= _HEX):
        raise HTTPException(400, f"{text!r} is not a sha256 digest (64 lowercase hex characters)")
    return text


def _ingesting(request: Request) -> None:
    if not getattr(request.app.state.settings, "ingest", False):
        raise HTTPException(404, "this server does not accept writes (start it with `rltrack server`)")


def _blobs(request: Request, reader: StoreReader) -> BlobStore:
    found: BlobStore | None = getattr(request.app.state, "blob_store", None)  # --blobs s3://...
    if found is not None:
        return found
    from rltrack.artifacts.version import blob_store

    return blob_store(reader.db)


def _body(request_body: bytes) -> dict[str, Any]:
    from rltrack.server.routes_ingest import parse_json

    body = parse_json(request_body)
    if not isinstance(body, dict):
        raise HTTPException(400, "request body must be a JSON object")
    return body


@router.post("/ingest/blobs/missing", summary="Which of these blobs (sha256, size) the server lacks")
async def missing_blobs(request: Request, reader: Reader) -> dict[str, list[str]]:
    """Return ``{"missing": [sha256, ...]}`` for ``{"blobs": [{"sha256", "size"}, ...]}`` (at most 10,000)."""
    _ingesting(request)
    items = _body(await request.body()).get("blobs")
    if not isinstance(items, list) or len(items) > 10_000:
        raise HTTPException(400, "body must be {'blobs': [{'sha256': ..., 'size': ...}, ...]} with at most 10,000")
    wanted: list[Blob] = []
    for item in items:
        size = item.get("size") if isinstance(item, dict) else None
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise HTTPException(400, f"blob {item!r} needs a 'size' of 0 or more bytes")
        wanted.append(Blob(_digest(item.get("sha256")), size))
    blobs = _blobs(request, reader)
    missing = await run_in_threadpool(lambda: [b.digest for b in wanted if not blobs.contains(b)])
    return {"missing": missing}


@router.put("/ingest/blobs/{digest}", summary="Upload one artifact blob; stored only if its sha256 matches")
async def put_blob(digest: str, request: Request, reader: Reader) -> dict[str, Any]:
    """Hash the body as it arrives (spooled to disk, never held in memory); store it under ``digest``."""
    _ingesting(request)
    _digest(digest)
    tmp_dir = Path(reader.db.root) / "tmp" / "uploads"
    try:
        tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=tmp_dir, prefix=".blob-")
    except OSError as err:
        raise HTTPException(507, f"cannot spool blob {digest[:12]}...: {err.strerror}") from err
    hashed = hashlib.sha256()
    size = 0
    try:
        try:
            with os.fdopen(fd, "wb") as out:
                async for piece in request.stream():
                    out.write(piece)
                    hashed.update(piece)
                    size += len(piece)
        except OSError as err:
            raise HTTPException(507, f"cannot spool blob {digest[:12]}...: {err.strerror}") from err
        if hashed.hexdigest() != digest:
            raise HTTPException(400, f"blob {digest[:12]}... arrived with sha256 {hashed.hexdigest()[:12]}... "
                                     f"({size} bytes): damaged on the way; send it again")
        blob = Blob(digest, size)
        blobs = _blobs(request, reader)
        await run_in_threadpool(blobs.put, Path(tmp), expected=blob)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    return {"sha256": digest, "size": size}


@router.post("/ingest/artifacts", summary="Add an artifact version whose blobs are stored (idempotent by content)")
async def add_version(request: Request, reader: Reader) -> dict[str, Any]:
    """Add a version (the same content again returns the existing version, aliases moved to it).

    The body: ``{"name", "type", "files": [{"path", "sha256", "size"}], "aliases", "metadata",
    "description", "run_id", "created_ns"}``.
    """
    _ingesting(request)
    from rltrack.artifacts.artifact import check_metadata
    from rltrack.artifacts.errors import ArtifactError
    from rltrack.artifacts.log import manifest_digest
    from rltrack.artifacts.refs import check_aliases, check_file_name, check_name, check_type
    from rltrack.store.artifacts import ArtifactStore, FileRow, NewVersion

    body = _body(await request.body())
    try:
        files = body.get("files")
        if not isinstance(files, list) or not files or len(files) > 100_000:
            raise ArtifactError("'files' must list 1 to 100,000 {'path', 'sha256', 'size'} entries")
        rows = []
        for f in files:
            size = f.get("size") if isinstance(f, dict) else None
            if not isinstance(size, int) or isinstance(size, bool) or size < 0:
                raise ArtifactError(f"file entry {f!r} needs a 'size' of 0 or more bytes")
            rows.append(FileRow(check_file_name(f.get("path")), _digest(f.get("sha256")), size))
        if len({r.path for r in rows}) != len(rows):
            raise ArtifactError("'files' names one path twice")
        run_id = body.get("run_id")
        created_ns = body.get("created_ns")
        if not isinstance(created_ns, int) or isinstance(created_ns, bool):
            raise ArtifactError(f"'created_ns' must be an integer (ns since the epoch), got {created_ns!r}")
        description = body.get("description")
        if description is not None and not isinstance(description, str):
            raise ArtifactError(f"'description' must be a string or null, got {description!r}")
        new = NewVersion(
            name=check_name(body.get("name")), type=check_type(body.get("type")), digest=manifest_digest(rows),
            files=tuple(sorted(rows, key=lambda r: r.path)), metadata=check_metadata(body.get("metadata") or {}),
            description=description, run_id=None if run_id is None else check_run_id(run_id), created_ns=created_ns,
        )
        aliases = check_aliases(body.get("aliases") or ())
    except ArtifactError as err:
        raise HTTPException(400, str(err)) from err
    if new.run_id is not None:
        reader.run(new.run_id)  # a 404 for a run the server does not have: send the run first
    blobs = _blobs(request, reader)
    absent = await run_in_threadpool(lambda: [r.path for r in rows if not blobs.contains(Blob(r.digest, r.size))])
    if absent:
        raise HTTPException(409, f"artifact {new.name!r}: blobs of {absent[:5]} are not stored; upload them first")
    added = await run_in_threadpool(ArtifactStore(reader.db).add_version, new, aliases)
    if added.version is None:
        raise HTTPException(409, f"artifact {new.name!r} holds type {added.stored_type!r}, not {new.type!r}")
    return {"version": f"v{added.version.number}", "created": added.created, "digest": added.version.digest}


@router.post("/ingest/artifacts/uses", summary="Record that a run used an artifact version (once)")
async def add_use(request: Request, reader: Reader) -> dict[str, Any]:
    """Record ``{"name", "digest", "run_id", "source", "used_ns"}`` (the version by its content digest)."""
    _ingesting(request)
    from rltrack.artifacts.refs import check_name
    from rltrack.store.artifacts import ArtifactStore

    body = _body(await request.body())
    digest = _digest(body.get("digest"))
    used_ns = body.get("used_ns")
    try:
        name = check_name(body.get("name"))
        run_id = check_run_id(body.get("run_id"))
        source = check_source(body.get("source"))
    except RltrackError as err:
        raise HTTPException(400, str(err)) from err
    if not isinstance(used_ns, int) or isinstance(used_ns, bool):
        raise HTTPException(400, f"'used_ns' must be an integer (ns since the epoch), got {used_ns!r}")
    reader.run(run_id)
    records = ArtifactStore(reader.db)
    found = [v for v in await run_in_threadpool(records.versions, name) if v.digest == digest]
    if not found:
        raise HTTPException(404, f"artifact {name!r} has no version with digest {digest[:12]}...; send it first")
    await run_in_threadpool(records.record_use, found[0].id, run_id, source, used_ns)
    return {"version": f"v{found[0].number}"}
