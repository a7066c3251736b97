"""Logging artifact versions from a run (blobs first, then the manifest) and recording their use."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from rltrack._handle import RunHandle
from rltrack.artifacts.artifact import Artifact, check_description, check_metadata
from rltrack.artifacts.blobs import Blob, BlobStore, hash_file
from rltrack.artifacts.errors import ArtifactError
from rltrack.artifacts.query import resolve
from rltrack.artifacts.refs import check_aliases, check_name, check_type
from rltrack.artifacts.version import ArtifactVersion, blob_store
from rltrack.errors import RunFinishedError
from rltrack.store.artifacts import ArtifactStore, FileRow, NewVersion, VersionRow
from rltrack.store.database import Database

__all__ = ["log_artifact", "manifest_digest", "use_artifact"]

#: The type a path logged without ``type=`` gets when its name is new.
DEFAULT_TYPE = "model"


def log_artifact(
    run: RunHandle,
    artifact_or_path: Artifact | str | os.PathLike[str],
    *,
    name: str | None = None,
    type: str | None = None,
    aliases: Sequence[str] = (),
) -> ArtifactVersion:
    """Store an artifact's files as a new version, logged by ``run``; see :meth:`rltrack.Run.log_artifact`.

    A path is logged as a one-file (or, for a folder, many-file) artifact named ``name``
    (default: the file or folder name). Content identical to an existing version of the
    same name adds no version: that version is returned, with ``aliases`` moved to it.

    Raises:
        ArtifactError: bad name, type, alias, metadata or file, a missing source file, a
            name that already holds another type, or a run that logs to a server. No version
            is added then (blobs copied before the error stay, unreferenced, and are reused).
        RunFinishedError: the run has finished.
    """
    checked_aliases = check_aliases(aliases)
    db = _database(run)
    artifact = _as_artifact(artifact_or_path, name, type, db)
    if run.finished:
        raise RunFinishedError(
            f"cannot log artifact {artifact.name!r}: run {run.id!r} has finished; log it before finish()"
        )
    metadata = check_metadata(artifact.metadata)
    description = check_description(artifact.description)  # again: the attribute may have changed since
    sources = artifact.files
    if not sources:
        raise ArtifactError(f"artifact {artifact.name!r} has no files; call add_file() or add_dir() first")
    if db is None:
        return _detached(run, artifact, sources)
    records = ArtifactStore(db)
    _check_type_free(records, artifact)
    blobs = blob_store(db)
    sizes: set[int] = set()
    # Blobs first, fsynced and renamed into place; the manifest (one transaction) last.
    files = tuple(FileRow(path, *_put(blobs, records, source, sizes)) for path, source in sorted(sources.items()))
    new = NewVersion(
        name=artifact.name, type=artifact.type, digest=manifest_digest(files), files=files, metadata=metadata,
        description=description, run_id=run.id, created_ns=time.time_ns(),
    )
    added = records.add_version(new, checked_aliases)
    if added.version is None:
        raise _type_error(artifact, added.stored_type)
    return ArtifactVersion(db, added.version)


def use_artifact(run: RunHandle, ref: str) -> ArtifactVersion:
    """Record that ``run`` used a version and return it; see :meth:`rltrack.Run.use_artifact`.

    The use is recorded under the run's source, so a robot's ``real`` writer records the
    policy it deployed without touching what training recorded.

    Raises:
        ArtifactError: ``ref`` is malformed, or the run is disabled (nothing to look in).
        ArtifactNotFoundError: no such artifact, alias or version.
        RunFinishedError: the run has finished.
    """
    db = _database(run)
    if db is None:
        raise ArtifactError(
            f"run {run.id!r} is disabled (mode='disabled') and has no store to find {ref!r} in; "
            "read it with rltrack.Api(dir).artifact(ref) instead"
        )
    if run.finished:
        raise RunFinishedError(f"cannot use artifact {ref!r}: run {run.id!r} has finished; use it before finish()")
    records = ArtifactStore(db)
    row = resolve(records, ref)
    records.record_use(row.id, run.id, run.source, time.time_ns())
    return ArtifactVersion(db, row)


def _database(run: RunHandle) -> Database | None:
    """Return the run's local store, None for a disabled run; refuse a run that logs to a server."""
    store = getattr(run, "_store", None)
    if store is None:
        return None
    db = getattr(store, "db", None)
    if not isinstance(db, Database):
        where = getattr(db, "path", repr(store))
        raise ArtifactError(
            f"run {run.id!r} logs to a server ({where!r}); artifacts are stored in local stores only for now: "
            "log them from a run with a local dir= (mode='offline') and push that run with `rltrack sync`"
        )
    return db


def manifest_digest(files: Sequence[FileRow]) -> str:
    """Return the sha256 of a manifest: its (path, sha256, size) entries, sorted, as compact JSON."""
    entries = sorted([f.path, f.digest, f.size] for f in files)
    return hashlib.sha256(json.dumps(entries, separators=(",", ":")).encode()).hexdigest()


def _as_artifact(
    artifact_or_path: Artifact | str | os.PathLike[str], name: str | None, type: str | None, db: Database | None
) -> Artifact:
    if isinstance(artifact_or_path, Artifact):
        artifact = artifact_or_path
        if name is not None or type is not None:
            # An override must not change the caller's object.
            copy = Artifact(
                check_name(name) if name is not None else artifact.name,
                check_type(type) if type is not None else artifact.type,
                metadata=artifact.metadata,
                description=artifact.description,
            )
            for file_name, source in artifact.files.items():
                copy._add(file_name, source)
            artifact = copy
        return artifact
    if not isinstance(artifact_or_path, (str, os.PathLike)):
        raise ArtifactError(
            f"log_artifact() takes an rltrack.Artifact or a file/folder path, not {artifact_or_path!r}"
        )
    path = Path(artifact_or_path)
    if not path.exists():
        raise ArtifactError(f"cannot log {str(path)!r} as an artifact: it does not exist; pass an existing path")
    if name is None:
        name = path.absolute().name
        try:
            check_name(name)
        except ArtifactError:
            raise ArtifactError(
                f"cannot derive an artifact name from {str(path)!r} ({name!r} is not a valid name); pass name="
            ) from None
    if type is None:
        stored = None if db is None else ArtifactStore(db).type_of(check_name(name))
        type = stored or DEFAULT_TYPE
    artifact = Artifact(name, type)
    if path.is_dir():
        artifact.add_dir(path)
    else:
        artifact.add_file(path)
    return artifact


def _put(blobs: BlobStore, records: ArtifactStore, source: Path, sizes: set[int]) -> tuple[str, int]:
    try:
        size = source.stat().st_size
    except OSError as err:
        raise ArtifactError(
            f"cannot log {str(source)!r}: {err.strerror or err}; it was added to the artifact but is gone now"
        ) from err
    blob: Blob | None = None
    if size in sizes or _may_be_stored(blobs, records, source, size):
        # Likely a duplicate: hash first (reading only), copy only if it is new after all.
        blob = hash_file(source)
        if blobs.contains(blob):
            sizes.add(blob.size)
            return blob.digest, blob.size
    stored = blobs.put(source, expected=blob)
    sizes.add(stored.size)
    return stored.digest, stored.size


#: Stored files of the same size compared by samples before deciding to hash first.
_MAX_CANDIDATES = 64
_SAMPLE_BYTES = 64 << 10


def _may_be_stored(blobs: BlobStore, records: ArtifactStore, source: Path, size: int) -> bool:
    """Return False when no stored file can equal ``source``: none has its size, or each differs in a sample.

    Checkpoints of one network often share a size exactly; comparing three 64 KiB windows
    (start, middle, end) against each stored file of that size spares new content a second
    full read, while a true duplicate still costs only the hash pass.
    """
    candidates = records.digests_of_size(size, _MAX_CANDIDATES + 1)
    if not candidates:
        return False
    if len(candidates) > _MAX_CANDIDATES:
        return True
    offsets = sorted({0, max(0, size // 2 - _SAMPLE_BYTES // 2), max(0, size - _SAMPLE_BYTES)})
    try:
        want = _samples(source.open("rb"), offsets)
    except OSError as err:
        raise ArtifactError(f"cannot read {str(source)!r} to log it: {err.strerror or err}") from err
    for digest in candidates:
        try:
            if _samples(blobs.open(digest), offsets) == want:
                return True
        except OSError:
            continue  # a missing blob cannot be a duplicate; put() writes it again
    return False


def _samples(stream: BinaryIO, offsets: list[int]) -> list[bytes]:
    with stream:
        out = []
        for offset in offsets:
            stream.seek(offset)
            out.append(stream.read(_SAMPLE_BYTES))
        return out


def _check_type_free(records: ArtifactStore, artifact: Artifact) -> None:
    # Checked before any blob is written; add_version checks again inside its transaction.
    stored = records.type_of(artifact.name)
    if stored is not None and stored != artifact.type:
        raise _type_error(artifact, stored)


def _type_error(artifact: Artifact, stored: str) -> ArtifactError:
    return ArtifactError(
        f"artifact {artifact.name!r} holds type {stored!r}, not {artifact.type!r}; "
        f"pass type={stored!r} or choose another name"
    )


def _detached(run: RunHandle, artifact: Artifact, sources: dict[str, Path]) -> ArtifactVersion:
    # A disabled run stores nothing; hand back a version that says so instead of failing training.
    files = [FileRow(path, "", _size(source)) for path, source in sorted(sources.items())]
    row = VersionRow(
        id=-1, name=artifact.name, type=artifact.type, number=0, digest="", size=sum(f.size for f in files),
        file_count=len(files), metadata=check_metadata(artifact.metadata), description=artifact.description,
        created_ns=time.time_ns(), run_id=run.id,
    )
    return ArtifactVersion(None, row, files)


def _size(source: Path) -> int:
    try:
        return source.stat().st_size
    except OSError as err:
        raise ArtifactError(f"cannot log {str(source)!r}: {err.strerror or err}; check that it still exists") from err
