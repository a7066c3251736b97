"""HTTP calls to an rltrack server's ingest endpoints (httpx)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rltrack.errors import RltrackError

__all__ = ["IngestClient", "Rejected", "Unreachable"]

#: Seconds a request may take before the server counts as unreachable.
TIMEOUT_S = 10.0
#: Seconds to wait for a connection (short: ``init()`` may try one request while the network is down).
CONNECT_TIMEOUT_S = 3.0


class Unreachable(RltrackError):
    """The server did not answer (network down, refused, timed out, 5xx): retry later."""


class Rejected(RltrackError):
    """The server refused a request for good (4xx); ``body`` is its JSON answer."""

    def __init__(self, message: str, status: int, body: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


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
        if response.status_code >= 500:
            raise Unreachable(f"rltrack server {self.url!r} answered {response.status_code}: {response.text[:200]}")
        try:
            body = response.json()
        except ValueError:
            body = {"detail": response.text[:500]}
        if response.status_code >= 400:
            detail = body.get("detail", body) if isinstance(body, dict) else body
            message = detail.get("message", detail) if isinstance(detail, dict) else detail
            raise Rejected(
                f"rltrack server {self.url!r} refused {method} {path} ({response.status_code}): {message}",
                response.status_code,
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
        """Upload one file of a run's folder (idempotent: it replaces the server's copy)."""
        with open(path, "rb") as f:
            self._call("PUT", f"/api/ingest/files/{run_id}/{relative}", content=f.read())

    def get(self, path: str, **params: Any) -> Any:
        """GET a JSON answer."""
        return self._call("GET", path, params=params)

    def post(self, path: str, body: dict[str, Any]) -> Any:
        """POST a JSON body."""
        return self._call("POST", path, json=body)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()
