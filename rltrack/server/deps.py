"""FastAPI dependencies shared by the route modules, and the one place where reads are scoped to the caller.

The routes take the store reader and the read cache through these, so no route module imports
``app.py`` (which imports the routes): layers import one way.

Permissions are checked here, once for every route: :func:`reader_of` hands a route a reader that
shows only what the caller (``request.state.principal``) may see. A run of a project the caller
cannot read raises :class:`~rltrack.errors.RunNotFoundError` (a 404, exactly as for a run that does
not exist: a stranger learns nothing), lists leave such projects out, and in a request that writes
(``POST``, ``PUT``, ``PATCH``, ``DELETE``) a run the caller may read but not write is a 403.
:func:`cache_of` keys the read cache by what the caller sees, so one user's filtered lists never
reach another.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from fastapi import Depends, HTTPException, Request

from rltrack.errors import RunNotFoundError
from rltrack.server.accounts.principal import Principal
from rltrack.server.cache import ReadCache
from rltrack.store.reader import MediaRow, RunRow, StoreReader

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["Cache", "Caller", "Reader", "ScopedReader", "cache_of", "principal_of", "reader_of"]

T = TypeVar("T")
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def principal_of(request: Request) -> Principal:
    """Return the caller of a request (set by the guard; an app built without it lets everyone in)."""
    principal = getattr(request.state, "principal", None)
    return principal if isinstance(principal, Principal) else Principal.open()


class ScopedReader(StoreReader):
    """A :class:`StoreReader` that shows one caller only the projects they may read.

    Args:
        reader: The app's reader.
        principal: The caller.
        writing: The request writes: a run must also be writable (else a 403).
    """

    def __init__(self, reader: StoreReader, principal: Principal, *, writing: bool) -> None:
        super().__init__(reader.db)
        self._principal = principal
        self._writing = writing
        self._allowed: dict[str, bool] = {}

    def _allow(self, project: str, what: str) -> None:
        if not self._principal.can_read(project):
            raise RunNotFoundError(f"no {what} in this server; list runs with /api/runs")
        if self._writing and not self._principal.can_write(project):
            raise HTTPException(403, f"you may read project {project!r} but not write into it (ask a team admin)")

    def _check(self, run_id: str) -> None:
        # One indexed lookup per run and request; a run that does not exist is left to the method (empty).
        if self._allowed.get(run_id):
            return
        with self.db.reading() as conn:
            row = conn.execute("SELECT project FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is not None:
            self._allow(str(row[0]), f"run with id {run_id!r}")
        self._allowed[run_id] = True

    def projects(self) -> list[str]:
        """Return the project names the caller may read, sorted."""
        return self._principal.readable(super().projects())

    def runs(
        self,
        project: str | None = None,
        *,
        group: str | None = None,
        state: str | None = None,
        tags: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> list[RunRow]:
        """Return the runs of projects the caller may read (see :meth:`StoreReader.runs`)."""
        if project is not None and not self._principal.can_read(project):
            return []
        rows = super().runs(project, group=group, state=state, tags=tags)
        rows = [r for r in rows if self._principal.can_read(r.project)]
        return rows[:limit] if limit is not None else rows

    def run(self, run_id: str) -> RunRow:
        """Return one run the caller may read (a 404 otherwise, as for a missing run)."""
        row = super().run(run_id)
        self._allow(row.project, f"run with id {run_id!r}")
        self._allowed[run_id] = True
        return row

    def sources(self, run_id: str) -> list[str]:
        """See :meth:`StoreReader.sources`."""
        self._check(run_id)
        return super().sources(run_id)

    def summary(self, run_id: str, source: str) -> dict[str, Any]:
        """See :meth:`StoreReader.summary`."""
        self._check(run_id)
        return super().summary(run_id, source)

    def keys(self, run_id: str, source: str) -> list[str]:
        """See :meth:`StoreReader.keys`."""
        self._check(run_id)
        return super().keys(run_id, source)

    def series(
        self, run_id: str, source: str, key: str
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """See :meth:`StoreReader.series`."""
        self._check(run_id)
        return super().series(run_id, source, key)

    def chunk_stats(self, run_id: str, source: str, key: str) -> list[tuple[int, int, int, float | None, float | None]]:
        """See :meth:`StoreReader.chunk_stats`."""
        self._check(run_id)
        return super().chunk_stats(run_id, source, key)

    def media(self, run_id: str, source: str | None = None, key: str | None = None) -> list[MediaRow]:
        """See :meth:`StoreReader.media`."""
        self._check(run_id)
        return super().media(run_id, source, key)


class ScopedCache(ReadCache):
    """The app's read cache seen by one caller: every key carries what the caller may see."""

    def __init__(self, shared: ReadCache, scope: Sequence[object] | Callable[[], Sequence[object]]) -> None:
        # No super().__init__: this holds nothing itself, every call goes to the shared cache.
        self._shared = shared
        self._scope = scope
        self._key: tuple[object, ...] | None = None

    def version(self) -> tuple[int, int]:
        """See :meth:`ReadCache.version`."""
        return self._shared.version()

    def bump(self) -> None:
        """See :meth:`ReadCache.bump`."""
        self._shared.bump()

    def get_or_compute(self, key: Any, compute: Callable[[], T], size: Callable[[T], int] = lambda _: 1) -> T:
        """See :meth:`ReadCache.get_or_compute`; the key is prefixed with the caller's view."""
        if self._key is None:
            scope = self._scope() if callable(self._scope) else self._scope
            self._key = ("scoped", *scope)
        return self._shared.get_or_compute((self._key, key), compute, size)


def reader_of(request: Request) -> StoreReader:
    """Return the store reader for this request's caller (a FastAPI dependency; see the module's docstring)."""
    reader: StoreReader = request.app.state.reader
    principal = principal_of(request)
    if principal.everything:
        return reader
    return ScopedReader(reader, principal, writing=request.method in _WRITE_METHODS)


def cache_of(request: Request) -> ReadCache:
    """Return the read cache for this request's caller (a FastAPI dependency)."""
    cache: ReadCache = request.app.state.cache
    principal = principal_of(request)
    if principal.everything:
        return cache
    return ScopedCache(cache, principal.scope_key)


Reader = Annotated[StoreReader, Depends(reader_of)]
Cache = Annotated[ReadCache, Depends(cache_of)]
Caller = Annotated[Principal, Depends(principal_of)]
