"""Each panel's data as an exported report embeds it: what the page would fetch, fetched once and written in.

The offline file asks nothing of a server, so every panel type carries its answer: series for line charts,
the compare table, the sim-vs-real series and gap numbers, a table's first page, and media as ``data:`` URIs.
Media are the one thing that can make a file huge, so they are embedded up to a total budget
(:data:`MAX_EMBED_BYTES`; videos and audio also up to :data:`MAX_EMBED_AV_BYTES` each); one over the budget
gets ``url`` null and a ``note`` saying its size and that it opens on the server, never a broken element.
"""

from __future__ import annotations

import base64
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
from rltrack.server.workspace_data import series_of
from rltrack.server.workspace_media import media_answer
from rltrack.server.workspace_resolve import simreal_sides
from rltrack.store.reader import RunRow, StoreReader

__all__ = ["MAX_EMBED_AV_BYTES", "MAX_EMBED_BYTES", "MAX_TABLE_ROWS", "Budget", "panel_data"]

#: Media bytes one exported file embeds at most (before base64), over all its panels.
MAX_EMBED_BYTES = 20 * 1024 * 1024
#: Largest single video or audio file embedded.
MAX_EMBED_AV_BYTES = 8 * 1024 * 1024
#: Rows of a table panel's first page in the file.
MAX_TABLE_ROWS = 200
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


def _simreal(reader: StoreReader, project: str, resolved: dict[str, Any], x: XAxis) -> dict[str, Any]:
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
            series[key][side] = (series_payload(reader, run_id, source, key, x=x, max_points=1000)
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


def _one(reader: StoreReader, cache: ReadCache, project: str, resolved: dict[str, Any], rows: Sequence[RunRow],
         visible: Sequence[str], ids: Sequence[str], x: XAxis, budget: Budget) -> dict[str, Any]:
    kind = resolved["type"]
    if resolved.get("error"):
        return {"type": kind, "error": resolved["error"]}
    shown = _visible_rows(rows, visible)
    if kind == "line" and "regex" in resolved:
        series = {k: series_of(reader, cache, project, k, ",".join(visible), source=resolved["source"],
                               points=1000, x=x, allowed_runs=ids) for k in resolved["keys"]} if visible else {}
        return {"type": "line", "keys": resolved["keys"], "more": resolved.get("more", 0), "series": series}
    if kind == "line":
        return {"type": "line", "series_key": f"{resolved['key']}|{resolved['source'] or ''}"}
    if kind == "compare":
        return {"type": "compare", **compare_rows(reader, shown, resolved["keys"], resolved["config"])}
    if kind == "simreal":
        return _simreal(reader, project, resolved, x)
    if kind == "media":
        answer = media_answer(reader, shown, resolved["key"], resolved["step"], media_url)
        for item in answer["items"]:
            item["url"], item["note"] = budget.embed(reader.db.root, item["url"])
        return {"type": "media", **answer}
    return _table(reader, resolved, budget)


def panel_data(reader: StoreReader, cache: ReadCache, project: str, blocks: Sequence[dict[str, Any]],
               resolved: Sequence[dict[str, Any]], rows: Sequence[RunRow], visible: Sequence[str],
               ids: Sequence[str], x: XAxis) -> dict[str, Any]:
    """Return ``{block index: data}`` for every panel block of a report (see the module's docstring).

    Args:
        reader: The store reader.
        cache: The read cache.
        project: The report's project.
        blocks: The report's blocks, in page order.
        resolved: Its panel blocks resolved (:func:`rltrack.server.workspace_resolve.resolve_panels`), in order.
        rows: The project's runs.
        visible: The runs drawn (the layout's, less those toggled off).
        ids: The layout's runs.
        x: The x-axis of line charts.
    """
    budget = Budget()
    out: dict[str, Any] = {}
    panels = iter(resolved)
    for index, block in enumerate(blocks):
        if "panel" not in block:
            continue
        panel = next(panels)
        try:
            out[str(index)] = _one(reader, cache, project, panel, rows, visible, ids, x, budget)
        except (RltrackError, HTTPException) as err:  # one panel's data missing must not lose the whole file
            detail = err.detail if isinstance(err, HTTPException) else str(err)
            out[str(index)] = {"type": panel["type"], "error": str(detail)}
    return out
