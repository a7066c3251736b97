"""Who may read and write (issue 19, findings 4, 5 and 6 server side): tokens, loopback, proxies, Host, Origin, headers.

The permission tests walk every route of the app, so a route added later is covered without
editing this file.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fastapi.routing import APIRoute
from starlette.routing import Route

import rltrack
from rltrack.errors import RltrackError
from rltrack.remote import wire
from rltrack.server import ServerSettings, create_app
from rltrack.server.headers import CSP
from rltrack.server.security import AccessControl, client_address, is_loopback
from rltrack.server.serve import BackgroundServer
from rltrack.store.writer import NewRun, WriterInfo

if TYPE_CHECKING:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

TOKEN = "team-token"
SPOOFED_LOOPBACK = ["127.evil.example", "localhost.evil.example", "::1abc:1", "localhost", "127.0.0.1.evil.example"]


def create_batch(run_id: str, batch_id: str) -> dict[str, Any]:
    new = NewRun(id=run_id, project="p", name=run_id, group=None, job_type=None, notes=None, tags=(),
                 config={}, source="sim")
    who = WriterInfo(host=os.uname().nodename, pid=os.getpid(), pid_started_ns=0, now_ns=time.time_ns())
    return {"id": batch_id, "op": "create_run", "run": wire.new_run_to(new), "who": wire.who_to(who)}


def every_route(app: FastAPI) -> list[tuple[str, str]]:
    """Return (method, path) of every route, path parameters filled in (hidden pages included)."""
    out = []
    pending: list[Any] = list(app.routes)
    while pending:
        route = pending.pop()
        # FastAPI >= 0.16x keeps included routers as one route each (with the APIRouter inside).
        pending.extend(getattr(getattr(route, "original_router", None), "routes", ()))
        if isinstance(route, (APIRoute, Route)) and route.methods:
            path = re.sub(r"\{[^}]+\}", "x", route.path)
            out.extend((method, path) for method in sorted(route.methods) if method != "HEAD")
    return sorted(out)


def app_with(tmp_path: Path, **access: Any) -> FastAPI:
    return create_app(ServerSettings(root=tmp_path / "srv", ingest=True, access=AccessControl(**access)))


@pytest.fixture
def locked(tmp_path: Path, make_client: Callable[..., TestClient]) -> Iterator[TestClient]:
    """A server with a token file, public reads off; the client is on loopback."""
    with make_client(app_with(tmp_path, tokens=frozenset({TOKEN}), public_read=False)) as c:
        yield c


def test_with_a_token_file_loopback_needs_the_token_on_every_route(locked: TestClient) -> None:
    routes = every_route(locked.app)  # type: ignore[arg-type]
    assert len(routes) > 20 and ("PUT", "/api/ingest/files/x/x") in routes and ("GET", "/") in routes
    for method, path in routes:
        assert locked.request(method, path).status_code == 401, (method, path)
        wrong = {"authorization": "Bearer not-the-token"}
        assert locked.request(method, path, headers=wrong).status_code == 403, (method, path)
        non_ascii = {"authorization": "Bearer tökén".encode()}
        assert locked.request(method, path, headers=non_ascii).status_code == 403, (method, path)  # type: ignore[arg-type]
    assert locked.get("/api/projects", headers={"authorization": f"Bearer {TOKEN}"}).json() == []


def test_the_401_says_how_to_send_the_token(locked: TestClient) -> None:
    response = locked.get("/api/projects")
    assert response.json() == {
        "detail": "missing token: send 'Authorization: Bearer <token>' (see rltrack server --token-file)"}
    assert response.headers["www-authenticate"] == "Bearer"


def test_public_read_opens_reads_only_and_wrong_tokens_stay_refused(tmp_path: Path,
                                                                     make_client: Callable[..., TestClient]) -> None:
    with make_client(app_with(tmp_path, tokens=frozenset({TOKEN}), public_read=True)) as c:
        assert c.get("/api/projects").status_code == 200
        assert c.get("/api/projects", headers={"authorization": "Bearer wrong"}).status_code == 403
        assert c.post("/api/ingest/batches", json={"batches": []}).status_code == 401
        assert c.get("/api/ingest/count", params={"project": "p"}).status_code == 401


def test_trust_loopback_is_an_explicit_opt_out(tmp_path: Path, make_client: Callable[..., TestClient]) -> None:
    app = app_with(tmp_path, tokens=frozenset({TOKEN}), public_read=False, trust_loopback=True,
                   trusted_proxies=("127.0.0.1",))
    with make_client(app) as c:
        assert c.post("/api/ingest/batches", json={"batches": []}).json() == {"applied": 0, "duplicates": []}
        assert c.get("/api/projects", headers={"authorization": "Bearer wrong"}).status_code == 403
        # Behind the (trusted) proxy on this host, the client is the one the proxy names.
        for spoof in SPOOFED_LOOPBACK:
            assert c.get("/api/projects", headers={"x-forwarded-for": spoof}).status_code == 401, spoof
        assert c.get("/api/projects", headers={"x-forwarded-for": "203.0.113.9"}).status_code == 401
        assert c.get("/api/projects", headers={"x-forwarded-for": "::1"}).status_code == 200


def test_without_a_trusted_proxy_x_forwarded_for_is_ignored(tmp_path: Path,
                                                            make_client: Callable[..., TestClient]) -> None:
    with make_client(app_with(tmp_path), client=("198.51.100.7", 4000)) as c:  # no tokens: loopback writes only
        spoof = {"x-forwarded-for": "127.0.0.1"}
        assert c.post("/api/ingest/batches", json={"batches": []}, headers=spoof).status_code == 403
        assert c.get("/api/projects", headers=spoof).status_code == 200  # public read


@pytest.mark.parametrize("header", ["x-forwarded-for", "forwarded", "x-real-ip"])
def test_a_forwarded_request_from_an_undeclared_local_proxy_is_not_loopback(
    tmp_path: Path, make_client: Callable[..., TestClient], header: str
) -> None:
    # The finding: nginx on the same host, no token file: every client on the internet was "loopback".
    with make_client(app_with(tmp_path, public_read=False)) as c:
        forwarded = {header: "203.0.113.9"}
        assert c.post("/api/ingest/batches", json={"batches": []}, headers=forwarded).status_code == 403
        assert c.get("/api/projects", headers=forwarded).status_code == 403
        assert c.get("/api/projects").status_code == 200  # this machine itself


@pytest.mark.parametrize("address", [*SPOOFED_LOOPBACK, "", "127", "::2", "0.0.0.0", "fe80::1"])
def test_names_and_lookalikes_are_not_loopback(address: str) -> None:
    assert not is_loopback(address)


@pytest.mark.parametrize("address", ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "::ffff:127.0.0.1"])
def test_loopback_addresses(address: str) -> None:
    assert is_loopback(address)


def test_client_address_takes_the_hop_before_the_trusted_proxies() -> None:
    scope = {"client": ("10.0.0.2", 1), "headers": [(b"x-forwarded-for", b"127.0.0.1, 203.0.113.5, 10.0.0.3")]}
    assert client_address(scope, ("10.0.0.0/8",)) == "203.0.113.5"  # a client may prepend anything
    assert client_address(scope, ()) == "10.0.0.2"
    assert client_address({**scope, "client": ("192.0.2.1", 1)}, ("10.0.0.0/8",)) == "192.0.2.1"
    with pytest.raises(RltrackError, match="trusted proxy 'lab' is not an IP address"):
        AccessControl(trusted_proxies=("lab",))


# Finding 5: CSRF and DNS rebinding.


@pytest.fixture
def open_server(tmp_path: Path, make_client: Callable[..., TestClient]) -> Iterator[TestClient]:
    """``rltrack server`` without tokens: a loopback client may write (as the finding's victim)."""
    with make_client(app_with(tmp_path)) as c:
        yield c


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                                          None])
def test_ingest_needs_a_json_content_type(open_server: TestClient, tmp_path: Path, content_type: str | None) -> None:
    import json

    body = json.dumps({"batches": [create_batch("planted", "x:1")]}).encode()
    headers = {"content-type": content_type} if content_type else {}
    response = open_server.post("/api/ingest/batches", content=body, headers=headers)
    assert response.status_code == 415
    assert response.json() == {"detail": "send the request body as JSON with 'Content-Type: application/json'"}
    assert rltrack.Api(tmp_path / "srv").runs() == []
    json_type = {"content-type": "application/json; charset=utf-8"}
    ok = open_server.post("/api/ingest/batches", content=body, headers=json_type)
    assert ok.json() == {"applied": 1, "duplicates": []}


@pytest.mark.parametrize("origin", ["http://evil.example", "http://127.0.0.1:9999", "null", "http://127.0.0.1.evil"])
def test_other_origins_are_refused(open_server: TestClient, tmp_path: Path, origin: str) -> None:
    response = open_server.post("/api/ingest/batches", json={"batches": [create_batch("csrf", "o:1")]},
                                headers={"origin": origin})
    assert response.status_code == 403
    assert response.json()["detail"] == (
        f"cross-origin request from {origin!r} refused: only this server's own pages may call it")
    assert rltrack.Api(tmp_path / "srv").runs() == []


def test_the_servers_own_origin_is_accepted(open_server: TestClient) -> None:
    response = open_server.post("/api/ingest/batches", json={"batches": []}, headers={"origin": "http://127.0.0.1"})
    assert response.status_code == 200


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8080", "localhost.evil.example", "127.0.0.1.nip.io"])
def test_a_rebinding_host_is_refused(open_server: TestClient, host: str) -> None:
    response = open_server.get("/api/projects", headers={"host": host})
    assert response.status_code == 400
    assert "is not a name of this server; add it with --allowed-host" in response.json()["detail"]


@pytest.mark.parametrize("host", ["localhost", "localhost:8080", "127.0.0.1:80", "[::1]:8080", "10.1.2.3"])
def test_own_hosts_are_accepted(open_server: TestClient, host: str) -> None:
    assert open_server.get("/api/projects", headers={"host": host}).status_code == 200


def test_a_valid_token_works_under_any_host_name(locked: TestClient) -> None:
    # A robot may reach the server under a DNS alias; a rebinding page has no token.
    token = {"authorization": f"Bearer {TOKEN}", "host": "lab-alias.example:8080"}
    assert locked.get("/api/projects", headers=token).status_code == 200
    assert locked.get("/api/projects", headers={"host": "lab-alias.example:8080"}).status_code == 400


def test_allowed_host_and_its_origin(tmp_path: Path, make_client: Callable[..., TestClient]) -> None:
    app = app_with(tmp_path, allowed_hosts=frozenset({"lab.example"}))
    with make_client(app) as c:
        headers = {"host": "lab.example", "origin": "https://lab.example"}
        assert c.post("/api/ingest/batches", json={"batches": []}, headers=headers).status_code == 200


def test_rebinding_and_csrf_against_a_real_server(tmp_path: Path) -> None:
    # The finding's reproduction: a page on another origin posting text/plain to a loopback server.
    with BackgroundServer(ServerSettings(root=tmp_path / "srv", ingest=True)) as server:
        url = f"{server.url}/api/ingest/batches"
        import json

        body = json.dumps({"batches": [create_batch("planted", "x:1")]})
        assert httpx.post(url, content=body, headers={"content-type": "text/plain"}).status_code == 415
        assert httpx.post(url, content=body, headers={"content-type": "application/json",
                                                      "origin": "http://evil.example"}).status_code == 403
        assert httpx.get(f"{server.url}/api/projects", headers={"host": "evil.example"}).status_code == 400
        assert rltrack.Api(tmp_path / "srv").runs() == []


# Finding 6 (server side) and 9: headers on every answer; uploaded files never render as pages.


def test_security_headers_on_every_answer(open_server: TestClient) -> None:
    answers = [open_server.get("/"), open_server.get("/api/projects"), open_server.get("/api/runs/nope"),
               open_server.get("/favicon.ico"), open_server.get("/static/common.js"),
               open_server.post("/api/ingest/batches", content=b"x"),
               open_server.get("/api/projects", headers={"host": "evil.example"})]
    for response in answers:
        assert response.headers["content-security-policy"] == CSP, response.url
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
    assert "'unsafe-inline'" not in CSP.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in CSP


@pytest.mark.parametrize(
    ("name", "body", "inline", "served_as"),
    [
        ("media/x.html", b"<script>alert(1)</script>", False, "application/octet-stream"),
        ("media/x.svg", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', False,
         "application/octet-stream"),
        ("media/x.xhtml", b"<html/>", False, "application/octet-stream"),
        ("media/x.json", b"{}", False, "application/json"),
        ("media/x.png", b"\x89PNG\r\n\x1a\n", True, "image/png"),
        ("media/x.mp4", b"\x00\x00\x00\x18ftypmp42", True, "video/mp4"),
    ],
)
def test_uploaded_files_that_are_not_media_are_sandboxed_attachments(open_server: TestClient, name: str, body: bytes,
                                                                     inline: bool, served_as: str) -> None:
    open_server.post("/api/ingest/batches", json={"batches": [create_batch("up", "u:1")]}).raise_for_status()
    assert open_server.put(f"/api/ingest/files/up/{name}", content=body).status_code == 200
    response = open_server.get(f"/api/runs/up/files/{name}")
    assert response.content == body
    assert response.headers["content-type"].split(";")[0] == served_as
    assert response.headers["x-content-type-options"] == "nosniff"
    if inline:
        assert "content-disposition" not in response.headers
        assert response.headers["content-security-policy"] == CSP
    else:
        assert response.headers["content-disposition"].startswith("attachment;")
        assert response.headers["content-security-policy"].startswith("sandbox;")


def test_only_the_notebook_server_may_be_framed(tmp_path: Path, make_client: Callable[..., TestClient]) -> None:
    from rltrack.server.headers import NOTEBOOK_FRAME_ANCESTORS

    settings = ServerSettings(root=tmp_path / "srv", ingest=True, frame_ancestors=NOTEBOOK_FRAME_ANCESTORS)
    with make_client(create_app(settings)) as c:
        headers = c.get("/").headers
    assert f"frame-ancestors {NOTEBOOK_FRAME_ANCESTORS};" in headers["content-security-policy"]
    assert "x-frame-options" not in headers
    with make_client(app_with(tmp_path)) as c:
        assert c.get("/").headers["x-frame-options"] == "DENY"


def test_favicon_and_no_cdn_docs(open_server: TestClient) -> None:
    icon = open_server.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/x-icon"
    assert icon.content[:4] == b"\x00\x00\x01\x00" and b"PNG" in icon.content[:40]
    assert open_server.get("/docs").status_code == 404  # Swagger UI needs a CDN and an inline script
    assert open_server.get("/openapi.json").json()["info"]["title"] == "rltrack"
