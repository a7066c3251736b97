"""JSON routes for values: downsampled series of one run, and runs overlaid for comparison."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Query

from rltrack.errors import RltrackError
from rltrack.server.cache import ReadCache
from rltrack.server.deps import Cache, Reader
from rltrack.server.downsample import downsample_indices, window
from rltrack.server.run_filters import lookup
from rltrack.store.reader import StoreReader

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["router", "series_payload"]

router = APIRouter(prefix="/api", tags=["series"])
XAxis = Literal["step", "t_ns"]
MaxPoints = Annotated[int, Query(ge=3, le=100_000, description="points per series after downsampling")]
#: Points of the common grid a group's mean and band are computed on.
GROUP_GRID = 500


def _floats(values: npt.NDArray[np.float64]) -> list[float | None]:
    import numpy as np

    if bool(np.isfinite(values).all()):
        return values.tolist()  # type: ignore[no-any-return]  # numpy's tolist is typed Any
    return [v if np.isfinite(v) else None for v in values.tolist()]


def series_payload(
    reader: StoreReader,
    run_id: str,
    source: str,
    key: str,
    *,
    x: XAxis = "step",
    max_points: int = 2000,
    x_min: float | None = None,
    x_max: float | None = None,
    cache: ReadCache | None = None,
) -> dict[str, Any]:
    """Return one key's points sorted by ``x``, cut to ``[x_min, x_max]`` and downsampled (min, max, last)."""
    if cache is None:
        steps, times, values = _sorted_series(reader, run_id, source, key, x)
    else:
        steps, times, values = cache.get_or_compute(
            ("series", run_id, source, key, x),
            lambda: _sorted_series(reader, run_id, source, key, x),
            lambda arrays: sum(int(a.nbytes) for a in arrays),
        )
    order_by = steps if x == "step" else times
    total = int(values.shape[0])
    start, stop = window(order_by, x_min, x_max)
    steps, times, values = steps[start:stop], times[start:stop], values[start:stop]
    keep = downsample_indices(values, max_points)
    if keep.shape[0] != values.shape[0]:
        steps, times, values = steps[keep], times[keep], values[keep]
    return {
        "count": total,
        "step": steps.tolist(),
        "t_ns": times.tolist(),
        "value": _floats(values),
    }


def _sorted_series(reader: StoreReader, run_id: str, source: str, key: str, x: XAxis) -> tuple[Any, Any, Any]:
    import numpy as np

    steps, times, values = reader.series(run_id, source, key)
    order_by = steps if x == "step" else times
    if order_by.shape[0] > 1 and not bool((np.diff(order_by) >= 0).all()):
        order = np.argsort(order_by, kind="stable")
        steps, times, values = steps[order], times[order], values[order]
    return steps, times, values


@router.get("/runs/{run_id}/series", summary="Downsampled series of one run (min, max and last per bucket)")
def series(
    run_id: str,
    reader: Reader,
    cache: Cache,
    key: Annotated[list[str], Query(description="keys to read (repeat the parameter)")],
    source: str | None = None,
    x: XAxis = "step",
    max_points: MaxPoints = 2000,
    x_min: float | None = None,
    x_max: float | None = None,
) -> dict[str, Any]:
    """Return ``{"series": {key: {count, step, t_ns, value}}}``; a key never logged comes back empty."""
    row = reader.run(run_id)
    src = source or row.primary_source
    if len(key) > 500:
        raise RltrackError(f"{len(key)} keys requested at once; ask for at most 500")
    return {
        "run": run_id,
        "source": src,
        "state": row.state,
        "series": {
            k: series_payload(
                reader, run_id, src, k, x=x, max_points=max_points, x_min=x_min, x_max=x_max, cache=cache
            )
            for k in key
        },
    }


@router.get("/compare", summary="One key of several runs, optionally grouped by a config value")
def compare(
    reader: Reader,
    run: Annotated[list[str], Query(description="run ids (repeat the parameter)")],
    key: str,
    source: str | None = None,
    group_by: Annotated[str | None, Query(description="config key; each group gets a mean and a min-max band")]
    = None,
    max_points: MaxPoints = 2000,
) -> dict[str, Any]:
    """Return each run's downsampled series and, with ``group_by``, each group's mean and min-max band over step."""
    if len(run) > 200:
        raise RltrackError(f"{len(run)} runs requested at once; compare at most 200")
    rows = [reader.run(r) for r in run]
    out_runs = []
    groups: dict[str, list[str]] = {}
    labels: dict[str, Any] = {}
    for row in rows:
        src = source or row.primary_source
        payload = series_payload(reader, row.id, src, key, max_points=max_points)
        value: Any = None
        if group_by:
            found, value = lookup(row.config, group_by.split("."))
            value = value if found else None
            label = repr(value)
            groups.setdefault(label, []).append(row.id)
            labels[label] = value
        out_runs.append({"id": row.id, "name": row.name, "source": src, "group_value": value, **payload})
    result: dict[str, Any] = {"key": key, "runs": out_runs, "groups": []}
    for label, ids in groups.items():
        band = _band(reader, [r for r in rows if r.id in ids], source, key)
        result["groups"].append({"value": labels[label], "label": label, "runs": ids, **band})
    return result


def _band(reader: StoreReader, rows: list[Any], source: str | None, key: str) -> dict[str, Any]:
    import numpy as np

    curves = []
    for row in rows:
        steps, _, values = reader.series(row.id, source or row.primary_source, key)
        ok = ~np.isnan(values)
        if ok.any():
            order = np.argsort(steps[ok], kind="stable")
            curves.append((steps[ok][order].astype(np.float64), values[ok][order]))
    if not curves:
        return {"step": [], "mean": [], "min": [], "max": []}
    lo = min(float(c[0][0]) for c in curves)
    hi = max(float(c[0][-1]) for c in curves)
    grid = np.unique(np.linspace(lo, hi, GROUP_GRID).round())
    stack = np.full((len(curves), grid.shape[0]), np.nan)
    for i, (xs, ys) in enumerate(curves):
        inside = (grid >= xs[0]) & (grid <= xs[-1])
        stack[i, inside] = np.interp(grid[inside], xs, ys)
    present = ~np.isnan(stack)
    count = present.sum(axis=0)
    filled = np.where(present, stack, 0.0)
    mean = np.where(count > 0, filled.sum(axis=0) / np.maximum(count, 1), np.nan)
    low = np.where(count > 0, np.where(present, stack, np.inf).min(axis=0), np.nan)
    high = np.where(count > 0, np.where(present, stack, -np.inf).max(axis=0), np.nan)
    return {"step": grid.astype(np.int64).tolist(), "mean": _floats(mean), "min": _floats(low), "max": _floats(high)}
