"""The plug point between the run API and a storage back-end.

:class:`rltrack.store.writer.StoreWriter` (embedded SQLite) implements it; a remote sink that
forwards to an rltrack server, or a PostgreSQL back-end, implements the same methods so the run
API does not change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from rltrack.types import MediaRecord, SeriesBatch

if TYPE_CHECKING:
    from rltrack.store.writer import Attached, NewRun, Owner, WriterInfo

__all__ = ["Location", "WriterBackend"]


class Location(Protocol):
    """Where a back-end writes: ``path`` names it in messages (a file or a URL), ``root`` is the local folder."""

    @property
    def path(self) -> object:
        """The database file or server URL."""
        ...

    @property
    def root(self) -> Path:
        """The local folder that holds run folders (media files)."""
        ...


class WriterBackend(Protocol):
    """What a run needs from wherever its data goes."""

    @property
    def db(self) -> Location:
        """Where this back-end writes."""
        ...

    def count_runs(self, project: str) -> int:
        """Return how many runs the project holds."""
        ...

    def run_exists(self, run_id: str) -> bool:
        """Return whether a run with this id exists."""
        ...

    def create_run(self, run: NewRun, who: WriterInfo) -> None:
        """Create a running run owned by ``who``; raise RunExistsError if the id is taken."""
        ...

    def attach_run(self, run_id: str, source: str, who: WriterInfo, *, owner_alive: bool) -> Attached:
        """Attach a writer to an existing run under ``source``."""
        ...

    def owner_of(self, run_id: str) -> Owner | None:
        """Return who owns the run, or None."""
        ...

    def write(
        self,
        run_id: str,
        source: str,
        *,
        batches: Sequence[SeriesBatch] = (),
        media: Sequence[MediaRecord] = (),
        summary: Mapping[str, Any] | None = None,
        config: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        heartbeat_ns: int | None = None,
        owner: bool = True,
    ) -> None:
        """Store one flush atomically."""
        ...

    def end(
        self, run_id: str, source: str, *, state: str, reason: str | None, exit_code: int | None, ended_ns: int,
        owner: bool,
    ) -> None:
        """Record a writer's (and, if it owns the run, the run's) final state."""
        ...
