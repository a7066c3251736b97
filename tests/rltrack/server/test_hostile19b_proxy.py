"""Issue 19 audit: uvicorn believed ``X-Forwarded-*`` from 127.0.0.1 although no ``--trusted-proxy`` was given.

uvicorn's ``proxy_headers`` (on by default, trusting 127.0.0.1) rewrote the peer address and the scheme
before the app saw the request: a local process could claim https (the session cookie became
``Secure``) or a new address per request (the login limit per address never filled). The server
starts uvicorn with ``proxy_headers=False`` (``serve._config``: foreground, ``--workers`` and background
servers alike), so ``--trusted-proxy`` is the only authority. Against real servers on loopback.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rltrack.server import ServerSettings
from rltrack.server.accounts import open_accounts
from rltrack.server.accounts.ratelimit import PER_ADDRESS
from rltrack.server.security import AccessControl
from rltrack.server.serve import BackgroundServer, _config

TOKEN = "proxy19b-token"
PASSWORD = "correct horse battery staple"


def test_every_uvicorn_the_server_starts_ignores_proxy_headers() -> None:
    for options in ({}, {"factory": True, "workers": 2}):
        assert _config("rltrack.server.serve:app_from_environment", "warning", **options).proxy_headers is False


def test_without_trusted_proxy_a_forwarded_loopback_request_needs_the_token(tmp_path: Path) -> None:
    access = AccessControl(tokens=frozenset({TOKEN}), public_read=False, trust_loopback=True)
    with BackgroundServer(ServerSettings(root=tmp_path / "srv", ingest=True, access=access)) as server, \
            httpx.Client(base_url=server.url, timeout=30) as client:
        assert client.get("/api/projects").status_code == 200  # loopback, trusted, not forwarded
        loopback = {"x-forwarded-for": "127.0.0.1"}
        for headers in (loopback, {**loopback, "x-forwarded-proto": "https"}):
            answer = client.get("/api/projects", headers=headers)
            assert answer.status_code == 401, answer.text
            assert answer.json() == {"detail": "missing token: send 'Authorization: Bearer <token>' "
                                               "(see rltrack server --token-file)"}
            assert client.get("/api/projects", headers={**headers, "authorization": f"Bearer {TOKEN}"}).status_code \
                == 200


@pytest.fixture
def accounts_server(tmp_path: Path) -> Iterator[httpx.Client]:
    open_accounts(tmp_path / "srv").create_user("ada", PASSWORD)
    with BackgroundServer(ServerSettings(root=tmp_path / "srv", ingest=True)) as server, \
            httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def test_a_local_client_cannot_claim_https(accounts_server: httpx.Client) -> None:
    forwarded = {"x-forwarded-proto": "https", "x-forwarded-for": "127.0.0.1"}
    answer = accounts_server.post("/api/auth/login", headers=forwarded, json={"user": "ada", "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    cookies = answer.headers.get_list("set-cookie")
    assert len(cookies) == 2 and not any("secure" in c.lower() for c in cookies), cookies  # was Secure: https believed


def test_a_local_client_cannot_claim_another_address(accounts_server: httpx.Client) -> None:
    # Each failed login names a new client in X-Forwarded-For (and a new user, below the per-user limit):
    # the server counts them all against the real peer, 127.0.0.1.
    answers = [
        accounts_server.post("/api/auth/login", headers={"x-forwarded-for": f"203.0.113.{i}"},
                             json={"user": f"nobody{i}", "password": "wrong"}).status_code
        for i in range(PER_ADDRESS + 1)
    ]
    assert answers == [401] * PER_ADDRESS + [429]  # was 401 every time: each request came from a new address
