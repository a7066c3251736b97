"""The permissions matrix: every route of the app × every kind of caller, on SQLite and on PostgreSQL.

Routes are enumerated from ``app.routes`` (included routers too), so a route added later is checked
as soon as it exists: its path parameters must be known here (else the test fails and says which),
and what each caller gets follows from what the route is (public, page, the caller's own keys, a
list, or something of one project), not from a hand-written list that a new route could miss.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

pytest.importorskip("fastapi", reason="the server needs the ui extra: pip install 'rltrack[server]'")

from fastapi.routing import APIRoute
from starlette.routing import Route

if TYPE_CHECKING:
    from conftest import World  # tests/rltrack/server/accounts/conftest.py

PROJECT = "lab-proj"
LAB_RUN, OTHER_RUN, LEGACY_RUN = "labrun01", "othrun01", "legacy01"
ROLES = ("admin", "member", "viewer", "stranger", "wrong_team", "no_key", "revoked")
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
PUBLIC = {"/login", "/favicon.ico", "/openapi.json", "/api/auth/me", "/api/auth/login", "/api/auth/token",
          "/static/{name}"}
PUBLIC_PREFIXES = ("/share/", "/api/shared/")
#: Query parameters a route needs before it reaches what it guards.
QUERIES: dict[str, dict[str, str]] = {
    "/api/compare": {"run": LAB_RUN, "key": "loss"},
    "/api/ingest/count": {"project": PROJECT},
    "/api/runs/{run_id}/histograms": {"key": "loss"},
    "/api/projects/{project}/series": {"key": "loss", "runs": LAB_RUN},
    "/api/runs/{run_id}/series": {"key": "loss"},
    "/api/runs/{run_id}/tables/data": {"key": "loss", "column": "x"},
    "/api/runs/{run_id}/tables/rows": {"key": "loss"},
    "/api/projects/{project}/media": {"key": "loss", "runs": LAB_RUN},
    "/api/projects/{project}/compare": {"runs": LAB_RUN, "keys": "loss"},
    "/api/projects/{project}/panels": {"p": '[{"type": "compare", "keys": ["loss"]}]'},
    "/api/shared/{token}/media": {"key": "loss", "runs": LAB_RUN},
    "/api/shared/{token}/compare": {"runs": LAB_RUN, "keys": "loss"},
    "/api/shared/{token}/runs/{run_id}/series": {"key": "loss"},
    "/api/shared/{token}/runs/{run_id}/tables/rows": {"key": "loss"},
    "/api/shared/{token}/runs/{run_id}/tables/data": {"key": "loss", "column": "x"},
}
#: The share link's panel routes: the matrix's report has no panels, so each answers that it shows no such thing.
_NOT_SHOWN = "is not shown by this shared dashboard"
#: A 404 that is about the content asked for (the caller may see the run): its detail holds this phrase.
CONTENT_404 = {"/api/runs/{run_id}/histograms": "has no histograms", "/api/runs/{run_id}/tables/data": "no table",
               "/api/runs/{run_id}/tables/rows": "no table",
               **{f"/api/shared/{{token}}{sub}": _NOT_SHOWN for sub in (
                   "/media", "/compare", "/runs/{run_id}/series", "/runs/{run_id}/simreal",
                   "/runs/{run_id}/simreal/gap", "/runs/{run_id}/tables", "/runs/{run_id}/tables/rows",
                   "/runs/{run_id}/tables/data", "/runs/{run_id}/media", "/runs/{run_id}/files/{path:path}")}}
#: Password routes: the matrix sends a wrong password (a right one would log the client in).
PASSWORD_ROUTES = {"/api/auth/login", "/api/auth/token"}
#: Routes whose body names the run they write into.
BODY_RUN = {"/api/ingest/batches", "/api/ingest/attach", "/api/ingest/artifacts", "/api/ingest/artifacts/uses"}
#: Routes that answer a stranger without an error on purpose, telling nothing: a writer's probes.
PROBES = {"/api/ingest/count", "/api/ingest/runs/{run_id}/exists", "/api/ingest/runs/{run_id}/owner"}
#: Artifact blob routes: a blob belongs to no project until a version names it, so they take any caller who may
#: write into some project and refuse (403) those who may write none (a viewer, a user without a project).
BLOB_ROUTES = {"/api/ingest/blobs/{digest:blob_digest}", "/api/ingest/blobs/missing"}
WRITES_NO_PROJECT = ("viewer", "stranger")
#: Reads that need write access (who may share a dashboard sees its share links).
WRITERS_ONLY_READS = {"/api/projects/{project}/dashboards/{dashboard_id}/shares"}


def every_route(app: Any) -> list[tuple[str, str]]:
    """Return (method, full path template) of every route of the app, hidden pages and included routers too."""
    out: set[tuple[str, str]] = set()

    def walk(routes: list[Any], prefix: str) -> None:
        for route in routes:
            inner = getattr(route, "original_router", None)
            if inner is not None:
                # FastAPI >= 0.16x keeps an included router as one route; its routes carry their own router's
                # prefix but not the prefixes of the routers it was included into.
                here = prefix + route.include_context.prefix
                for child in inner.routes:
                    walk([child], here)
            elif isinstance(route, (APIRoute, Route)) and route.methods:
                out.update((m, prefix + route.path) for m in route.methods if m != "HEAD")

    walk(list(app.routes), "")
    return sorted(out)


def kind_of(method: str, path: str) -> str:
    """Return what a route is: public, page, own (the caller's keys), project (one project's data) or list."""
    if path in PUBLIC or path.startswith(PUBLIC_PREFIXES):
        return "public"
    if path.startswith("/api/auth/"):
        return "own"
    if not path.startswith("/api/"):
        return "page"
    if re.search(r"\{(run_id|project|dashboard_id)\}", path) or path in BODY_RUN or \
            {"run", "project"} & set(QUERIES.get(path, {})):
        return "project"
    return "list"


def expected(role: str, method: str, path: str) -> str:
    """Return the expected answer class: 'ok' (2xx-4xx but never 401/403/404), or a status as text."""
    kind = kind_of(method, path)
    if role == "revoked" or path in PASSWORD_ROUTES:
        return "401"  # a revoked key is refused everywhere, public pages too: its holder learns it is dead
    if kind == "public":
        return "ok"
    if role == "no_key":
        return "303" if kind == "page" else "401"
    if path in BLOB_ROUTES and role in WRITES_NO_PROJECT:
        return "403"
    if kind == "project" and role in ("stranger", "wrong_team"):
        return "probe" if path in PROBES else "404"
    if kind == "project" and role == "viewer" and (method in WRITES or path in WRITERS_ONLY_READS):
        return "403"
    return "ok"


_NAMES = iter(range(10**6))


class Resources:
    """Path parameters for one request: a fresh dashboard and share link when the request may destroy them."""

    def __init__(self, world: World) -> None:
        self.world = world

    def fresh(self) -> dict[str, str]:
        c, admin = self.world.client, self.world.headers["admin"]
        made = c.post(f"/api/projects/{PROJECT}/dashboards", headers=admin, json={"kind": "report", "name": "r"})
        assert made.status_code == 201, made.text
        dashboard_id = made.json()["id"]
        share = c.post(f"/api/projects/{PROJECT}/dashboards/{dashboard_id}/shares", headers=admin, json={})
        assert share.status_code == 201, share.text
        return {"run_id": LAB_RUN, "project": PROJECT, "path": "media/clip.bin", "name": "common.js",
                "dashboard_id": dashboard_id, "share_id": share.json()["share"]["id"], "token": share.json()["token"],
                "key_id": "rlt_00000000", "digest": self.world.blob_sha}


def _body(world: World, method: str, path: str) -> dict[str, Any]:
    octets = {"content-type": "application/octet-stream"}
    bodies: dict[str, dict[str, Any]] = {
        "/api/ingest/batches": {"json": {"batches": [world.write_batch(LAB_RUN)]}},
        "/api/ingest/attach": {"json": {"run_id": LAB_RUN, "source": "sim",
                                        "who": world.create_batch("x", "y")["who"]}},
        "/api/ingest/files/{run_id}/{path:path}": {"content": b"data", "headers": octets},
        "/api/ingest/blobs/{digest:blob_digest}": {"content": world.blob, "headers": octets},
        "/api/ingest/blobs/missing": {"json": {"blobs": [{"sha256": world.blob_sha, "size": len(world.blob)}]}},
        "/api/ingest/artifacts": {"json": world.artifact_body()},
        "/api/ingest/artifacts/uses": {"json": {"name": "policy", "digest": world.artifact_digest, "run_id": LAB_RUN,
                                                "source": "sim", "used_ns": 1}},
    }
    if path in bodies:
        return dict(bodies[path])
    if path in PASSWORD_ROUTES:  # a name per call: the per-user login limit stays out of the way
        return {"json": {"user": f"nobody{next(_NAMES)}", "password": "wrong password"}}
    if "/dashboards" in path and method in ("POST", "PUT"):
        return {"json": {"kind": "report", "name": "saved", "version": 1}}
    return {"json": {}} if method in ("POST", "PATCH", "PUT") else {}


def _call(world: World, role: str, method: str, template: str, params: dict[str, str]) -> Any:
    missing = set(re.findall(r"\{(\w+)(?::\w+)?\}", template)) - set(params)
    assert not missing, f"{method} {template}: teach test_permissions.py the path parameter(s) {missing}"
    path = re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: params[m.group(1)], template)
    body = _body(world, method, template)
    headers = {**world.as_role(role), **body.pop("headers", {})}
    return world.client.request(method, path, params=QUERIES.get(template), headers=headers,
                                follow_redirects=False, **body)


def test_every_route_answers_each_caller_as_its_role_allows(world: World) -> None:
    routes = every_route(world.client.app)
    assert len(routes) > 30 and ("PUT", "/api/ingest/files/{run_id}/{path:path}") in routes
    resources = Resources(world)
    shared = resources.fresh()
    failures = []
    # Refusals first (they change nothing), then the writes that succeed, each on its own fresh dashboard.
    order = sorted(((r, m, p) for m, p in routes for r in ROLES), key=lambda x: expected(*x) == "ok" and x[1] in WRITES)
    for role, method, template in order:
        want = expected(role, method, template)
        params = resources.fresh() if want == "ok" and method in WRITES else shared
        got = _call(world, role, method, template, params)
        status = got.status_code
        if want == "ok":
            fine = status < 500 and status not in (401, 403, 404)
            fine = fine or (status == 404 and CONTENT_404.get(template, "\0") in got.text)
        elif want == "probe":
            fine = status == 200 and got.json() in (0, False, None)
        else:
            fine = str(status) == want
        if template in ("/api/auth/keys/{key_id}",) and role not in ("no_key", "revoked"):
            fine = status == 404  # nobody owns rlt_00000000: each user may only revoke their own keys
        if not fine:
            failures.append(f"{role:10} {method:6} {template}: {status} (expected {want}) {got.text[:120]}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(("role", "projects"), [
    ("admin", [PROJECT]), ("member", [PROJECT]), ("viewer", [PROJECT]), ("stranger", []),
    ("wrong_team", ["other-proj"]),
])
def test_lists_show_only_the_projects_a_caller_may_read(world: World, role: str, projects: list[str]) -> None:
    c, headers = world.client, world.as_role(role)
    assert [p["name"] for p in c.get("/api/projects", headers=headers).json()] == projects
    runs = c.get("/api/runs", headers=headers).json()
    assert sorted({r["project"] for r in runs["runs"]}) == projects and runs["total"] == len(runs["runs"])
    assert c.get("/api/runs", params={"project": "legacy"}, headers=headers).json()["total"] == 0


def test_a_server_token_still_sees_everything(world: World) -> None:
    token = {"authorization": "Bearer tok"}
    names = [p["name"] for p in world.client.get("/api/projects", headers=token).json()]
    assert names == [PROJECT, "legacy", "other-proj"]
    assert world.client.get(f"/api/runs/{LEGACY_RUN}", headers=token).status_code == 200


def test_a_stranger_gets_the_same_404_as_for_a_run_that_does_not_exist(world: World) -> None:
    c = world.client
    hidden = c.get(f"/api/runs/{LAB_RUN}", headers=world.as_role("stranger"))
    missing = c.get("/api/runs/nosuch01", headers=world.as_role("stranger"))
    assert hidden.status_code == missing.status_code == 404
    assert LAB_RUN in hidden.json()["detail"] and PROJECT not in hidden.json()["detail"]


def test_a_viewer_cannot_write_values_create_runs_or_upload(world: World) -> None:
    c, viewer = world.client, world.as_role("viewer")
    before = c.get(f"/api/runs/{LAB_RUN}/counts", headers=viewer).json()
    for batch in (world.write_batch(LAB_RUN, key="viewer/x"), world.create_batch("viewrun1", PROJECT)):
        refused = c.post("/api/ingest/batches", json={"batches": [batch]}, headers=viewer)
        assert refused.status_code == 403 and refused.json()["detail"]["applied"] == 0, refused.text
    assert c.get(f"/api/runs/{LAB_RUN}/counts", headers=viewer).json() == before
    assert c.get("/api/ingest/runs/viewrun1/exists", headers=world.as_role("admin")).json() is False


def test_the_first_write_into_a_new_project_makes_it_the_writers_own(world: World) -> None:
    c = world.client
    made = c.post("/api/ingest/batches", headers=world.as_role("member"),
                  json={"batches": [world.create_batch("maxrun01", "max-own"), world.write_batch("maxrun01")]})
    assert made.status_code == 200, made.text
    assert world.accounts.projects()["max-own"].owner_user == "max"
    assert "max-own" in [p["name"] for p in c.get("/api/projects", headers=world.as_role("member")).json()]
    assert c.get("/api/runs/maxrun01", headers=world.as_role("admin")).status_code == 404  # private: not the team's
    taken = c.post("/api/ingest/batches", headers=world.as_role("stranger"),
                   json={"batches": [world.create_batch("samrun01", "max-own")]})
    assert taken.status_code == 404, taken.text


def test_a_project_from_before_accounts_is_not_claimed_by_writing_into_it(world: World) -> None:
    c = world.client
    refused = c.post("/api/ingest/batches", headers=world.as_role("stranger"),
                     json={"batches": [world.create_batch("sneak001", "legacy")]})
    assert refused.status_code == 404 and "set-project" in refused.text
    assert "legacy" not in world.accounts.projects()
    assert c.get(f"/api/runs/{LEGACY_RUN}", headers=world.as_role("stranger")).status_code == 404


def test_a_run_of_another_team_cannot_be_written_through_its_id(world: World) -> None:
    refused = world.client.post("/api/ingest/batches", headers=world.as_role("member"),
                                json={"batches": [world.write_batch(OTHER_RUN)]})
    assert refused.status_code == 404, refused.text


def test_removing_a_member_takes_their_access_away_at_once(world: World, tmp_path: Path) -> None:
    c = world.client
    world.accounts.add_member("lab", "sam", "viewer")
    assert c.get(f"/api/runs/{LAB_RUN}", headers=world.as_role("stranger")).status_code == 200
    assert [p["name"] for p in c.get("/api/projects", headers=world.as_role("stranger")).json()] == [PROJECT]
    world.accounts.remove_member("lab", "sam")
    assert c.get(f"/api/runs/{LAB_RUN}", headers=world.as_role("stranger")).status_code == 404
    assert c.get("/api/projects", headers=world.as_role("stranger")).json() == []
