"""Paths of a run's files: checked before any disk access, and the URLs the dashboard uses.

A file path comes from a URL or an ingest body, so it is checked before any disk access: no absolute
paths, no ``..`` (also when percent-encoded, which Starlette decodes before routing), no NUL, and the
resolved path must stay inside the run's folder (a symlink pointing out is refused too). The run's
folder itself is ``runs/<id>`` for a *valid* run id only (:func:`run_dir`), so an id such as ``..``
or ``.`` can never turn the run's folder into the store's root or another run's folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from fastapi import HTTPException

from rltrack.errors import RltrackError
from rltrack.validate import check_run_id

__all__ = ["fetch_from", "media_url", "run_dir", "safe_file", "safe_path", "spooled_body"]

#: Store roots whose run files live elsewhere (``rltrack server --blobs``): root -> fetch(run_id, path).
_ELSEWHERE: dict[Path, Callable[[str, str], Path | None]] = {}


def fetch_from(root: Path, fetch: Callable[[str, str], Path | None]) -> None:
    """Let :func:`safe_file` find the run files of the store ``root`` that are not on disk.

    ``fetch(run_id, path)`` returns a local, integrity-checked copy of a run file, or None when the
    run has no such file. The server's table and histogram panels read files through
    :func:`safe_file`, so they work the same with run files in an S3 bucket.
    """
    _ELSEWHERE[root.resolve()] = fetch


def run_dir(root: Path, run_id: str) -> Path:
    """Return ``root/runs/<run_id>`` for a valid run id.

    Raises:
        HTTPException: 404 when ``run_id`` is not a valid run id (so no run can have it).
    """
    try:
        check_run_id(run_id)
    except RltrackError as err:
        raise HTTPException(404, f"no run {run_id!r}: {err}") from err
    return root / "runs" / run_id


def safe_path(base: Path, relative: str) -> Path:
    """Return ``base / relative`` resolved, refusing any path that would leave ``base``.

    Raises:
        HTTPException: 400 for an absolute path, ``..``, a NUL byte, a drive letter or a symlink out,
            and for a ``base`` that itself holds ``..`` (it would not be the folder it names).
    """
    pure = PurePosixPath(relative.replace("\\", "/"))
    if (
        not relative
        or "\x00" in relative
        or pure.is_absolute()
        or relative.startswith(("/", "\\"))
        or ".." in pure.parts
        or (len(relative) > 1 and relative[1] == ":")
    ):
        raise HTTPException(400, f"file path {relative!r} must be relative to the run's folder, without '..'")
    if ".." in base.parts:
        raise HTTPException(400, "the run's folder must not contain '..'")
    root = base.resolve()
    target = (root / pure).resolve()
    if not target.is_relative_to(root):
        raise HTTPException(400, f"file path {relative!r} leaves the run's folder")
    return target


def safe_file(base: Path, relative: str) -> Path:
    """Return the existing file ``relative`` inside ``base``.

    Raises:
        HTTPException: 400 for a path that tries to leave ``base``, 404 when no such file exists, 503
            when its copy in the ``--blobs`` bucket is damaged or too large to read.
    """
    target = safe_path(base, relative)
    try:
        found = target.is_file()
    except OSError:  # a name longer than the file system allows (ENAMETOOLONG): no such file either
        found = False
    if not found:
        fetch = _ELSEWHERE.get(base.parent.parent.resolve()) if base.parent.name == "runs" else None
        try:
            copy = fetch(base.name, relative) if fetch is not None else None
        except RltrackError as err:  # damaged or too large in the bucket: this file only, not the whole answer
            raise HTTPException(503, str(err)) from err
        if copy is None:
            raise HTTPException(404, f"no file {relative!r} in this run's folder")
        return copy
    return target


def media_url(run_id: str, path: str) -> str:
    """Return the URL the dashboard fetches a run's file from (percent-encoded: it is a writer's string)."""
    return f"/api/runs/{quote(run_id, safe='')}/files/{quote(path, safe='/')}"


@contextlib.asynccontextmanager
async def spooled_body(request: Any, folder: Path, prefix: str, what: str) -> AsyncIterator[tuple[Path, str, int]]:
    """Write a request's body to a temporary file in ``folder`` as it arrives; yield (path, sha256, size).

    Uploads (run files, artifact blobs) are never held in memory, and are hashed on the way so a damaged
    one is refused before it is stored. The file is deleted when the block ends. A full disk is a 507
    naming ``what``.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=prefix)
    except OSError as err:
        raise HTTPException(507, f"cannot spool {what}: {err.strerror}") from err
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
            raise HTTPException(507, f"cannot spool {what}: {err.strerror}") from err
        yield Path(tmp), hashed.hexdigest(), size
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
