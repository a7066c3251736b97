"""Distributions logged as small JSON files: :class:`Histogram`."""

from __future__ import annotations

import os
import pathlib
from typing import TYPE_CHECKING, Any, TypeGuard

from rltrack.errors import InvalidValueError
from rltrack.media.image import check_caption, to_numpy

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = ["Histogram"]

#: Most bins a histogram may have; the dashboard draws one bar per bin.
MAX_BINS = 512


class Histogram:
    """A histogram of raw values, or of precomputed ``(counts, edges)``, logged as a JSON file.

    Raw values (any numeric array-like, including CPU torch tensors) are copied when the
    Histogram is made and binned later on rltrack's media thread with ``numpy.histogram`` into
    ``num_bins`` equal bins spanning their finite range; NaN and ±inf are left out and counted
    in the meta (``nonfinite``). Precomputed counts (non-negative, finite) need
    ``len(edges) == len(counts) + 1`` increasing finite edges, as ``numpy.histogram`` returns.
    The file holds ``{"counts": [...], "edges": [...]}``.

    Example:
        >>> import numpy as np
        >>> Histogram(np.random.default_rng(0).normal(size=1000), num_bins=32).kind
        'histogram'
    """

    kind: str = "histogram"

    def __init__(
        self, values_or_counts_edges: object, num_bins: int = 64, caption: str | None = None
    ) -> None:
        """Validate (and copy) the values now; binning happens in :meth:`write`.

        Args:
            values_or_counts_edges: Raw values, or a 2-tuple ``(counts, edges)`` of 1-D arrays.
            num_bins: Number of bins for raw values (1 to 512); ignored for precomputed counts.
            caption: Optional text shown with the histogram.

        Raises:
            InvalidValueError: Non-numeric values, a bad ``num_bins``, or counts and edges that
                do not fit together.
        """
        self.caption: str | None = check_caption(caption)
        if isinstance(num_bins, bool) or not isinstance(num_bins, int) or not 1 <= num_bins <= MAX_BINS:
            raise InvalidValueError(f"num_bins={num_bins!r} is not an int in [1, {MAX_BINS}]; pass e.g. 64")
        self.num_bins = num_bins
        self._values: NDArray[np.float64] | None = None
        self._counts: NDArray[np.float64] | None = None
        self._edges: NDArray[np.float64] | None = None
        if _is_counts_edges(values_or_counts_edges):
            self._counts, self._edges = _check_counts_edges(*values_or_counts_edges)
            self.num_bins = len(self._counts)
        else:
            self._values = _check_values(values_or_counts_edges)

    def write(self, dest_dir: pathlib.Path, stem: str) -> tuple[str, dict[str, object]]:
        """Bin the values (if raw) and write ``dest_dir / (stem + ".json")``; return (name, meta).

        Args:
            dest_dir: Existing folder to write into.
            stem: File name without extension.

        Returns:
            The file name and ``{"bins", "count", "min", "max", "nonfinite"}``: ``count`` is the
            total of the counts; ``min``/``max`` are the smallest and largest finite raw value
            (the outer edges for precomputed counts; None when there is no finite value).
        """
        import json

        import numpy as np

        if self._values is not None:
            finite = self._values[np.isfinite(self._values)]
            counts, edges = np.histogram(finite, bins=self.num_bins)
            meta: dict[str, object] = {
                "bins": self.num_bins,
                "count": int(finite.size),
                "min": float(finite.min()) if finite.size else None,
                "max": float(finite.max()) if finite.size else None,
                "nonfinite": int(self._values.size - finite.size),
            }
            counts_out: list[Any] = [int(c) for c in counts]
        else:
            assert self._counts is not None and self._edges is not None  # set together by __init__
            counts, edges = self._counts, self._edges
            integral = bool(np.all(counts == np.round(counts)))
            counts_out = [int(c) for c in counts] if integral else [float(c) for c in counts]
            total = float(counts.sum())
            meta = {
                "bins": len(counts_out),
                "count": int(total) if integral else total,
                "min": float(edges[0]),
                "max": float(edges[-1]),
                "nonfinite": 0,
            }
        name = stem + ".json"
        tmp = dest_dir / (name + ".part")
        payload = {"counts": counts_out, "edges": [float(e) for e in edges]}
        tmp.write_text(json.dumps(payload), encoding="utf-8")
        os.replace(tmp, dest_dir / name)
        return name, meta

    def __repr__(self) -> str:
        if self._values is not None:
            return f"Histogram({self._values.size} values, bins={self.num_bins}, caption={self.caption!r})"
        return f"Histogram(counts and edges, bins={self.num_bins}, caption={self.caption!r})"


def _is_counts_edges(value: object) -> TypeGuard[tuple[object, object]]:
    """Whether ``value`` is a ``(counts, edges)`` pair rather than two raw values."""
    if not isinstance(value, tuple) or len(value) != 2:
        return False
    return all(isinstance(part, (list, tuple)) or getattr(part, "ndim", 0) >= 1 for part in value)


def _as_float_array(value: object, what: str) -> NDArray[np.float64]:
    import numpy as np

    try:
        arr = to_numpy(value)
    except (TypeError, ValueError, RuntimeError) as err:
        raise InvalidValueError(f"Histogram {what} {value!r:.80} are not numeric; pass numbers") from err
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise InvalidValueError(
            f"Histogram {what} have dtype {str(arr.dtype)!r}; pass numbers (int, float or bool)"
        )
    if np.iscomplexobj(arr):
        raise InvalidValueError(f"Histogram {what} are complex; pass real numbers, e.g. np.abs(values)")
    # A float64 copy: the caller may reuse its buffer before the media thread bins it.
    out: NDArray[np.float64] = np.array(arr, dtype=np.float64, copy=True).reshape(-1)
    return out


def _check_values(value: object) -> NDArray[np.float64]:
    if isinstance(value, (str, bytes)) or value is None:
        raise InvalidValueError(f"Histogram values {value!r:.80} are not numeric; pass an array of numbers")
    return _as_float_array(value, "values")


def _check_counts_edges(counts: object, edges: object) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    import numpy as np

    c = _as_float_array(counts, "counts")
    e = _as_float_array(edges, "edges")
    if c.size == 0 or e.size != c.size + 1:
        raise InvalidValueError(
            f"Histogram got {c.size} counts and {e.size} edges; pass len(edges) == len(counts) + 1 >= 2, "
            "as numpy.histogram returns"
        )
    if not np.all(np.isfinite(c)) or np.any(c < 0):
        raise InvalidValueError(f"Histogram counts {c.tolist()!r:.80} must be finite and >= 0")
    if not np.all(np.isfinite(e)) or np.any(np.diff(e) <= 0):
        raise InvalidValueError(f"Histogram edges {e.tolist()!r:.80} must be finite and strictly increasing")
    if e.size - 1 > MAX_BINS:
        raise InvalidValueError(f"Histogram has {e.size - 1} bins; pass at most {MAX_BINS}")
    return c, e
