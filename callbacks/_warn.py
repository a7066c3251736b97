"""One warning per cause: integrations must never stop training, but must not stay silent either."""

from __future__ import annotations

import warnings

from rltrack.errors import RltrackWarning

__all__ = ["WarnOnce"]


class WarnOnce:
    """Emits :class:`rltrack.errors.RltrackWarning` the first time each cause is reported."""

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def __call__(self, cause: str, message: str) -> None:
        """Warn with ``message`` unless ``cause`` was reported before."""
        if cause in self._seen:
            return
        self._seen.add(cause)
        warnings.warn(message, RltrackWarning, stacklevel=3)
