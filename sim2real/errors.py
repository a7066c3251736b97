"""Errors raised by :mod:`rltrack.sim2real`."""

from __future__ import annotations

from rltrack.errors import RltrackError

__all__ = ["GapError"]


class GapError(RltrackError, ValueError):
    """A sim-vs-real measure cannot be computed from the data it was given.

    :func:`rltrack.sim2real.compare` never lets this escape: it records the measure and the
    message under ``not_computed`` in the report. The functions in
    :mod:`rltrack.sim2real.stats` raise it directly, so that callers using them on their own
    arrays see why a measure is undefined (too few samples, NaN, constant input, ...).
    """
