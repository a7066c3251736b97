"""Turning queued ``log()`` calls into one column of steps, times and values per key.

Runs on the writer thread, holding the GIL while the training loop wants it, so its cost per
logged call is training time lost. A training loop logs the same dict shape over and over,
with a few others mixed in (episode ends, system metrics, SB3 dumps), so the calls that carry
the flush's most common key set are packed with C-level iteration into one 2-D array, and
only the rest goes through a Python loop.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain, compress
from operator import itemgetter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Int64s = npt.NDArray[np.int64]
    Float64s = npt.NDArray[np.float64]

__all__ = ["Column", "Entry", "clamp_overflows", "to_columns"]

#: One ``log()`` call as queued: (step, t_ns, {key: number}).
Entry = tuple[int, int, dict[str, Any]]
#: One key's points of a flush, in the order they were logged: (key, steps, t_ns, values).
Column = tuple[str, "Int64s", "Int64s", "Float64s"]
# One group of calls with the same keys: their positions in the flush, steps, times and values.
_Piece = tuple["Int64s", "Int64s", "Int64s", "Float64s"]

_STEP, _T_NS, _VALUES = itemgetter(0), itemgetter(1), itemgetter(2)


def to_columns(entries: list[Entry]) -> Iterator[Column]:
    """Yield one column per key of ``entries`` (a non-empty flush), each key once.

    A key logged twice at one step keeps both points, in call order.
    """
    import numpy as np

    values = list(map(_VALUES, entries))
    count = len(values)
    lengths = np.fromiter(map(len, values), np.int64, count)
    width = int(np.bincount(lengths).argmax())  # the most common length (ties: the shorter)
    pieces: dict[str, list[_Piece]] = {}
    same = lengths == width
    if width:
        reference = values[int(np.argmax(same))]
        keys = tuple(reference)
        # Same length is cheap to test and almost always means same keys; when another key set of
        # that length is mixed in, compare key sets (dearer, still C-level).
        main = values if same.all() else list(compress(values, same))
        matrix = _matrix(main, keys)
        if matrix is None:
            same = np.fromiter(map(reference.keys().__eq__, map(dict.keys, values)), np.bool_, count)
            main = list(compress(values, same))
            matrix = _matrix(main, keys)
            assert matrix is not None  # every selected call has exactly these keys
        chosen = list(compress(entries, same))
        steps = np.fromiter(map(_STEP, chosen), np.int64, len(chosen))
        times = np.fromiter(map(_T_NS, chosen), np.int64, len(chosen))
        positions = np.flatnonzero(same)
        for j, key in enumerate(keys):
            pieces[key] = [(positions, steps, times, matrix[:, j])]
    else:  # only empty calls are this common: everything goes the slow way
        same[:] = False
    others = np.flatnonzero(~same).tolist()
    _add_mixed(pieces, others, [entries[i] for i in others])
    for key, parts in pieces.items():
        yield (key, *_merge(parts))


def _matrix(values: list[dict[str, Any]], keys: tuple[str, ...]) -> Float64s | None:
    """Values of ``keys`` from every dict as a (calls, keys) array; None when a dict lacks a key."""
    import numpy as np

    width = len(keys)
    getter = itemgetter(*keys)
    rows = map(getter, values) if width == 1 else chain.from_iterable(map(getter, values))
    try:
        return np.fromiter(rows, np.float64, len(values) * width).reshape(len(values), width)
    except KeyError:
        return None


def _add_mixed(pieces: dict[str, list[_Piece]], positions: list[int], entries: list[Entry]) -> None:
    """Add the calls outside the main group, grouped by their key tuple (a Python loop: they are few)."""
    import numpy as np

    groups: dict[tuple[str, ...], tuple[list[int], list[int], list[int], list[tuple[Any, ...]]]] = {}
    for position, (step, t_ns, values) in zip(positions, entries, strict=True):
        shape = tuple(values)
        group = groups.get(shape)
        if group is None:
            group = groups[shape] = ([], [], [], [])
        group[0].append(position)
        group[1].append(step)
        group[2].append(t_ns)
        group[3].append(tuple(values.values()))
    for shape, (where, steps, times, rows) in groups.items():
        if not shape:
            continue
        idx = np.asarray(where, dtype=np.int64)
        st = np.asarray(steps, dtype=np.int64)
        tt = np.asarray(times, dtype=np.int64)
        matrix = np.asarray(rows, dtype=np.float64).reshape(len(rows), len(shape))
        for j, key in enumerate(shape):
            pieces.setdefault(key, []).append((idx, st, tt, matrix[:, j]))


def _merge(parts: list[_Piece]) -> tuple[Int64s, Int64s, Float64s]:
    """One key's pieces from several groups, back in call order."""
    import numpy as np

    if len(parts) == 1:
        _, steps, times, vals = parts[0]
        return steps, times, np.ascontiguousarray(vals)
    order = np.argsort(np.concatenate([p[0] for p in parts]), kind="stable")
    steps = np.concatenate([p[1] for p in parts])[order]
    times = np.concatenate([p[2] for p in parts])[order]
    vals = np.concatenate([p[3] for p in parts])[order]
    return steps, times, vals


def clamp_overflows(entries: list[Entry]) -> list[Entry]:
    """Copy ``entries`` with every int beyond float64's range as ±inf (``to_columns`` raised OverflowError)."""
    return [(step, t_ns, {key: _clamp(value) for key, value in values.items()}) for step, t_ns, values in entries]


def _clamp(value: Any) -> Any:
    try:
        float(value)
    except OverflowError:
        return float("inf") if value > 0 else float("-inf")
    return value
