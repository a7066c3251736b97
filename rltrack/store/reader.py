"""The store's read-only query API: projects, runs, series, media.

Readers (the dashboard, sim2real, the CLI, :class:`rltrack.Api`) go through this and never
write. A run whose owner stopped heart-beating reads as ``crashed``.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rltrack.errors import RunNotFoundError
from rltrack.store.base import Backend
from rltrack.store.chunks import unpack
from rltrack.store.liveness import is_alive
from rltrack.validate import loads_text

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["CRASH_AFTER_S", "MediaRow", "RunRow", "StoreReader"]

#: A running run whose owner has not written a heartbeat for this long reads as crashed.
#: Writers heartbeat every few seconds, so this only triggers when the process is gone
#: (or frozen). On the owner's own host a dead pid reads as crashed at once.
CRASH_AFTER_S = 60.0


@dataclass(frozen=True, slots=True)
class RunRow:
    """One run as stored, with its state as a reader should see it."""

    id: str
    project: str
    name: str
    group: str | None
    job_type: str | None
    notes: str | None
    tags: list[str]
    config: dict[str, Any]
    metadata: dict[str, Any]
    primary_source: str
    state: str
    reason: str | None
    exit_code: int | None
    created_ns: int
    ended_ns: int | None
    heartbeat_ns: int


@dataclass(frozen=True, slots=True)
class MediaRow:
    """One media file of a run; ``path`` is relative to the run's folder."""

    source: str
    key: str
    step: int
    t_ns: int
    kind: str
    path: str
    caption: str | None
    meta: dict[str, Any]


_RUN_COLUMNS = (
    "id, project, name, group_name, job_type, notes, tags, config, metadata, primary_source, state,"
    " reason, exit_code, created_ns, ended_ns, heartbeat_ns, host, pid, pid_started_ns"
)


class StoreReader:
    """Read-only queries over one store folder."""

    def __init__(self, db: Backend) -> None:
        self.db = db
        self._host = os.uname().nodename

    def _row_to_run(self, row: Sequence[Any], now_ns: int) -> RunRow:
        (rid, project, name, group, job_type, notes, tags, config, metadata, primary, state, reason,
         exit_code, created, ended, heartbeat, host, pid, pid_started) = row
        if state == "running" and self._looks_dead(heartbeat, host, pid, pid_started, now_ns):
            state, reason = "crashed", reason or "the writing process stopped without finishing the run"
        return RunRow(
            id=rid, project=project, name=name, group=group, job_type=job_type, notes=notes,
            tags=loads_text(tags), config=loads_text(config), metadata=loads_text(metadata),
            primary_source=primary, state=state, reason=reason, exit_code=exit_code,
            created_ns=created, ended_ns=ended, heartbeat_ns=heartbeat,
        )

    def _looks_dead(self, heartbeat_ns: int, host: str, pid: int, pid_started_ns: int, now_ns: int) -> bool:
        if now_ns - heartbeat_ns > CRASH_AFTER_S * 1e9:
            return True
        return host == self._host and not is_alive(pid, pid_started_ns)

    def projects(self) -> list[str]:
        """Return every project name, sorted."""
        with self.db.reading() as conn:
            return [r[0] for r in conn.execute("SELECT DISTINCT project FROM runs ORDER BY project")]

    def runs(
        self,
        project: str | None = None,
        *,
        group: str | None = None,
        state: str | None = None,
        tags: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> list[RunRow]:
        """Return runs, newest first, filtered by project, group, state and tags (all must match)."""
        sql = f"SELECT {_RUN_COLUMNS} FROM runs"
        where: list[str] = []
        args: list[Any] = []
        if project is not None:
            where.append("project = ?")
            args.append(project)
        if group is not None:
            where.append("group_name = ?")
            args.append(group)
        for tag in tags or ():
            where.append("EXISTS (SELECT 1 FROM json_each(runs.tags) WHERE value = ?)")
            args.append(tag)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_ns DESC"
        now = time.time_ns()
        with self.db.reading() as conn:
            rows = [self._row_to_run(r, now) for r in conn.execute(sql, args)]
        if state is not None:
            # Filter after reading: `crashed` is derived, not stored.
            rows = [r for r in rows if r.state == state]
        return rows[:limit] if limit is not None else rows

    def run(self, run_id: str) -> RunRow:
        """Return one run.

        Raises:
            RunNotFoundError: no run has this id.
        """
        with self.db.reading() as conn:
            row = conn.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise RunNotFoundError(
                f"no run with id {run_id!r} in {str(self.db.path)!r}; list runs with `rltrack runs ls`"
            )
        return self._row_to_run(row, time.time_ns())

    def sources(self, run_id: str) -> list[str]:
        """Return the sources that wrote into a run (``sim``, ``real``, ...), in order of arrival."""
        with self.db.reading() as conn:
            rows = conn.execute(
                "SELECT source FROM writers WHERE run_id = ? ORDER BY started_ns", (run_id,)
            ).fetchall()
        return [r[0] for r in rows]

    def running_writers(self, run_id: str) -> list[tuple[str, str, int, int]]:
        """Return ``(source, host, pid, heartbeat_ns)`` of each source of a run whose writer has not ended."""
        with self.db.reading() as conn:
            rows = conn.execute(
                "SELECT source, host, pid, heartbeat_ns FROM writers WHERE run_id = ? AND state = 'running'"
                " ORDER BY started_ns", (run_id,)
            ).fetchall()
        return [(str(r[0]), str(r[1]), int(r[2]), int(r[3])) for r in rows]

    def summary(self, run_id: str, source: str) -> dict[str, Any]:
        """Return one source's summary of a run (empty when it has none)."""
        with self.db.reading() as conn:
            row = conn.execute(
                "SELECT summary FROM summaries WHERE run_id = ? AND source = ?", (run_id, source)
            ).fetchone()
        return loads_text(row[0]) if row else {}

    def keys(self, run_id: str, source: str) -> list[str]:
        """Return the keys logged under one source of a run, sorted."""
        with self.db.reading() as conn:
            rows = conn.execute(
                "SELECT key FROM series WHERE run_id = ? AND source = ? ORDER BY key", (run_id, source)
            ).fetchall()
        return [r[0] for r in rows]

    def series(
        self, run_id: str, source: str, key: str
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """Return one key's (steps, t_ns, values) in the order they were logged (empty if absent)."""
        try:
            with self.db.reading() as conn:
                rows = conn.execute(
                    "SELECT c.steps, c.t_ns, c.vals FROM chunks c JOIN series s ON s.id = c.series_id"
                    " WHERE s.run_id = ? AND s.source = ? AND s.key = ? ORDER BY c.rowid",
                    (run_id, source, key),
                ).fetchall()
        except sqlite3.Error as err:
            raise self.db.error(f"read {key!r} of run {run_id!r}", err) from err
        return unpack(rows)

    def chunk_stats(self, run_id: str, source: str, key: str) -> list[tuple[int, int, int, float | None, float | None]]:
        """Return per-chunk (count, step_min, step_max, vmin, vmax), for cheap overviews."""
        with self.db.reading() as conn:
            return [
                (int(r[0]), int(r[1]), int(r[2]), r[3], r[4])
                for r in conn.execute(
                    "SELECT c.count, c.step_min, c.step_max, c.vmin, c.vmax FROM chunks c"
                    " JOIN series s ON s.id = c.series_id WHERE s.run_id = ? AND s.source = ? AND s.key = ?"
                    " ORDER BY c.rowid",
                    (run_id, source, key),
                )
            ]

    def media(self, run_id: str, source: str | None = None, key: str | None = None) -> list[MediaRow]:
        """Return a run's media rows, ordered by key then step."""
        sql = "SELECT source, key, step, t_ns, kind, path, caption, meta FROM media WHERE run_id = ?"
        args: list[Any] = [run_id]
        if source is not None:
            sql += " AND source = ?"
            args.append(source)
        if key is not None:
            sql += " AND key = ?"
            args.append(key)
        sql += " ORDER BY key, step, id"
        with self.db.reading() as conn:
            return [
                MediaRow(r[0], r[1], int(r[2]), int(r[3]), r[4], r[5], r[6], loads_text(r[7]))
                for r in conn.execute(sql, args)
            ]
