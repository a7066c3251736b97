"""What the modules below :class:`rltrack.Run` need of a run, as a protocol.

Artifacts, saved files, ``watch()`` and TensorBoard syncing act on a run that
:mod:`rltrack._run` passes them; typing it as this protocol keeps their imports pointing down
(none of them imports the run API that calls them).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

__all__ = ["RunHandle"]


class RunHandle(Protocol):
    """A live run as its helpers see it (:class:`rltrack.Run` is one)."""

    #: Work to run at ``finish()`` before the final flush (hooks, file copies, syncs).
    _at_finish: list[Callable[[], None]]
    #: The background writer: metadata, counted failures.
    _writer: Any

    @property
    def id(self) -> str:
        """The run's id."""
        ...

    @property
    def source(self) -> str:
        """What writes (``sim``, ``real``, ...)."""
        ...

    @property
    def dir(self) -> Path:
        """The run's folder."""
        ...

    @property
    def finished(self) -> bool:
        """Whether ``finish()`` has been called."""
        ...

    def log(self, data: Mapping[str, Any], step: int | None = None, commit: bool = True) -> None:
        """Record values at a step."""
        ...
