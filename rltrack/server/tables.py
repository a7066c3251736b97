"""Tables a run logged (``rltrack.Table``, ``rltrack.plot``), read from their files for the dashboard's API.

A table's file was written by whoever logged the run (through ``log()`` or uploaded through ingest), so
nothing in it is trusted: a file that is not a table, or a cell that names a file outside the run's
folder, becomes an ``error`` / a cell without ``url`` in the answer, never a 500 or a link out. Table
files never change once written (:meth:`rltrack.Table.write` replaces them atomically), so a loaded
table and its sort orders are kept by (path, size, mtime) in a small LRU: paging through a 100k-row
table sorts it once.
"""

from __future__ import annotations

import json
import math
import os
import posixpath
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from fastapi import HTTPException

from rltrack.errors import RltrackError
from rltrack.media.table import CELL_TYPES, read_table_file
from rltrack.server.files import media_url, safe_file
from rltrack.store.reader import MediaRow

__all__ = ["PLOT_TYPES", "TABLE_SUFFIXES", "LoadedTable", "Shape", "describe", "find_table", "load", "plot_cell",
           "plot_spec", "sort_order", "table_entry", "table_path", "wire_cell"]

#: Files a table is stored as (``Table.write``); a "table" media row naming anything else is shown as a file.
TABLE_SUFFIXES = (".parquet", ".jsonl")
#: Chart kinds of ``rltrack.plot`` and the fields (columns) each names.
PLOT_TYPES: dict[str, tuple[str, ...]] = {
    "line": ("x", "y", "stroke"), "scatter": ("x", "y"), "bar": ("label", "value"), "histogram": ("value",),
    "line_series": ("x", "y", "stroke"),
}
_MEDIA_KINDS = ("image", "video", "histogram")
T = TypeVar("T")
#: A table file larger than this is listed but its rows are not read into the server's memory.
MAX_FILE_BYTES = 256 * 1024 * 1024
#: A table of more cells than this is listed but not read (as Python objects a cell costs ~50 bytes).
MAX_TABLE_CELLS = 5_000_000
#: A JSON Lines header (column names and types) longer than this is not a table rltrack wrote.
MAX_HEADER_BYTES = 2 * 1024 * 1024
#: Sort orders kept per loaded table (each is one index per row).
_MAX_ORDERS = 4
#: Cells kept in memory over all cached tables (least recently used tables go first).
_MAX_CACHED_CELLS = 4_000_000


@dataclass
class LoadedTable:
    """A table file read and checked: column names, cell types and the cells column by column."""

    names: list[str]
    types: list[str]
    columns: list[list[Any]]
    rows: int
    orders: OrderedDict[tuple[int, bool], list[int]] = field(default_factory=OrderedDict)


#: Reads of a table file that changes while it is read, before the request gives up.
_READ_TRIES = 5


class _Changed(Exception):
    """A table file changed while it was read."""


class _Loaded:
    """An LRU of loaded tables bounded in cells, keyed by (path, size, mtime_ns)."""

    def __init__(self) -> None:
        self._entries: OrderedDict[tuple[str, int, int], LoadedTable] = OrderedDict()
        self._cells = 0
        self._lock = threading.Lock()
        #: One lock per file being read: concurrent requests for one uncached table read it once, not N times.
        self._loading: dict[str, threading.Lock] = {}

    def get(self, path: Path) -> LoadedTable:
        with self._lock:
            loading = self._loading.setdefault(str(path), threading.Lock())
        try:
            with loading:
                for _ in range(_READ_TRIES - 1):
                    try:
                        return self._get(path)
                    except _Changed:
                        continue
                try:
                    return self._get(path)
                except _Changed as changed:
                    raise RltrackError(f"{changed} is not a readable table file now: it changed during each of "
                                       f"{_READ_TRIES} reads (it is being rewritten); try again once its writer "
                                       "is done") from None
        finally:
            with self._lock:
                if not loading.locked():
                    self._loading.pop(str(path), None)

    def _get(self, path: Path) -> LoadedTable:
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None:
                self._entries.move_to_end(key)
                return hit
        if stat.st_size > MAX_FILE_BYTES:
            raise RltrackError(
                f"{path.name} is {stat.st_size:,} bytes; the dashboard reads table files up to {MAX_FILE_BYTES:,} "
                "(read it in Python: rltrack.Api().run(run_id).table(key))"
            )
        shape = describe(path)
        if shape.data_bytes > MAX_FILE_BYTES:  # a Parquet file of 1 MB may unpack to 1 GB
            raise RltrackError(
                f"{path.name} holds {shape.data_bytes:,} bytes uncompressed; the dashboard reads tables of up to "
                f"{MAX_FILE_BYTES:,} (read it in Python: rltrack.Api().run(run_id).table(key))"
            )
        if shape.rows * len(shape.names) > MAX_TABLE_CELLS:
            raise RltrackError(
                f"{path.name} holds {shape.rows:,} rows x {len(shape.names):,} columns; the dashboard reads tables "
                f"of up to {MAX_TABLE_CELLS:,} cells (read it in Python: rltrack.Api().run(run_id).table(key))"
            )
        try:
            table = _read(path)
        except RltrackError:
            _unchanged(path, stat)  # a half-written file reads as damaged: read it again if it moved
            raise
        _unchanged(path, stat)
        cells = table.rows * max(1, len(table.names))
        with self._lock:
            self._entries[key] = table
            self._cells += cells
            while self._cells > _MAX_CACHED_CELLS and len(self._entries) > 1:
                _, dropped = self._entries.popitem(last=False)
                self._cells -= dropped.rows * max(1, len(dropped.names))
        return table


def _unchanged(path: Path, before: os.stat_result) -> None:
    """Raise :class:`_Changed` if ``path`` changed since ``before``.

    A writer that does not rename into place may rewrite the file while it is read: the rows could then come
    from two versions. Such a read is not kept, and the caller reads the file again.
    """
    after = path.stat()
    if (after.st_ino, after.st_size, after.st_mtime_ns, after.st_ctime_ns) != (
            before.st_ino, before.st_size, before.st_mtime_ns, before.st_ctime_ns):
        raise _Changed(path.name)


_CACHE = _Loaded()


def load(path: Path) -> LoadedTable:
    """Return the table stored in ``path`` (cached while the file is unchanged).

    Raises:
        RltrackError: The file is not a table rltrack can read (the message says why, without the store's path).
    """
    return _guarded(path, lambda: _CACHE.get(path))


@dataclass(frozen=True)
class Shape:
    """What a table file holds, read from its header only: column names, cell types, number of rows."""

    names: list[str]
    types: list[str]
    rows: int
    #: Bytes its cells take uncompressed (Parquet's row groups say; a JSON Lines file's size).
    data_bytes: int = 0


#: Shapes by (path, size, mtime_ns): listing a run's tables reads each file's header once, not its rows.
_SHAPES: OrderedDict[tuple[str, int, int], Shape] = OrderedDict()
_MAX_SHAPES = 20_000
_SHAPES_LOCK = threading.Lock()


def describe(path: Path) -> Shape:
    """Return the shape of the table in ``path`` without reading its cells (Parquet's footer, JSON Lines' header).

    Raises:
        RltrackError: The file is not a table rltrack can read.
    """

    def read() -> Shape:
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        with _SHAPES_LOCK:
            hit = _SHAPES.get(key)
        if hit is None:
            hit = _shape(path)
            with _SHAPES_LOCK:
                _SHAPES[key] = hit
                while len(_SHAPES) > _MAX_SHAPES:
                    _SHAPES.popitem(last=False)
        return hit

    return _guarded(path, read)


def _guarded(path: Path, read: Callable[[], T]) -> T:
    try:
        return read()
    except RltrackError:
        raise
    except ImportError as err:
        raise RltrackError(f"{path.name}: the server needs pyarrow to read Parquet tables (pip install pyarrow)") \
            from err
    except _NotATable as err:  # our own checks: the message says what is wrong (and holds no path)
        raise RltrackError(f"{path.name} is not a readable table file: {err}") from err
    except Exception as err:  # the file is a writer's bytes: any parse failure is that table's error, not a 500
        raise RltrackError(f"{path.name} is not a readable table file ({type(err).__name__})") from err


class _NotATable(ValueError):
    """A file that parses but breaks a rule of rltrack's table files."""


def _shape(path: Path) -> Shape:
    # The same header Table.write puts in each format (see rltrack.media.table).
    if path.suffix == ".jsonl":
        with open(path, "rb") as f:
            line = f.readline(MAX_HEADER_BYTES + 1)
            if len(line) > MAX_HEADER_BYTES:
                raise _NotATable(f"its header line is over {MAX_HEADER_BYTES:,} bytes")
            header = json.loads(line)
            rows = _count_rows(f)
        return _checked(header["columns"], header["types"], rows)
    import pyarrow.parquet as pq

    footer = pq.read_metadata(path)
    info = json.loads((footer.metadata or {})[b"rltrack"])
    shape = replace(_checked(info["columns"], info["types"], footer.num_rows),
                    data_bytes=sum(footer.row_group(i).total_byte_size for i in range(footer.num_row_groups)))
    if footer.num_columns != len(shape.names):
        raise _NotATable("the schema and rltrack's header disagree")
    return shape


def _count_rows(f: BinaryIO) -> int:
    """Count the non-blank lines left in ``f`` a block at a time (one huge line is never held whole)."""
    rows, pending = 0, False  # pending: the current (unfinished) line has a non-blank byte
    while block := f.read(1 << 20):
        *done, rest = block.split(b"\n")
        for i, piece in enumerate(done):
            rows += bool(piece.strip()) or (i == 0 and pending)
        pending = bool(rest.strip()) or (not done and pending)
    return rows + pending


def _checked(names: Any, types: Any, rows: int) -> Shape:
    if not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
        raise _NotATable("column names are not strings")
    if len(set(names)) != len(names):
        raise _NotATable("a column name repeats")
    if not (isinstance(types, list) and len(types) == len(names)):
        raise _NotATable("columns and types disagree")
    # A type rltrack does not write shows its cells as text.
    return Shape(names, [t if isinstance(t, str) and t in CELL_TYPES else "string" for t in types], rows)


def _read(path: Path) -> LoadedTable:
    names, types, columns = read_table_file(path)
    rows = len(columns[0]) if columns else 0
    shape = _checked(names, types, rows)
    if len(columns) != len(shape.names) or any(len(c) != rows for c in columns):
        raise _NotATable("columns of different lengths")
    return LoadedTable(shape.names, shape.types, columns, rows)


def table_path(root: Path, run_id: str, row: MediaRow) -> Path | None:
    """Return the file of a table media row, or None when its path is not a table file inside the run's folder."""
    if not row.path.endswith(TABLE_SUFFIXES):
        return None
    try:
        return safe_file(root / "runs" / run_id, row.path)
    except HTTPException:
        return None


def plot_spec(meta: Any, names: list[str]) -> dict[str, Any] | None:
    """Return the chart spec of a plot's meta (``rltrack.plot``) when every field names a column, else None."""
    spec = meta.get("plot") if isinstance(meta, dict) else None
    if not isinstance(spec, dict) or spec.get("type") not in PLOT_TYPES:
        return None
    raw = spec.get("fields")
    if not isinstance(raw, dict):
        return None
    allowed = PLOT_TYPES[str(spec["type"])]
    fields = {k: v for k, v in raw.items() if k in allowed and isinstance(v, str)}
    if any(v not in names for v in fields.values()) or not all(k in fields for k in allowed if k != "stroke"):
        return None
    title = spec.get("title")
    xname = raw.get("xname")
    return {"type": spec["type"], "fields": fields, "title": title if isinstance(title, str) else "",
            "xname": xname if isinstance(xname, str) else None}


def table_entry(root: Path, run_id: str, row: MediaRow) -> dict[str, Any]:
    """Describe one logged table: where and when, its shape and cell types, a plot's spec, or why it is unreadable."""
    # step_text: the step exactly (JavaScript's numbers lose a step past 2**53, such as a nanosecond timestamp).
    entry: dict[str, Any] = {"source": row.source, "key": row.key, "step": row.step, "step_text": str(row.step),
                             "t_ns": row.t_ns, "caption": row.caption, "path": row.path}
    path = table_path(root, run_id, row)
    if path is None:
        return {**entry, "error": f"{row.path!r} is not a table file in this run's folder", "url": None}
    entry["url"] = media_url(run_id, row.path)
    try:
        shape = describe(path)
    except RltrackError as err:
        return {**entry, "error": str(err)}
    return {**entry, "rows": shape.rows, "cols": len(shape.names), "columns": shape.names, "types": shape.types,
            "plot": plot_spec(row.meta, shape.names)}


def find_table(rows: list[MediaRow], key: str, step: int | None, source: str | None) -> MediaRow:
    """Return the table logged under ``key`` (at ``step``, from ``source``): the last logged when several match.

    Raises:
        HTTPException: 404 when there is no such table; the message lists the run's table keys.
    """
    tables = [m for m in rows if m.kind == "table"]
    found = [m for m in tables if m.key == key and (step is None or m.step == step)
             and (source is None or m.source == source)]
    if not found:
        at = ("" if step is None else f" at step {step}") + ("" if source is None else f" from source {source!r}")
        raise HTTPException(404, f"no table {key!r}{at}; this run's table keys are {sorted({m.key for m in tables})!r}"
                                 f" from sources {sorted({m.source for m in tables})!r}")
    return max(found, key=lambda m: (m.step, m.t_ns))


def _sort_key(cell: Any) -> tuple[int, Any, str]:
    # Numbers before text; every key compares with every other (a crafted file may mix types in a column).
    if isinstance(cell, (bool, int)):
        return 0, cell, ""
    if isinstance(cell, float):
        return 0, cell, ""
    if isinstance(cell, str):
        return 1, 0, cell
    if isinstance(cell, dict):  # a media cell by its caption (else its file); any other object by its JSON text
        for name in ("caption", "path"):
            if isinstance(cell.get(name), str) and cell[name]:
                return 1, 0, cell[name]
    return 1, 0, json.dumps(cell, default=str)


def _missing(cell: Any) -> bool:
    return cell is None or (isinstance(cell, float) and math.isnan(cell))


_ORDERS_LOCK = threading.Lock()


def sort_order(table: LoadedTable, column: int, descending: bool) -> list[int]:
    """Return row indices ordered by one column; missing values (None, NaN) last in both directions, ties stable."""
    with _ORDERS_LOCK:  # requests run in a thread pool: another may be evicting this table's orders
        cached = table.orders.get((column, descending))
        if cached is not None:
            table.orders.move_to_end((column, descending))
            return cached
    cells = table.columns[column]
    present = [i for i, c in enumerate(cells) if not _missing(c)]
    keys = [_sort_key(cells[i]) for i in present]
    ranked = sorted(range(len(present)), key=keys.__getitem__, reverse=descending)
    order = [present[i] for i in ranked] + [i for i, c in enumerate(cells) if _missing(c)]
    with _ORDERS_LOCK:
        table.orders[(column, descending)] = order
        while len(table.orders) > _MAX_ORDERS:  # a client sorting by each of 10,000 columns in turn keeps 4
            table.orders.popitem(last=False)
    return order


def plot_cell(cell: Any) -> Any:
    """Return a cell as a plot gets it: numbers, bools, text and None as they are, a media cell as its caption."""
    if cell is None or isinstance(cell, (bool, int, float, str)):
        return cell
    if isinstance(cell, dict) and ("path" in cell or "caption" in cell):
        caption = cell.get("caption")
        return caption if isinstance(caption, str) else None
    return json.dumps(cell, default=str)


def wire_cell(cell: Any, kind: str, run_dir: Path, run_id: str, folder: str) -> Any:
    """Return a cell as sent: numbers as is (NaN/±inf as ``"NaN"``/``"Infinity"``/``"-Infinity"``), media as a URL.

    A media cell becomes ``{"kind", "caption", "url"}``; ``url`` is None when the file it names is missing
    or outside the run's folder. ``folder`` is the table file's folder, which media cell paths are relative to.
    """
    if isinstance(cell, float) and not math.isfinite(cell):
        return "NaN" if math.isnan(cell) else ("Infinity" if cell > 0 else "-Infinity")
    if kind != "media" or not isinstance(cell, dict):
        return cell if cell is None or isinstance(cell, (bool, int, float, str)) else json.dumps(cell, default=str)
    media_kind = cell.get("kind") if cell.get("kind") in _MEDIA_KINDS else "file"
    caption = cell.get("caption") if isinstance(cell.get("caption"), str) else None
    rel = cell.get("path")
    url = None
    if isinstance(rel, str) and rel:
        joined = posixpath.join(folder, rel) if folder else rel
        try:
            safe_file(run_dir, joined)
            url = media_url(run_id, joined)
        except (HTTPException, UnicodeEncodeError):
            url = None
    return {"kind": media_kind, "caption": caption, "url": url}
