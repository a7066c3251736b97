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
import os
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request
from starlette.background import BackgroundTask
from starlette.responses import Response, StreamingResponse

from rltrack.errors import RltrackError
from rltrack.server.deps import Reader
from rltrack.server.files import media_url, run_dir, safe_file
from rltrack.server.headers import SANDBOX_CSP
from rltrack.server.run_files import FileRef, S3RunFiles, run_files_of
from rltrack.validate import check_media_path

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


#: What the file routes (this one and a share link's) document: the file's bytes, typed by its name (any media
#: type; application/octet-stream when unknown or active), whole or one range; errors stay JSON ``{detail}``.
FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The file's bytes, typed by its name", "content": {"*/*": {}}},
    206: {"description": "The requested range of the file's bytes (Range: bytes=START-END)", "content": {"*/*": {}}},
    416: {"description": "The range is outside the file",
          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}},
}


@router.get("/runs/{run_id}/files/{path:path}", summary="A file of a run (supports Range requests)",
            response_class=Response, responses=FILE_RESPONSES)
def run_file(run_id: str, path: str, request: Request, reader: Reader) -> Response:
    """Serve one file from the run's folder (or the S3 bucket); ``Range: bytes=a-b`` gets a 206 partial response."""
    reader.run(run_id)
    files = run_files_of(request.app)
    if files is not None:
        return _from_bucket(files, run_id, path, request)
    target = safe_file(run_dir(reader.db.root, run_id), path)
    return _from_disk(target, request)


def _from_disk(target: Path, request: Request) -> Response:
    """Stream a run file from the file it names now, honouring one ``Range: bytes=`` range.

    The file is opened once and its size read from the open file: a file replaced while it is served (a
    ``save(policy="live")`` upload, a re-sent table) is sent whole as it was when opened, never with the old
    length and the new bytes (the client would see a broken response).
    """
    try:
        handle = open(target, "rb")  # noqa: SIM115  # closed by the generator that streams it
    except OSError as err:
        raise HTTPException(404, f"no file {target.name!r} in this run's folder") from err
    try:
        stat = os.fstat(handle.fileno())
        media_type, headers, attachment = _kind(target.name)
        headers = {**headers, "accept-ranges": "bytes", "etag": f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"'}
        if attachment:
            headers["content-disposition"] = f"attachment; filename*=utf-8''{quote(target.name)}"
        span = _range(request.headers.get("range"), FileRef("", stat.st_size))
    except BaseException:
        handle.close()
        raise
    start, stop = (0, stat.st_size) if span is None else span
    headers["content-length"] = str(stop - start)
    if span is not None:
        headers["content-range"] = f"bytes {start}-{stop - 1}/{stat.st_size}"
    stream = _FileStream(handle, start, stop)
    # Closed after the response too: a client that hangs up early never reaches the stream's end.
    return StreamingResponse(stream, status_code=200 if span is None else 206, media_type=media_type,
                             headers=headers, background=BackgroundTask(stream.close))


class _FileStream:
    """Bytes ``start``..``stop`` of an open file, in pieces; the file is closed at the end, or when dropped.

    Not a generator: a client that hangs up before the first piece (``rltrack sync`` asks for one byte and
    reads headers only) would leave a generator unstarted and its file open until the collector found it.
    """

    def __init__(self, handle: BinaryIO, start: int, stop: int) -> None:
        self._handle = handle
        self._left = stop - start
        handle.seek(start)

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        piece = self._handle.read(min(self._left, _CHUNK)) if self._left > 0 else b""
        if not piece:  # done, or the file was cut short under us: end rather than send another file's bytes
            self.close()
            raise StopIteration
        self._left -= len(piece)
        return piece

    def close(self) -> None:
        self._handle.close()

    def __del__(self) -> None:
        self._handle.close()


_CHUNK = 1 << 18  # bytes read per piece a response streams


def _kind(name: str) -> tuple[str, dict[str, str], bool]:
    """Return (media type, extra headers, attachment?) for a file name: only playable media inline."""
    media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if media_type in INLINE_TYPES:
        return media_type, {}, False
    if media_type.startswith(_ACTIVE_TYPES):
        media_type = "application/octet-stream"
    return media_type, {"content-security-policy": SANDBOX_CSP}, True


def _from_bucket(files: S3RunFiles, run_id: str, path: str, request: Request) -> Response:
    """Stream a run file from the bucket through the server, honouring one ``Range: bytes=`` range."""
    run_dir(Path("."), run_id)  # a 404 for an id no run can have
    try:
        check_media_path(path)
    except RltrackError as err:
        raise HTTPException(400, f"file path {path!r} is not a run file path: {err}") from err
    ref = files.stat(run_id, path)
    if ref is None:
        raise HTTPException(404, f"no file {path!r} in this run's folder")
    name = PurePosixPath(path).name
    media_type, headers, attachment = _kind(name)
    headers = {**headers, "accept-ranges": "bytes", "etag": f'"{ref.digest}"'}
    if attachment:
        headers["content-disposition"] = f"attachment; filename*=utf-8''{quote(name)}"
    span = _range(request.headers.get("range"), ref)
    if span is None:
        headers["content-length"] = str(ref.size)
        return StreamingResponse(files.read_range(ref, 0, ref.size), media_type=media_type, headers=headers)
    start, stop = span
    headers["content-length"] = str(stop - start)
    headers["content-range"] = f"bytes {start}-{stop - 1}/{ref.size}"
    return StreamingResponse(files.read_range(ref, start, stop), status_code=206, media_type=media_type,
                             headers=headers)


def _range(header: str | None, ref: FileRef) -> tuple[int, int] | None:
    """Parse one ``bytes=a-b`` / ``bytes=a-`` / ``bytes=-n`` range; None: send the whole file.

    Several ranges get the whole file (a server may ignore Range); an unsatisfiable one is a 416.
    """
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    refused = HTTPException(416, f"range {header!r} is outside the file of {ref.size} bytes",
                            headers={"content-range": f"bytes */{ref.size}"})
    if not dash or not (first.isdigit() or last.isdigit()) or (first and not first.isdigit()) or (
            last and not last.isdigit()):
        raise HTTPException(400, f"range {header!r} is not of the form bytes=START-END")
    if not first:  # the last N bytes
        count = int(last)
        if count == 0:
            raise refused
        return max(0, ref.size - count), ref.size
    start = int(first)
    stop = min(int(last) + 1, ref.size) if last else ref.size
    if start >= ref.size or stop <= start:
        raise refused
    return start, stop
