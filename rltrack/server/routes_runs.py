"""JSON routes for projects and runs: list (filter, sort, page), detail, and what a run logged beyond scalars."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request

from rltrack._files import ALERT_LEVELS
from rltrack.errors import RltrackError
from rltrack.server import tables as tables_mod
from rltrack.server.cache import ReadCache
from rltrack.server.deps import Cache, Reader
from rltrack.server.files import media_url, run_dir
from rltrack.server.run_files import S3RunFiles, run_files_of
from rltrack.server.run_filters import lookup, orderable, parse_filter, sort_key
from rltrack.store.reader import MediaRow, RunRow, StoreReader
from rltrack.types import RUN_STATES
from rltrack.views import check_arg

__all__ = ["router", "run_brief"]

router = APIRouter(prefix="/api", tags=["runs"])


def run_brief(row: RunRow) -> dict[str, Any]:
    """Return the fields of a run the runs table shows."""
    return {
        "id": row.id,
        "name": row.name,
        "project": row.project,
        "group": row.group,
        "tags": row.tags,
        "state": row.state,
        "reason": row.reason,
        "job_type": row.job_type,
        "created_ns": row.created_ns,
        "ended_ns": row.ended_ns,
        "heartbeat_ns": row.heartbeat_ns,
        "primary_source": row.primary_source,
        "config": row.config,
    }


@router.get("/projects", summary="Projects with their run counts")
def projects(reader: Reader) -> list[dict[str, Any]]:
    """Return every project with how many runs it holds, how many are running, and its newest run's time."""
    out: dict[str, dict[str, Any]] = {p: {"name": p, "runs": 0, "running": 0, "last_created_ns": 0} for p in
                                      reader.projects()}
    for row in reader.runs():
        entry = out.setdefault(row.project, {"name": row.project, "runs": 0, "running": 0, "last_created_ns": 0})
        entry["runs"] += 1
        entry["running"] += row.state == "running"
        entry["last_created_ns"] = max(entry["last_created_ns"], row.created_ns)
    return sorted(out.values(), key=lambda p: str(p["name"]))


@router.get("/runs", summary="List runs (filter, sort, page)")
def runs(
    reader: Reader,
    cache: Cache,
    project: str | None = None,
    group: str | None = None,
    state: Annotated[str | None, Query(description=f"one of {', '.join(RUN_STATES)}")] = None,
    tag: Annotated[list[str] | None, Query(description="runs must carry every tag given")] = None,
    q: Annotated[str | None, Query(description="substring of the run's name or id")] = None,
    filter: Annotated[
        list[str] | None, Query(description="config.KEY OP VALUE or summary.KEY OP VALUE; OP: = != > >= < <= ~")
    ] = None,
    sort: Annotated[str, Query(description="created, name, state, group, config.KEY, summary.KEY; '-' = descending")]
    = "-created",
    limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000,
    offset: Annotated[int, Query(ge=0)] = 0,
    summary: Annotated[bool, Query(description="include each run's summary")] = True,
) -> dict[str, Any]:
    """Return ``{"total": N, "runs": [...]}`` for the runs that pass every filter, sorted and paged."""
    if state is not None and state not in RUN_STATES:
        raise RltrackError(f"state={state!r} is unknown; use one of {', '.join(RUN_STATES)}")
    conditions = [parse_filter(f) for f in filter or ()]
    descending = sort.startswith("-")
    field, path = sort_key(sort.lstrip("-"))
    rows = cache.get_or_compute(
        ("runs", project, group, state, tuple(tag or ())),
        lambda: reader.runs(project, group=group, state=state, tags=tag),
    )
    if q:
        needle = q.lower()
        rows = [r for r in rows if needle in r.name.lower() or needle in r.id.lower()]
    need_summary = summary or field == "summary" or any(c.where == "summary" for c in conditions)
    summaries = _summaries(reader, cache, rows) if need_summary else {}
    if conditions:
        rows = [r for r in rows if all(c.matches(r.config, summaries.get(r.id, {})) for c in conditions)]
    rows = _sorted(rows, field, path, summaries, descending)
    page = rows[offset : offset + limit]
    out = []
    for r in page:
        brief = run_brief(r)
        if summary:
            brief["summary"] = summaries.get(r.id, {})
        out.append(brief)
    return {"total": len(rows), "runs": out}


def _summaries(reader: StoreReader, cache: ReadCache, rows: list[RunRow]) -> dict[str, dict[str, Any]]:
    # One cached map for the whole store: the runs table asks for the same summaries on every load.
    everything: dict[tuple[str, str], dict[str, Any]] = cache.get_or_compute(("summaries",), dict)
    out = {}
    for r in rows:
        key = (r.id, r.primary_source)
        found = everything.get(key)
        if found is None:
            found = everything[key] = reader.summary(r.id, r.primary_source)
        out[r.id] = found
    return out


def _sorted(
    rows: list[RunRow], field: str, path: tuple[str, ...], summaries: dict[str, dict[str, Any]], descending: bool
) -> list[RunRow]:
    if field == "created":
        # The reader already returns newest first.
        return rows if descending else rows[::-1]
    if field in ("config", "summary"):
        def key(r: RunRow) -> tuple[int, float, str]:
            found, value = lookup(r.config if field == "config" else summaries.get(r.id, {}), path)
            return orderable(value if found else None)
    else:
        attr = {"group": "group", "ended": "ended_ns"}.get(field, field)

        def key(r: RunRow) -> tuple[int, float, str]:
            return orderable(getattr(r, attr))
    present = [r for r in rows if key(r)[0] != 2]
    missing = [r for r in rows if key(r)[0] == 2]
    # Missing values stay last in both directions.
    return sorted(present, key=key, reverse=descending) + missing


@router.get("/runs/{run_id}", summary="One run: config, summaries per source, metadata, sources, keys")
def run_detail(run_id: str, reader: Reader) -> dict[str, Any]:
    """Return everything the run page shows except the values themselves."""
    row = reader.run(run_id)
    sources = reader.sources(run_id) or [row.primary_source]
    detail = run_brief(row)
    detail.update(
        notes=row.notes,
        exit_code=row.exit_code,
        metadata=row.metadata,
        sources=sources,
        summary=reader.summary(run_id, row.primary_source),
        summaries={s: reader.summary(run_id, s) for s in sources},
        keys={s: reader.keys(run_id, s) for s in sources},
        media_count=len(reader.media(run_id)),
    )
    return detail


@router.get("/runs/{run_id}/counts", summary="Stored point count of every key of one source")
def counts(run_id: str, reader: Reader, source: str | None = None) -> dict[str, int]:
    """Return ``{key: points stored}`` (``rltrack sync`` sends only what the server lacks)."""
    row = reader.run(run_id)
    src = source or row.primary_source
    return {key: sum(c[0] for c in reader.chunk_stats(run_id, src, key)) for key in reader.keys(run_id, src)}


# ---- what a run logged beyond scalars: tables and plots, alerts, saved files (issue 13) ----------------------------

#: Rows one page of a table may hold (the page asks for 100; a script may ask for more).
MAX_PAGE_ROWS = 10_000
#: Cells one page holds at most: a table of 10,000 columns is paged in fewer rows (the answer's ``limit``).
MAX_PAGE_CELLS = 200_000
#: Rows the columns of a plot are sent with; a longer table is sampled evenly (every n-th row).
MAX_PLOT_ROWS = 200_000
#: Ints beyond this lose digits as JavaScript numbers.
_SAFE_INT = 2**53
#: Columns one request for a plot's data may name.
MAX_DATA_COLUMNS = 32
#: Saved files listed at most (a run that saved a whole dataset still answers quickly).
MAX_FILES_LISTED = 5_000


@router.get("/runs/{run_id}/tables", summary="Tables and plots a run logged: key, step, shape, cell types, plot spec")
def run_tables(run_id: str, reader: Reader) -> list[dict[str, Any]]:
    """Return one entry per logged table, by key then step.

    Each has ``source, key, step, t_ns, caption, path, url`` and either ``rows, cols, columns, types, plot``
    (``plot`` is ``{"type", "fields", "title", "xname"}`` for ``rltrack.plot`` charts, else None) or ``error``
    (a file that cannot be read as a table).
    """
    reader.run(run_id)
    root = reader.db.root
    tables = [m for m in reader.media(run_id) if m.kind == "table"]
    return [tables_mod.table_entry(root, run_id, m) for m in tables]


def _table_for(reader: StoreReader, run_id: str, key: str, step: int | None, source: str | None) -> tuple[
        MediaRow, tables_mod.LoadedTable]:
    reader.run(run_id)
    row = tables_mod.find_table(reader.media(run_id), check_arg(key), step, check_arg(source, "source"))
    path = tables_mod.table_path(reader.db.root, run_id, row)
    if path is None:
        raise RltrackError(f"table {key!r} at step {row.step} names {row.path!r}, which is not a table file")
    return row, tables_mod.load(path)


@router.get("/runs/{run_id}/tables/rows", summary="One page of a logged table's rows, sorted by a column")
def table_rows(
    run_id: str,
    reader: Reader,
    key: str,
    step: Annotated[int | None, Query(description="which step's table (default: the last logged)")] = None,
    source: str | None = None,
    sort: Annotated[str | None, Query(description="column to sort by (default: the order logged)")] = None,
    order: Annotated[Literal["asc", "desc"], Query(description="sort direction")] = "asc",
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_ROWS)] = 100,
) -> dict[str, Any]:
    """Return ``{"total", "offset", "limit", "columns", "types", "rows", "index", "exact_ints", ...}`` from ``offset``.

    ``exact_ints`` lists ``[row, column, text]`` for each int cell past ±2**53, which JavaScript reads rounded.

    ``limit`` in the answer is the rows a page holds: what was asked, or fewer for a table so wide that
    ``limit`` rows would exceed :data:`MAX_PAGE_CELLS` cells (the next page starts at ``offset + limit``).

    Sorting is done here, over the whole table; missing cells (None, NaN) come last in both directions.
    Number cells are JSON numbers, NaN/±inf the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``; media
    cells are ``{"kind", "caption", "url"}`` with ``url`` a file of the run (None when the file is missing).
    ``index`` gives each row's position in the table as logged.
    """
    row, table = _table_for(reader, run_id, key, step, source)
    limit = max(1, min(limit, MAX_PAGE_CELLS // max(1, len(table.names))))
    if sort is not None and sort not in table.names:
        raise RltrackError(f"sort={sort!r} is not a column of table {key!r}; its columns are {table.names!r}")
    if sort is None:
        picked = list(range(offset, min(offset + limit, table.rows)))
    else:
        picked = tables_mod.sort_order(table, table.names.index(sort), order == "desc")[offset : offset + limit]
    base, folder = run_dir(reader.db.root, run_id), row.path.rpartition("/")[0]
    cells = [[tables_mod.wire_cell(table.columns[c][i], kind, base, run_id, folder) for c, kind in
              enumerate(table.types)] for i in picked]
    # JavaScript reads an int past 2**53 (a nanosecond timestamp, an id) rounded: its exact text rides beside it.
    exact = [[r, c, str(v)] for r, cells_r in enumerate(cells) for c, v in enumerate(cells_r)
             if v.__class__ is int and not -_SAFE_INT <= v <= _SAFE_INT]
    return {"source": row.source, "key": row.key, "step": row.step, "caption": row.caption, "total": table.rows,
            "offset": offset, "limit": limit, "sort": sort, "order": order, "columns": table.names,
            "types": table.types, "rows": cells, "index": picked, "exact_ints": exact}


@router.get("/runs/{run_id}/tables/data", summary="Whole columns of a logged table (what a plot draws)")
def table_data(
    run_id: str,
    reader: Reader,
    key: str,
    column: Annotated[list[str], Query(description="columns to return")],
    step: int | None = None,
    source: str | None = None,
    max_rows: Annotated[int, Query(ge=1, le=MAX_PLOT_ROWS)] = MAX_PLOT_ROWS,
) -> dict[str, Any]:
    """Return ``{"total", "sampled", "columns": {name: [cells]}}``; NaN/±inf are null (a gap in a chart).

    Above ``max_rows`` rows every n-th row is sent (``sampled`` true). Media cells are sent as their captions;
    a cell a crafted file made a list or an object is sent as its JSON text.
    """
    wanted = list(dict.fromkeys(column))
    if len(wanted) > MAX_DATA_COLUMNS:
        raise RltrackError(f"column= names {len(wanted):,} columns; ask for at most {MAX_DATA_COLUMNS} at a time "
                           "(a plot draws 1 to 3)")
    _, table = _table_for(reader, run_id, key, step, source)
    missing = [c for c in column if c not in table.names]
    if missing:
        raise RltrackError(f"column={missing[0]!r} is not a column of table {key!r}; its columns are {table.names!r}")
    stride = max(1, -(-table.rows // max_rows))
    out: dict[str, list[Any]] = {}
    for name in wanted:
        cells = table.columns[table.names.index(name)][::stride]
        out[name] = [tables_mod.plot_cell(c) for c in cells]
    return {"total": table.rows, "sampled": stride > 1, "columns": out}


@router.get("/runs/{run_id}/alerts", summary="Alerts a run raised (rltrack.alert): title, text, level, step, time")
def run_alerts(run_id: str, reader: Reader) -> list[dict[str, Any]]:
    """Return the run's alerts in the order raised; a malformed record is shown with what it holds, never dropped."""
    found = reader.run(run_id).metadata.get("alerts")
    out = []
    for item in found if isinstance(found, list) else []:
        record = item if isinstance(item, dict) else {"text": item}
        level = str(record.get("level", "INFO")).upper()
        out.append({
            "title": _text(record.get("title")), "text": _text(record.get("text")),
            "level": level if level in ALERT_LEVELS else "INFO",
            "step": _int_or_none(record.get("step")),
            "t_ns": _int_or_none(record.get("t_ns")),
        })
    return out


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else json.dumps(value, default=str))


@router.get("/runs/{run_id}/files", summary="Files a run saved (rltrack.save, save_code): path, size, modified")
def run_files(run_id: str, reader: Reader, request: Request) -> dict[str, Any]:
    """Return ``{"files": [{"path", "size", "modified_ns", "url"}], "truncated"}`` under ``files/`` and ``code/``.

    Symbolic links are left out (the files route refuses a link that leaves the run's folder); ``url`` is
    None for a name that is not valid UTF-8 (it cannot be put in a URL faithfully). On a server whose run
    files live in an S3 bucket (``--blobs``), the bucket's files are listed too.
    """
    reader.run(run_id)
    bucket = run_files_of(request.app)
    if bucket is not None:
        return _bucket_files(bucket, run_id, _disk_files(reader, run_id))
    return _disk_files(reader, run_id)


def _bucket_files(bucket: S3RunFiles, run_id: str, disk: dict[str, Any]) -> dict[str, Any]:
    seen = {f["path"] for f in disk["files"]}
    out = list(disk["files"])
    for top in ("code", "files"):
        for path, size, modified_ns in bucket.listing(run_id, top, MAX_FILES_LISTED + 1):
            if path not in seen:
                out.append({"path": path, "size": size, "modified_ns": modified_ns, "url": media_url(run_id, path)})
    out.sort(key=lambda f: f["path"])
    truncated = disk["truncated"] or len(out) > MAX_FILES_LISTED
    return {"files": out[:MAX_FILES_LISTED], "truncated": truncated}


def _disk_files(reader: StoreReader, run_id: str) -> dict[str, Any]:
    base = run_dir(reader.db.root, run_id)
    out: list[dict[str, Any]] = []
    for top in ("code", "files"):
        if (base / top).is_symlink():
            continue
        for folder, dirs, names in os.walk(base / top):
            dirs.sort()
            for name in sorted(names):
                path = Path(folder) / name
                if path.is_symlink() or not path.is_file():
                    continue
                if len(out) >= MAX_FILES_LISTED:
                    return {"files": out, "truncated": True}
                rel = path.relative_to(base).as_posix()
                stat = path.stat()
                try:
                    url: str | None = media_url(run_id, rel)
                except UnicodeEncodeError:
                    url = None
                out.append({"path": rel, "size": stat.st_size, "modified_ns": stat.st_mtime_ns, "url": url})
    return {"files": out, "truncated": False}
