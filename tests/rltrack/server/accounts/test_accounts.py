"""Accounts on both back-ends (secrets at rest, keys, names, schema versions) and the login's security over HTTP."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

pytest.importorskip("fastapi", reason="the server needs the ui extra: pip install 'rltrack[server]'")

from rltrack.errors import UPGRADE_HINT, RltrackError, StoreError
from rltrack.server.accounts import Accounts, ConflictError, ProjectRow, open_accounts
from rltrack.server.accounts.credentials import digest
from rltrack.server.accounts.principal import can_read, can_write
from rltrack.server.accounts.ratelimit import LoginLimiter
from rltrack.server.accounts.schema import SCHEMA_VERSION

if TYPE_CHECKING:
    from conftest import World  # tests/rltrack/server/accounts/conftest.py

PASSWORD = "correct horse battery"
PER_USER, PER_ADDRESS = 3, 6


class Raw:
    """Reads the accounts tables behind the service's back (what an attacker with the database sees)."""

    def __init__(self, root: Path, url: str | None) -> None:
        self.root, self.url = root, url

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        if self.url is None:
            with sqlite3.connect(self.root / "accounts.sqlite") as conn:
                return [tuple(r) for r in conn.execute(sql)]
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            return [tuple(r) for r in conn.execute(sql).fetchall()]  # type: ignore[arg-type]  # test-only SQL


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Accounts, Raw]]:
    """Fresh accounts on each back-end, and a raw view of their tables."""
    url = None
    if request.param == "postgresql":
        pytest.importorskip("psycopg", reason="PostgreSQL needs psycopg: pip install 'rltrack[server]'")
        url = request.getfixturevalue("pg_cluster").new_database()
    accounts = open_accounts(tmp_path / "store", url)
    yield accounts, Raw(tmp_path / "store", url)
    accounts.db.close()


def test_secrets_are_stored_only_as_hashes(backend: tuple[Accounts, Raw]) -> None:
    accounts, raw = backend
    accounts.create_user("Ada", PASSWORD)
    key_id, key = accounts.create_key("ada", "laptop")
    token, csrf = accounts.create_session("ada")
    [(name, hashed)] = raw.rows("SELECT name, password_hash FROM acct_users")
    assert name == "ada" and hashed.startswith("$argon2id$") and PASSWORD not in hashed
    dump = repr(raw.rows("SELECT * FROM acct_keys")) + repr(raw.rows("SELECT * FROM acct_sessions"))
    assert key_id in dump and key not in dump and key[12:] not in dump and token not in dump
    assert key.startswith(key_id + "_") and key_id.startswith("rlt_") and len(key) > 50
    assert accounts.user_of_key(key) == "ada" and accounts.session(token) == ("ada", csrf)
    assert accounts.check_password("ADA", PASSWORD) == "ada" and accounts.check_password("ada", "wrong pass") is None


def test_a_revoked_or_altered_key_logs_nobody_in(backend: tuple[Accounts, Raw]) -> None:
    accounts, _ = backend
    accounts.create_user("ada", PASSWORD)
    key_id, key = accounts.create_key("ada")
    other_id, other = accounts.create_key("ada")
    assert accounts.user_of_key(key[:-1] + ("A" if key[-1] != "A" else "B")) is None
    assert accounts.user_of_key(key_id + other[12:]) is None  # one key's id with another's secret
    assert accounts.revoke_key(key_id) and not accounts.revoke_key(key_id)
    assert accounts.user_of_key(key) is None and accounts.user_of_key(other) == "ada"
    assert [(k.key_id, k.revoked_ns is not None) for k in accounts.keys("ada")] == sorted(
        [(key_id, True), (other_id, False)], key=lambda k: [i.key_id for i in accounts.keys("ada")].index(k[0]))


def test_sessions_expire_and_a_new_password_ends_them(backend: tuple[Accounts, Raw]) -> None:
    accounts, _ = backend
    accounts.create_user("ada", PASSWORD)
    old, _ = accounts.create_session("ada")
    live, _ = accounts.create_session("ada")
    with accounts.db.transaction() as tx:
        tx.execute("UPDATE acct_sessions SET expires_ns = 1 WHERE digest = ?", (digest(old),))
    assert accounts.session(old) is None and accounts.session(live) is not None
    accounts.set_password("ada", "another good password")
    assert accounts.session(live) is None
    assert accounts.check_password("ada", PASSWORD) is None and accounts.check_password("ada", "another good password")


@pytest.mark.parametrize(("call", "message"), [
    (lambda a: a.create_user("ada", PASSWORD), "exists already"),
    (lambda a: a.create_user("Robert'); DROP TABLE acct_users;--", PASSWORD), "is not allowed"),
    (lambda a: a.create_user("bob", "short"), "8 to 1024 characters"),
    (lambda a: a.create_team("lab"), "exists already"),
    (lambda a: a.add_member("lab", "ada", "owner"), "role 'owner' is unknown"),
    (lambda a: a.add_member("nolab", "ada", "member"), "no team 'nolab'"),
    (lambda a: a.add_member("lab", "nobody", "member"), "no user 'nobody'"),
    (lambda a: a.set_project("p", visibility="team"), "needs an owner"),
    (lambda a: a.set_project("p", team="lab", visibility="public"), "visibility 'public' is unknown"),
])
def test_bad_names_roles_and_duplicates_are_refused_naming_the_value(
    backend: tuple[Accounts, Raw], call: Any, message: str
) -> None:
    accounts, raw = backend
    accounts.create_user("ada", PASSWORD)
    accounts.create_team("lab")
    with pytest.raises(RltrackError, match=message):
        call(accounts)
    assert raw.rows("SELECT name FROM acct_users") == [("ada",)]


def test_a_duplicate_is_a_conflict_error(backend: tuple[Accounts, Raw]) -> None:
    accounts, _ = backend
    accounts.create_user("ada", PASSWORD)
    with pytest.raises(ConflictError, match="user 'ada' exists already"):
        accounts.create_user("ADA", PASSWORD)


def test_accounts_written_by_a_newer_rltrack_are_refused(backend: tuple[Accounts, Raw], tmp_path: Path) -> None:
    accounts, raw = backend
    with accounts.db.transaction() as tx:
        tx.execute("UPDATE acct_schema SET version = 99")
    with pytest.raises(StoreError, match="schema version 99, newer than this rltrack") as refused:
        open_accounts(tmp_path / "store", raw.url)
    # rltrack is on no package index: the hint says how to upgrade from a wheel or the repository.
    assert str(refused.value).endswith(f"({SCHEMA_VERSION}); {UPGRADE_HINT}")
    assert "pip install -U rltrack)" not in str(refused.value)


def test_a_project_is_claimed_once(backend: tuple[Accounts, Raw]) -> None:
    accounts, _ = backend
    accounts.create_user("ada", PASSWORD)
    accounts.create_user("bob", PASSWORD)
    assert accounts.claim_project("p", "ada") == ProjectRow("p", "ada", None, "private")
    assert accounts.claim_project("p", "bob").owner_user == "ada"


ADA_OWNS = ProjectRow("p", "ada", None, "private")
LAB_TEAM = ProjectRow("p", None, "lab", "team")
LAB_PRIVATE = ProjectRow("p", "ada", "lab", "private")


@pytest.mark.parametrize(("row", "user", "roles", "read", "write"), [
    (ADA_OWNS, "ada", {}, True, True),
    (ADA_OWNS, "bob", {"lab": "admin"}, False, False),
    (LAB_TEAM, "bob", {"lab": "admin"}, True, True),
    (LAB_TEAM, "bob", {"lab": "member"}, True, True),
    (LAB_TEAM, "bob", {"lab": "viewer"}, True, False),
    (LAB_TEAM, "bob", {"other": "admin"}, False, False),
    (LAB_PRIVATE, "bob", {"lab": "member"}, False, False),
    (LAB_PRIVATE, "bob", {"lab": "admin"}, True, True),
    (LAB_PRIVATE, "ada", {}, True, True),
    (None, "ada", {"lab": "admin"}, False, False),
    (LAB_TEAM, None, {}, False, False),
])
def test_who_reads_and_writes_a_project(
    row: ProjectRow | None, user: str | None, roles: dict[str, str], read: bool, write: bool
) -> None:
    assert (can_read(row, user, roles), can_write(row, user, roles)) == (read, write)


# -- over HTTP ---------------------------------------------------------------------------------------------


def _login(world: World, user: str, password: str = PASSWORD, **kwargs: Any) -> Any:
    return world.client.post("/api/auth/login", json={"user": user, "password": password}, **kwargs)


def test_a_browser_session_is_an_httponly_cookie_and_its_writes_need_the_csrf_token(world: World) -> None:
    c = world.client
    c.cookies.clear()
    answer = _login(world, "max")
    assert answer.status_code == 200, answer.text
    cookies = {h.split("=", 1)[0]: h.lower() for h in answer.headers.get_list("set-cookie")}
    assert "httponly" in cookies["rltrack_session"] and "samesite=lax" in cookies["rltrack_session"]
    assert "httponly" not in cookies["rltrack_csrf"] and "secure" not in cookies["rltrack_session"]  # plain http
    try:
        assert c.get("/api/auth/me").json()["user"] == "max"
        assert [p["name"] for p in c.get("/api/projects").json()] == ["lab-proj"]
        body = {"kind": "report", "name": "csrf"}
        refused = c.post("/api/projects/lab-proj/dashboards", json=body)
        assert refused.status_code == 403 and "CSRF" in refused.text
        wrong = c.post("/api/projects/lab-proj/dashboards", json=body, headers={"x-csrf-token": "guess"})
        assert wrong.status_code == 403
        csrf = c.cookies["rltrack_csrf"]
        assert c.post("/api/projects/lab-proj/dashboards", json=body, headers={"x-csrf-token": csrf}).status_code == 201
        session = c.cookies["rltrack_session"]
        assert c.post("/api/auth/logout", json={}, headers={"x-csrf-token": csrf}).status_code == 200
    finally:
        c.cookies.clear()
    replayed = c.get("/api/projects", headers={"cookie": f"rltrack_session={session}"})
    assert replayed.status_code == 401  # logged out on the server, not only in the browser


def test_over_https_the_session_cookie_is_secure(world: World, client_at: Any) -> None:
    client = client_at(world.client.app, base_url="https://127.0.0.1")
    answer = client.post("/api/auth/login", json={"user": "vic", "password": PASSWORD})
    assert answer.status_code == 200 and all("secure" in h.lower() for h in answer.headers.get_list("set-cookie"))


def test_pages_send_a_logged_out_browser_to_the_login_page_and_back(world: World) -> None:
    world.client.cookies.clear()
    answer = world.client.get("/runs/labrun01?x=1", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/login?next=%2Fruns%2Flabrun01%3Fx%3D1"
    page = world.client.get("/login")
    assert page.status_code == 200 and "<script src=\"/static/login.js\">" in page.text and "<script>" not in page.text


def test_brute_force_logins_get_429_per_user_then_per_address_never_5xx(world: World, client_at: Any) -> None:
    gate = world.client.app.state.accounts_gate
    # The server's own limiter class with smaller limits: each failure costs an argon2 hash (~0.1 s).
    gate.limiter = LoginLimiter(per_user=PER_USER, per_address=PER_ADDRESS)
    statuses = [_login(world, "ada", f"guess {i}").status_code for i in range(PER_USER + 3)]
    assert statuses == [401] * PER_USER + [429] * 3
    locked = _login(world, "ada")
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0  # even the right password now
    other = client_at(world.client.app, address="127.0.0.9")
    assert other.post("/api/auth/login", json={"user": "ada", "password": PASSWORD}).status_code == 429  # per user
    statuses = [other.post("/api/auth/token", json={"user": f"u{i}", "password": "x" * 8}).status_code
                for i in range(PER_ADDRESS + 2)]
    assert statuses.count(401) == PER_ADDRESS and statuses[-2:] == [429, 429]
    gate.limiter = LoginLimiter()  # the other tests of this module log in again


SQL = ["' OR '1'='1", "lab-proj' --", "x'; DROP TABLE acct_users; --", '" OR ""="', "%' OR 1=1 OR '%'='",
       "labrun01') OR ('1'='1", "\\' OR 1=1 #", "lab-proj\x00", "*", "%"]


@pytest.mark.parametrize("payload", SQL)
def test_sql_injection_in_every_filter_parameter_leaks_nothing_and_breaks_nothing(world: World, payload: str) -> None:
    c, stranger = world.client, world.as_role("stranger")
    schema = c.get("/openapi.json", headers=world.as_role("admin")).json()
    tried = 0
    for path, item in schema["paths"].items():
        if "get" not in item or "{" in path:
            continue
        for param in item["get"].get("parameters", []):
            if param["in"] != "query":
                continue
            answer = c.get(path, params={param["name"]: payload}, headers=stranger)
            tried += 1
            assert answer.status_code < 500, (path, param["name"], answer.text)
            # The lab's run id or project as a JSON string is a leak; an echo of the payload in a message is not.
            assert '"labrun01"' not in answer.text and '"lab-proj"' not in answer.text, (path, param["name"])
    for key in ("project", "group", "tag", "q", "filter", "sort"):
        answer = c.get("/api/runs", params={key: payload}, headers=world.as_role("member"))
        assert answer.status_code < 500, (key, answer.text)
    assert tried > 10
    assert world.accounts.users() == ["ada", "max", "rex", "sam", "vic", "wes"]  # every table still there
    assert c.get("/api/runs/labrun01", headers=world.as_role("member")).status_code == 200


@pytest.mark.parametrize("body", [b"{not json", b'{"user": "ada", "password": ', b"\xff\xfe", b"[]", b"null", b"{}"])
@pytest.mark.parametrize("path", ["/api/auth/login", "/api/auth/token", "/api/auth/keys"])
def test_malformed_json_is_422_never_5xx(world: World, path: str, body: bytes) -> None:
    headers = {**world.as_role("member"), "content-type": "application/json"}
    answer = world.client.post(path, content=body, headers=headers)
    assert answer.status_code == (200 if path == "/api/auth/keys" and body == b"{}" else 422), answer.text


def test_a_user_lists_and_revokes_only_their_own_keys(world: World) -> None:
    c = world.client
    made = c.post("/api/auth/keys", json={"label": "robot"}, headers=world.as_role("viewer")).json()
    mine = c.get("/api/auth/keys", headers=world.as_role("viewer")).json()
    assert made["key_id"] in [k["key_id"] for k in mine] and all("key" not in k for k in mine)
    assert made["key"] not in c.get("/api/auth/keys", headers=world.as_role("viewer")).text
    fresh = {"authorization": f"Bearer {made['key']}"}
    assert c.get("/api/auth/me", headers=fresh).json()["user"] == "vic"
    assert c.delete(f"/api/auth/keys/{made['key_id']}", headers=world.as_role("member")).status_code == 404
    assert c.get("/api/auth/me", headers=fresh).status_code == 200
    assert c.delete(f"/api/auth/keys/{made['key_id']}", headers=fresh).status_code == 200
    assert c.get("/api/auth/me", headers=fresh).status_code == 401


def test_a_page_from_another_site_cannot_log_in_or_write(world: World) -> None:
    evil = {"origin": "https://evil.example"}
    assert _login(world, "max", headers=evil).status_code == 403
    form = world.client.post("/api/auth/login", data={"user": "max", "password": PASSWORD})
    assert form.status_code == 415  # an HTML form cannot send JSON


def test_behind_a_trusted_tls_proxy_the_session_cookie_is_secure(tmp_path: Path, client_at: Any) -> None:
    from rltrack.server import create_app
    from rltrack.server.app import ServerSettings
    from rltrack.server.security import AccessControl

    open_accounts(tmp_path / "store").create_user("ada", PASSWORD)
    access = AccessControl(trusted_proxies=("127.0.0.1",))
    app = create_app(ServerSettings(root=tmp_path / "store", ingest=True, access=access))
    forwarded = {"x-forwarded-proto": "https", "x-forwarded-for": "203.0.113.7"}

    def cookie_flags(address: str) -> list[bool]:
        answer = client_at(app, address=address).post("/api/auth/login", headers=forwarded,
                                                      json={"user": "ada", "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        return ["secure" in h.lower() for h in answer.headers.get_list("set-cookie")]

    assert cookie_flags("127.0.0.1") == [True, True]  # the proxy we trust says the browser used https
    assert cookie_flags("127.0.0.5") == [False, False]  # anyone else saying so is not believed
