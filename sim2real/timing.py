"""Control-loop timing of the robot from message time stamps.

A real-side key is one stream of messages (a ROS topic field); its ``t_ns`` stamps give the loop's
period. The nominal period is the median interval, which a minority of late or missing messages
cannot move. An interval of more than 1.5 nominal periods is a gap; it hides
``round(interval / nominal) - 1`` dropped messages. Intervals across episode boundaries (resets,
operator pauses) are left out when the episode bounds are given.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from rltrack.sim2real.errors import GapError

__all__ = ["GAP_FACTOR", "LoopTiming", "loop_timing"]

IntArray = npt.NDArray[np.int64]

#: An interval longer than this many nominal periods counts as a gap with dropped messages.
GAP_FACTOR = 1.5


@dataclass(frozen=True, slots=True)
class LoopTiming:
    """Timing of one message stream."""

    key: str
    """The real-side key whose stamps were used."""
    n_messages: int
    """Messages counted."""
    n_intervals: int
    """Intervals measured (within episodes when bounds were given)."""
    period_mean_s: float
    """Mean interval between consecutive messages, seconds."""
    period_median_s: float
    """Median interval: the nominal period, seconds."""
    jitter_s: float
    """Standard deviation of the intervals, seconds."""
    rate_hz: float
    """Nominal rate, 1 / median period."""
    dropped_estimate: int
    """Messages missing from gaps longer than 1.5 nominal periods."""


def loop_timing(
    key: str,
    t_ns: npt.ArrayLike,
    *,
    starts: npt.ArrayLike | None = None,
    stops: npt.ArrayLike | None = None,
) -> LoopTiming:
    """Return the period, jitter and dropped-message estimate of one message stream.

    Args:
        key: The stream's key, copied into the result.
        t_ns: Message stamps in integer nanoseconds, in logging order.
        starts: Optional episode start indices into ``t_ns`` (see
            :func:`rltrack.sim2real.align.episode_bounds`); with ``stops``, only intervals inside an
            episode are measured.
        stops: Episode stop indices (exclusive), paired with ``starts``.

    Raises:
        GapError: Fewer than two intervals, or a zero median period (duplicated stamps).
    """
    stamps = np.asarray(t_ns, dtype=np.int64)
    if stamps.ndim != 1:
        raise GapError(f"timing of {key!r} needs 1-D stamps, got shape {stamps.shape!r}")
    intervals = np.diff(stamps)
    if starts is not None and stops is not None:
        # Interval i (stamp i -> i+1) counts when some episode holds both stamps: a +1/-1 sweep
        # over [start, stop - 1) marks those i without a Python loop over episodes.
        start_a = np.asarray(starts, dtype=np.int64)
        last_a = np.maximum(start_a, np.asarray(stops, dtype=np.int64) - 1)
        sweep = np.zeros(stamps.size + 1, dtype=np.int64)
        np.add.at(sweep, start_a, 1)
        np.add.at(sweep, last_a, -1)
        intervals = intervals[np.cumsum(sweep)[: intervals.size] > 0]
    if intervals.size < 2:
        raise GapError(f"timing of {key!r} needs at least 2 message intervals, got {intervals.size!r}; record longer")
    if np.any(intervals < 0):
        raise GapError(f"stamps of {key!r} go backwards {int(np.sum(intervals < 0))!r} times; check the clock source")
    # Statistics in integer-valued ns, converted once: equal intervals give a jitter of exactly 0.
    ns = intervals.astype(np.float64)
    nominal_ns = float(np.median(ns))
    if nominal_ns <= 0.0:
        raise GapError(f"timing of {key!r}: most stamps are duplicated (median interval 0 ns); stamp each message")
    gaps = ns[ns > GAP_FACTOR * nominal_ns]
    dropped = int(np.sum(np.maximum(np.rint(gaps / nominal_ns) - 1.0, 0.0)))
    return LoopTiming(
        key=key,
        n_messages=int(stamps.size),
        n_intervals=int(ns.size),
        period_mean_s=float(ns.mean()) * 1e-9,
        period_median_s=nominal_ns * 1e-9,
        jitter_s=float(ns.std(ddof=1)) * 1e-9,
        rate_hz=1e9 / nominal_ns,
        dropped_estimate=dropped,
    )
