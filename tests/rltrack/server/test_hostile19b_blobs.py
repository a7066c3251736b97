"""Issue 19 audit: ``PUT /api/ingest/blobs/{digest}`` overlapped ``/api/ingest/blobs/missing``.

``Allow`` on ``/missing`` said ``POST, PUT`` (a PUT there only answered "'missing' is not a sha256
digest"); the digest segment now never matches ``missing``. Against a real server; ``rltrack sync``'s
blob calls (POST /missing, PUT /{sha256}) keep working.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import httpx
import pytest

from rltrack.server import ServerSettings
from rltrack.server.serve import BackgroundServer


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    with BackgroundServer(ServerSettings(root=tmp_path_factory.mktemp("blobs19b") / "srv", ingest=True)) as s, \
            httpx.Client(base_url=s.url + "/api/ingest/blobs", timeout=30) as c:
        yield c


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_missing_allows_only_post(client: httpx.Client, method: str) -> None:
    answer = client.request(method, "/missing", content=b"x")
    assert answer.status_code == 405, answer.text
    assert answer.headers["allow"] == "POST"
    assert answer.json() == {"detail": "Method Not Allowed"}


def test_a_blob_upload_and_the_missing_query_still_work(client: httpx.Client) -> None:
    digest = hashlib.sha256(b"blob").hexdigest()
    assert client.post("/missing", json={"blobs": [{"sha256": digest, "size": 4}]}).json() == {"missing": [digest]}
    put = client.put(f"/{digest}", content=b"blob", headers={"content-type": "application/octet-stream"})
    assert put.status_code == 200 and put.json() == {"sha256": digest, "size": 4}
    assert client.post("/missing", json={"blobs": [{"sha256": digest, "size": 4}]}).json() == {"missing": []}
    assert client.request("OPTIONS", f"/{digest}").headers["allow"] == "PUT"


def test_a_put_to_a_name_that_is_no_digest_still_says_why(client: httpx.Client) -> None:
    answer = client.put("/xyz", content=b"x")
    assert answer.status_code == 400
    assert answer.json() == {"detail": "'xyz' is not a sha256 digest (64 lowercase hex characters)"}
