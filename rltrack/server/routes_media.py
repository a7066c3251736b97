"""Media routes: a run's media list and its files, with HTTP Range so videos seek.

A file path comes from the URL, so it is checked before any disk access: no absolute paths,
no ``..`` (also when percent-encoded, which Starlette decodes before routing), no NUL, and the
resolved path must stay inside the run's folder (a symlink pointing out is refused too).
"""

from __future__ import annotations

import mimetypes
from pathlib import Path, PurePosixPath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from starlette.responses import FileResponse

from rltrack.server.app import reader_of
from rltrack.store.reader import StoreReader

__all__ = ["router", "safe_file", "safe_path"]

router = APIRouter(prefix="/api", tags=["media"])
Reader = Annotated[StoreReader, Depends(reader_of)]

mimetypes.add_type("video/mp4", ".mp4")
mimetypes.add_type("video/webm", ".webm")


def safe_path(base: Path, relative: str) -> Path:
    """Return ``base / relative`` resolved, refusing any path that would leave ``base``.

    Raises:
        HTTPException: 400 for an absolute path, ``..``, a NUL byte, a drive letter or a symlink out.
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
    root = base.resolve()
    target = (root / pure).resolve()
    if not target.is_relative_to(root):
        raise HTTPException(400, f"file path {relative!r} leaves the run's folder")
    return target


def safe_file(base: Path, relative: str) -> Path:
    """Return the existing file ``relative`` inside ``base``.

    Raises:
        HTTPException: 400 for a path that tries to leave ``base``, 404 when no such file exists.
    """
    target = safe_path(base, relative)
    if not target.is_file():
        raise HTTPException(404, f"no file {relative!r} in this run's folder")
    return target


def media_url(run_id: str, path: str) -> str:
    """Return the URL the dashboard fetches a run's file from."""
    return f"/api/runs/{run_id}/files/{path}"


@router.get("/runs/{run_id}/media", summary="Media of a run (videos, images, histograms) with their URLs")
def media(run_id: str, reader: Reader, key: str | None = None, source: str | None = None) -> list[dict[str, Any]]:
    """Return media rows ordered by key then step, each with a ``url`` to fetch the file."""
    reader.run(run_id)
    return [
        {
            "source": m.source,
            "key": m.key,
            "step": m.step,
            "t_ns": m.t_ns,
            "kind": m.kind,
            "path": m.path,
            "caption": m.caption,
            "meta": m.meta,
            "url": media_url(run_id, m.path),
        }
        for m in reader.media(run_id, source, key)
    ]


@router.get("/runs/{run_id}/files/{path:path}", summary="A file of a run (supports Range requests)")
def run_file(run_id: str, path: str, request: Request, reader: Reader) -> FileResponse:
    """Serve one file from the run's folder; ``Range: bytes=a-b`` gets a 206 partial response."""
    reader.run(run_id)
    target = safe_file(reader.db.root / "runs" / run_id, path)
    media_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    return FileResponse(target, media_type=media_type)
