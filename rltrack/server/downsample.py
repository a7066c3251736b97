"""Server-side downsampling that keeps extremes: min, max and last point of every bucket.

A chart of a 1M-point series needs about 2,000 points; plain striding would hide spikes (a
divergent loss, a crash on the robot). Like wandb, each bucket of consecutive points keeps its
minimum, its maximum and its last point, so every extreme survives and the line ends where the
data ends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["downsample_indices", "window"]

#: Points a bucket keeps (min, max, last).
PER_BUCKET = 3


def downsample_indices(values: npt.NDArray[np.float64], max_points: int) -> npt.NDArray[np.int64]:
    """Return sorted indices of at most ``max_points`` points that keep each bucket's min, max and last.

    Args:
        values: The series' values in x order (NaN allowed; an all-NaN bucket keeps its last point).
        max_points: Upper bound on the result's length (at least 3).

    Returns:
        Increasing int64 indices into ``values``; all of them when there are few enough points.
    """
    import numpy as np

    n = int(values.shape[0])
    if n <= max_points:
        return np.arange(n, dtype=np.int64)
    buckets = max(1, max_points // PER_BUCKET)
    size = -(-n // buckets)  # ceil: equal-size buckets, the last one padded
    buckets = -(-n // size)
    padded = np.full(buckets * size, np.nan)
    padded[:n] = values
    grid = padded.reshape(buckets, size)
    nan = np.isnan(grid)
    # NaN must never win: it becomes +inf for argmin and -inf for argmax.
    lo = np.argmin(np.where(nan, np.inf, grid), axis=1)
    hi = np.argmax(np.where(nan, -np.inf, grid), axis=1)
    base = np.arange(buckets, dtype=np.int64) * size
    last = np.minimum(base + size - 1, n - 1)
    picked = np.concatenate([base + lo, base + hi, last])
    picked = picked[picked < n]
    return np.unique(picked).astype(np.int64)


def window(x: npt.NDArray[Any], x_min: float | None, x_max: float | None) -> tuple[int, int]:
    """Return the ``[start, stop)`` index range of sorted ``x`` inside ``[x_min, x_max]``.

    One point beyond each edge is kept so a zoomed line still reaches the plot's borders.
    """
    import numpy as np

    n = int(x.shape[0])
    start = 0 if x_min is None else max(0, int(np.searchsorted(x, x_min, side="left")) - 1)
    stop = n if x_max is None else min(n, int(np.searchsorted(x, x_max, side="right")) + 1)
    return start, max(start, stop)
