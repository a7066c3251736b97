"""The store's write side: run rows, writer rows, value chunks, media rows and summaries.

Only the run API calls this. Every method is one transaction, so a crash leaves each
flush either wholly stored or not at all.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from rltrack.errors import RunExistsError, RunNotFoundError, StoreError
from rltrack.store.base import Backend, Connection
from rltrack.store.records import Attached, NewRun, Owner, WriterInfo
from rltrack.types import MediaRecord, SeriesBatch

__all__ = ["Attached", "NewRun", "Owner", "StoreWriter", "WriterInfo"]


def _dumps(value: object) -> str:
    # allow_nan: NaN/inf are stored faithfully (Python's json reads them back).
    return json.dumps(value, default=repr, allow_nan=True)


class StoreWriter:
    """Writes one process's runs into a database (SQLite or PostgreSQL: a :class:`Backend`)."""

    def __init__(self, db: Backend) -> None:
        self.db = db

    def count_runs(self, project: str) -> int:
        """Return how many runs the project holds (for default run names)."""
        with self.db.reading() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM runs WHERE project = ?", (project,)).fetchone()[0])

    def run_exists(self, run_id: str) -> bool:
        """Return whether a run with this id exists."""
        with self.db.reading() as conn:
            return conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is not None

    def create_run(self, run: NewRun, who: WriterInfo) -> None:
        """Insert a new running run owned by ``who``.

        Raises:
            RunExistsError: the id is taken.
        """
        try:
            with self.db.transaction() as conn:
                conn.execute(
                    "INSERT INTO runs (id, project, name, group_name, job_type, notes, tags, config, metadata,"
                    " primary_source, state, created_ns, heartbeat_ns, host, pid, pid_started_ns)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, '{}', ?, 'running', ?, ?, ?, ?, ?)",
                    (
                        run.id, run.project, run.name, run.group, run.job_type, run.notes,
                        _dumps(list(run.tags)), _dumps(dict(run.config)), run.source,
                        who.now_ns, who.now_ns, who.host, who.pid, who.pid_started_ns,
                    ),
                )
                self._upsert_writer(conn, run.id, run.source, who)
        except StoreError as err:
            if isinstance(err.__cause__, sqlite3.IntegrityError):
                raise self._exists(run.id) from err
            raise
        except sqlite3.IntegrityError as err:
            raise self._exists(run.id) from err

    def _exists(self, run_id: str) -> RunExistsError:
        return RunExistsError(
            f"run id {run_id!r} already exists in {str(self.db.path)!r}; pass resume='allow' to continue it "
            "or choose another id"
        )

    def attach_run(self, run_id: str, source: str, who: WriterInfo, *, owner_alive: bool) -> Attached:
        """Attach a writer to an existing run under ``source``.

        The writer becomes the run's owner (the run is running again and this writer's
        ``finish`` ends it) unless another live process owns it; then it writes beside it.

        Raises:
            RunNotFoundError: no run has this id.
        """
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT project, name, group_name, config, state FROM runs WHERE id = ?", (run_id,)
            ).fetchone()
            if row is None:
                raise RunNotFoundError(
                    f"no run with id {run_id!r} in {str(self.db.path)!r}; check the id "
                    "(rltrack runs ls) or pass resume='allow' to create it"
                )
            project, name, group, config, state = row
            owner = not (state == "running" and owner_alive)
            if owner:
                conn.execute(
                    "UPDATE runs SET state = 'running', reason = NULL, exit_code = NULL, ended_ns = NULL,"
                    " heartbeat_ns = ?, host = ?, pid = ?, pid_started_ns = ? WHERE id = ?",
                    (who.now_ns, who.host, who.pid, who.pid_started_ns, run_id),
                )
            self._upsert_writer(conn, run_id, source, who)
            srow = conn.execute(
                "SELECT summary FROM summaries WHERE run_id = ? AND source = ?", (run_id, source)
            ).fetchone()
            last = conn.execute(
                "SELECT MAX(c.step_max) FROM chunks c JOIN series s ON s.id = c.series_id"
                " WHERE s.run_id = ? AND s.source = ?",
                (run_id, source),
            ).fetchone()[0]
        return Attached(
            project=project,
            name=name,
            group=group,
            config=json.loads(config),
            summary=json.loads(srow[0]) if srow else {},
            owner=owner,
            next_step=0 if last is None else int(last) + 1,
        )

    def owner_of(self, run_id: str) -> Owner | None:
        """Return who owns the run (the process that created or last resumed it), or None."""
        with self.db.reading() as conn:
            row = conn.execute(
                "SELECT state, host, pid, pid_started_ns, heartbeat_ns, primary_source FROM runs WHERE id = ?",
                (run_id,),
            ).fetchone()
        if row is None:
            return None
        return Owner(row[0], row[1], int(row[2]), int(row[3]), int(row[4]), row[5])

    @staticmethod
    def _upsert_writer(conn: Connection, run_id: str, source: str, who: WriterInfo) -> None:
        conn.execute(
            "INSERT INTO writers (run_id, source, host, pid, state, started_ns, heartbeat_ns)"
            " VALUES (?, ?, ?, ?, 'running', ?, ?)"
            " ON CONFLICT (run_id, source) DO UPDATE SET host = excluded.host, pid = excluded.pid,"
            " state = 'running', started_ns = excluded.started_ns, heartbeat_ns = excluded.heartbeat_ns,"
            " ended_ns = NULL",
            (run_id, source, who.host, who.pid, who.now_ns, who.now_ns),
        )

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
        """Store one flush: value chunks, media rows, and the latest summary/config/metadata.

        ``config`` and ``metadata`` are merged into what is stored (another process may
        write the same run); ``summary`` replaces this source's summary.
        """
        with self.db.transaction() as conn:
            if batches:
                # One executemany per table: one call for SQLite, one pipelined round trip for PostgreSQL.
                rows, counts = [], []
                ids = self._series_ids(conn, run_id, batches)
                for batch in batches:
                    series_id = ids[(batch.source, batch.key)]
                    rows.append((
                        series_id, batch.count, batch.step_min, batch.step_max, batch.t_min_ns,
                        batch.t_max_ns, batch.vmin, batch.vmax, batch.steps, batch.t_ns, batch.values,
                    ))
                    counts.append((batch.count, series_id))
                conn.executemany(
                    "INSERT INTO chunks (series_id, count, step_min, step_max, t_min_ns, t_max_ns, vmin, vmax,"
                    " steps, t_ns, vals) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
                conn.executemany("UPDATE series SET count = count + ? WHERE id = ?", counts)
            for m in media:
                conn.execute(
                    "INSERT INTO media (run_id, source, key, step, t_ns, kind, path, caption, meta)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (run_id, m.source, m.key, m.step, m.t_ns, m.kind, m.path, m.caption, _dumps(m.meta)),
                )
            if summary is not None:
                conn.execute(
                    "INSERT INTO summaries (run_id, source, summary) VALUES (?, ?, ?)"
                    " ON CONFLICT (run_id, source) DO UPDATE SET summary = excluded.summary",
                    (run_id, source, _dumps(dict(summary))),
                )
            for column, patch in (("config", config), ("metadata", metadata)):
                if patch is not None:
                    self._merge_json(conn, run_id, column, patch)
            if heartbeat_ns is not None:
                conn.execute(
                    "UPDATE writers SET heartbeat_ns = ? WHERE run_id = ? AND source = ?",
                    (heartbeat_ns, run_id, source),
                )
                if owner:
                    conn.execute("UPDATE runs SET heartbeat_ns = ? WHERE id = ?", (heartbeat_ns, run_id))

    @staticmethod
    def _series_ids(conn: Connection, run_id: str, batches: Sequence[SeriesBatch]) -> dict[tuple[str, str], int]:
        """Return the series id of every (source, key) in ``batches``, adding the new ones.

        One query per source and up to 500 keys (SQLite's oldest variable limit is 999): against a
        database server each query is a round trip, so not one per key.
        """
        wanted = {(b.source, b.key) for b in batches}
        ids: dict[tuple[str, str], int] = {}
        for source in sorted({s for s, _ in wanted}):
            keys = sorted(k for s, k in wanted if s == source)
            for start in range(0, len(keys), 500):
                part = keys[start : start + 500]
                marks = ", ".join("?" * len(part))
                rows = conn.execute(
                    f"SELECT key, id FROM series WHERE run_id = ? AND source = ? AND key IN ({marks})",
                    (run_id, source, *part),
                )
                ids.update(((source, key), int(series_id)) for key, series_id in rows)
        for source, key in sorted(wanted - ids.keys()):
            cur = conn.execute("INSERT INTO series (run_id, source, key) VALUES (?, ?, ?)", (run_id, source, key))
            assert cur.lastrowid is not None  # an INSERT always sets it
            ids[(source, key)] = cur.lastrowid
        return ids

    @staticmethod
    def _merge_json(conn: Connection, run_id: str, column: str, patch: Mapping[str, Any]) -> None:
        # Read-modify-write inside the IMMEDIATE transaction: safe against the other writer
        # process, and unlike json_patch() it keeps keys whose value is None.
        row = conn.execute(f"SELECT {column} FROM runs WHERE id = ?", (run_id,)).fetchone()
        current = json.loads(row[0]) if row else {}
        current.update(patch)
        conn.execute(f"UPDATE runs SET {column} = ? WHERE id = ?", (_dumps(current), run_id))

    def undelivered_values(self, run_id: str) -> int:
        """Return 0: a local store stores a flush or raises (see :meth:`WriterBackend.undelivered_values`)."""
        return 0

    def end(
        self,
        run_id: str,
        source: str,
        *,
        state: str,
        reason: str | None,
        exit_code: int | None,
        ended_ns: int,
        owner: bool,
    ) -> None:
        """Mark this writer ended and, if it owns the run, the run too."""
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE writers SET state = ?, ended_ns = ?, heartbeat_ns = ? WHERE run_id = ? AND source = ?",
                (state, ended_ns, ended_ns, run_id, source),
            )
            if owner:
                conn.execute(
                    "UPDATE runs SET state = ?, reason = ?, exit_code = ?, ended_ns = ?, heartbeat_ns = ?"
                    " WHERE id = ?",
                    (state, reason, exit_code, ended_ns, ended_ns, run_id),
                )

    def truncate_after(
        self, run_id: str, step: int, *, summaries: Mapping[str, Mapping[str, Any]] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> int:
        """Remove a run's values and media rows after ``step`` (every source) in one transaction.

        Chunks are rewritten from the first one holding a later step, so the points kept keep their
        stored order. Used by ``init(resume_from=...)`` once the whole run has been archived.
        ``summaries`` (source -> summary, replacing what is stored) and ``metadata`` (merged) are
        written in the same transaction: a crash leaves either the whole run and its old record,
        or the cut run with its summaries and the record of the cut, never values cut unrecorded.

        Returns:
            How many points were removed.
        """
        import numpy as np  # here, not at the top: `import rltrack` loads no numpy (test_architecture)

        from rltrack.store.chunks import pack, unpack
        removed = 0
        with self.db.transaction() as conn:
            series = conn.execute("SELECT id, source, key FROM series WHERE run_id = ?", (run_id,)).fetchall()
            for series_id, source, key in series:
                first = conn.execute(
                    "SELECT MIN(rowid) FROM chunks WHERE series_id = ? AND step_max > ?", (series_id, step)
                ).fetchone()[0]
                if first is None:
                    continue
                rows = conn.execute(
                    "SELECT steps, t_ns, vals FROM chunks WHERE series_id = ? AND rowid >= ? ORDER BY rowid",
                    (series_id, first),
                ).fetchall()
                steps, t_ns, values = unpack(rows)
                keep = steps <= step
                removed += int(np.count_nonzero(~keep))
                conn.execute("DELETE FROM chunks WHERE series_id = ? AND rowid >= ?", (series_id, first))
                if keep.any():
                    batch = pack(source, key, steps[keep], t_ns[keep], values[keep])
                    conn.execute(
                        "INSERT INTO chunks (series_id, count, step_min, step_max, t_min_ns, t_max_ns, vmin, vmax,"
                        " steps, t_ns, vals) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (series_id, batch.count, batch.step_min, batch.step_max, batch.t_min_ns, batch.t_max_ns,
                         batch.vmin, batch.vmax, batch.steps, batch.t_ns, batch.values),
                    )
                conn.execute("UPDATE series SET count = count - ? WHERE id = ?",
                             (int(np.count_nonzero(~keep)), series_id))
            conn.execute("DELETE FROM media WHERE run_id = ? AND step > ?", (run_id, step))
            for source, summary in (summaries or {}).items():
                conn.execute(
                    "INSERT INTO summaries (run_id, source, summary) VALUES (?, ?, ?)"
                    " ON CONFLICT (run_id, source) DO UPDATE SET summary = excluded.summary",
                    (run_id, source, _dumps(dict(summary))),
                )
            if metadata is not None:
                self._merge_json(conn, run_id, "metadata", metadata)
        return removed
