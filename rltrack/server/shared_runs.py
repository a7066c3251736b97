"""A share link's typed panels: ``/api/shared/{token}/media``, ``/compare`` and ``/runs/{id}/...``, nothing more.

Each route answers what the project's (or the run's) route answers, through the same functions, but only
for what the dashboard's panels name (:mod:`rltrack.server.shared_scope`): a run, key, table or file no
panel shows is a 404, as is a revoked or unknown token. The file URLs in the answers point under the
link (``/api/shared/{token}/runs/{id}/files/...``), so a logged-out viewer's browser loads them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from rltrack.errors import RltrackError
from rltrack.server import routes_media, routes_runs, routes_series, routes_simreal
from rltrack.server.files import media_url
from rltrack.server.routes_dashboards import Store
from rltrack.server.routes_series import MaxPoints, XAxis
from rltrack.server.routes_shared import Cache, Reader, shared_dashboard
from rltrack.server.shared_scope import ShareScope, check_runs, share_scope, share_urls
from rltrack.server.workspace import MAX_RUNS
from rltrack.server.workspace_compare import compare_rows, rows_of, split_list
from rltrack.server.workspace_data import project_runs
from rltrack.server.workspace_media import media_answer
from rltrack.server.workspace_panels import MAX_COMPARE_KEYS, MAX_CONFIG_KEYS
from rltrack.store.reader import StoreReader

__all__ = ["router"]

router = APIRouter(prefix="/shared", tags=["shared"])


def _shown_rows(reader: StoreReader, cache: Any, scope: ShareScope) -> list[Any]:
    """Return the project's run rows the link shows."""
    allowed = set(scope.runs)
    return [r for r in project_runs(reader, cache, scope.project) if r.id in allowed]


def _scope(token: str, reader: StoreReader, cache: Any, store: Any) -> ShareScope:
    return share_scope(reader, cache, shared_dashboard(store, token))


@router.get("/{token}/media", summary="A shared dashboard's media panel: its runs' media under one key")
def shared_media(
    token: str,
    reader: Reader,
    cache: Cache,
    store: Store,
    key: str,
    runs: Annotated[str, Query(description=f"comma-separated run ids (at most {MAX_RUNS})")],
    step: Annotated[int | None, Query(ge=0)] = None,
) -> dict[str, Any]:
    """Return what ``/api/projects/{project}/media`` returns, for a media panel's key and the link's runs only."""
    scope = _scope(token, reader, cache, store)
    if key not in scope.media_keys:
        raise scope.refuse(f"media key {key!r}")
    ids = split_list(runs, "runs", MAX_RUNS)
    check_runs(scope, ids)
    rows = rows_of(_shown_rows(reader, cache, scope), ids, scope.project)

    def url_of(run_id: str, path: str) -> str:
        return share_urls(token, {"url": media_url(run_id, path)})["url"]  # type: ignore[no-any-return]

    return media_answer(reader, rows, key, step, url_of)


@router.get("/{token}/compare", summary="A shared dashboard's compare panel: summaries and config of its runs")
def shared_compare(
    token: str,
    reader: Reader,
    cache: Cache,
    store: Store,
    runs: Annotated[str, Query(description=f"comma-separated run ids (at most {MAX_RUNS})")],
    keys: Annotated[str, Query(description=f"summary keys: a,b or a JSON list (at most {MAX_COMPARE_KEYS})")] = "",
    config: str | None = None,
) -> dict[str, Any]:
    """Return what ``/api/projects/{project}/compare`` returns, for a compare panel's keys and the link's runs."""
    scope = _scope(token, reader, cache, store)
    wanted = split_list(keys, "keys", MAX_COMPARE_KEYS)
    extra = [k for k in wanted if k not in scope.compare_keys]
    if extra or not scope.compare_keys:
        raise scope.refuse(f"summary key {(extra or [keys])[0]!r}")
    ids = split_list(runs, "runs", MAX_RUNS)
    check_runs(scope, ids)
    rows = rows_of(_shown_rows(reader, cache, scope), ids, scope.project)
    return compare_rows(reader, rows, wanted, None if config is None else split_list(config, "config",
                                                                                       MAX_CONFIG_KEYS))


@router.get("/{token}/runs/{run_id}/series", summary="Series of a run a shared dashboard draws")
def shared_run_series(
    token: str,
    run_id: str,
    reader: Reader,
    cache: Cache,
    store: Store,
    key: Annotated[list[str], Query(description="keys to read (repeat the parameter)")],
    source: str | None = None,
    x: XAxis = "step",
    max_points: MaxPoints = 2000,
    x_min: float | None = None,
    x_max: float | None = None,
) -> dict[str, Any]:
    """Return what ``/api/runs/{id}/series`` returns, for keys a line chart or a sim-vs-real panel of the link shows."""
    scope = _scope(token, reader, cache, store)
    if not scope.series_allowed(run_id, key, source):
        shown = f" from source {source!r}" if source else ""
        raise scope.refuse(f"run {run_id!r} with key(s) {key[:3]!r}{shown}")
    return routes_series.series(run_id, reader, cache, key, source, x, max_points, x_min, x_max)


def _pair(scope: ShareScope, run_id: str) -> None:
    if run_id not in scope.pairs:
        raise scope.refuse(f"sim-vs-real of run {run_id!r}")


@router.get("/{token}/runs/{run_id}/simreal", summary="A shared sim-vs-real panel's sides")
def shared_simreal(token: str, run_id: str, reader: Reader, cache: Cache, store: Store) -> dict[str, Any]:
    """Return what ``/api/runs/{id}/simreal`` returns for a sim-vs-real panel's run (video URLs under the link)."""
    scope = _scope(token, reader, cache, store)
    _pair(scope, run_id)
    info = routes_simreal.simreal(run_id, reader)
    drawn = scope.pairs[run_id][0]
    # Only the keys the panel draws: the rest of the pair's keys are not the link's to list.
    for name in ("shared", "signals", "sim_only", "real_only"):
        if name in info:
            info[name] = [k for k in info[name] if k in drawn]
    return share_urls(token, info)  # type: ignore[no-any-return]


@router.get("/{token}/runs/{run_id}/simreal/gap", summary="A shared sim-vs-real panel's gap numbers")
def shared_gap(token: str, run_id: str, reader: Reader, cache: Cache, store: Store) -> dict[str, Any]:
    """Return what ``/api/runs/{id}/simreal/gap`` returns for a sim-vs-real panel's run."""
    scope = _scope(token, reader, cache, store)
    _pair(scope, run_id)
    return routes_simreal.gap(run_id, reader)


def _table(scope: ShareScope, run_id: str, key: str) -> None:
    if (run_id, key) not in scope.tables:
        raise scope.refuse(f"table {key!r} of run {run_id!r}")


@router.get("/{token}/runs/{run_id}/tables", summary="The tables a shared dashboard's table panels show of a run")
def shared_tables(token: str, run_id: str, reader: Reader, cache: Cache, store: Store) -> list[dict[str, Any]]:
    """Return what ``/api/runs/{id}/tables`` returns, limited to the keys of the link's table panels of this run."""
    scope = _scope(token, reader, cache, store)
    keys = {k for r, k in scope.tables if r == run_id}
    if not keys:
        raise scope.refuse(f"tables of run {run_id!r}")
    entries = [e for e in routes_runs.run_tables(run_id, reader) if e.get("key") in keys]
    return share_urls(token, entries)  # type: ignore[no-any-return]


@router.get("/{token}/runs/{run_id}/tables/rows", summary="One page of a table a shared dashboard shows")
def shared_table_rows(
    token: str,
    run_id: str,
    reader: Reader,
    cache: Cache,
    store: Store,
    key: str,
    step: int | None = None,
    source: str | None = None,
    sort: str | None = None,
    order: Literal["asc", "desc"] = "asc",
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=routes_runs.MAX_PAGE_ROWS)] = 100,
) -> dict[str, Any]:
    """Return what ``/api/runs/{id}/tables/rows`` returns for a table panel's run and key (cell URLs under the link)."""
    scope = _scope(token, reader, cache, store)
    _table(scope, run_id, key)
    rows = routes_runs.table_rows(run_id, reader, key, step, source, sort, order, offset, limit)
    return share_urls(token, rows)  # type: ignore[no-any-return]


@router.get("/{token}/runs/{run_id}/tables/data", summary="Columns of a table a shared dashboard shows")
def shared_table_data(
    token: str,
    run_id: str,
    reader: Reader,
    cache: Cache,
    store: Store,
    key: str,
    column: Annotated[list[str], Query()],
    step: int | None = None,
    source: str | None = None,
    max_rows: Annotated[int, Query(ge=1, le=routes_runs.MAX_PLOT_ROWS)] = routes_runs.MAX_PLOT_ROWS,
) -> dict[str, Any]:
    """Return what ``/api/runs/{id}/tables/data`` returns, for a table panel's run and key."""
    scope = _scope(token, reader, cache, store)
    _table(scope, run_id, key)
    return routes_runs.table_data(run_id, reader, key, column, step, source, max_rows)


@router.get("/{token}/runs/{run_id}/media", summary="The media of a run a shared dashboard's panels show")
def shared_run_media(token: str, run_id: str, reader: Reader, cache: Cache, store: Store,
                     key: str | None = None) -> list[dict[str, Any]]:
    """Return what ``/api/runs/{id}/media`` returns, limited to the link's media keys (and a pair's videos)."""
    scope = _scope(token, reader, cache, store)
    in_pair = run_id in scope.pair_runs()
    if run_id not in scope.runs and not in_pair:
        raise scope.refuse(f"run {run_id!r}")
    rows = routes_media.media(run_id, reader, key, None)
    kept = [m for m in rows if (run_id in scope.runs and m["key"] in scope.media_keys)
            or (in_pair and m["kind"] == "video")]
    return share_urls(token, kept)  # type: ignore[no-any-return]


@router.get("/{token}/runs/{run_id}/files/{path:path}", summary="A media file a shared dashboard shows",
            response_class=Response, responses=routes_media.FILE_RESPONSES)
def shared_file(token: str, run_id: str, path: str, request: Request, reader: Reader, cache: Cache,
                store: Store) -> Response:
    """Serve the file (with Range) when a panel of the link shows it: a media panel's, a pair's video, a table cell."""
    scope = _scope(token, reader, cache, store)
    try:
        shown = scope.file_allowed(reader, run_id, path)
    except RltrackError:
        shown = False
    if not shown:
        raise scope.refuse(f"file {path!r} of run {run_id!r}")
    return routes_media.run_file(run_id, path, request, reader)
