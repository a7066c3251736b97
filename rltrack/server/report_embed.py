"""Each panel's data as an exported report embeds it: what the page would fetch, fetched once and written in.

The offline file asks nothing of a server, so every panel type carries its answer: series for line charts,
the compare table, the sim-vs-real series and gap numbers, a table's first page, and media as ``data:`` URIs.
Media are the one thing that can make a file huge, so they are embedded up to a total budget
(:data:`MAX_EMBED_BYTES`; videos and audio also up to :data:`MAX_EMBED_AV_BYTES` each); one over the budget
gets ``url`` null and a ``note`` saying its size and that it opens on the server, never a broken element.
"""

from __future__ import annotations

import base64
import json
import mimetypes
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import HTTPException

from rltrack.errors import RltrackError
from rltrack.server.cache import ReadCache
from rltrack.server.files import media_url, run_dir, safe_file
from rltrack.server.routes_series import XAxis, series_payload
from rltrack.server.workspace_compare import compare_rows
from rltrack.server.workspace_media import media_answer
from rltrack.server.workspace_resolve import simreal_sides
from rltrack.store.reader import RunRow, StoreReader

__all__ = ["EXPORT_POINTS", "MAX_EMBED_AV_BYTES", "MAX_EMBED_BYTES", "MAX_EXPORT_POINTS", "MAX_PANEL_DATA_BYTES",
           "MAX_TABLE_ROWS", "Budget", "export_points", "line_names", "panel_data", "series_name"]

#: Media bytes one exported file embeds at most (before base64), over all its panels.
MAX_EMBED_BYTES = 20 * 1024 * 1024
#: Largest single video or audio file embedded.
MAX_EMBED_AV_BYTES = 8 * 1024 * 1024
#: Rows of a table panel's first page in the file.
MAX_TABLE_ROWS = 200
#: Points per run and line chart in the file: a printed chart shows no more (fewer when there are many).
EXPORT_POINTS = 1000
#: Fewest points per series: under this a chart says nothing, and the series is left out instead.
MIN_EXPORT_POINTS = 50
#: Points of every line and sim-vs-real series in one file (100 regex panels of 10 keys over 50 runs, each at
#: 1,000 points, were a 499 MiB file that took the server 1.2 GB to build, for any share link's viewer).
MAX_EXPORT_POINTS = 2_000_000
#: Bytes of the compare, sim-vs-real, table and line-reference data of all panels (media have their own cap).
MAX_PANEL_DATA_BYTES = 32 * 1024 * 1024
#: Types embedded as ``data:`` URIs: what <img>, <video> and <audio> play (never SVG, which can carry script).
_EMBEDDED = {"image/png", "image/jpeg", "image/gif", "image/webp", "video/mp4", "video/webm", "audio/wav",
             "audio/x-wav", "audio/mpeg", "audio/ogg", "audio/webm", "audio/flac"}
_RUN_FILES = "/api/runs/"


@dataclass
class Budget:
    """Media bytes an export may still embed, and what it left out."""

    left: int = MAX_EMBED_BYTES
    skipped: int = 0

    def embed(self, root: Path, url: str | None) -> tuple[str | None, str | None]:
        """Return (``data:`` URI, None) for a run file's URL within budget, else (None, a note saying why)."""
        if not url or not url.startswith(_RUN_FILES) or "/files/" not in url:
            return None, None
        from urllib.parse import unquote

        run_id, _, path = url[len(_RUN_FILES):].partition("/files/")
        run_id, path = unquote(run_id), unquote(path)
        media_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
        if media_type not in _EMBEDDED:
            self.skipped += 1
            return None, f"not embedded: {media_type} files open on the server only"
        try:
            target = safe_file(run_dir(root, run_id), path)
            size = target.stat().st_size
        except (HTTPException, OSError):
            self.skipped += 1
            return None, "not embedded: the file is missing from the run's folder"
        limit = self.left if media_type.startswith("image/") else min(self.left, MAX_EMBED_AV_BYTES)
        if size > limit:
            self.skipped += 1
            return None, f"not embedded: {_size(size)}, open on the server"
        data = target.read_bytes()[:size]
        self.left -= len(data)
        return f"data:{media_type};base64," + base64.b64encode(data).decode("ascii"), None


def _size(size: int) -> str:
    return f"{size / 2**20:.1f} MiB" if size >= 2**20 // 10 else f"{max(1, round(size / 1024))} KiB"


def _visible_rows(rows: Sequence[RunRow], visible: Sequence[str]) -> list[RunRow]:
    by_id = {r.id: r for r in rows}
    return [by_id[i] for i in visible if i in by_id]


def _embed_cells(root: Path, budget: Budget, page: dict[str, Any]) -> dict[str, Any]:
    for cells in page.get("rows", []):
        for i, cell in enumerate(cells):
            if isinstance(cell, dict) and "url" in cell:
                url, note = budget.embed(root, cell.get("url"))
                cells[i] = {**cell, "url": url, "note": note}
    return page


def _simreal(reader: StoreReader, project: str, resolved: dict[str, Any], x: XAxis, points: int) -> dict[str, Any]:
    from rltrack.server.routes_simreal import gap

    info = simreal_sides(reader, project, resolved["run"])
    for side in (info.get("videos") or {}).values():
        for video in side:
            video["url"] = None  # videos of a pair play on the server (they are not what the gap table needs)
    series: dict[str, Any] = {}
    for key in resolved["keys"]:
        series[key] = {}
        for side, run_name, source_name in (("sim", "sim_run", "sim"), ("real", "real_run", "real")):
            run_id, source = info.get(run_name), info.get(source_name)
            series[key][side] = (series_payload(reader, run_id, source, key, x=x, max_points=points)
                                 if run_id and source else None)
    return {"type": "simreal", "info": info, "gap": gap(resolved["run"], reader), "keys": resolved["keys"],
            "series": series}


def _table(reader: StoreReader, resolved: dict[str, Any], budget: Budget) -> dict[str, Any]:
    from rltrack.server.routes_runs import run_tables, table_rows

    run_id, key, step = resolved["run"], resolved["key"], resolved["step"]
    rows = table_rows(run_id, reader, key, step, None, None, "asc", 0, MAX_TABLE_ROWS)
    entries = [e for e in run_tables(run_id, reader) if e.get("key") == key and e.get("step") == rows["step"]]
    return {"type": "table", "entry": entries[-1] if entries else None,
            "rows": _embed_cells(reader.db.root, budget, rows)}


def series_name(key: str, source: str | None) -> str:
    """Return the name of a key's series in the file's ``series`` (``"<key>|<source or ''>"``)."""
    return f"{key}|{source or ''}"


def line_names(resolved: Sequence[dict[str, Any]]) -> list[tuple[str, str | None]]:
    """Return the (key, source) pairs the line panels draw (per-key and regex), each once, in page order."""
    names: dict[tuple[str, str | None], None] = {}
    for panel in resolved:
        if panel["type"] == "line" and not panel.get("error"):
            names.update(dict.fromkeys((k, panel["source"]) for k in panel["keys"]))
    return list(names)


def export_points(line_series: int, simreal_series: int) -> tuple[int, int]:
    """Return (points per run's series, how many run-series fit) within :data:`MAX_EXPORT_POINTS` in all.

    Args:
        line_series: Run-series the line panels draw (their distinct keys x the visible runs).
        simreal_series: Series the sim-vs-real panels draw (two per key).
    """
    wanted = max(1, line_series + simreal_series)
    points = max(MIN_EXPORT_POINTS, min(EXPORT_POINTS, MAX_EXPORT_POINTS // wanted))
    return points, MAX_EXPORT_POINTS // points


def _one(reader: StoreReader, cache: ReadCache, project: str, resolved: dict[str, Any], rows: Sequence[RunRow],
         visible: Sequence[str], x: XAxis, budget: Budget, series: dict[str, Any], points: int) -> dict[str, Any]:
    kind = resolved["type"]
    if resolved.get("error"):
        return {"type": kind, "error": resolved["error"]}
    shown = _visible_rows(rows, visible)
    if kind == "line" and "regex" in resolved:
        # The series sit once in the file's "series" (report_html.report_data), however many panels draw them.
        names = {k: series_name(k, resolved["source"]) for k in resolved["keys"]}
        if visible and any(n not in series for n in names.values()):
            return {"type": kind, "error": f"not in this export: the report's line charts hold more than "
                                           f"{MAX_EXPORT_POINTS:,} points; open the report on the server"}
        return {"type": "line", "keys": resolved["keys"], "more": resolved.get("more", 0), "series_of": names}
    if kind == "line":
        name = series_name(resolved["key"], resolved["source"])
        if visible and resolved["keys"] and name not in series:  # logged, but cut by the points budget
            return {"type": kind, "error": f"not embedded: the report's line charts hold more than "
                                           f"{MAX_EXPORT_POINTS:,} points; open the report on the server"}
        return {"type": "line", "series_key": name}
    if kind == "compare":
        return {"type": "compare", **compare_rows(reader, shown, resolved["keys"], resolved["config"])}
    if kind == "simreal":
        return _simreal(reader, project, resolved, x, points)
    if kind == "media":
        answer = media_answer(reader, shown, resolved["key"], resolved["step"], media_url)
        for item in answer["items"]:
            item["url"], item["note"] = budget.embed(reader.db.root, item["url"])
        return {"type": "media", **answer}
    return _table(reader, resolved, budget)


def panel_data(reader: StoreReader, cache: ReadCache, project: str, blocks: Sequence[dict[str, Any]],
               resolved: Sequence[dict[str, Any]], rows: Sequence[RunRow], visible: Sequence[str],
               x: XAxis, series: dict[str, Any], points: int) -> dict[str, Any]:
    """Return ``{block index: data}`` for every panel block of a report (see the module's docstring).

    Args:
        reader: The store reader.
        cache: The read cache.
        project: The report's project.
        blocks: The report's blocks, in page order.
        resolved: Its panel blocks resolved (:func:`rltrack.server.workspace_resolve.resolve_panels`), in order.
        rows: The project's runs.
        visible: The runs drawn (the layout's, less those toggled off).
        x: The x-axis of line charts.
        series: The file's line series by :func:`series_name` (what regex panels point into).
        points: Points per series of a sim-vs-real panel (:func:`export_points`).
    """
    budget = Budget()
    data_left = MAX_PANEL_DATA_BYTES
    out: dict[str, Any] = {}
    panels = iter(resolved)
    for index, block in enumerate(blocks):
        if "panel" not in block:
            continue
        panel = next(panels)
        try:
            one = _one(reader, cache, project, panel, rows, visible, x, budget, series, points)
        except (RltrackError, HTTPException) as err:  # one panel's data missing must not lose the whole file
            detail = err.detail if isinstance(err, HTTPException) else str(err)
            one = {"type": panel["type"], "error": str(detail)}
        if one["type"] != "media":  # media have their own budget (Budget); a table's image cells are counted here
            size = len(json.dumps(one, default=str, separators=(",", ":")))
            if size > data_left:
                one = {"type": panel["type"], "error": f"not in this export: the report's panels hold more than "
                                                      f"{_size(MAX_PANEL_DATA_BYTES)} of data; open it on the server"}
            else:
                data_left -= size
        out[str(index)] = one
    return out
