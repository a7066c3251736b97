"""Read-only views of stored runs and their media, shared by :mod:`rltrack.api` and the artifacts.

``RunView`` needs only the store's reader, so artifact versions (``logged_by``, ``used_by``) can
return views without importing the read API that lists artifacts: imports point one way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from rltrack.errors import RltrackError
from rltrack.store.reader import RunRow, StoreReader
from rltrack.validate import check_text

T = TypeVar("T")

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pandas as pd

__all__ = ["MediaView", "RunView", "check_arg"]


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
        return self._reader.summary(self.id, check_arg(source, "source"))

    def keys(self, source: str | None = None) -> list[str]:
        """Return the keys logged under a source (default: the primary one), sorted."""
        return self._reader.keys(self.id, check_arg(source or self.primary_source, "source"))

    def series(
        self, key: str, *, source: str | None = None
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """Return one key's ``(step, t_ns, value)`` arrays in logged order (empty when absent)."""
        return self._reader.series(self.id, check_arg(source or self.primary_source, "source"), check_arg(key))

    def history(self, keys: Sequence[str] | None = None, *, source: str | None = None) -> dict[str, Any]:
        """Return values as columns: ``step``, ``t_ns`` and one float64 column per key.

        Rows are the distinct ``(step, t_ns)`` pairs, sorted; a key with no value in a row
        holds NaN there. Values logged in one ``log()`` call share a row.

        Args:
            keys: Keys to read (default: all of the source's keys).
            source: Which source (default: the run's primary one).
        """
        import numpy as np

        src = check_arg(source or self.primary_source, "source")
        names = list(keys) if keys is not None else self._reader.keys(self.id, src)
        if isinstance(keys, str):
            names = [keys]
        names = [check_arg(k) for k in names]
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
            for m in self._reader.media(self.id, check_arg(source, "source"), check_arg(key))
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


def check_arg(value: T, what: str = "key") -> T:
    """Return a key, source, id or filter to read by, refusing one that no store can hold.

    A lone surrogate is an :class:`~rltrack.errors.InvalidValueError` naming it, not a bare
    ``UnicodeEncodeError`` from the database driver.
    """
    if isinstance(value, str):
        check_text(what, value)
    return value
