"""Read-only routes of a share link: ``/api/shared/{token}/...`` answers only what that dashboard shows.

The token is the only credential: these routes need no login, and they reach nothing beyond the
dashboard's project, its runs (the layout's runs, or its newest ``recent``) and the keys it draws
(a workspace's keys after its key filter, a report's panel keys). Every route is a GET: a share link
cannot save, delete or share. An unknown or revoked token answers 404, like a missing page.

The typed panels' routes (media, compare, a run's tables, sim-vs-real and files) are in
:mod:`rltrack.server.shared_runs`; what a link may serve is :func:`rltrack.server.shared_scope.share_scope`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from starlette.responses import HTMLResponse

from rltrack.server.cache import ReadCache
from rltrack.server.dashboards import Dashboard
from rltrack.server.dashboards_sql import DashboardStore
from rltrack.server.dashboards_view import rendered
from rltrack.server.routes_dashboards import Store, answers, export_response
from rltrack.server.routes_series import XAxis
from rltrack.server.shared_scope import share_scope, share_urls
from rltrack.server.workspace import MAX_RUNS, parse_layout
from rltrack.server.workspace_data import series_of, workspace_payload
from rltrack.store.reader import StoreReader

__all__ = ["router", "shared_dashboard"]

router = APIRouter(prefix="/shared", tags=["shared"])
_MAX_TOKEN = 200


def _app_reader(request: Request) -> StoreReader:
    # The token is the credential: the caller may be logged out, so the reader is the app's own (not scoped
    # to the caller), and what it may answer is limited by its dashboard's share scope (shared_scope.py).
    reader: StoreReader = request.app.state.reader
    return reader


def _app_cache(request: Request) -> ReadCache:
    cache: ReadCache = request.app.state.cache
    return cache


Reader = Annotated[StoreReader, Depends(_app_reader)]
Cache = Annotated[ReadCache, Depends(_app_cache)]


def shared_dashboard(store: DashboardStore, token: str) -> Dashboard:
    """Return the dashboard a share token opens, or answer 404."""
    if len(token) > _MAX_TOKEN:
        raise HTTPException(404, "this share link does not exist or was revoked; ask its owner for a new one")
    with answers():
        return store.shared(token)


@router.get("/{token}", summary="The shared dashboard: kind, name, layout and blocks")
def shared(token: str, store: Store) -> dict[str, Any]:
    """Return the dashboard as its page draws it (without who made it)."""
    return rendered(shared_dashboard(store, token), private=False)


@router.get("/{token}/workspace", summary="Runs and keys of a shared dashboard")
def shared_workspace(token: str, request: Request, reader: Reader, cache: Cache, store: Store) -> dict[str, Any]:
    """Return the workspace bootstrap limited to the dashboard's runs and keys, with its saved layout."""
    dashboard = shared_dashboard(store, token)
    scope = share_scope(reader, cache, dashboard)
    ids, keys = scope.runs, scope.keys
    if not ids:
        raise HTTPException(404, "the shared dashboard's runs are gone from the project")
    payload = workspace_payload(request, reader, cache, dashboard.project, parse_layout(dashboard.layout),
                                allowed_runs=ids, allowed_keys=keys)
    payload["metrics"] = [m for m in payload["metrics"] if m["key"] in keys]
    payload["name"] = dashboard.name
    if dashboard.kind == "report":  # a report's panels are its panel blocks, in page order
        payload["panels"] = share_urls(token, scope.panels)
    return payload


@router.get("/{token}/series", summary="One key of a shared dashboard's runs")
def shared_series(
    token: str,
    reader: Reader,
    cache: Cache,
    store: Store,
    key: str,
    runs: Annotated[str, Query(description=f"comma-separated run ids (at most {MAX_RUNS})")],
    source: Annotated[str | None, Query(description="sim, real, ...; default each run's primary source")] = None,
    points: Annotated[int, Query(ge=3, le=10_000)] = 400,
    x: XAxis = "step",
) -> dict[str, Any]:
    """Return what ``/api/projects/{project}/series`` returns, for the dashboard's runs and keys only."""
    dashboard = shared_dashboard(store, token)
    scope = share_scope(reader, cache, dashboard)
    if key not in scope.keys:
        raise HTTPException(404, f"key {key!r} is not shown by this shared dashboard")
    # Only from the sources its charts draw (a panel's source, or each run's primary one).
    if not scope.project_source_allowed(key, source):
        raise HTTPException(404, f"key {key!r} from source {source!r} is not shown by this shared dashboard")
    return series_of(reader, cache, dashboard.project, key, runs, source=source, points=points, x=x,
                     allowed_runs=scope.runs)


@router.get("/{token}/export.html", summary="A shared report as one offline HTML file", response_class=HTMLResponse)
def shared_export(token: str, request: Request, reader: Reader, cache: Cache, store: Store) -> HTMLResponse:
    """Return the shared report with its data and plotly.js inlined."""
    return export_response(request, reader, cache, shared_dashboard(store, token))
