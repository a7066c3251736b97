"""Histograms over steps: one key's ``rltrack.Histogram`` files as a counts-by-step grid (a heatmap).

Each step's histogram keeps its own bins on disk; the grid puts them on one set of bins spanning
every step's range, moving each bin's count into the grid's bins in proportion to their overlap
(counts are assumed uniform inside a bin, as a bar chart draws them), so a row still sums to its
step's total.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from rltrack.server.deps import Reader
from rltrack.server.files import safe_file

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from rltrack.store.reader import MediaRow

__all__ = ["rebin", "router"]

router = APIRouter(prefix="/api", tags=["media"])
#: Bins of the common grid (the heatmap's rows).
GRID_BINS = 64


def rebin(
    counts: npt.NDArray[np.float64], edges: npt.NDArray[np.float64], grid: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Return ``counts`` (on ``edges``) moved onto the bins of ``grid``, in proportion to overlap."""
    import numpy as np

    cumulative = np.concatenate([[0.0], np.cumsum(counts)])
    at_grid = np.interp(grid, edges, cumulative, left=0.0, right=float(cumulative[-1]))
    out: npt.NDArray[np.float64] = np.diff(at_grid)
    return out


def _read(path: Any) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]] | None:
    """Return a histogram file's (counts, edges), or None when it is not one rltrack could have written."""
    import numpy as np

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        counts = np.asarray(data["counts"], dtype=np.float64)
        edges = np.asarray(data["edges"], dtype=np.float64)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if counts.ndim != 1 or edges.shape != (counts.shape[0] + 1,) or counts.shape[0] == 0:
        return None
    if not (np.isfinite(counts).all() and np.isfinite(edges).all() and (np.diff(edges) > 0).all()):
        return None
    return counts, edges


def _sample(rows: list[MediaRow], max_steps: int) -> list[MediaRow]:
    """Keep at most ``max_steps`` rows evenly spread over the list, the first and last included."""
    if len(rows) <= max_steps:
        return rows
    picks = sorted({round(i * (len(rows) - 1) / (max_steps - 1)) for i in range(max_steps)})
    return [rows[i] for i in picks]


@router.get("/runs/{run_id}/histograms", summary="One key's histograms over steps, on one common set of bins")
def histograms(
    run_id: str,
    reader: Reader,
    key: str,
    source: str | None = None,
    max_steps: Annotated[int, Query(ge=2, le=2000, description="steps kept, evenly spread")] = 300,
) -> dict[str, Any]:
    """Return ``{steps, edges, counts, histograms, skipped}``.

    ``counts[i]`` is step ``steps[i]``'s histogram on the common ``edges``; ``histograms[i]`` is the
    same step's own ``{counts, edges}`` as logged; ``skipped`` counts files that could not be read.
    """
    import numpy as np

    row = reader.run(run_id)
    src = source or row.primary_source
    rows = [m for m in reader.media(run_id, src, key) if m.kind == "histogram"]
    if not rows:
        raise HTTPException(404, f"run {run_id!r} has no histograms under key {key!r} of source {src!r}")
    base = reader.db.root / "runs" / run_id
    found: list[tuple[int, npt.NDArray[np.float64], npt.NDArray[np.float64]]] = []
    skipped = 0
    for m in _sample(rows, max_steps):
        try:
            parsed = _read(safe_file(base, m.path))
        except HTTPException:
            parsed = None
        if parsed is None:
            skipped += 1
        else:
            found.append((m.step, *parsed))
    if not found:
        return {"key": key, "source": src, "steps": [], "edges": [], "counts": [], "histograms": [],
                "skipped": skipped}
    lo = min(float(e[0]) for _, _, e in found)
    hi = max(float(e[-1]) for _, _, e in found)
    grid = np.linspace(lo, hi, GRID_BINS + 1)
    return {
        "key": key,
        "source": src,
        "steps": [s for s, _, _ in found],
        "edges": grid.tolist(),
        "counts": [rebin(c, e, grid).round(6).tolist() for _, c, e in found],
        "histograms": [{"counts": c.tolist(), "edges": e.tolist()} for _, c, e in found],
        "skipped": skipped,
    }
