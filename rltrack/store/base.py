"""The plug points of the store: where a run's data goes, and which database engine holds it.

:class:`WriterBackend` is what the run API writes through: :class:`rltrack.store.writer.StoreWriter`
implements it over a database, a remote sink that forwards to an rltrack server implements the
same methods, so the run API does not change.

:class:`Backend` is the database seam under the store's shared SQL code (writer, reader, artifacts,
ingest): the embedded SQLite :class:`rltrack.store.database.Database` and the team server's
:class:`rltrack.store.postgres.PostgresDatabase` both implement it. The shared code writes SQLite's
dialect (``?`` placeholders) and catches the stdlib ``sqlite3`` error classes; the PostgreSQL
connection translates both, so no query is written twice.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from rltrack.types import MediaRecord, SeriesBatch

if TYPE_CHECKING:
    from rltrack.store.records import Attached, NewRun, Owner, WriterInfo

__all__ = ["Backend", "Connection", "Cursor", "Location", "WriterBackend"]


class Cursor(Protocol):
    """The result of one statement (``sqlite3.Cursor`` is one)."""

    @property
    def lastrowid(self) -> int | None:
        """The id of the row an ``INSERT`` added to a table with an ``id`` key."""
        ...

    def fetchone(self) -> Any:
        """Return the next row (a tuple), or None."""
        ...

    def fetchall(self) -> list[Any]:
        """Return the remaining rows."""
        ...

    def __iter__(self) -> Iterator[Any]:
        """Iterate over the remaining rows."""
        ...


class Connection(Protocol):
    """A connection inside a transaction, spoken to in SQLite's dialect (``sqlite3.Connection`` is one)."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Cursor:
        """Run one statement with ``?`` placeholders."""
        ...

    def executemany(self, sql: str, parameters: Any, /) -> Cursor:
        """Run one statement once per parameter row."""
        ...


class Backend(Protocol):
    """A database that holds a store: SQLite (embedded) or PostgreSQL (team server)."""

    @property
    def root(self) -> Path:
        """The local folder that holds run folders (media files) and artifact blobs."""
        ...

    @property
    def path(self) -> object:
        """What names the database in messages: the SQLite file, or the URL without its password."""
        ...

    def transaction(self) -> AbstractContextManager[Connection]:
        """Run one write transaction, committing on success; writers are serialised."""
        ...

    def reading(self) -> AbstractContextManager[Connection]:
        """Hold one consistent snapshot for all the reads inside."""
        ...

    def error(self, doing: str, err: BaseException) -> Exception:
        """Translate a low-level error into a :class:`rltrack.errors.StoreError` naming the database."""
        ...

    def close(self) -> None:
        """Release the connection(s)."""
        ...


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

    def undelivered_values(self, run_id: str) -> int:
        """Return how many of the run's values this back-end took but could not store (0 for a local store).

        An online run's server may refuse a batch, which then waits as a dead letter: its values were
        logged but are not stored, and ``finish()``'s line must not count them.
        """
        ...
