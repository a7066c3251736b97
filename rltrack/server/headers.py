"""Security headers on every response: a Content-Security-Policy without inline script, ``nosniff``, no referrer.

A route may set its own ``Content-Security-Policy`` (a run's uploaded files get a ``sandbox`` one);
the middleware only adds the headers a response does not already carry. No other site may frame
the dashboard (clickjacking), except the loopback notebook server of ``rltrack.show()``, which
Jupyter shows in an iframe (:data:`NOTEBOOK_FRAME_ANCESTORS`).

A 405 names in ``Allow`` every method the URL takes: Starlette names only those of the first route
whose path matches, so ``OPTIONS /api/projects/p/dashboards/d`` answered ``Allow: GET`` although the
URL also takes ``PUT`` and ``DELETE`` (routes of one path are separate routes).
"""

from __future__ import annotations

from typing import Any

from starlette.routing import Match

from rltrack.server.security import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CSP", "NOTEBOOK_FRAME_ANCESTORS", "SANDBOX_CSP", "SECURITY_HEADERS", "HeadersMiddleware",
           "allowed_methods", "security_headers"]

#: The dashboard's policy: scripts only from this origin (no inline script, no eval); plotly sets
#: inline styles, so styles may be inline; media may come from blob: URLs the pages create.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
#: For files a writer uploaded: even if a browser renders one, it runs in an opaque origin with no script.
SANDBOX_CSP = "sandbox; default-src 'none'; img-src 'self' data:; media-src 'self'; style-src 'unsafe-inline'"

#: Pages that may frame the notebook server's dashboard: Jupyter on this machine, VS Code notebooks.
NOTEBOOK_FRAME_ANCESTORS = (
    "http://localhost:* http://127.0.0.1:* https://localhost:* https://127.0.0.1:* vscode-webview:"
)


def security_headers(frame_ancestors: str = "'none'") -> tuple[tuple[bytes, bytes], ...]:
    """Return the headers every answer carries; ``frame_ancestors`` names who may frame the pages."""
    csp = CSP.replace("frame-ancestors 'none'", f"frame-ancestors {frame_ancestors}")
    headers = [
        (b"content-security-policy", csp.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
    ]
    if frame_ancestors == "'none'":
        # X-Frame-Options cannot name origins: send it only when nobody may frame the pages.
        headers += [(b"x-frame-options", b"DENY"), (b"cross-origin-opener-policy", b"same-origin")]
    return tuple(headers)


SECURITY_HEADERS = security_headers()


class HeadersMiddleware:
    """Add :func:`security_headers` to every HTTP response that does not set them itself."""

    def __init__(self, app: ASGIApp, frame_ancestors: str = "'none'") -> None:
        self.app = app
        self.headers = security_headers(frame_ancestors)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Hand the request on; add the headers to the response's start message."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                if message.get("status") == 405:
                    allowed = allowed_methods(scope)
                    if allowed:
                        headers = [(n, v) for n, v in headers if n.lower() != b"allow"]
                        headers.append((b"allow", ", ".join(allowed).encode()))
                present = {name.lower() for name, _ in headers}
                headers.extend((name, value) for name, value in self.headers if name not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(scope: Scope) -> list[str]:
    """Return the methods the request's URL takes (asked of every route of the app, included routers too)."""
    router: Any = getattr(scope.get("app"), "router", None)
    if router is None:
        return []
    allowed = []
    for method in _METHODS:
        probe = {**scope, "method": method}
        if any(route.matches(probe)[0] == Match.FULL for route in router.routes):
            allowed.append(method)
    return allowed
