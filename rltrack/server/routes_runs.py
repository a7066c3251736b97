"""JSON routes for projects and runs: list (filter, sort, page) and detail."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from rltrack.server.cache import ReadCache
from rltrack.server.deps import Cache, Reader
from rltrack.server.run_filters import lookup, orderable, parse_filter, sort_key
from rltrack.store.reader import RunRow, StoreReader
from rltrack.types import RUN_STATES

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
        from rltrack.errors import RltrackError

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
