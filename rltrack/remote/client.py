"""HTTP calls to an rltrack server's ingest endpoints (httpx)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rltrack.errors import RltrackError

__all__ = ["IngestClient", "Rejected", "ServerError", "Unreachable", "upload_media"]

#: Seconds a request may take before the server counts as unreachable.
TIMEOUT_S = 10.0
#: Seconds to wait for a connection (short: ``init()`` may try one request while the network is down).
CONNECT_TIMEOUT_S = 3.0
#: 5xx answers that say the server (or the proxy before it) is away or full, not that a request is bad.
AWAY_STATUSES = frozenset({502, 503, 504, 507})
#: 4xx answers that depend on the moment or the credentials, not on the request: retry later.
TRANSIENT_STATUSES = frozenset({401, 403, 408, 429})


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


class IngestClient:
    """A connection to one server; every method raises :class:`Unreachable` or :class:`Rejected`."""

    def __init__(self, url: str, api_key: str | None, *, transport: Any = None) -> None:
        import httpx

        headers = {"user-agent": "rltrack-remote"}
        if api_key:
            headers["authorization"] = f"Bearer {api_key}"
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
        self.put_file(f"/api/ingest/files/{run_id}/{relative}", path)

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
            return self._call("PUT", url_path, content=_blocks(f), headers=headers)

    def get(self, path: str, **params: Any) -> Any:
        """GET a JSON answer."""
        return self._call("GET", path, params=params)

    def post(self, path: str, body: dict[str, Any]) -> Any:
        """POST a JSON body."""
        return self._call("POST", path, json=body)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()


def _blocks(f: Any) -> Any:
    while block := f.read(1 << 20):
        yield block


def upload_media(client: IngestClient, root: Path, batch: dict[str, Any]) -> list[Path]:
    """Upload the files of a spooled batch's media rows from ``<root>/runs/<run_id>/``; return those missing.

    Raises:
        Unreachable, Rejected: as :meth:`IngestClient.upload`.
    """
    missing: list[Path] = []
    run_id = batch.get("run_id")
    media = batch.get("media")
    if not isinstance(run_id, str) or not isinstance(media, list):
        return missing
    for m in media:
        relative = m.get("path") if isinstance(m, dict) else None
        if not isinstance(relative, str):
            continue  # a malformed row: the server refuses the batch and says why
        local = root / "runs" / run_id / relative
        try:
            client.upload(run_id, relative, local)
        except OSError:
            missing.append(local)  # gone since it was logged: the row is sent without its file
    return missing
