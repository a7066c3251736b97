"""Issue 19 audit: a dashboard body nested 100,000 deep was a 500 RecursionError; now a 422 naming the limit.

The dashboard routes parse their body with the ingest parser (``routes_ingest.parse_json``): at most
``MAX_DEPTH`` levels, strict UTF-8, every string valid Unicode. Against a real server on loopback.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from rltrack.server import ServerSettings
from rltrack.server.routes_ingest import MAX_DEPTH
from rltrack.server.serve import BackgroundServer

JSON = {"content-type": "application/json"}
DEPTH = f"the body is not JSON a dashboard can hold (request body is nested deeper than {MAX_DEPTH} levels); " \
        "send a JSON object"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    root = tmp_path_factory.mktemp("dash19b") / "srv"
    with BackgroundServer(ServerSettings(root=root, ingest=True)) as server, \
            httpx.Client(base_url=server.url + "/api/projects/p", timeout=60) as c:
        yield c


def _made(client: httpx.Client) -> dict[str, object]:
    made = client.post("/dashboards", json={"kind": "report", "name": "r", "blocks": []})
    assert made.status_code == 201, made.text
    return dict(made.json())


@pytest.mark.parametrize("levels", [100_000, MAX_DEPTH + 1])
def test_a_deeply_nested_body_is_422_naming_the_depth_limit(client: httpx.Client, levels: int) -> None:
    body = b"[" * levels + b"]" * levels
    created = client.post("/dashboards", content=body, headers=JSON)
    assert created.status_code == 422, created.text[:300]
    assert created.json() == {"detail": DEPTH}
    made = _made(client)
    inner = b'{"name": "x", "version": 1, "blocks": ' + b"[" * levels + b"]" * levels + b"}"
    saved = client.put(f"/dashboards/{made['id']}", content=inner, headers=JSON)
    assert saved.status_code == 422, saved.text[:300]
    assert saved.json() == {"detail": DEPTH}
    assert client.get(f"/dashboards/{made['id']}").json()["name"] == "r"  # nothing was saved


def test_a_body_within_the_depth_limit_reaches_the_dashboard_checks(client: httpx.Client) -> None:
    levels = MAX_DEPTH - 2
    body = b'{"kind": "report", "name": "x", "blocks": ' + b"[" * levels + b"]" * levels + b"}"
    answer = client.post("/dashboards", content=body, headers=JSON)
    assert answer.status_code == 400, answer.text  # the dashboard's own check of its blocks, not the parser
    assert "block" in answer.json()["detail"]


@pytest.mark.parametrize(("body", "words"), [
    (b'{"kind": "report", "name": "\\ud800"}', "request body holds a string"),
    (b"\xff\xfe{\x00}\x00", "request body is not valid UTF-8 JSON"),
    (b"{not json", "request body is not valid UTF-8 JSON"),
], ids=["lone surrogate", "UTF-16", "not JSON"])
def test_a_body_that_is_not_plain_json_is_422(client: httpx.Client, body: bytes, words: str) -> None:
    answer = client.post("/dashboards", content=body, headers=JSON)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"].startswith(f"the body is not JSON a dashboard can hold ({words}")
