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
from rltrack.server import routes_dashboards, routes_shared, shared_runs
from rltrack.server.dashboards import MAX_BLOCKS
from rltrack.server.deps import Cache, Reader
from rltrack.server.files import media_url
from rltrack.server.routes_series import XAxis
from rltrack.server.workspace import LAYOUT_SCHEMA, MAX_RUNS, layout_json, parse_layout, parse_panel
from rltrack.server.workspace_compare import compare_rows, rows_of, run_list, split_list
from rltrack.server.workspace_data import (
    layout_run_ids,
    project_metrics,
    project_runs,
    run_keys,
    series_of,
    workspace_payload,
)
from rltrack.server.workspace_media import media_answer
from rltrack.server.workspace_panels import MAX_COMPARE_KEYS, MAX_CONFIG_KEYS
from rltrack.server.workspace_resolve import resolve_panels

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


@router.get("/projects/{project}/media", summary="What runs of a project logged under one media key at one step")
def project_media(
    project: str,
    request: Request,
    reader: Reader,
    cache: Cache,
    key: str,
    runs: Annotated[str, Query(description=f"comma-separated run ids (at most {MAX_RUNS})")],
    step: Annotated[int | None, Query(ge=0, description="the step shown; default each run's latest")] = None,
) -> dict[str, Any]:
    """Return ``{"key", "step", "steps", "items": [{run, source, step, kind, url, caption, name, histogram}]}``.

    ``steps`` lists every step any of the runs logged the key at (for a step selector); ``items`` holds, in the
    order of ``runs``, each run's media at ``step`` (or its latest). A histogram's counts and edges are inline.
    """
    routes_dashboards.require(request, project)
    rows = rows_of(project_runs(reader, cache, project), run_list(runs), project)
    return media_answer(reader, rows, key, step, media_url)


@router.get("/projects/{project}/compare", summary="Summaries and config of runs of a project, one row per run")
def project_compare(
    project: str,
    request: Request,
    reader: Reader,
    cache: Cache,
    runs: Annotated[str, Query(description=f"comma-separated run ids (at most {MAX_RUNS})")],
    keys: Annotated[str, Query(description=f"summary keys: a,b or a JSON list (at most {MAX_COMPARE_KEYS})")] = "",
    config: Annotated[str | None, Query(description="config keys: a,b or a JSON list; absent = those that vary")]
    = None,
) -> dict[str, Any]:
    """Return ``{"config_keys", "keys", "runs": [{id, name, state, config, summary: {key: {last, min?, max?}}}]}``."""
    routes_dashboards.require(request, project)
    rows = rows_of(project_runs(reader, cache, project), run_list(runs), project)
    wanted = None if config is None else split_list(config, "config", MAX_CONFIG_KEYS)
    return compare_rows(reader, rows, split_list(keys, "keys", MAX_COMPARE_KEYS), wanted)


@router.get("/projects/{project}/panels", summary="Panels resolved against a project: the keys each draws")
def project_panels(
    project: str,
    request: Request,
    reader: Reader,
    cache: Cache,
    p: Annotated[str, Query(description="a JSON list of panel objects (a report's panel blocks, in order)")],
    w: Annotated[str | None, Query(description="the layout whose runs the panels draw (default: the newest)")] = None,
) -> dict[str, Any]:
    """Return ``{"panels": [...]}``, resolved as the workspace bootstrap's ``panels`` are, for a report's blocks.

    Each panel comes back with ``keys`` (a regex panel's matches and ``more``), a sim-vs-real panel's sides, or
    ``error`` naming why it cannot be drawn.
    """
    routes_dashboards.require(request, project)
    try:
        data = json.loads(p)
    except ValueError as err:
        raise RltrackError(f"p= is not JSON ({err}); pass a JSON list of panel objects") from err
    except RecursionError:  # a list nested a thousand deep: no panel is, and it must not be a 500
        raise RltrackError("p= nests lists or objects too deep; pass a flat JSON list of panel objects") from None
    if not isinstance(data, list) or len(data) > MAX_BLOCKS:
        raise RltrackError(f"p= must be a JSON list of at most {MAX_BLOCKS} panel objects")
    panels = [parse_panel(item, i) for i, item in enumerate(data)]
    layout = _layout_of(w)
    ids = layout_run_ids(layout, project_runs(reader, cache, project))
    logged = run_keys(reader, cache, project, ids)
    return {"panels": resolve_panels(reader, project, panels, logged)}


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
    except RecursionError:  # nested a thousand deep: no layout is, and it must not be a 500
        raise RltrackError("w= nests lists or objects too deep; pass the layout as a JSON object") from None
    return parse_layout(data)


router.include_router(routes_dashboards.router)
router.include_router(routes_shared.router)
router.include_router(shared_runs.router)
