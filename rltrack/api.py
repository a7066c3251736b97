"""``Api``: read what runs stored — projects, runs, histories, media — without writing anything."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from rltrack.errors import RltrackError
from rltrack.store.database import Database
from rltrack.store.paths import resolve_root
from rltrack.store.reader import RunRow, StoreReader
from rltrack.validate import check_text

T = TypeVar("T")

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pandas as pd

    from rltrack.artifacts import ArtifactVersion

__all__ = ["Api", "MediaView", "RunView"]


@dataclass(frozen=True, slots=True)
class MediaView:
    """A media file of a run; ``path`` is absolute."""

    source: str
    key: str
    step: int
    t_ns: int
    kind: str
    path: Path
    caption: str | None
    meta: dict[str, Any]


class RunView:
    """A read-only view of one stored run (a snapshot of its row; values are read on demand)."""

    def __init__(self, reader: StoreReader, row: RunRow) -> None:
        self._reader = reader
        self._row = row
        self.id = row.id
        self.name = row.name
        self.project = row.project
        self.group = row.group
        self.tags = list(row.tags)
        self.state = row.state
        self.reason = row.reason
        self.exit_code = row.exit_code
        self.config = dict(row.config)
        self.metadata = dict(row.metadata)
        self.job_type = row.job_type
        self.notes = row.notes
        self.created_ns = row.created_ns
        self.ended_ns = row.ended_ns
        self.heartbeat_ns = row.heartbeat_ns
        #: The source that created the run; ``source=None`` arguments mean this one.
        self.primary_source = row.primary_source

    @property
    def dir(self) -> Path:
        """The run's folder (media files live under it)."""
        return self._reader.db.root / "runs" / self.id

    @property
    def sources(self) -> list[str]:
        """Sources that wrote into the run, in order of arrival (``["sim", "real"]``)."""
        return self._reader.sources(self.id)

    @property
    def summary(self) -> dict[str, Any]:
        """The primary source's summary (see :meth:`summary_of` for others)."""
        return self._reader.summary(self.id, self.primary_source)

    def summary_of(self, source: str) -> dict[str, Any]:
        """Return one source's summary."""
        return self._reader.summary(self.id, _key(source, "source"))

    def keys(self, source: str | None = None) -> list[str]:
        """Return the keys logged under a source (default: the primary one), sorted."""
        return self._reader.keys(self.id, _key(source or self.primary_source, "source"))

    def series(
        self, key: str, *, source: str | None = None
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """Return one key's ``(step, t_ns, value)`` arrays in logged order (empty when absent)."""
        return self._reader.series(self.id, _key(source or self.primary_source, "source"), _key(key))

    def history(self, keys: Sequence[str] | None = None, *, source: str | None = None) -> dict[str, Any]:
        """Return values as columns: ``step``, ``t_ns`` and one float64 column per key.

        Rows are the distinct ``(step, t_ns)`` pairs, sorted; a key with no value in a row
        holds NaN there. Values logged in one ``log()`` call share a row.

        Args:
            keys: Keys to read (default: all of the source's keys).
            source: Which source (default: the run's primary one).
        """
        import numpy as np

        src = _key(source or self.primary_source, "source")
        names = list(keys) if keys is not None else self._reader.keys(self.id, src)
        if isinstance(keys, str):
            names = [keys]
        names = [_key(k) for k in names]
        data = [self._reader.series(self.id, src, k) for k in names]
        if len(data) == 1:
            steps, times, values = data[0]
            order = np.lexsort((times, steps))
            return {"step": steps[order], "t_ns": times[order], names[0]: values[order]}
        if not data:
            return {"step": np.empty(0, np.int64), "t_ns": np.empty(0, np.int64)}
        all_steps = np.concatenate([d[0] for d in data])
        all_times = np.concatenate([d[1] for d in data])
        pairs = np.stack([all_steps, all_times], axis=1)
        unique, inverse = np.unique(pairs, axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        out: dict[str, Any] = {"step": unique[:, 0].copy(), "t_ns": unique[:, 1].copy()}
        offset = 0
        for name, (steps, _, values) in zip(names, data, strict=True):
            column = np.full(unique.shape[0], np.nan)
            column[inverse[offset : offset + steps.shape[0]]] = values
            out[name] = column
            offset += steps.shape[0]
        return out

    def history_df(self, keys: Sequence[str] | None = None, *, source: str | None = None) -> pd.DataFrame:
        """Return :meth:`history` as a pandas DataFrame (needs pandas)."""
        try:
            import pandas as pd
        except ImportError as err:
            raise ImportError("history_df() needs pandas: pip install pandas") from err
        return pd.DataFrame(self.history(keys, source=source))

    def media(self, key: str | None = None, *, source: str | None = None) -> list[MediaView]:
        """Return the run's media (all sources unless ``source`` is given), by key then step."""
        base = self.dir
        return [
            MediaView(m.source, m.key, m.step, m.t_ns, m.kind, base / m.path, m.caption, m.meta)
            for m in self._reader.media(self.id, _key(source, "source"), _key(key))
        ]

    def table(self, key: str, step: int | None = None, *, source: str | None = None) -> Any:
        """Return a logged :class:`rltrack.Table` (or plot) as a pandas DataFrame, or a dict of columns without pandas.

        Media cells come back as :class:`MediaView` (``path`` absolute), missing cells as None.

        Args:
            key: The key the table was logged under.
            step: Which step's table (default: the one logged last).
            source: Which source (default: all).

        Raises:
            RltrackError: No table was logged under ``key`` (at ``step``); the message lists the table keys.
        """
        from rltrack.media.table import read_table_file

        tables = [m for m in self.media(source=source) if m.kind == "table"]
        found = [m for m in tables if m.key == key and (step is None or m.step == step)]
        if not found:
            at = "" if step is None else f" at step {step}"
            keys = sorted({m.key for m in tables})
            raise RltrackError(f"run {self.id!r} has no table {key!r}{at}; its table keys are {keys!r}")
        view = max(found, key=lambda m: (m.step, m.t_ns))
        names, types, columns = read_table_file(view.path)
        for c, kind in enumerate(types):
            if kind == "media":
                columns[c] = [
                    None if cell is None else MediaView(
                        view.source, view.key, view.step, view.t_ns, cell["kind"], view.path.parent / cell["path"],
                        cell["caption"], cell["meta"],
                    )
                    for cell in columns[c]
                ]
        data = dict(zip(names, columns, strict=True))
        try:
            import pandas as pd
        except ImportError:
            return data
        return pd.DataFrame(data, columns=names)

    def __repr__(self) -> str:
        return f"<RunView {self.id} name={self.name!r} project={self.project!r} state={self.state}>"


class Api:
    """Read access to a store folder.

    Args:
        dir: The store folder (default ``$RLTRACK_DIR`` or ``./rltrack-runs``).

    Raises:
        StoreError: there is no rltrack store in ``dir``.

    Example:
        >>> api = rltrack.Api("rltrack-runs")  # doctest: +SKIP
        >>> api.run("abc123").history(["train/loss"])  # doctest: +SKIP
    """

    def __init__(self, dir: str | os.PathLike[str] | None = None) -> None:
        self.root = resolve_root(dir)
        self.reader = StoreReader(Database(self.root, create=False))

    def projects(self) -> list[str]:
        """Return every project name, sorted."""
        return self.reader.projects()

    def runs(
        self,
        project: str | None = None,
        *,
        group: str | None = None,
        tags: Sequence[str] | None = None,
        state: str | None = None,
    ) -> list[RunView]:
        """Return runs, newest first; every filter given must match (all ``tags`` must be present)."""
        if tags is not None:
            tags = [_key(t, "tag") for t in ([tags] if isinstance(tags, str) else tags)]
        project, group, state = _key(project, "project"), _key(group, "group"), _key(state, "state")
        return [RunView(self.reader, r) for r in self.reader.runs(project, group=group, tags=tags, state=state)]

    def artifacts(self, name: str | None = None, *, type: str | None = None) -> list[ArtifactVersion]:
        """Return artifact versions, optionally of one name or type (see :mod:`rltrack.artifacts`)."""
        from rltrack.artifacts import list_artifacts

        return list_artifacts(self.reader.db, name, type=type)

    def artifact(self, ref: str) -> ArtifactVersion:
        """Return one artifact version by ``"name"``, ``"name:alias"`` or ``"name:vN"``."""
        from rltrack.artifacts import get_artifact

        return get_artifact(self.reader.db, ref)

    def run(self, id: str) -> RunView:
        """Return one run.

        Raises:
            RunNotFoundError: no run has this id.
        """
        return RunView(self.reader, self.reader.run(_key(id, "run id")))


def _key(value: T, what: str = "key") -> T:
    """Return a key, source, id or filter to read by, refusing one that no store can hold.

    A lone surrogate is an :class:`~rltrack.errors.InvalidValueError` naming it, not a bare
    ``UnicodeEncodeError`` from the database driver.
    """
    if isinstance(value, str):
        check_text(what, value)
    return value
