"""Tokens and request-size limits: a pure ASGI middleware in front of every route.

Loopback clients are trusted (``rltrack ui`` only listens there). Any other client must send
``Authorization: Bearer <token>`` for writes (ingest) and, unless ``public_read``, for reads
too: no header gives 401, a wrong token 403.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rltrack.errors import RltrackError

__all__ = ["AccessControl", "read_tokens"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_LOOPBACK = ("127.", "::1", "localhost")
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def read_tokens(path: str | Path) -> frozenset[str]:
    """Return the tokens in a file (one per line; blank lines and ``#`` comments skipped).

    Raises:
        RltrackError: the file cannot be read or holds no token.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise RltrackError(f"cannot read the token file {str(path)!r}: {err.strerror}; pass an existing file") from err
    tokens = frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))
    if not tokens:
        raise RltrackError(f"the token file {str(path)!r} holds no token; write one token per line")
    return tokens


@dataclass(frozen=True)
class AccessControl:
    """Who may read and write, and how large a request body may be."""

    tokens: frozenset[str] = field(default_factory=frozenset)
    public_read: bool = True
    max_body_bytes: int = 256 * 1024 * 1024

    def check(self, scope: Scope) -> tuple[int, str] | None:
        """Return ``(status, message)`` when the request must be refused, else None."""
        client = scope.get("client")
        host = str(client[0]) if client else ""
        if host.startswith(_LOOPBACK):
            return None
        writing = scope.get("method", "GET") in _WRITE_METHODS or str(scope.get("path", "")).startswith("/api/ingest")
        if not writing and self.public_read:
            return None
        if not self.tokens:
            return 403, "this server accepts no token: writes and private reads are only allowed from loopback"
        token = _bearer(scope)
        if token is None:
            return 401, "missing token: send 'Authorization: Bearer <token>' (see rltrack server --token-file)"
        if not any(hmac.compare_digest(token, t) for t in self.tokens):
            return 403, "wrong token: use one listed in the server's --token-file"
        return None


def _bearer(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            text: str = value.decode("latin-1")
            if text.lower().startswith("bearer "):
                return text[7:].strip()
    return None


class _TooLarge(Exception):
    pass


class GuardMiddleware:
    """Refuse unauthorized requests and bodies larger than the limit before any route runs."""

    def __init__(self, app: ASGIApp, access: AccessControl) -> None:
        self.app = app
        self.access = access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check access and body size, then hand the request on."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refused = self.access.check(scope)
        if refused is not None:
            await _reply(send, *refused)
            return
        limit = self.access.max_body_bytes
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await _reply(send, 413, f"request body of {int(value)} bytes is over the limit of {limit} bytes")
                return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _TooLarge()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if not started:
                await _reply(send, 413, f"request body is over the limit of {limit} bytes")


async def _reply(send: Send, status: int, message: str) -> None:
    body = json.dumps({"detail": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
