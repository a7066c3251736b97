"""Errors and warnings raised by rltrack.

Every error is an :class:`RltrackError`. Messages are one string that names the offending value
(as a ``repr``) and says what to do. Background failures after a run has started never raise:
they warn once per cause with :class:`RltrackWarning`, which users can filter or escalate.
"""

from __future__ import annotations

__all__ = [
    "UPGRADE_HINT",
    "InvalidKeyError",
    "InvalidValueError",
    "RltrackError",
    "RltrackWarning",
    "RunExistsError",
    "RunFinishedError",
    "RunNotFoundError",
    "StoreError",
]


#: What an older rltrack tells a user whose data is newer: rltrack is on no package index, so ``pip install -U
#: rltrack`` would find nothing; a newer wheel or the repository URL (as the README installs it) does.
UPGRADE_HINT = "upgrade rltrack (install a newer wheel, or pip install -U 'rltrack @ git+<repository URL>')"


class RltrackError(Exception):
    """Base class of every error rltrack raises on purpose."""


class StoreError(RltrackError):
    """The store cannot be opened, read or written (names the file or folder)."""


class RunNotFoundError(RltrackError, LookupError):
    """No run has the requested id."""


class RunExistsError(RltrackError):
    """A new run was requested with an id that already exists."""


class RunFinishedError(RltrackError):
    """A call that writes was made on a run after ``finish()``."""


class InvalidKeyError(RltrackError, ValueError):
    """A logged key is empty, too long, has control characters or nests too deep."""


class InvalidValueError(RltrackError, TypeError):
    """A logged value is neither a number nor a media object."""


class RltrackWarning(UserWarning):
    """A background failure (disk full, encoder error, ...) that rltrack survived.

    Emitted once per cause; the run's summary counts every occurrence under
    ``_rltrack/errors/<cause>``, and values that could never be stored under
    ``_rltrack/dropped/<cause>``; ``finish()`` warns again with their total.
    """
