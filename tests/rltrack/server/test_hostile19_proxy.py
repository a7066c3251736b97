"""Issue 19 audit, finding 4: behind a trusted proxy, a request that names no client is not loopback.

With ``--trusted-proxy 127.0.0.1 --trust-loopback`` (a reverse proxy on the same host), a request the
proxy forwarded naming its client only in ``Forwarded`` or ``X-Real-IP`` (which the server does not
read), or in an empty ``X-Forwarded-For``, was taken as coming from the proxy's own loopback address
and let in without a token: every client of such a proxy could read and write.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rltrack.server import ServerSettings
from rltrack.server.security import AccessControl
from rltrack.server.serve import BackgroundServer

TOKEN = "proxy-token"


@pytest.fixture
def behind_proxy(tmp_path: Path) -> Iterator[httpx.Client]:
    access = AccessControl(tokens=frozenset({TOKEN}), public_read=False, trust_loopback=True,
                           trusted_proxies=("127.0.0.1",))
    with BackgroundServer(ServerSettings(root=tmp_path / "srv", ingest=True, access=access)) as s, \
            httpx.Client(base_url=s.url, timeout=30) as client:
        yield client


@pytest.mark.parametrize(
    "headers",
    [{"forwarded": "for=203.0.113.7"}, {"x-real-ip": "203.0.113.7"}, {"x-forwarded-for": ""},
     {"x-forwarded-for": ", ,"}, {"x-forwarded-for": "203.0.113.7"}, {"x-forwarded-for": "127.evil.example"}],
    ids=["Forwarded", "X-Real-IP", "empty XFF", "blank hops", "remote XFF", "name XFF"],
)
def test_a_forwarded_request_naming_no_loopback_client_needs_the_token(behind_proxy: httpx.Client,
                                                                        headers: dict[str, str]) -> None:
    for method, path in (("GET", "/api/projects"), ("POST", "/api/ingest/batches")):
        answer = behind_proxy.request(method, path, headers=headers, json={"batches": []})
        assert answer.status_code == 401, (method, headers, answer.text)
        with_token = behind_proxy.request(method, path, json={"batches": []},
                                          headers={**headers, "authorization": f"Bearer {TOKEN}"})
        assert with_token.status_code == 200, with_token.text


def test_the_proxys_own_loopback_clients_stay_trusted(behind_proxy: httpx.Client) -> None:
    assert behind_proxy.get("/api/projects").status_code == 200  # on this host, not through the proxy
    assert behind_proxy.get("/api/projects", headers={"x-forwarded-for": "127.0.0.1"}).status_code == 200


def test_the_rule_without_a_server_in_front() -> None:
    # The same decisions on a bare ASGI scope (no uvicorn rewriting the peer from X-Forwarded-For).
    access = AccessControl(tokens=frozenset({TOKEN}), trust_loopback=True, trusted_proxies=("10.0.0.5",))

    def local(peer: str, *headers: tuple[bytes, bytes]) -> bool:
        return access.is_local({"type": "http", "client": (peer, 1), "headers": list(headers)})

    assert local("127.0.0.1")
    assert not local("127.0.0.1", (b"x-forwarded-for", b"203.0.113.7"))  # an undeclared proxy on this host
    assert not local("10.0.0.5", (b"x-real-ip", b"127.0.0.1"))  # the trusted proxy names nobody we read
    assert not local("10.0.0.5")  # the proxy itself is not on loopback
    assert local("10.0.0.5", (b"x-forwarded-for", b"127.0.0.1"))  # a client on the proxy's host
    assert not local("10.0.0.5", (b"x-forwarded-for", b"127.0.0.1, 203.0.113.7"))  # the right-most hop counts
