"""HTML pages (static files that call the JSON API) and plotly.js from the installed ``plotly`` wheel.

No CDN and no JS build step: the pages work offline.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from starlette.responses import FileResponse

from rltrack.server.static_files import STATIC_DIR, plotly_js

__all__ = ["STATIC_DIR", "router"]

router = APIRouter(include_in_schema=False)


def _page(name: str) -> FileResponse:
    return FileResponse(STATIC_DIR / name, media_type="text/html", headers={"cache-control": "no-cache"})


@router.get("/")
def projects_page() -> FileResponse:
    """Projects."""
    return _page("projects.html")


@router.get("/projects/{project}")
def project_page(project: str) -> FileResponse:
    """A project's workspace: every run's charts overlaid, one panel per key."""
    return _page("project.html")


@router.get("/projects/{project}/reports/{dashboard_id}")
def report_page(project: str, dashboard_id: str) -> FileResponse:
    """A saved report: markdown text and panels, editable, exportable as one HTML file."""
    return _page("report.html")


@router.get("/share/{token}")
def share_page(token: str, request: Request) -> FileResponse:
    """A read-only share link: the workspace or report it opens (404 once revoked)."""
    from rltrack.server.routes_dashboards import dashboards_of
    from rltrack.server.routes_shared import shared_dashboard

    dashboard = shared_dashboard(dashboards_of(request), token)
    return _page("report.html" if dashboard.kind == "report" else "project.html")


@router.get("/projects/{project}/runs")
def runs_page(project: str) -> FileResponse:
    """Runs table of one project."""
    return _page("runs.html")


@router.get("/runs/{run_id}")
def run_page(run_id: str) -> FileResponse:
    """One run: charts, media, sim vs real, config."""
    return _page("run.html")


@router.get("/compare")
def compare_page() -> FileResponse:
    """Selected runs overlaid."""
    return _page("compare.html")


@router.get("/static/{name}")
def static_file(name: str) -> FileResponse:
    """Page assets (JS, CSS) and plotly.js."""
    if name == "plotly.min.js":
        return FileResponse(plotly_js(), media_type="text/javascript", headers={"cache-control": "max-age=86400"})
    allowed = {p.name for p in STATIC_DIR.iterdir() if p.suffix in (".js", ".css")}
    if name not in allowed:
        raise HTTPException(404, f"no static file {name!r}")
    media = "text/javascript" if name.endswith(".js") else "text/css"
    return FileResponse(STATIC_DIR / name, media_type=media, headers={"cache-control": "no-cache"})
