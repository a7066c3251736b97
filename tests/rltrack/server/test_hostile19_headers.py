"""Issue 19 audit, finding 9: a 405 names in ``Allow`` every method its URL takes, on a real server.

Found by schemathesis (ST205) against ``rltrack server``: ``OPTIONS /api/projects/p/dashboards/d``
answered ``Allow: GET`` although the URL takes ``PUT`` and ``DELETE`` too (each method of one path
is a route of its own, and Starlette names the methods of the first one only).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rltrack.server import ServerSettings
from rltrack.server.serve import BackgroundServer


@pytest.fixture
def server(tmp_path: Path) -> Iterator[httpx.Client]:
    with BackgroundServer(ServerSettings(root=tmp_path / "srv", ingest=True)) as s, \
            httpx.Client(base_url=s.url, timeout=30) as client:
        yield client


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("OPTIONS", "/api/projects/p/dashboards/d", "GET, PUT, DELETE"),
        ("POST", "/api/projects/p/dashboards/d/shares/s", "DELETE"),
        ("OPTIONS", "/api/projects/p/dashboards/d/shares", "GET, POST"),
        ("DELETE", "/api/runs", "GET"),
        ("GET", "/api/ingest/batches", "POST"),
        ("DELETE", "/api/ingest/files/r1/media/a.png", "PUT"),
    ],
)
def test_a_405_allows_every_method_of_its_url(server: httpx.Client, method: str, path: str, allow: str) -> None:
    headers = {"content-type": "application/json"} if method == "POST" else {}
    answer = server.request(method, path, headers=headers, content=b"{}" if method == "POST" else None)
    assert answer.status_code == 405, answer.text
    assert answer.headers["allow"] == allow
    assert answer.json() == {"detail": "Method Not Allowed"}
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_every_documented_path_allows_exactly_its_documented_methods(server: httpx.Client) -> None:
    paths = server.get("/openapi.json").json()["paths"]

    def pattern(template: str) -> re.Pattern[str]:
        # A parameter is one path segment, except a file path (``{path}``), which may hold slashes; a blob's
        # digest is never ``missing`` (that URL is its own route).
        parts = re.split(r"(\{[^}]+\})", template)
        segment = {"{path}": "(.+)", "{digest}": "(?!missing$)([^/]+)"}
        return re.compile("".join(segment.get(p, "([^/]+)") if p.startswith("{") else re.escape(p)
                                  for p in parts) + "$")

    patterns = {template: pattern(template) for template in paths}
    checked = 0
    for template in paths:
        path = re.sub(r"\{[^}]+\}", "x", template)
        # Every method some documented route takes at this URL.
        documented = {m.upper() for t, ops in paths.items() if patterns[t].match(path) for m in ops}
        answer = server.request("OPTIONS", path)
        assert answer.status_code == 405, (template, answer.text)
        assert set(answer.headers["allow"].split(", ")) == documented, template
        checked += 1
    assert checked > 40  # the whole API, not a handful
