"""HTTP calls to an rltrack server's ingest endpoints (httpx)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from rltrack.errors import RltrackError

__all__ = [
    "SAVED_FOLDERS", "IngestClient", "Rejected", "ServerError", "Unreachable", "media_files", "saved_files",
    "upload_media",
]

#: Seconds a request may take before the server counts as unreachable.
TIMEOUT_S = 10.0
#: Seconds to wait for a connection (short: ``init()`` may try one request while the network is down).
CONNECT_TIMEOUT_S = 3.0
#: 5xx answers that say the server (or the proxy before it) is away or full, not that a request is bad.
AWAY_STATUSES = frozenset({502, 503, 504, 507})
#: 4xx answers that depend on the moment or the credentials, not on the request: retry later.
TRANSIENT_STATUSES = frozenset({401, 403, 408, 429})
#: Folders of a run's folder that ``save()`` (``files/``) and ``save_code`` (``code/``) fill.
SAVED_FOLDERS = ("files", "code")
_SHA256 = re.compile(r'^(?:W/)?"?([0-9a-f]{64})"?$')


class Unreachable(RltrackError):
    """The server did not answer, or said it is away (network down, 502/503/504/507): retry later."""


class ServerError(Unreachable):
    """The server failed on this request (a 5xx other than :data:`AWAY_STATUSES`).

    It may be the request's fault (a batch that crashes the server) or a passing fault: a caller
    retries it a few times, then gives up on that request alone.
    """

    def __init__(self, message: str, status: int, body: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class Rejected(RltrackError):
    """The server refused a request (4xx); ``body`` is its JSON answer (``detail``)."""

    def __init__(self, message: str, status: int, body: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body = body

    @property
    def transient(self) -> bool:
        """Whether the refusal depends on the token or the moment (401/403/408/429), not the request."""
        return self.status in TRANSIENT_STATUSES


def _bearer(api_key: str) -> bytes:
    """Return the ``Authorization`` value for a token, as UTF-8 bytes.

    The server reads its ``--token-file`` as UTF-8 and compares bytes, so a non-ASCII token works
    (sent as text, httpx refused it with a bare UnicodeEncodeError). The token is never echoed.

    Raises:
        RltrackError: the token holds a control character (a newline pasted with it) or is not valid Unicode.
    """
    if any(ord(c) < 32 or ord(c) == 127 for c in api_key):
        raise RltrackError("api_key holds a control character (a newline pasted with it?); pass the token exactly "
                           "as it is written in the server's token file")
    try:
        return f"Bearer {api_key}".encode()
    except UnicodeEncodeError:
        raise RltrackError("api_key is not valid Unicode (a lone surrogate); pass the token exactly as it is "
                           "written in the server's token file") from None


class IngestClient:
    """A connection to one server; every method raises :class:`Unreachable` or :class:`Rejected`."""

    def __init__(self, url: str, api_key: str | None, *, transport: Any = None) -> None:
        import httpx

        headers: dict[bytes, bytes] = {b"user-agent": b"rltrack-remote"}
        if api_key:
            headers[b"authorization"] = _bearer(api_key)
        self.url = url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.url,
            headers=headers,
            timeout=httpx.Timeout(TIMEOUT_S, connect=CONNECT_TIMEOUT_S),
            transport=transport,
        )

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        import httpx

        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as err:
            raise Unreachable(f"rltrack server {self.url!r} is unreachable ({type(err).__name__}: {err})") from err
        status = response.status_code
        if status in AWAY_STATUSES:
            raise Unreachable(f"rltrack server {self.url!r} answered {status}: {response.text[:200]}")
        if status >= 500:
            raise ServerError(
                f"rltrack server {self.url!r} failed on {method} {path} ({status}): {response.text[:200]}",
                status,
                response.text[:500],
            )
        try:
            body = response.json()
        except ValueError:
            body = {"detail": response.text[:500]}
        if status >= 400:
            detail = body.get("detail", body) if isinstance(body, dict) else body
            message = detail.get("message", detail) if isinstance(detail, dict) else detail
            raise Rejected(
                f"rltrack server {self.url!r} refused {method} {path} ({response.status_code}): {message}",
                status,
                detail,
            )
        return body

    def send(self, batches: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """Post batches; return ``{"applied", "duplicates"}``."""
        import json

        content = json.dumps({"batches": list(batches)}, separators=(",", ":"), allow_nan=True).encode()
        result: dict[str, Any] = self._call(
            "POST", "/api/ingest/batches", content=content, headers={"content-type": "application/json"}
        )
        return result

    def upload(self, run_id: str, relative: str, path: Path) -> None:
        """Upload one file of a run's folder (idempotent: it replaces the server's copy).

        The file is streamed, never held whole in memory, with its sha256 in ``x-rltrack-sha256`` so a
        server that stores it by content (``--blobs s3://...``) refuses a copy damaged on the way.
        """
        self.put_file(f"/api/ingest/files/{quote(run_id, safe='')}/{quote(relative, safe='/')}", path)

    def probe(self, run_id: str, relative: str) -> tuple[int, str | None] | None:
        """Return the size and sha256 (None when the server does not say) of a run file, None when it has none.

        Asks for one byte (``Range: bytes=0-0``) and reads no body beyond it. A server that keeps run
        files by content (``--blobs``) names the sha256 in its ``etag``.

        Raises:
            Unreachable, Rejected: as :meth:`send`.
        """
        import httpx

        url = f"/api/runs/{quote(run_id, safe='')}/files/{quote(relative, safe='/')}"
        try:
            with self._http.stream("GET", url, headers={"range": "bytes=0-0"}) as response:
                status, headers = response.status_code, response.headers
                text = ""
                if status >= 400 and status not in (404, 416):
                    text = _head_of(response)
        except httpx.HTTPError as err:
            raise Unreachable(f"rltrack server {self.url!r} is unreachable ({type(err).__name__}: {err})") from err
        if status == 404:
            return None
        match = _SHA256.match(headers.get("etag", ""))
        digest = match.group(1) if match else None
        if status == 416:  # an empty file has no first byte
            return 0, digest
        if status in (200, 206):
            total = headers.get("content-range", "").rpartition("/")[2] if status == 206 else ""
            size = total or headers.get("content-length", "")
            return (int(size), digest) if size.isdigit() else (-1, digest)
        if status in AWAY_STATUSES:
            raise Unreachable(f"rltrack server {self.url!r} answered {status}: {text[:200]}")
        if status >= 500:
            raise ServerError(f"rltrack server {self.url!r} failed on GET {url} ({status}): {text[:200]}",
                              status, text[:500])
        raise Rejected(f"rltrack server {self.url!r} refused GET {url} ({status}): {text[:200]}", status, text[:500])

    def put_file(self, url_path: str, path: Path) -> Any:
        """PUT a file's bytes (streamed, with its size and sha256 in the headers); return the JSON answer."""
        import hashlib

        digest = hashlib.sha256()
        with open(path, "rb") as f:
            while block := f.read(1 << 20):
                digest.update(block)
            size = f.tell()
            f.seek(0)
            headers = {"content-length": str(size), "x-rltrack-sha256": digest.hexdigest(),
                       "content-type": "application/octet-stream"}
            try:
                return self._call("PUT", url_path, content=_blocks(f), headers=headers)
            except Rejected as err:
                if err.status != 413 or "--max-upload-mb" in str(err):
                    raise
                raise Rejected(f"{err}; the file is {size} bytes: start the server with a larger --max-upload-mb",
                               err.status, err.body) from err

    def get(self, path: str, **params: Any) -> Any:
        """GET a JSON answer."""
        return self._call("GET", path, params=params)

    def post(self, path: str, body: dict[str, Any]) -> Any:
        """POST a JSON body."""
        return self._call("POST", path, json=body)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()


def _head_of(response: Any, limit: int = 1000) -> str:
    """Return the first ``limit`` bytes of a streamed answer's body as text (an error page may be endless)."""
    head = b""
    for block in response.iter_bytes():
        head += block
        if len(head) >= limit:
            break
    return head[:limit].decode("utf-8", "replace")


def _blocks(f: Any) -> Any:
    while block := f.read(1 << 20):
        yield block


def media_files(run_dir: Path, relative: str, kind: object, meta: object) -> list[str]:
    """Return the run-relative paths a media row needs on a server: its own file and, for a table, its cells.

    A table's image, video and histogram cells are files beside the table file; the table's meta
    lists them (:func:`rltrack.media.table.table_cell_files` reads an older table file instead).
    Only paths :func:`rltrack.validate.check_media_path` accepts are returned: a row's meta is data,
    and a name in it must never reach outside the run's folder.
    """
    from rltrack.media.table import table_cell_files
    from rltrack.validate import check_media_path

    out = [relative]
    if kind == "table":
        folder = relative.rpartition("/")[0]
        try:
            names = table_cell_files(run_dir / check_media_path(relative), meta if isinstance(meta, dict) else None)
        except Exception:  # an unreadable table: the server says so where it draws it; its own file still goes
            names = []
        out += [f"{folder}/{name}" if folder else name for name in names]
    valid = []
    for path in dict.fromkeys(out):
        try:
            valid.append(check_media_path(path))
        except RltrackError:
            continue  # the server would refuse the name too; the row itself says which file it lacks
    return valid


def saved_files(metadata: object) -> list[str]:
    """Return the saved files (``files/...``, ``code/...``) a write's run metadata names (``save()``, ``save_code``)."""
    from rltrack.validate import check_media_path

    if not isinstance(metadata, dict):
        return []
    named = metadata.get("files")
    paths = [p for p in named if isinstance(p, str)] if isinstance(named, list) else []
    if isinstance(metadata.get("code"), str):
        paths.append(metadata["code"])
    out = []
    for path in dict.fromkeys(paths):
        try:
            if path.partition("/")[0] in SAVED_FOLDERS:
                out.append(check_media_path(path))
        except RltrackError:
            continue
    return out


def upload_media(
    client: IngestClient, root: Path, batch: dict[str, Any], uploaded: dict[Path, tuple[int, int, int]] | None = None,
) -> list[Path]:
    """Upload every file a spooled batch depends on, from ``<root>/runs/<run_id>/``; return those missing.

    That is each media row's file, a table's cell files (:func:`media_files`), and the saved files
    its run metadata names (:func:`saved_files`: ``save()`` and ``save_code``; a ``"live"`` file is
    named again at finish, so its last content is sent then). Uploads replace the server's copy:
    a batch sent again uploads again and stores nothing twice.

    Args:
        client: The server's connection.
        root: The spool folder (run folders are under ``runs/``).
        batch: A spooled batch (its ``media`` rows and ``metadata``).
        uploaded: What this process uploaded: path -> (size, mtime_ns, inode) as it was then. A file
            unchanged since is not sent again (every ``save()`` names all the run's saved files, and
            checkpoints saved each epoch must not be sent each epoch); filled in as files go.

    Raises:
        Unreachable, Rejected: as :meth:`IngestClient.upload`.
    """
    from rltrack.validate import check_run_id

    missing: list[Path] = []
    run_id = batch.get("run_id")
    if not isinstance(run_id, str):
        return missing
    try:
        run_dir = root / "runs" / check_run_id(run_id)
    except RltrackError:
        return missing  # the server refuses the batch and says why
    media = batch.get("media")
    needed: list[str] = []
    for m in media if isinstance(media, list) else ():
        relative = m.get("path") if isinstance(m, dict) else None
        if not isinstance(relative, str):
            continue  # a malformed row: the server refuses the batch and says why
        needed += media_files(run_dir, relative, m.get("kind"), m.get("meta"))
    needed += saved_files(batch.get("metadata"))
    for relative in dict.fromkeys(needed):
        local = run_dir / relative
        try:
            st = local.stat()
            version = (st.st_size, st.st_mtime_ns, st.st_ino)  # taken before: a change during the upload is sent later
            if uploaded is not None and uploaded.get(local) == version:
                continue
            client.upload(run_id, relative, local)
        except OSError:
            missing.append(local)  # gone since it was logged: the row is sent without its file
            continue
        if uploaded is not None:
            uploaded[local] = version
    return missing
