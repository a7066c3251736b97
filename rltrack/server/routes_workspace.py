"""JSON routes of the project workspace: its runs and keys in one request, one key of many runs in one request.

A project of 1,000 runs × 20 keys × 1,000 steps is drawn from one bootstrap request (runs, the keys
each source logged, the metrics that matter) and one request per panel on screen, each returning one
key of every visible run downsampled, instead of one request per run and key. The saved dashboards'
routes (:mod:`rltrack.server.routes_dashboards`) and the share links' (:mod:`rltrack.server.routes_shared`)
are part of this router.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from rltrack.errors import RltrackError
from rltrack.server import routes_dashboards, routes_shared
from rltrack.server.deps import Cache, Reader
from rltrack.server.routes_series import XAxis
from rltrack.server.workspace import LAYOUT_SCHEMA, MAX_RUNS, layout_json, parse_layout
from rltrack.server.workspace_data import project_metrics, project_runs, series_of, workspace_payload

__all__ = ["DEFAULT_POINTS", "router"]

router = APIRouter(prefix="/api", tags=["workspace"])
#: Points per run of a workspace panel: a 440 px wide chart shows no more.
DEFAULT_POINTS = 400


@router.get("/projects/{project}/workspace", summary="Runs, keys and metrics of a project's workspace")
def workspace(
    project: str,
    request: Request,
    reader: Reader,
    cache: Cache,
    w: Annotated[str | None, Query(description="a workspace layout as JSON (see /api/workspace/schema)")] = None,
) -> dict[str, Any]:
    """Return the layout (validated, defaults filled in), the runs newest first, each key and where it was logged."""
    routes_dashboards.require(request, project)
    return workspace_payload(request, reader, cache, project, _layout_of(w))


@router.get("/projects/{project}/metrics", summary="The metrics that matter in a project (sweep, define_metric)")
def metrics(project: str, request: Request, reader: Reader, cache: Cache) -> dict[str, Any]:
    """Return ``{"metrics": [{key, goal, from}], "swept": [parameter names]}`` for the runs table's column order."""
    routes_dashboards.require(request, project)
    return project_metrics(request, reader, cache, project_runs(reader, cache, project))


@router.get("/projects/{project}/series", summary="One key of many runs of a project, downsampled, in one request")
def project_series(
    project: str,
    request: Request,
    reader: Reader,
    cache: Cache,
    key: str,
    runs: Annotated[str, Query(description=f"comma-separated run ids (at most {MAX_RUNS})")],
    source: Annotated[str | None, Query(description="sim, real, ...; default each run's primary source")] = None,
    points: Annotated[int, Query(ge=3, le=10_000, description="points per run after downsampling")] = DEFAULT_POINTS,
    x: XAxis = "step",
) -> dict[str, Any]:
    """Return ``{"key", "runs": [{id, source, count, step, t_ns, value}]}`` in the order the ids were given.

    ``t_ns`` is left out on the step axis (``x=step``); ask ``x=t_ns`` for times.

    A run that never logged the key (under that source) comes back with ``count`` 0.
    """
    routes_dashboards.require(request, project)
    return series_of(reader, cache, project, key, runs, source=source, points=points, x=x)


@router.get("/workspace/schema", summary="JSON Schema of a workspace layout")
def schema() -> dict[str, Any]:
    """Return the JSON Schema a saved workspace layout follows."""
    return LAYOUT_SCHEMA


@router.get("/workspace/layout", summary="Validate a workspace layout and fill in its defaults")
def layout(w: Annotated[str, Query(description="the layout as JSON")]) -> dict[str, Any]:
    """Return the layout with every field present, or 400 naming the first invalid field."""
    return layout_json(_layout_of(w))


def _layout_of(text: str | None) -> Any:
    if not text:
        return parse_layout({})
    try:
        data = json.loads(text)
    except ValueError as err:
        raise RltrackError(f"w= is not JSON ({err}); pass the layout as a JSON object") from err
    return parse_layout(data)


router.include_router(routes_dashboards.router)
router.include_router(routes_shared.router)
