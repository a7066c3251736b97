"""Errors raised by sweeps.

They live here rather than in :mod:`rltrack.errors` because only the sweeps package raises
them; both still derive from :class:`rltrack.errors.RltrackError`.
"""

from __future__ import annotations

from rltrack.errors import RltrackError

__all__ = ["SweepConfigError", "SweepNotFoundError", "TrialPruned"]


class SweepConfigError(RltrackError, ValueError):
    """A sweep config is invalid; the message names the field (e.g. ``parameters.lr.min``)."""


class SweepNotFoundError(RltrackError, LookupError):
    """No sweep has the requested id in the store folder or storage."""


class TrialPruned(RltrackError):
    """The sweep's pruner stopped this trial.

    Raised out of ``run.log()`` when the logged sweep metric makes Hyperband prune the trial;
    :func:`rltrack.sweeps.agent` catches it and finishes the run with state ``pruned``.
    """
