"""Episode segmentation and time alignment of logged series.

A logged series is three equal-length arrays: ``step`` (int64), ``t_ns`` (int64 nanoseconds) and
``value`` (float64), as :meth:`RunView.series` returns them.

Episodes are cut at the steps of the episode summary (``episode/length``, written when an episode
ends): episode ``k`` holds the samples with ``end[k-1] < step <= end[k]``. So a writer logs a
step's signals at that step and the episode's summary at the episode's last step or later, but
before the next episode's first sample. Samples after the last summary belong to an unfinished
episode and are left out. When the summaries do not increase in step (a robot logging every
episode at its checkpoint's training step), the same rule applies to ``t_ns`` instead
(:meth:`rltrack.sim2real.sides.Side.boundaries`).

Two episodes are aligned relative to their own start: on ``step`` by equal step offsets, on
``t_ns`` by interpolating the second series at the first one's time offsets. Time stays integer
nanoseconds until the offsets are taken, so epoch-scale stamps lose no precision.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from rltrack.sim2real.errors import GapError

__all__ = ["AlignOn", "Series", "align", "episode_bounds"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
AlignOn = Literal["step", "t_ns"]
_ALIGN_CHOICES = ("step", "t_ns")


@dataclass(frozen=True, slots=True)
class Series:
    """One key's samples: step, time in ns and value, sorted by step."""

    step: IntArray
    t_ns: IntArray
    value: FloatArray

    @classmethod
    def of(cls, step: npt.ArrayLike, t_ns: npt.ArrayLike, value: npt.ArrayLike) -> Series:
        """Build a series from array-likes, sorted by step (stable, so equal steps keep their order).

        Raises:
            GapError: The three arrays are not 1-D or differ in length.
        """
        step_a = np.asarray(step, dtype=np.int64)
        t_a = np.asarray(t_ns, dtype=np.int64)
        value_a = np.asarray(value, dtype=np.float64)
        if not (step_a.ndim == t_a.ndim == value_a.ndim == 1) or not (step_a.size == t_a.size == value_a.size):
            raise GapError(
                f"a series needs three 1-D arrays of equal length, got shapes {step_a.shape!r}, "
                f"{t_a.shape!r}, {value_a.shape!r}"
            )
        if step_a.size > 1 and np.any(np.diff(step_a) < 0):
            order = np.argsort(step_a, kind="stable")
            step_a, t_a, value_a = step_a[order], t_a[order], value_a[order]
        return cls(step_a, t_a, value_a)

    def __len__(self) -> int:
        return int(self.step.size)

    def slice(self, start: int, stop: int) -> Series:
        """Samples ``start:stop`` (views, no copy)."""
        return Series(self.step[start:stop], self.t_ns[start:stop], self.value[start:stop])

    def finite(self) -> Series:
        """The samples whose value is finite (NaN and infinities dropped)."""
        keep = np.isfinite(self.value)
        if bool(keep.all()):
            return self
        return Series(self.step[keep], self.t_ns[keep], self.value[keep])


def episode_bounds(step: IntArray, end_steps: IntArray) -> tuple[IntArray, IntArray]:
    """Return each episode's ``(start, stop)`` sample indices into a step-sorted series.

    Args:
        step: The series' steps, sorted ascending.
        end_steps: Each episode's summary step, sorted ascending.

    Returns:
        Two int arrays of ``len(end_steps)``: episode ``k`` is ``step[start[k]:stop[k]]``
        (possibly empty).

    Raises:
        GapError: ``end_steps`` is not sorted.
    """
    ends = np.asarray(end_steps, dtype=np.int64)
    if ends.size > 1 and np.any(np.diff(ends) < 0):
        raise GapError("episode end steps must be sorted ascending; log episode summaries in order")
    stops = np.searchsorted(step, ends, side="right").astype(np.int64)
    starts = np.concatenate([np.zeros(1, dtype=np.int64), stops[:-1]]) if stops.size else stops.copy()
    return starts, stops


def align(a: Series, b: Series, *, on: AlignOn = "step", relative: bool = True) -> tuple[FloatArray, FloatArray]:
    """Return the values of ``a`` and ``b`` at matching instants.

    Args:
        a: First series (its instants are kept).
        b: Second series.
        on: ``"step"`` pairs samples with equal step offsets (both series must be logged on the
            same step grid); ``"t_ns"`` evaluates ``b`` by linear interpolation at the time
            offsets of ``a`` that fall inside ``b``'s time span.
        relative: Measure offsets from each series' first sample (two episodes, two runs), or use
            absolute steps/times (two sources recorded at once).

    Returns:
        Two float arrays of equal length (empty when the series do not overlap).

    Raises:
        GapError: ``on`` is not ``"step"`` or ``"t_ns"``.
    """
    if on not in _ALIGN_CHOICES:
        raise GapError(f"align on must be one of {_ALIGN_CHOICES!r}, got {on!r}")
    if len(a) == 0 or len(b) == 0:
        return np.empty(0), np.empty(0)
    if on == "step":
        a_x = a.step - a.step[0] if relative else a.step
        b_x = b.step - b.step[0] if relative else b.step
        _, ia, ib = np.intersect1d(a_x, b_x, assume_unique=False, return_indices=True)
        return a.value[ia], b.value[ib]
    origin_a = a.t_ns[0] if relative else min(a.t_ns[0], b.t_ns[0])
    origin_b = b.t_ns[0] if relative else origin_a
    a_t = (a.t_ns - origin_a).astype(np.float64)
    b_t = (b.t_ns - origin_b).astype(np.float64)
    order = np.argsort(b_t, kind="stable")
    b_t, b_v = b_t[order], b.value[order]
    inside = (a_t >= b_t[0]) & (a_t <= b_t[-1])
    return a.value[inside], np.interp(a_t[inside], b_t, b_v)
