"""What the workspace pages draw, computed once for the project page, saved dashboards and share links.

:func:`workspace_payload` is the bootstrap (runs, the keys each logged, the metrics that matter) and
:func:`series_of` one key of many runs, downsampled. A share link passes ``allowed_runs`` and
``allowed_keys``: the link then answers only what its dashboard shows, never the rest of the project.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

from fastapi import Request

from rltrack.errors import RltrackError, RunNotFoundError
from rltrack.server.cache import ReadCache
from rltrack.server.key_regex import match_keys
from rltrack.server.routes_series import XAxis, series_payload
from rltrack.server.workspace import MAX_RUNS, Layout, layout_json, parse_layout
from rltrack.server.workspace_resolve import resolve_panels
from rltrack.store.reader import RunRow, StoreReader
from rltrack.validate import check_key, check_source

__all__ = ["layout_run_ids", "project_metrics", "project_runs", "run_keys", "series_of", "shown_keys",
           "workspace_payload"]


def project_runs(reader: StoreReader, cache: ReadCache, project: str) -> list[RunRow]:
    """Return the project's runs, newest first (cached per store version)."""
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
    metrics, swept = list(metrics), list(swept)  # the cached lists stay as computed
    calibration = [r for r in rows if r.job_type == "calibration"]
    if calibration:
        # A calibration's trials are a sweep over the simulator's parameters (every config key but its own
        # bookkeeping under 'calibration'), scored by an objective it minimises.
        metrics.append({"key": "calibration/objective", "goal": "minimize", "from": "calibration"})
        swept.extend(k for r in calibration for k in r.config if k != "calibration" and k not in swept)
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


def run_keys(reader: StoreReader, cache: ReadCache, project: str, ids: Collection[str]) -> set[str]:
    """Return every key the given runs of the project logged, under any source."""
    by_run = _keys_by_run(reader, cache, project_runs(reader, cache, project))
    return {k for run_id in ids for names in by_run.get(run_id, {}).values() for k in names}


def layout_run_ids(layout: Layout, rows: list[RunRow]) -> list[str]:
    """Return the runs a layout lists (drawn or toggled off): its ``runs``, else the ``recent`` newest."""
    if layout.runs is None:
        return [r.id for r in rows[: layout.recent]]
    present = {r.id for r in rows}
    return [r for r in layout.runs if r in present]


def shown_keys(layout: Layout, keys: Collection[str]) -> list[str]:
    """Return the keys a workspace layout gives a panel: not ``_rltrack/`` bookkeeping, matching its key filter.

    The filter is a case-insensitive substring, or with ``key_regex`` a regular expression searched in each
    key under a time bound (:func:`rltrack.server.key_regex.match_keys`).

    Raises:
        RltrackError: the key regex runs out of time over these keys.
    """
    if layout.key_regex and layout.key_filter.strip():
        return match_keys(layout.key_filter.strip(), keys)[0]
    wanted = layout.key_filter.strip().lower()
    return sorted(k for k in keys if not k.startswith("_") and (not wanted or wanted in k.lower()))


def workspace_payload(
    request: Request,
    reader: StoreReader,
    cache: ReadCache,
    project: str,
    layout: Layout,
    *,
    allowed_runs: Collection[str] | None = None,
    allowed_keys: Collection[str] | None = None,
) -> dict[str, Any]:
    """Return the layout (defaults filled in), the runs newest first, each key and where it was logged.

    ``shown`` is the keys the layout's key filter keeps (a regex is evaluated here, never in the browser), and
    ``panels`` the layout's panels resolved (:func:`rltrack.server.workspace_resolve.resolve_panels`).

    Args:
        request: The request (the app's settings locate sweep metadata).
        reader: The store reader.
        cache: The app's read cache.
        project: The project.
        layout: The validated layout, returned with every field filled in.
        allowed_runs: Only these runs (a share link's); None = every run of the project.
        allowed_keys: Only these keys; None = every key.

    Raises:
        RunNotFoundError: the project has no runs (or none of the allowed ones).
        RltrackError: the layout's key regex runs out of time over the project's keys.
    """
    rows = project_runs(reader, cache, project)
    if allowed_runs is not None:
        allowed = set(allowed_runs)
        rows = [r for r in rows if r.id in allowed]
    if not rows:
        raise RunNotFoundError(f"project {project!r} has no runs; list projects at /api/projects")
    by_run = _keys_by_run(reader, cache, project_runs(reader, cache, project))
    keys: dict[str, dict[str, Any]] = {}
    wanted = None if allowed_keys is None else set(allowed_keys)
    for r in rows:
        for source, names in by_run.get(r.id, {}).items():
            for name in names:
                if wanted is not None and name not in wanted:
                    continue
                entry = keys.setdefault(name, {"key": name, "sources": [], "runs": 0})
                if source not in entry["sources"]:
                    entry["sources"].append(source)
                entry["runs"] += 1
    ids = layout_run_ids(layout, rows)
    logged = {k for run_id in ids for names in by_run.get(run_id, {}).values() for k in names}
    if wanted is not None:
        logged &= wanted
    return {
        "project": project,
        "layout": layout_json(layout),
        "defaults": layout_json(parse_layout({})),
        "runs": [_run_entry(r, by_run.get(r.id, {})) for r in rows],
        "keys": sorted(keys.values(), key=lambda k: str(k["key"])),
        "shown": shown_keys(layout, list(keys)),
        "panels": resolve_panels(reader, project, layout.panels, logged),
        **project_metrics(request, reader, cache, rows),
    }


def series_of(
    reader: StoreReader,
    cache: ReadCache,
    project: str,
    key: str,
    runs: str,
    *,
    source: str | None,
    points: int,
    x: XAxis,
    allowed_runs: Collection[str] | None = None,
) -> dict[str, Any]:
    """Return one key of many runs (comma-separated ids, in that order), each downsampled to ``points``.

    Raises:
        RltrackError: an invalid key or source, no ids, or too many.
        RunNotFoundError: a run is not in the project (or not among ``allowed_runs``).
    """
    check_key(key, allow_reserved=True)
    if source is not None:
        check_source(source)
    ids = [r for r in (part.strip() for part in runs.split(",")) if r]
    if not ids:
        raise RltrackError("runs= is empty; pass comma-separated run ids of the project")
    if len(ids) > MAX_RUNS:
        raise RltrackError(f"{len(ids)} runs requested at once; ask for at most {MAX_RUNS}")
    by_id = {r.id: r for r in project_runs(reader, cache, project)}
    if allowed_runs is not None:
        allowed = set(allowed_runs)
        by_id = {k: v for k, v in by_id.items() if k in allowed}
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
