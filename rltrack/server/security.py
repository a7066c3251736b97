"""Who may read and write, from which page, and how large a request may be: an ASGI middleware in front of every route.

The rules, in the order they are checked:

1. ``Origin``, when a browser sends one, must be the server's own (the same host and port as
   ``Host``, or an allowed host): another site's page cannot make the browser write (CSRF).
2. ``Host`` must name this server (``localhost``, an IP address, this machine's host name, the bind
   address or an ``--allowed-host``) unless the request carries a valid token. A DNS-rebinding
   page reaches a loopback or LAN server under its own name (``evil.example``) and has no token,
   so it is refused here; a remote writer with a token may use any name for the server.
3. Tokens. With a token file every request needs ``Authorization: Bearer <token>``, loopback
   included, unless ``trust_loopback`` (or ``public_read`` for reads) says otherwise; a wrong
   token is refused everywhere (403). Without a token file loopback clients may do everything and
   others may only read (``public_read``). Loopback is decided by :mod:`ipaddress` on the peer's
   address, or on ``X-Forwarded-For`` only when the peer is a configured trusted proxy; a request
   that says it was forwarded (``X-Forwarded-For``, ``Forwarded``, ``X-Real-IP``) through a proxy
   nobody configured is never loopback, whatever its peer.
With accounts (users in the store's accounts database) step 3 changes: see
:mod:`rltrack.server.accounts.gate`, which names the caller of every request (``request.state.principal``).

4. Bodies: ``POST``/``PATCH`` need ``Content-Type: application/json`` (415: an HTML form cannot send
   it); a body over the limit is refused before it is read (413). The limit is ``max_body_bytes`` for
   JSON and ``max_upload_bytes`` for uploads (``PUT`` of a run file or an artifact blob: :func:`is_upload`).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import socket
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from rltrack.errors import RltrackError

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_UPLOAD_BYTES",
    "AccessControl",
    "GuardMiddleware",
    "Identify",
    "Refusal",
    "bearer_token",
    "client_address",
    "header",
    "is_loopback",
    "is_upload",
    "read_tokens",
    "reply",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
#: Why a request is refused: ``(status, message)`` or ``(status, message, extra headers)``.
Refusal = tuple[int, str] | tuple[int, str, tuple[tuple[bytes, bytes], ...]]
#: Names the caller of a request (an object for ``request.state.principal``) or refuses it.
Identify = Callable[[Scope], Awaitable[Any]]

#: Largest JSON body: an online run sends at most about 4 MiB of points per request and
#: ``rltrack sync`` 8 pieces of 100,000 points (19.2 MB, 25.6 MB as base64), so 32 MiB fits both
#: without letting one request eat the server's memory (a 190 MiB body is refused unread).
DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024
#: Largest upload (a run file such as a video, an artifact blob such as a checkpoint); streamed to disk.
DEFAULT_MAX_UPLOAD_BYTES = 1024 * 1024 * 1024

_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_JSON_METHODS = frozenset({"POST", "PATCH"})
#: ``PUT`` under these is an upload (a run file, an artifact blob): streamed to disk by its route, never parsed as
#: JSON, and limited by ``max_upload_bytes`` instead of ``max_body_bytes``.
_UPLOAD_PREFIXES = ("/api/ingest/files/", "/api/ingest/blobs/")
_LOOPBACK_NAMES = frozenset({"localhost"})
_FORWARDING_HEADERS = (b"x-forwarded-for", b"forwarded", b"x-real-ip")


def read_tokens(path: str | Path) -> frozenset[str]:
    """Return the tokens in a file (one per line; blank lines and ``#`` comments skipped).

    Raises:
        RltrackError: the file cannot be read or holds no token.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise RltrackError(f"cannot read the token file {str(path)!r}: {err.strerror}; pass an existing file") from err
    except UnicodeDecodeError as err:
        raise RltrackError(f"the token file {str(path)!r} is not UTF-8 text; write one token per line") from err
    tokens = frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))
    if not tokens:
        raise RltrackError(f"the token file {str(path)!r} holds no token; write one token per line")
    return tokens


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text.strip().removeprefix("[").removesuffix("]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # ::ffff:127.0.0.1 is IPv4 loopback seen through an IPv6 socket
    return address


def is_loopback(address: str) -> bool:
    """Return whether ``address`` is an IP address on the loopback network (``127.0.0.0/8``, ``::1``).

    Only IP addresses count: ``localhost.evil.example``, ``127.evil.example`` or ``::1abc:1`` are not loopback.
    """
    ip = _ip(address)
    return ip is not None and ip.is_loopback


def _parse_networks(proxies: Iterable[str]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    networks = []
    for proxy in proxies:
        try:
            networks.append(ipaddress.ip_network(proxy.strip(), strict=False))
        except ValueError as err:
            raise RltrackError(
                f"trusted proxy {proxy!r} is not an IP address or network; pass one like 127.0.0.1 or 10.0.0.0/8"
            ) from err
    return tuple(networks)


def _headers(scope: Scope, name: bytes) -> list[bytes]:
    return [value for key, value in scope.get("headers", ()) if key == name]


def client_address(scope: Scope, trusted_proxies: Iterable[str] = ()) -> str:
    """Return the address of the client behind a request.

    ``X-Forwarded-For`` is read only when the peer is one of ``trusted_proxies``: then the client is
    the right-most address in it that is not itself a trusted proxy (a client can prepend anything).
    """
    client = scope.get("client")
    peer = str(client[0]) if client else ""
    networks = _parse_networks(trusted_proxies)
    if not networks or not _in(peer, networks):
        return peer
    hops = [hop.strip() for value in _headers(scope, b"x-forwarded-for") for hop in value.decode("latin-1").split(",")]
    hops = [hop for hop in hops if hop]
    for hop in reversed(hops):
        if not _in(hop, networks):
            return hop
    return hops[0] if hops else peer


def _in(address: str, networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]) -> bool:
    ip = _ip(address)
    return ip is not None and any(ip.version == n.version and ip in n for n in networks)


@cache
def _this_host() -> frozenset[str]:
    # gethostname() only: getfqdn() asks DNS, which can stall for seconds on an offline robot.
    name = socket.gethostname().lower()
    return frozenset({name} if name else ())


def _host_name(netloc: str) -> str:
    """Return the host part of ``host[:port]`` / ``[v6]:port``, lower-cased."""
    netloc = netloc.strip().lower()
    if netloc.startswith("["):
        return netloc[1 : netloc.find("]")] if "]" in netloc else netloc
    return netloc.rsplit(":", 1)[0] if netloc.count(":") == 1 else netloc


@dataclass(frozen=True)
class AccessControl:
    """Who may read and write, from which hosts, and how large a request body may be.

    Attributes:
        tokens: Accepted bearer tokens; empty: no token, loopback writes and (``public_read``) reads.
        public_read: Let clients without a token read (GET/HEAD); writes always need a token or loopback.
        trust_loopback: With tokens, let loopback clients in without one (the pre-token behaviour; off by
            default because a reverse proxy on the same host makes every client look like loopback).
        trusted_proxies: Addresses or networks of reverse proxies whose ``X-Forwarded-For`` is believed.
        allowed_hosts: Extra ``Host``/``Origin`` names this server answers to (``*``: any).
        max_body_bytes: Largest JSON request body.
        max_upload_bytes: Largest upload: a run file or an artifact blob (``PUT /api/ingest/files/...``,
            ``PUT /api/ingest/blobs/...``).
    """

    tokens: frozenset[str] = field(default_factory=frozenset)
    public_read: bool = True
    trust_loopback: bool = False
    trusted_proxies: tuple[str, ...] = ()
    allowed_hosts: frozenset[str] = field(default_factory=frozenset)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES

    def __post_init__(self) -> None:
        _parse_networks(self.trusted_proxies)  # fail at start, not at the first request

    def host_allowed(self, host: str) -> bool:
        """Return whether ``host`` (a ``Host`` header's name, no port) names this server."""
        host = host.lower().rstrip(".")
        allowed = {h.lower() for h in self.allowed_hosts}
        return (
            "*" in allowed or host in allowed or host in _LOOPBACK_NAMES or _ip(host) is not None
            or host in _this_host()
        )

    def check(self, scope: Scope) -> tuple[int, str] | None:
        """Return ``(status, message)`` when the request must be refused, else None."""
        refused = self.check_origin(scope)
        if refused is not None:
            return refused
        token = bearer_token(scope)
        if self.tokens and token is not None:
            if self.token_matches(token):
                return None  # a rebinding page cannot know a token: any Host name will do
            return 403, "wrong token: use one listed in the server's --token-file"
        # Let in by network position (loopback, public reads) only under this server's own names.
        refused = self.check_host(scope)
        if refused is not None:
            return refused
        return self._check_network(scope)

    def token_matches(self, token: bytes) -> bool:
        """Return whether ``token`` is one of the ``--token-file`` tokens (compared in constant time)."""
        return any(hmac.compare_digest(token, t.encode("utf-8")) for t in self.tokens)

    def check_host(self, scope: Scope) -> tuple[int, str] | None:
        """Return a 400 when ``Host`` does not name this server (DNS rebinding), else None."""
        host = _host_header(scope)
        if host and not self.host_allowed(_host_name(host)):
            return 400, (
                f"Host {host!r} is not a name of this server; add it with --allowed-host if clients "
                "reach the server under that name"
            )
        return None

    def check_origin(self, scope: Scope) -> tuple[int, str] | None:
        """Return a 403 when a browser sends an ``Origin`` that is not this server's, else None."""
        host = _host_header(scope)
        for value in _headers(scope, b"origin"):
            origin = value.decode("latin-1")
            parts = urlsplit(origin)
            same = bool(parts.netloc) and parts.netloc.lower() == host.lower()
            allowed = bool(parts.hostname) and (parts.hostname or "").lower() in {h.lower() for h in self.allowed_hosts}
            if not (same or allowed or "*" in self.allowed_hosts):
                return 403, f"cross-origin request from {origin!r} refused: only this server's own pages may call it"
        return None

    def is_local(self, scope: Scope) -> bool:
        """Return whether the request comes from a loopback client (see the module's rules)."""
        if not any(_headers(scope, name) for name in _FORWARDING_HEADERS):
            return is_loopback(client_address(scope, self.trusted_proxies))
        if not self.from_trusted_proxy(scope):
            return False  # forwarded by a proxy on this host that nobody declared: the client is elsewhere
        if not any(hop.strip() for value in _headers(scope, b"x-forwarded-for") for hop in value.split(b",")):
            # Forwarded by a trusted proxy that names the client only in a header this server does not read
            # (Forwarded, X-Real-IP) or names nobody: the client is not the proxy's own loopback address.
            return False
        return is_loopback(client_address(scope, self.trusted_proxies))

    def from_trusted_proxy(self, scope: Scope) -> bool:
        """Return whether the request's peer is one of the configured reverse proxies."""
        client = scope.get("client")
        networks = _parse_networks(self.trusted_proxies)
        return client is not None and bool(networks) and _in(str(client[0]), networks)

    def _check_network(self, scope: Scope) -> tuple[int, str] | None:
        method = str(scope.get("method", "GET"))
        writing = method in _WRITE_METHODS or str(scope.get("path", "")).startswith("/api/ingest")
        if not self.tokens:
            if self.is_local(scope) or (not writing and self.public_read):
                return None
            return 403, "this server accepts no token: writes and private reads are only allowed from loopback"
        if not writing and self.public_read:
            return None
        if self.trust_loopback and self.is_local(scope):
            return None
        return 401, "missing token: send 'Authorization: Bearer <token>' (see rltrack server --token-file)"


def _host_header(scope: Scope) -> str:
    hosts = _headers(scope, b"host")
    return hosts[0].decode("latin-1") if hosts else ""


def header(scope: Scope, name: bytes) -> bytes | None:
    """Return the first value of a request header (``name`` lower-case), or None."""
    values = _headers(scope, name)
    return values[0] if values else None


def bearer_token(scope: Scope) -> bytes | None:
    """Return the token of ``Authorization: Bearer ...``, or None."""
    # Compared as bytes: a token with non-ASCII bytes is just a wrong token, never an error.
    for value in _headers(scope, b"authorization"):
        if value[:7].lower() == b"bearer ":
            return value[7:].strip()
    return None


def is_upload(method: str, path: str) -> bool:
    """Return whether a request uploads a file (limited by ``max_upload_bytes``, not ``max_body_bytes``)."""
    return method == "PUT" and path.startswith(_UPLOAD_PREFIXES)


def _content_type(scope: Scope) -> str:
    values = _headers(scope, b"content-type")
    return values[0].decode("latin-1").split(";", 1)[0].strip().lower() if values else ""


def _holds_nul(scope: Scope) -> bool:
    query = bytes(scope.get("query_string", b"")).lower()
    return "\x00" in str(scope.get("path", "")) or b"%00" in query or b"\x00" in query


class _TooLarge(Exception):
    pass


class GuardMiddleware:
    """Refuse bad hosts, origins, tokens, content types and oversized bodies before any route runs."""

    def __init__(self, app: ASGIApp, access: AccessControl, identify: Identify | None = None) -> None:
        self.app = app
        self.access = access
        self.identify = identify

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the request, then hand it on with a receive that stops at the size limit."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.identify is None:
            refused: Any = self.access.check(scope)
        else:
            who = await self.identify(scope)
            refused = who if isinstance(who, tuple) else None
            if refused is None:
                scope.setdefault("state", {})["principal"] = who  # request.state.principal
        if refused is not None:
            await reply(send, *refused)
            return
        if _holds_nul(scope):
            # No run id, key, project or filter holds NUL (check_text refuses control characters), and
            # PostgreSQL cannot even compare a text with one: refuse it here, once, for every route.
            await reply(send, 400, "the URL holds a NUL character (%00); no name or filter can contain one")
            return
        path = str(scope.get("path", ""))
        upload = is_upload(str(scope.get("method", "")), path)
        if scope.get("method") in _JSON_METHODS and _content_type(scope) != "application/json":
            await reply(send, 415, "send the request body as JSON with 'Content-Type: application/json'")
            return
        limit = self.access.max_upload_bytes if upload else self.access.max_body_bytes
        for value in _headers(scope, b"content-length"):
            if not value.isdigit():
                await reply(send, 400, "Content-Length must be a number of bytes")
                return
            if int(value) > limit:
                await reply(send, 413, f"request body of {int(value)} bytes is over the limit of {limit} bytes")
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
                await reply(send, 413, f"request body is over the limit of {limit} bytes")


async def reply(send: Send, status: int, message: str, headers: Iterable[tuple[bytes, bytes]] = ()) -> None:
    """Send a ``{"detail": message}`` JSON response (the one error shape of the API)."""
    body = json.dumps({"detail": message}).encode()
    head = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers]
    if status == 401:
        head.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body})
