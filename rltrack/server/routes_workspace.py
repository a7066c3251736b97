"""JSON routes of the project workspace: its runs and keys in one request, one key of many runs in one request.

A project of 1,000 runs × 20 keys × 1,000 steps is drawn from one bootstrap request (runs, the keys
each source logged, the metrics that matter) and one request per panel on screen, each returning one
key of every visible run downsampled, instead of one request per run and key.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from rltrack.errors import RltrackError, RunNotFoundError
from rltrack.server.cache import ReadCache
from rltrack.server.deps import Cache, Reader
from rltrack.server.routes_series import XAxis, series_payload
from rltrack.server.workspace import LAYOUT_SCHEMA, MAX_RUNS, layout_json, parse_layout
from rltrack.store.reader import RunRow, StoreReader
from rltrack.validate import check_key, check_source

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["workspace"])
#: Points per run of a workspace panel: a 440 px wide chart shows no more.
DEFAULT_POINTS = 400


def _project_runs(reader: StoreReader, cache: ReadCache, project: str) -> list[RunRow]:
    rows: list[RunRow] = cache.get_or_compute(("runs", project, None, None, ()), lambda: reader.runs(project))
    return rows


def _keys_by_run(reader: StoreReader, cache: ReadCache, rows: list[RunRow]) -> dict[str, dict[str, list[str]]]:
    # {run id: {source: keys}}; one small indexed query per run and source, cached per store version.
    def compute() -> dict[str, dict[str, list[str]]]:
        out = {}
        for r in rows:
            sources = reader.sources(r.id) or [r.primary_source]
            out[r.id] = {s: reader.keys(r.id, s) for s in sources}
        return out

    project = rows[0].project if rows else ""
    found: dict[str, dict[str, list[str]]] = cache.get_or_compute(("workspace-keys", project), compute)
    return found


def _sweep_metrics(root: Path, groups: set[str]) -> tuple[list[dict[str, Any]], list[str]]:
    """Return the metrics and swept parameters of the sweeps whose ids are run groups here."""
    metrics: list[dict[str, Any]] = []
    swept: list[str] = []
    folder = root / "sweeps"
    ids = [g for g in sorted(groups) if g and (folder / f"{g}.json").is_file()]
    if not ids:
        return metrics, swept
    try:
        from rltrack.sweeps.engine import load_sweep
    except ImportError:  # the server extra without Optuna: no sweep metadata, the page still works
        return metrics, swept
    for sweep_id in ids:
        try:
            handle = load_sweep(sweep_id, root)
        except (RltrackError, ImportError, OSError, ValueError):
            continue  # a sweep whose study cannot be opened only loses its column order
        metric = handle.config.metric
        metrics.append({"key": metric.name, "goal": metric.goal, "from": f"sweep {sweep_id}"})
        swept.extend(p.name for p in handle.config.params if p.name not in swept)
    return metrics, swept


def project_metrics(request: Request, reader: StoreReader, cache: ReadCache, rows: list[RunRow]) -> dict[str, Any]:
    """Return the metrics that matter first (sweep metrics, then ``define_metric`` goals) and swept parameters."""
    root = Path(request.app.state.settings.root)
    groups = {r.group for r in rows if r.group}
    metrics, swept = cache.get_or_compute(
        ("workspace-sweeps", tuple(sorted(groups))), lambda: _sweep_metrics(root, groups)
    )
    seen = {m["key"] for m in metrics}
    defined = []
    for r in rows:
        for key, spec in (r.metadata.get("metrics") or {}).items():
            if isinstance(spec, dict) and spec.get("goal") and key not in seen and "*" not in key:
                seen.add(key)
                defined.append({"key": key, "goal": spec["goal"], "from": "define_metric"})
    return {"metrics": metrics + defined, "swept": swept}


def _run_entry(row: RunRow, keys: dict[str, list[str]]) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "group": row.group,
        "tags": row.tags,
        "state": row.state,
        "created_ns": row.created_ns,
        "primary_source": row.primary_source,
        "sources": list(keys),
        "config": row.config,
    }


@router.get("/projects/{project}/workspace", summary="Runs, keys and metrics of a project's workspace")
def workspace(
    project: str,
    request: Request,
    reader: Reader,
    cache: Cache,
    w: Annotated[str | None, Query(description="a workspace layout as JSON (see /api/workspace/schema)")] = None,
) -> dict[str, Any]:
    """Return the layout (validated, defaults filled in), the runs newest first, each key and where it was logged."""
    layout = _layout_of(w)
    rows = _project_runs(reader, cache, project)
    if not rows:
        raise RunNotFoundError(f"project {project!r} has no runs; list projects at /api/projects")
    by_run = _keys_by_run(reader, cache, rows)
    keys: dict[str, dict[str, Any]] = {}
    for per_source in by_run.values():
        for source, names in per_source.items():
            for name in names:
                entry = keys.setdefault(name, {"key": name, "sources": [], "runs": 0})
                if source not in entry["sources"]:
                    entry["sources"].append(source)
                entry["runs"] += 1
    return {
        "project": project,
        "layout": layout_json(layout),
        "defaults": layout_json(parse_layout({})),
        "runs": [_run_entry(r, by_run.get(r.id, {})) for r in rows],
        "keys": sorted(keys.values(), key=lambda k: str(k["key"])),
        **project_metrics(request, reader, cache, rows),
    }


@router.get("/projects/{project}/metrics", summary="The metrics that matter in a project (sweep, define_metric)")
def metrics(project: str, request: Request, reader: Reader, cache: Cache) -> dict[str, Any]:
    """Return ``{"metrics": [{key, goal, from}], "swept": [parameter names]}`` for the runs table's column order."""
    return project_metrics(request, reader, cache, _project_runs(reader, cache, project))


@router.get("/projects/{project}/series", summary="One key of many runs of a project, downsampled, in one request")
def project_series(
    project: str,
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
    check_key(key, allow_reserved=True)
    if source is not None:
        check_source(source)
    ids = [r for r in (part.strip() for part in runs.split(",")) if r]
    if not ids:
        raise RltrackError("runs= is empty; pass comma-separated run ids of the project")
    if len(ids) > MAX_RUNS:
        raise RltrackError(f"{len(ids)} runs requested at once; ask for at most {MAX_RUNS}")
    by_id = {r.id: r for r in _project_runs(reader, cache, project)}
    missing = [r for r in ids if r not in by_id]
    if missing:
        raise RunNotFoundError(f"run(s) {missing[:5]} are not in project {project!r}; list them at /api/runs")
    out = []
    for run_id in dict.fromkeys(ids):
        src = source or by_id[run_id].primary_source
        payload = series_payload(reader, run_id, src, key, x=x, max_points=points, cache=cache)
        if x == "step":
            del payload["t_ns"]  # a step axis needs no times: a third less to send and parse
        out.append({"id": run_id, "source": src, **payload})
    return {"project": project, "key": key, "runs": out}


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
