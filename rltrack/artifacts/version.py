"""``ArtifactVersion``: one stored version of an artifact — its manifest, aliases, lineage and download."""

from __future__ import annotations

import contextlib
import datetime
import os
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rltrack.artifacts.blobs import BlobStore, CopyError, copy_file_hashing
from rltrack.artifacts.errors import ArtifactCorruptedError, ArtifactError
from rltrack.artifacts.refs import check_aliases, check_file_name
from rltrack.artifacts.stores import open_blob_store
from rltrack.errors import RunNotFoundError
from rltrack.store.artifacts import ArtifactStore, FileRow, VersionRow
from rltrack.store.base import Backend
from rltrack.views import RunView

__all__ = ["ArtifactVersion", "blob_store", "downloads_root"]


def blob_store(db: Backend) -> BlobStore:
    """Return the blob store that belongs to a store folder (``<store>/artifacts``)."""
    return open_blob_store(db.root / "artifacts")  # RLTRACK_BLOBS=s3://... puts them in a bucket


def downloads_root(db: Backend) -> Path:
    """Return where versions are materialised when ``download()`` is given no folder."""
    return db.root / "artifacts" / "downloads"


class ArtifactVersion:
    """One stored version of an artifact (``name:vN``).

    The fields are a snapshot; ``aliases``, ``logged_by`` and ``used_by`` are read from the
    store each time, so they follow alias moves and later uses.

    Attributes:
        name: The artifact's name.
        version: ``"v0"``, ``"v1"``, ...
        type: ``"model"``, ``"dataset"``, ...
        digest: sha256 of the manifest (every file's path, sha256 and size): equal digests, equal content.
        size: Total bytes of its files.
        metadata: What was logged with it (JSON), e.g. ``{"step": 20000}``.
        created_at: When it was stored (UTC).
        logged_by_id: The id of the run that logged it.
    """

    def __init__(self, db: Backend | None, row: VersionRow, files: list[FileRow] | None = None) -> None:
        self._db = db
        self._row = row
        self._files = files
        self.name = row.name
        self.type = row.type
        self.number = row.number
        self.version = f"v{row.number}"
        self.digest = row.digest
        self.size = row.size
        self.metadata: dict[str, Any] = dict(row.metadata)
        self.description = row.description
        self.created_ns = row.created_ns
        self.created_at = datetime.datetime.fromtimestamp(row.created_ns / 1e9, tz=datetime.timezone.utc)
        self.logged_by_id = row.run_id

    @property
    def ref(self) -> str:
        """``"name:vN"``: the reference that always means this version."""
        return f"{self.name}:{self.version}"

    @property
    def files(self) -> list[FileRow]:
        """The manifest: each file's ``path`` inside the version, ``digest`` (sha256) and ``size``."""
        if self._files is None:
            self._files = self._store().files(self._row.id)
        return list(self._files)

    @property
    def aliases(self) -> list[str]:
        """The aliases pointing here now, sorted (``latest`` when this is the newest version)."""
        if self._db is None:
            return []
        return self._store().aliases(self._row.id)

    @property
    def logged_by(self) -> RunView | None:
        """The run that logged this version (None if it is not in the store)."""
        if self._db is None or self.logged_by_id is None:
            return None
        views = self._views([self.logged_by_id])
        return views[0] if views else None

    @property
    def used_by(self) -> list[RunView]:
        """The runs that used this version (``run.use_artifact``), in the order they first used it."""
        if self._db is None:
            return []
        return self._views(self._store().users(self._row.id))

    def _views(self, run_ids: list[str]) -> list[RunView]:
        from rltrack.store.reader import StoreReader

        assert self._db is not None  # callers return early without a store
        reader = StoreReader(self._db)
        views = []
        for run_id in run_ids:
            # A run removed from the store leaves its lineage rows behind; skip it.
            with contextlib.suppress(RunNotFoundError):
                views.append(RunView(reader, reader.run(run_id)))
        return views

    def set_aliases(self, aliases: Iterable[str] | str) -> None:
        """Make ``aliases`` exactly this version's aliases, moving each from any other version.

        ``latest`` is not settable: it always follows the newest version.

        Raises:
            ArtifactError: a bad alias; nothing is changed then.
        """
        self._store().set_aliases(self._row.id, check_aliases(aliases), replace=True)

    def add_aliases(self, aliases: Iterable[str] | str) -> None:
        """Point ``aliases`` at this version too (moving each from any other version), keeping its others."""
        self._store().set_aliases(self._row.id, check_aliases(aliases), replace=False)

    def download(self, root: str | os.PathLike[str] | None = None) -> Path:
        """Copy the version's files into ``root`` and return it; every file is checked against its sha256.

        Default ``root``: ``<store>/artifacts/downloads/<name>/<vN>``. Each file is written to a
        temporary name and renamed only once its hash matches, so a bad blob is never handed out.

        Raises:
            ArtifactCorruptedError: a stored blob is missing or no longer matches its digest
                (the message names the blob file and this version).
            ArtifactError: ``root`` cannot be written.
        """
        db = self._require_db("download")
        target = downloads_root(db) / self.name / self.version if root is None else Path(root)
        blobs = blob_store(db)
        for entry in self.files:
            dest = target / check_file_name(entry.path)
            try:
                dest.parent.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                raise self._target_error(dest.parent, err) from err
            self._materialise(blobs, entry, dest)
        if not self.files:
            target.mkdir(parents=True, exist_ok=True)
        return target

    def _materialise(self, blobs: BlobStore, entry: FileRow, dest: Path) -> None:
        where = blobs.locate(entry.digest)
        try:
            src = blobs.open(entry.digest)
        except OSError as err:
            raise ArtifactCorruptedError(
                f"blob {where!r} for file {entry.path!r} of artifact version {self.ref!r} cannot be read "
                f"({err.strerror or err}); the store lost it: log the artifact again from its source"
            ) from err
        tmp = dest.parent / f".{dest.name}.{secrets.token_hex(6)}.part"
        try:
            with src, open(tmp, "x+b", buffering=0) as out:
                got = copy_file_hashing(src, out)
            if got.digest != entry.digest or got.size != entry.size:
                raise ArtifactCorruptedError(
                    f"blob {where!r} for file {entry.path!r} of artifact version {self.ref!r} is corrupted "
                    f"(sha256 {got.digest[:16]}..., {got.size} bytes; expected {entry.digest[:16]}..., "
                    f"{entry.size} bytes); refusing to hand it out: log the artifact again from its source"
                )
            os.replace(tmp, dest)
        except CopyError as err:
            if err.side == "read":
                raise ArtifactCorruptedError(
                    f"blob {where!r} for file {entry.path!r} of artifact version {self.ref!r} cannot be read "
                    f"({err.err.strerror or err.err}); log the artifact again from its source"
                ) from err
            raise self._target_error(dest, err.err) from err
        except OSError as err:
            raise self._target_error(dest, err) from err
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    def _target_error(self, path: Path, err: OSError) -> ArtifactError:
        return ArtifactError(
            f"cannot write {str(path)!r} while downloading artifact version {self.ref!r}: {err.strerror or err}; "
            "pass a writable root="
        )

    def _require_db(self, doing: str) -> Backend:
        if self._db is None:
            raise ArtifactError(
                f"artifact version {self.ref!r} was logged by a disabled run (mode='disabled'), so nothing was "
                f"stored to {doing}; log it from a run with tracking enabled"
            )
        return self._db

    def _store(self) -> ArtifactStore:
        return ArtifactStore(self._require_db("read"))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ArtifactVersion):
            return NotImplemented
        return self._row.id == other._row.id and self.digest == other.digest and self._root == other._root

    def __hash__(self) -> int:
        return hash((self._row.id, self.digest))

    @property
    def _root(self) -> Path | None:
        return None if self._db is None else self._db.root

    def __repr__(self) -> str:
        return f"<ArtifactVersion {self.ref} type={self.type!r} size={self.size} digest={self.digest[:12]}>"
