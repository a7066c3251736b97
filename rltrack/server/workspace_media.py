"""A media panel's answer: what each run logged under one media key at one step, with URLs to fetch the files.

Images, videos and audio are fetched by the browser from the URL given (the run's file route, or a share
link's); a histogram's counts and edges are small and ride inline, so the panel draws it without a second
request. The steps list is every step any of the runs logged the key at: the panel's step selector.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from fastapi import HTTPException

from rltrack.errors import RltrackError
from rltrack.server.files import run_dir, safe_file
from rltrack.store.reader import MediaRow, RunRow, StoreReader
from rltrack.validate import check_key

__all__ = ["MAX_STEPS", "media_answer", "media_rows", "read_histogram"]

#: Steps the answer lists at most (evenly spread, first and last kept).
MAX_STEPS = 2000
#: Largest histogram file read inline.
MAX_HISTOGRAM_BYTES = 1 << 20
#: Kinds a media panel shows (a table under a media key has its own panel type).
_SKIP_KINDS = frozenset({"table"})

UrlOf = Callable[[str, str], str]


def media_rows(reader: StoreReader, run_id: str, key: str) -> list[MediaRow]:
    """Return the media a run logged under ``key`` (any source), tables left out, ordered by step."""
    return sorted((m for m in reader.media(run_id, None, key) if m.kind not in _SKIP_KINDS), key=lambda m: m.step)


def read_histogram(root: Path, run_id: str, path: str) -> dict[str, Any] | None:
    """Return a histogram file's ``{"counts", "edges"}``, or None when it is missing, too large or not one."""
    try:
        target = safe_file(run_dir(root, run_id), path)
        if target.stat().st_size > MAX_HISTOGRAM_BYTES:
            return None
        data = json.loads(target.read_text(encoding="utf-8"))
        counts, edges = data["counts"], data["edges"]
    except (HTTPException, OSError, ValueError, KeyError, TypeError):
        return None
    numbers = [*counts, *edges] if isinstance(counts, list) and isinstance(edges, list) else None
    if (not numbers or len(edges) != len(counts) + 1
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                       for v in numbers)):
        return None
    return {"counts": counts, "edges": edges}


def _spread(steps: list[int]) -> list[int]:
    if len(steps) <= MAX_STEPS:
        return steps
    picks = sorted({round(i * (len(steps) - 1) / (MAX_STEPS - 1)) for i in range(MAX_STEPS)})
    return [steps[i] for i in picks]


def media_answer(
    reader: StoreReader, rows: Sequence[RunRow], key: str, step: int | None, url_of: UrlOf
) -> dict[str, Any]:
    """Return ``{"key", "step", "steps", "items"}`` for these runs (in this order).

    Args:
        reader: The store reader.
        rows: The runs.
        key: The media key.
        step: Items at this step; None = each run's latest step holding the key.
        url_of: ``(run id, file path) -> URL`` the browser fetches the file from.

    Raises:
        RltrackError: an invalid key.
    """
    if not isinstance(key, str):
        raise RltrackError(f"key={key!r} is not text; pass the media key such as 'video/eval'")
    check_key(key, allow_reserved=True)
    steps: set[int] = set()
    items: list[dict[str, Any]] = []
    for row in rows:
        found = media_rows(reader, row.id, key)
        steps.update(m.step for m in found)
        if not found:
            continue
        at = found[-1].step if step is None else step
        for m in found:
            if m.step != at:
                continue
            items.append({
                "run": row.id, "source": m.source, "step": m.step, "kind": m.kind, "url": url_of(row.id, m.path),
                "caption": m.caption, "name": PurePosixPath(m.path).name, "note": None,
                "histogram": read_histogram(reader.db.root, row.id, m.path) if m.kind == "histogram" else None,
            })
    return {"key": key, "step": step, "steps": _spread(sorted(steps)), "items": items}
