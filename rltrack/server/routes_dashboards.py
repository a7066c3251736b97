"""JSON routes of saved dashboards: list, create, read, save (optimistic), delete, share links, HTML export.

Who may do what comes from ``request.state.principal`` when the server has accounts (an object with
``user``, ``can_read(project)`` and ``can_write(project)``): a project one cannot read answers 404 (its
existence is not told), a read-only member's save 403. Without accounts (no principal) the server's guard
(:mod:`rltrack.server.security`) has already decided, and everything is allowed here.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse

from rltrack.errors import RltrackError
from rltrack.server.dashboards import (
    KINDS,
    MAX_BODY,
    Dashboard,
    DashboardNotFoundError,
    StaleDashboardError,
    parse_dashboard,
)
from rltrack.server.dashboards_open import open_dashboards
from rltrack.server.dashboards_sql import DashboardStore
from rltrack.server.dashboards_view import page_url, rendered
from rltrack.server.deps import Cache, Reader
from rltrack.server.routes_ingest import parse_json

__all__ = ["dashboards_of", "export_response", "require", "router"]

router = APIRouter(tags=["dashboards"])
_OPEN_LOCK = threading.Lock()


def _principal(request: Request) -> Any:
    return getattr(request.state, "principal", None)


def user_of(request: Request) -> str | None:
    """Return the signed-in user's name, or None without accounts."""
    principal = _principal(request)
    user = getattr(principal, "user", None) if principal is not None else None
    return user if isinstance(user, str) else None


def require(request: Request, project: str, *, write: bool = False) -> None:
    """Refuse a request whose principal may not read (404) or write (403) the project; allow all without accounts."""
    principal = _principal(request)
    if principal is None:
        return
    if not principal.can_read(project):
        raise HTTPException(404, f"no project {project!r}; list the projects you can see at /api/projects")
    if write and not principal.can_write(project):
        raise HTTPException(
            403, f"you may read project {project!r} but not change it; ask a team admin for write access"
        )


def dashboards_of(request: Request) -> DashboardStore:
    """Return the app's dashboards store, opened on first use (SQLite beside the store, or ``--db``)."""
    state = request.app.state
    store: DashboardStore | None = getattr(state, "dashboards", None)
    if store is None:
        with _OPEN_LOCK:
            store = getattr(state, "dashboards", None)
            if store is None:
                settings = state.settings
                store = open_dashboards(settings.root, settings.db)
                state.dashboards = store
    return store


Store = Annotated[DashboardStore, Depends(dashboards_of)]


async def json_body(request: Request) -> Any:
    """Return the request's JSON body (a FastAPI dependency): 413 above the size limit, 422 if not JSON.

    Parsed by the ingest parser (:func:`routes_ingest.parse_json`): nested at most its ``MAX_DEPTH``
    levels and every string valid Unicode, so a body of 100,000 ``[`` is a 422 naming the depth limit
    (it was a 500 RecursionError).
    """
    body = await request.body()
    if len(body) > MAX_BODY + 4096:
        raise HTTPException(413, f"a dashboard body of {len(body)} bytes is too large; send at most {MAX_BODY}")
    try:
        # In a worker thread, as ingest does: parsing must not stop the event loop.
        return await run_in_threadpool(parse_json, body or b"{}")
    except HTTPException as err:
        status = 413 if err.status_code == 413 else 422  # a body a dashboard cannot hold stays this route's 422
        raise HTTPException(status, f"the body is not JSON a dashboard can hold ({err.detail}); send a JSON object") \
            from None


Body = Annotated[Any, Depends(json_body)]


@contextlib.contextmanager
def answers() -> Iterator[None]:
    """Turn the store's refusals into HTTP answers: no such dashboard 404, a stale save 409."""
    try:
        yield
    except DashboardNotFoundError as err:
        raise HTTPException(404, str(err)) from err
    except StaleDashboardError as err:
        raise HTTPException(409, str(err)) from err


def _version(data: Any) -> int:
    version = data.get("version") if isinstance(data, dict) else None
    # Bounded like every stored integer: 2**70 reached the database as an OverflowError (500).
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= 2**63 - 1:
        raise RltrackError(f"version={version!r}: a save names the version it edits (an integer from 1 to 2**63-1, "
                           "as the dashboard was read)")
    return version


@router.get("/projects/{project}/dashboards", summary="A project's saved workspaces and reports")
def list_dashboards(project: str, request: Request, store: Store, kind: str | None = None) -> dict[str, Any]:
    """Return ``{"dashboards": [{id, kind, name, created_by, updated_by, updated_ns, version}]}``, last saved first."""
    require(request, project)
    if kind is not None and kind not in KINDS:
        raise RltrackError(f"kind={kind!r} is invalid; pass one of {', '.join(KINDS)}")
    found = store.of_project(project, kind)
    return {"project": project, "dashboards": [dict(d.summary(), url=page_url(d)) for d in found]}


@router.post("/projects/{project}/dashboards", status_code=201, summary="Save a new workspace or report")
def create_dashboard(project: str, request: Request, store: Store, body: Body) -> dict[str, Any]:
    """Store ``{kind, name, layout, blocks}`` (validated) and return it at version 1."""
    require(request, project, write=True)
    return rendered(store.create(project, parse_dashboard(body), user_of(request)))


@router.get("/projects/{project}/dashboards/{dashboard_id}", summary="One saved workspace or report")
def get_dashboard(project: str, dashboard_id: str, request: Request, store: Store) -> dict[str, Any]:
    """Return the dashboard with its layout, blocks (markdown also as safe HTML) and version."""
    require(request, project)
    with answers():
        return rendered(store.get(project, dashboard_id))


@router.put("/projects/{project}/dashboards/{dashboard_id}", summary="Save a dashboard over the version read")
def update_dashboard(project: str, dashboard_id: str, request: Request, store: Store, body: Body) -> dict[str, Any]:
    """Replace name, layout and blocks if ``version`` is still the stored one; else 409 naming who saved since."""
    require(request, project, write=True)
    with answers():
        current = store.get(project, dashboard_id)
        spec = parse_dashboard(body, kind=current.kind)
        return rendered(store.update(project, dashboard_id, spec, _version(body), user_of(request)))


@router.delete("/projects/{project}/dashboards/{dashboard_id}", summary="Delete a dashboard and its share links")
def delete_dashboard(project: str, dashboard_id: str, request: Request, store: Store) -> dict[str, Any]:
    """Delete the dashboard; its share links stop working at once."""
    require(request, project, write=True)
    with answers():
        store.delete(project, dashboard_id)
    return {"deleted": dashboard_id}


@router.post("/projects/{project}/dashboards/{dashboard_id}/shares", status_code=201,
             summary="Make a read-only share link")
def create_share(project: str, dashboard_id: str, request: Request, store: Store) -> dict[str, Any]:
    """Return ``{"token", "url", "share"}``: the token is shown only now (the server keeps its hash)."""
    require(request, project, write=True)
    with answers():
        token, link = store.share(project, dashboard_id, user_of(request))
    return {"token": token, "url": f"/share/{token}", "share": link.as_json()}


@router.get("/projects/{project}/dashboards/{dashboard_id}/shares", summary="A dashboard's share links")
def list_shares(project: str, dashboard_id: str, request: Request, store: Store) -> dict[str, Any]:
    """Return the links (ids, who made them, when, revoked or not), never their tokens."""
    require(request, project, write=True)
    with answers():
        return {"shares": [s.as_json() for s in store.shares(project, dashboard_id)]}


@router.delete("/projects/{project}/dashboards/{dashboard_id}/shares/{share_id}", summary="Revoke a share link")
def revoke_share(project: str, dashboard_id: str, share_id: str, request: Request, store: Store) -> dict[str, Any]:
    """Revoke the link: its URL answers 404 from now on."""
    require(request, project, write=True)
    with answers():
        store.revoke(project, dashboard_id, share_id)
    return {"revoked": share_id}


def export_response(request: Request, reader: Any, cache: Any, dashboard: Dashboard) -> HTMLResponse:
    """Return a report as one offline HTML file (an attachment)."""
    from rltrack.server.report_html import report_html

    if dashboard.kind != "report":
        raise RltrackError(f"dashboard {dashboard.name!r} is a workspace; only reports are exported as HTML")
    page, csp = report_html(request, reader, cache, dashboard)
    # An ASCII file name: a header is latin-1, and quotes or slashes in a name must not reach it.
    safe = "".join(c if (c.isascii() and c.isalnum()) or c in "-_" else "-" for c in dashboard.name)[:60].strip("-")
    safe = re.sub("-+", "-", safe) or "report"
    return HTMLResponse(page, headers={"content-disposition": f'attachment; filename="{safe}.html"',
                                       "content-security-policy": csp, "cache-control": "no-store"})


@router.get("/projects/{project}/dashboards/{dashboard_id}/export.html", summary="A report as one offline HTML file",
            response_class=HTMLResponse)
def export_dashboard(project: str, dashboard_id: str, request: Request, reader: Reader, cache: Cache,
                     store: Store) -> HTMLResponse:
    """Return the report with its data and plotly.js inlined: it opens without the server or a network."""
    require(request, project)
    with answers():
        dashboard = store.get(project, dashboard_id)
    return export_response(request, reader, cache, dashboard)
