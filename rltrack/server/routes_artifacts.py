"""Artifacts of a run (versions, aliases, lineage), shown when :mod:`rltrack.artifacts` is installed.

With ``rltrack server`` it also takes artifacts in (``rltrack sync DIR --to URL``): blobs first, each
hashed as it arrives and stored only under the sha256 it really has (in the store folder or the
``--blobs`` bucket), then the version's manifest, which names only blobs the server holds. Both are
idempotent, so an interrupted sync repeats them safely.

Who may write (with accounts; a server token, trusted loopback or a server without accounts may do all of it):

- Blobs (``/api/ingest/blobs/...``): a caller who may write into at least one project. A blob
  belongs to no project until a version names it, so this only keeps viewers and users without a
  project from filling the store or the bucket.
- A version, or aliases moved by sending one (``/api/ingest/artifacts``): it must name a ``run_id``
  the caller may write into (a version without a run needs a server token), and when the artifact
  name exists already the caller must also be able to write into the project of the run that
  logged its first version: that project owns the name. Artifact names are one namespace for the
  whole server, so without this one team could add versions to another team's ``policy`` or move
  its ``best`` alias. An artifact whose first version has no run (or whose run is gone) is owned
  by nobody: only a server token adds to it.
- A use (``/api/ingest/artifacts/uses``): the run must be one the caller may write into, and the
  artifact one the caller may read (its owning project, as above); another team's artifact answers
  404, as one that does not exist.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException, Request
from starlette.concurrency import run_in_threadpool
from starlette.convertors import Convertor, register_url_convertor

from rltrack.artifacts.blobs import Blob
from rltrack.errors import RltrackError, RunNotFoundError
from rltrack.server.accounts.principal import Principal
from rltrack.server.deps import Caller, Reader
from rltrack.server.files import spooled_body
from rltrack.store.reader import StoreReader
from rltrack.validate import check_run_id, check_source

if TYPE_CHECKING:
    from rltrack.artifacts import ArtifactVersion
    from rltrack.artifacts.blobs import BlobStore

__all__ = ["router"]


class _BlobDigest(Convertor[str]):
    """A blob URL segment: anything but ``missing`` (its own route), so the two paths do not overlap."""

    regex = "(?!missing(?:/|$))[^/]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("blob_digest", _BlobDigest())
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


def _may_upload(caller: Principal) -> None:
    """Refuse a blob upload (or query) from a caller who may write into no project at all (a 403)."""
    if caller.everything or any(caller.can_write(p) for p in caller.projects()):
        return
    raise HTTPException(403, "you may write into no project of this server, so you may not upload artifact blobs; "
                             "ask a team admin for a member role (or log a run into a project of your own first)")


def _owner(request: Request, name: str) -> tuple[bool, str | None]:
    """Return whether artifact ``name`` exists, and the project owning it (None: nobody's).

    The owner is the project of the run that logged the artifact's first version (see the module's rules).
    """
    from rltrack.store.artifacts import ArtifactStore

    everyone: StoreReader = request.app.state.reader  # unscoped: the owner's project, whoever asks
    versions = ArtifactStore(everyone.db).versions(name)
    if not versions:
        return False, None
    first = min(versions, key=lambda v: v.number)
    if first.run_id is None:
        return True, None
    try:
        return True, everyone.run(first.run_id).project
    except RunNotFoundError:
        return True, None  # the run that logged it is gone: nobody owns the name any more


async def _check_owner(request: Request, caller: Principal, name: str, *, writing: bool) -> None:
    """Refuse a caller who may not write (``writing``) or read artifact ``name``'s owning project."""
    if caller.everything:
        return
    exists, project = await run_in_threadpool(_owner, request, name)
    if not exists:
        return
    if writing and (project is None or not caller.can_write(project)):
        raise HTTPException(403, f"artifact {name!r} belongs to a project you may not write into; artifact names "
                                 "are shared by every project of this server: log yours under another name")
    if not writing and (project is None or not caller.can_read(project)):
        raise HTTPException(404, f"artifact {name!r} has no such version; send it first")


def _body(request_body: bytes) -> dict[str, Any]:
    from rltrack.server.routes_ingest import parse_json

    body = parse_json(request_body)
    if not isinstance(body, dict):
        raise HTTPException(400, "request body must be a JSON object")
    return body


@router.post("/ingest/blobs/missing", summary="Which of these blobs (sha256, size) the server lacks")
async def missing_blobs(request: Request, reader: Reader, caller: Caller) -> dict[str, list[str]]:
    """Return ``{"missing": [sha256, ...]}`` for ``{"blobs": [{"sha256", "size"}, ...]}`` (at most 10,000)."""
    _ingesting(request)
    _may_upload(caller)
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


@router.put("/ingest/blobs/{digest:blob_digest}",
            summary="Upload one artifact blob; stored only if its sha256 matches")
async def put_blob(digest: str, request: Request, reader: Reader, caller: Caller) -> dict[str, Any]:
    """Hash the body as it arrives (spooled to disk, never held in memory); store it under ``digest``.

    The guard counts it against ``--max-upload-mb`` (not the JSON ``--max-body-mb``).
    """
    _ingesting(request)
    _may_upload(caller)
    _digest(digest)
    async with spooled_body(request, Path(reader.db.root) / "tmp" / "uploads", ".blob-",
                            f"blob {digest[:12]}...") as (tmp, got, size):
        if got != digest:
            raise HTTPException(400, f"blob {digest[:12]}... arrived with sha256 {got[:12]}... "
                                     f"({size} bytes): damaged on the way; send it again")
        blob = Blob(digest, size)
        blobs = _blobs(request, reader)
        await run_in_threadpool(blobs.put, tmp, expected=blob)
    return {"sha256": digest, "size": size}


@router.post("/ingest/artifacts", summary="Add an artifact version whose blobs are stored (idempotent by content)")
async def add_version(request: Request, reader: Reader, caller: Caller) -> dict[str, Any]:
    """Add a version (the same content again returns the existing version, aliases moved to it).

    The body: ``{"name", "type", "files": [{"path", "sha256", "size"}], "aliases", "metadata",
    "description", "run_id", "created_ns"}``. Who may send one: see the module's rules.
    """
    _ingesting(request)
    from rltrack.artifacts.artifact import check_description, check_metadata
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
        description = check_description(body.get("description"))
        new = NewVersion(
            name=check_name(body.get("name")), type=check_type(body.get("type")), digest=manifest_digest(rows),
            files=tuple(sorted(rows, key=lambda r: r.path)), metadata=check_metadata(body.get("metadata") or {}),
            description=description, run_id=None if run_id is None else check_run_id(run_id), created_ns=created_ns,
        )
        aliases = check_aliases(body.get("aliases") or ())
    except ArtifactError as err:
        raise HTTPException(400, str(err)) from err
    if new.run_id is not None:
        # A 404 for a run the server does not have (send the run first) or the caller may not see; a 403 for a
        # run the caller may only read (the reader is scoped to the caller: see rltrack.server.deps).
        await run_in_threadpool(reader.run, new.run_id)
    elif not caller.everything:
        raise HTTPException(403, f"artifact {new.name!r}: a version needs the 'run_id' of a run you may write into "
                                 "(only a server token adds versions without a run)")
    await _check_owner(request, caller, new.name, writing=True)
    blobs = _blobs(request, reader)
    absent = await run_in_threadpool(lambda: [r.path for r in rows if not blobs.contains(Blob(r.digest, r.size))])
    if absent:
        raise HTTPException(409, f"artifact {new.name!r}: blobs of {absent[:5]} are not stored; upload them first")
    # The owner is checked again inside the write: two teams creating one new name at once both pass the
    # check above, and the second to write must not land a version on the first one's artifact.
    owner_ok = None if caller.everything else (lambda project: project is not None and caller.can_write(project))
    added = await run_in_threadpool(lambda: ArtifactStore(reader.db).add_version(new, aliases, owner_ok=owner_ok))
    if added.refused:
        raise HTTPException(403, f"artifact {new.name!r} belongs to a project you may not write into; artifact names "
                                 "are shared by every project of this server: log yours under another name")
    if added.version is None:
        raise HTTPException(409, f"artifact {new.name!r} holds type {added.stored_type!r}, not {new.type!r}")
    return {"version": f"v{added.version.number}", "created": added.created, "digest": added.version.digest}


@router.post("/ingest/artifacts/uses", summary="Record that a run used an artifact version (once)")
async def add_use(request: Request, reader: Reader, caller: Caller) -> dict[str, Any]:
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
    await run_in_threadpool(reader.run, run_id)  # a run the caller may write into (404/403 otherwise)
    await _check_owner(request, caller, name, writing=False)
    records = ArtifactStore(reader.db)
    found = [v for v in await run_in_threadpool(records.versions, name) if v.digest == digest]
    if not found:
        raise HTTPException(404, f"artifact {name!r} has no version with digest {digest[:12]}...; send it first")
    await run_in_threadpool(records.record_use, found[0].id, run_id, source, used_ns)
    return {"version": f"v{found[0].number}"}
