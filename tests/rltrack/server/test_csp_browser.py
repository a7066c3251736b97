"""Every dashboard page under the Content-Security-Policy in chromium: nothing refused, no failed request.

The CSP forbids inline script; a page that still had an inline ``<script>`` or an ``onclick=``
would lose it silently, so this walks every page and fails on any CSP report, console error or
answer of 400 and above (the favicon included).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from rltrack.server import ServerSettings
from rltrack.server.serve import BackgroundServer

pytestmark = pytest.mark.browser



@pytest.fixture(scope="module")
def server(filled: Any) -> Iterator[BackgroundServer]:
    with BackgroundServer(ServerSettings(root=filled.root)) as s:
        yield s


@pytest.fixture(scope="module")
def context(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    yield ctx
    ctx.close()


def pages(filled: Any) -> list[str]:
    return [
        "/", "/projects/cartpole", "/projects/cartpole/runs", f"/runs/{filled.alpha}", f"/runs/{filled.robot}",
        f"/compare?runs={filled.alpha},{filled.beta}&key=train/loss",
    ]


def test_every_page_runs_under_the_csp(context: Any, server: BackgroundServer, filled: Any) -> None:
    for path in pages(filled):
        page = context.new_page()
        problems: list[str] = []
        page.on("console", lambda m, out=problems: out.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e, out=problems: out.append(str(e)))
        page.on("response", lambda r, out=problems: out.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        page.add_init_script(
            "document.addEventListener('securitypolicyviolation', e => console.error('CSP refused ' +"
            " e.violatedDirective + ' ' + e.blockedURI))"
        )
        response = page.goto(f"{server.url}{path}", wait_until="networkidle")
        assert response is not None and response.status == 200
        assert "script-src 'self'" in response.headers["content-security-policy"]
        assert problems == [], path
        page.close()


def test_the_favicon_is_served(context: Any, server: BackgroundServer) -> None:
    response = context.request.get(f"{server.url}/favicon.ico")
    assert response.status == 200 and response.headers["content-type"] == "image/x-icon"
