"""Packing points into chunk rows and reading them back (little-endian int64/int64/float64)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rltrack.types import SeriesBatch

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["pack", "split", "unpack"]

_I8 = "<i8"
_F8 = "<f8"


def pack(
    source: str,
    key: str,
    steps: npt.NDArray[np.int64],
    t_ns: npt.NDArray[np.int64],
    values: npt.NDArray[np.float64],
) -> SeriesBatch:
    """Turn three equal-length arrays into one :class:`SeriesBatch` (a future chunk row)."""
    import numpy as np

    finite = values[~np.isnan(values)]
    return SeriesBatch(
        source=source,
        key=key,
        count=int(values.shape[0]),
        steps=steps.astype(_I8, copy=False).tobytes(),
        t_ns=t_ns.astype(_I8, copy=False).tobytes(),
        values=values.astype(_F8, copy=False).tobytes(),
        step_min=int(steps.min()),
        step_max=int(steps.max()),
        t_min_ns=int(t_ns.min()),
        t_max_ns=int(t_ns.max()),
        vmin=float(finite.min()) if finite.size else None,
        vmax=float(finite.max()) if finite.size else None,
    )


def unpack(
    rows: Sequence[tuple[bytes, bytes, bytes]],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Concatenate chunk rows ``(steps, t_ns, vals)`` into three arrays, in storage order."""
    import numpy as np

    steps = np.frombuffer(b"".join(r[0] for r in rows), dtype=_I8).astype(np.int64, copy=False)
    t_ns = np.frombuffer(b"".join(r[1] for r in rows), dtype=_I8).astype(np.int64, copy=False)
    vals = np.frombuffer(b"".join(r[2] for r in rows), dtype=_F8).astype(np.float64, copy=False)
    return steps, t_ns, vals


def split(batch: SeriesBatch, size: int) -> list[SeriesBatch]:
    """Cut ``batch`` into batches of at most ``size`` points, in order (a backlog is stored piece by piece)."""
    if batch.count <= size:
        return [batch]
    import numpy as np

    steps = np.frombuffer(batch.steps, dtype=_I8)
    t_ns = np.frombuffer(batch.t_ns, dtype=_I8)
    values = np.frombuffer(batch.values, dtype=_F8)
    return [
        pack(batch.source, batch.key, steps[i : i + size], t_ns[i : i + size], values[i : i + size])
        for i in range(0, batch.count, size)
    ]
