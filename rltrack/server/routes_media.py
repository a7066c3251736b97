"""Media routes: a run's media list and its files, with HTTP Range so videos seek.

A file path comes from the URL, so it is checked before any disk access: no absolute paths,
no ``..`` (also when percent-encoded, which Starlette decodes before routing), no NUL, and the
resolved path must stay inside the run's folder (a symlink pointing out is refused too).

A run's files were written by whoever logged the run, so only the media types the dashboard plays
(videos and raster images) are served inline; anything else (``.html``, ``.svg``, ...) is an
attachment under a ``sandbox`` policy: it never renders as a page of the dashboard's origin.
"""

from __future__ import annotations

import mimetypes
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import FileResponse

from rltrack.server.deps import Reader
from rltrack.server.files import media_url, run_dir, safe_file
from rltrack.server.headers import SANDBOX_CSP

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["media"])

mimetypes.add_type("video/mp4", ".mp4")
mimetypes.add_type("video/webm", ".webm")

#: Types the dashboard shows in <video>/<img>: served inline. SVG is not here: it can carry script.
INLINE_TYPES = frozenset({"video/mp4", "video/webm", "image/png", "image/jpeg", "image/gif", "image/webp"})
#: Types a browser would run as a page or script: sent as bytes instead.
_ACTIVE_TYPES = ("text/html", "image/svg", "application/xhtml", "text/xml", "application/xml", "text/javascript",
                 "application/javascript")


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
    target = safe_file(run_dir(reader.db.root, run_id), path)
    media_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    if media_type in INLINE_TYPES:
        return FileResponse(target, media_type=media_type)
    if media_type.startswith(_ACTIVE_TYPES):
        media_type = "application/octet-stream"
    return FileResponse(
        target, media_type=media_type, filename=target.name, content_disposition_type="attachment",
        headers={"content-security-policy": SANDBOX_CSP},
    )
