"""Tables of numbers, strings and media logged as one file: :class:`Table`.

A table is written as Parquet when pyarrow is installed, else as JSON Lines; both keep the
column order and a type per column. Image, video and histogram cells are written beside the
table file, and the cell holds a reference to that file. :func:`read_table_file` reads either
format back (the read API's ``RunView.table`` uses it).
"""

from __future__ import annotations

import json
import os
import pathlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from rltrack.errors import InvalidValueError
from rltrack.media.image import check_caption
from rltrack.validate import check_text

__all__ = ["CELL_TYPES", "Table", "read_table_file", "table_cell_files"]

#: Column types: every non-None cell of a column has the column's type.
CELL_TYPES = ("number", "bool", "string", "media")
#: Media kinds a cell may hold (a table inside a table is refused).
_CELL_MEDIA = ("image", "video", "histogram")
_INT64 = (-(2**63), 2**63 - 1)


class Table:
    """Rows of cells under named columns, logged like any value: ``run.log({"samples": table})``.

    Cells are numbers (int, float, numpy/torch scalars; NaN and ±inf kept), bools, strings,
    None, or :class:`rltrack.Image` / :class:`rltrack.Video` / :class:`rltrack.Histogram`.
    Every non-None cell of a column has one type (numbers, bools, strings or media), as in
    wandb. The file is written on rltrack's media thread from the rows the table holds then:
    fill the table before logging it, and log a new Table for new rows.

    Example:
        >>> table = Table(columns=["episode", "return"], data=[[0, 1.5], [1, 2.0]])
        >>> table.add_data(2, 3.25)
        >>> table.get_column("return")
        [1.5, 2.0, 3.25]
    """

    kind: str = "table"

    def __init__(
        self,
        columns: Sequence[str] | None = None,
        data: Iterable[Sequence[Any]] | None = None,
        rows: Iterable[Sequence[Any]] | None = None,
        dataframe: Any = None,
        caption: str | None = None,
    ) -> None:
        """Check the columns and rows now (each cell is converted to a plain value).

        Args:
            columns: Column names (unique, non-empty strings).
            data: Rows, each a sequence of one cell per column.
            rows: Another name for ``data`` (wandb accepts both).
            dataframe: A pandas DataFrame instead of ``columns`` and ``data``.
            caption: Optional text shown with the table.

        Raises:
            InvalidValueError: Missing or duplicate column names, a row of the wrong width, a
                cell of an unsupported type or of another type than its column's.
        """
        self.caption: str | None = check_caption(caption)
        if data is not None and rows is not None:
            raise InvalidValueError("Table got both data= and rows=; pass the rows once")
        data = rows if data is None else data
        if dataframe is not None:
            if columns is not None or data is not None:
                raise InvalidValueError("Table got dataframe= with columns= or data=; pass one or the other")
            columns, data = _from_dataframe(dataframe)
        if columns is None:
            if data is not None:
                raise InvalidValueError("Table got rows but no columns; pass columns=[...] naming each column")
            columns = []
        self._columns: list[str] = _check_columns(columns)
        self._types: list[str | None] = [None] * len(self._columns)
        self._rows: list[tuple[Any, ...]] = []
        for row in data or ():
            self.add_data(*row)

    @property
    def columns(self) -> list[str]:
        """The column names, in order."""
        return list(self._columns)

    @property
    def data(self) -> list[list[Any]]:
        """The rows as lists of cells (a copy)."""
        return [list(row) for row in self._rows]

    @property
    def types(self) -> dict[str, str | None]:
        """Each column's cell type (``number``, ``bool``, ``string``, ``media``; None while all cells are None)."""
        return dict(zip(self._columns, self._types, strict=True))

    def __len__(self) -> int:
        return len(self._rows)

    def add_data(self, *cells: Any) -> None:
        """Append one row: one cell per column, in column order.

        Raises:
            InvalidValueError: The row's width differs from the number of columns, or a cell
                is invalid (see :class:`Table`).
        """
        if len(cells) != len(self._columns):
            raise InvalidValueError(
                f"Table row {len(self._rows)} has {len(cells)} cells but the table has {len(self._columns)} "
                f"columns {self._columns!r}; pass one cell per column (None for a missing value)"
            )
        row = tuple(self._cell(i, value, len(self._rows)) for i, value in enumerate(cells))
        self._rows.append(row)

    def add_column(self, name: str, data: Sequence[Any]) -> None:
        """Append a column with one cell per existing row.

        Raises:
            InvalidValueError: The name is taken or invalid, or ``data`` has the wrong length.
        """
        _check_columns([*self._columns, name])
        if len(data) != len(self._rows):
            raise InvalidValueError(
                f"Table column {name!r} has {len(data)} cells but the table has {len(self._rows)} rows; "
                "pass one cell per row"
            )
        self._columns.append(name)
        self._types.append(None)
        col = len(self._columns) - 1
        cells = [self._cell(col, value, r) for r, value in enumerate(data)]
        self._rows = [(*row, cell) for row, cell in zip(self._rows, cells, strict=True)]

    def get_column(self, name: str) -> list[Any]:
        """Return one column's cells, in row order.

        Raises:
            InvalidValueError: There is no such column.
        """
        index = self.column_index(name)
        return [row[index] for row in self._rows]

    def iterrows(self) -> Iterator[tuple[int, list[Any]]]:
        """Yield ``(index, row)`` pairs, as ``wandb.Table.iterrows`` does."""
        for i, row in enumerate(self._rows):
            yield i, list(row)

    def get_dataframe(self) -> Any:
        """Return the rows as a pandas DataFrame (needs pandas); media cells stay objects."""
        try:
            import pandas as pd
        except ImportError as err:
            raise ImportError("Table.get_dataframe() needs pandas: pip install pandas") from err
        return pd.DataFrame(self.data, columns=self.columns)

    def column_index(self, name: str) -> int:
        """Return the position of column ``name``; raise :class:`InvalidValueError` naming the columns if absent."""
        try:
            return self._columns.index(name)
        except ValueError:
            raise InvalidValueError(f"Table has no column {name!r}; its columns are {self._columns!r}") from None

    def _cell(self, col: int, value: Any, row: int) -> Any:
        cell, kind = _convert(value)
        if kind is None:
            return None
        have = self._types[col]
        if have is None:
            self._types[col] = kind
        elif have != kind:
            raise InvalidValueError(
                f"Table column {self._columns[col]!r} holds {have} cells but row {row} has {_describe(value)} "
                f"({kind}); keep one type per column (None for a missing value), e.g. str(value) for all"
            )
        return cell

    def write(self, dest_dir: pathlib.Path, stem: str) -> tuple[str, dict[str, object]]:
        """Write the table (and its media cells) into ``dest_dir``; return (file name, meta).

        Args:
            dest_dir: Existing folder to write into.
            stem: File name without extension; media cells get ``<stem>-r<row>-c<col>``.

        Returns:
            The file name and ``{"format", "columns", "types", "rows"}``; ``format`` is
            ``parquet`` or ``jsonl``. A table with media cells adds ``"files"``: the names (relative
            to ``dest_dir``) of the cell files written, which a remote writer or ``rltrack sync``
            uploads with the table file (without them a server draws "file missing").
        """
        rows = list(self._rows)  # the rows held now; add_data() during the write does not tear it
        types = [t or "string" for t in self._types]
        columns: list[list[Any]] = [[row[c] for row in rows] for c in range(len(self._columns))]
        for c, kind in enumerate(types):
            if kind == "media":
                columns[c] = [_write_cell(cell, dest_dir, f"{stem}-r{r}-c{c}") for r, cell in enumerate(columns[c])]
        meta: dict[str, object] = {"columns": list(self._columns), "types": types, "rows": len(rows)}
        files = [cell["path"] for c, kind in enumerate(types) if kind == "media" for cell in columns[c] if cell]
        if files:
            meta["files"] = files
        try:
            import pyarrow  # noqa: F401  # only to choose the format
        except ImportError:
            name = stem + ".jsonl"
            _write_jsonl(dest_dir / name, self._columns, types, columns)
            return name, {"format": "jsonl", **meta}
        name = stem + ".parquet"
        _write_parquet(dest_dir / name, self._columns, types, columns)
        return name, {"format": "parquet", **meta}

    def __repr__(self) -> str:
        return f"Table({len(self._rows)} rows, columns={self._columns!r}, caption={self.caption!r})"


def _check_columns(columns: Sequence[Any]) -> list[str]:
    if isinstance(columns, str):
        raise InvalidValueError(f"Table columns={columns!r} is one string; pass a list of column names")
    out: list[str] = []
    for name in columns:
        if not isinstance(name, str) or not name:
            raise InvalidValueError(f"Table column name {name!r} is not a non-empty string; name every column")
        check_text("Table column name", name)
        if name in out:
            raise InvalidValueError(f"Table column {name!r} appears twice in {list(columns)!r}; use unique names")
        out.append(name)
    return out


def _convert(value: Any) -> tuple[Any, str | None]:
    """Return (plain cell, its type); the type is None for a missing value."""
    if value is None:
        return None, None
    cls = value.__class__
    if cls is bool:
        return value, "bool"
    if cls is int:
        if not _INT64[0] <= value <= _INT64[1]:
            raise InvalidValueError(f"Table cell {value!r} does not fit in 64 bits; pass a float or a string")
        return value, "number"
    if cls is float:
        return value, "number"
    if isinstance(value, str):
        return check_text("Table cell", str(value)), "string"
    if getattr(value, "kind", None) in _CELL_MEDIA and callable(getattr(value, "write", None)):
        return value, "media"
    if isinstance(value, int):  # subclasses: IntEnum, numpy ints that subclass int
        return _convert(int(value))
    if isinstance(value, float):  # numpy.float64 subclasses float
        return float(value), "number"
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "ndim", 0) == 0:  # numpy/torch scalars, pandas' NA-free scalars
        number = item()
        if isinstance(number, (bool, int, float, str)):
            return _convert(number)
    if _is_missing(value):
        return None, None
    raise InvalidValueError(
        f"Table cell {_describe(value)} is not supported; pass a number, bool, string, None, "
        "rltrack.Image, rltrack.Video or rltrack.Histogram (str(value) to keep its text)"
    )


def _is_missing(value: Any) -> bool:
    """Whether ``value`` is pandas' NA or NaT (a missing value in a DataFrame), without importing pandas."""
    return type(value).__name__ in ("NAType", "NaTType")


def _describe(value: Any) -> str:
    text = repr(value)
    return f"{text[:57]}... ({type(value).__name__})" if len(text) > 60 else f"{text} ({type(value).__name__})"


def _from_dataframe(df: Any) -> tuple[list[str], list[tuple[Any, ...]]]:
    if not (hasattr(df, "columns") and hasattr(df, "itertuples")):
        raise InvalidValueError(f"Table dataframe= got {_describe(df)}; pass a pandas DataFrame")
    columns = [c if isinstance(c, str) else str(c) for c in df.columns]
    return columns, list(df.itertuples(index=False, name=None))


def _write_cell(cell: Any, dest_dir: pathlib.Path, stem: str) -> dict[str, Any] | None:
    if cell is None:
        return None
    name, meta = cell.write(dest_dir, stem)
    return {"kind": cell.kind, "path": name, "caption": cell.caption, "meta": meta}


def _write_parquet(path: pathlib.Path, names: list[str], types: list[str], columns: list[list[Any]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrays = []
    for kind, cells in zip(types, columns, strict=True):
        if kind == "media":
            arrays.append(pa.array([None if c is None else json.dumps(c) for c in cells], type=pa.string()))
        elif kind == "number":
            ints = all(c is None or c.__class__ is int for c in cells)
            arrays.append(pa.array(cells, type=pa.int64() if ints else pa.float64(), from_pandas=False))
        else:
            arrays.append(pa.array(cells, type=pa.bool_() if kind == "bool" else pa.string()))
    schema_meta = {b"rltrack": json.dumps({"columns": names, "types": types}).encode()}
    table = pa.Table.from_arrays(arrays, names=names).replace_schema_metadata(schema_meta)
    tmp = path.with_name(path.name + ".part")
    pq.write_table(table, tmp)
    os.replace(tmp, path)


def _write_jsonl(path: pathlib.Path, names: list[str], types: list[str], columns: list[list[Any]]) -> None:
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "w", encoding="utf-8") as f:
        # NaN and ±inf are written as JSON's common extension (NaN, Infinity), which json.loads reads.
        f.write(json.dumps({"columns": names, "types": types}) + "\n")
        for row in zip(*columns, strict=True) if columns else ():
            f.write(json.dumps(list(row)) + "\n")
    os.replace(tmp, path)


def table_cell_files(path: pathlib.Path, meta: dict[str, Any] | None) -> list[str]:
    """Return the names (relative to the table file's folder) of the cell files a table file refers to.

    The ``"files"`` list of the table's media meta when it has one (tables logged by this version);
    else the media cells read from the file itself (tables logged before it). Names are as stored:
    a caller checks them (:func:`rltrack.validate.check_media_path`) before touching a file.

    Raises:
        OSError, ValueError, KeyError, ImportError: the table file cannot be read (only without ``"files"``).
    """
    listed = (meta or {}).get("files")
    if isinstance(listed, list):
        return [name for name in listed if isinstance(name, str)]
    types = (meta or {}).get("types")
    if isinstance(types, list) and "media" not in types:
        return []  # no media column: no cell files, and no need to read a large table to learn that
    _, types, columns = read_table_file(path)
    return [cell["path"] for c, kind in enumerate(types) if kind == "media" for cell in columns[c]
            if isinstance(cell, dict) and isinstance(cell.get("path"), str)]


def read_table_file(path: pathlib.Path) -> tuple[list[str], list[str], list[list[Any]]]:
    """Read a table file written by :meth:`Table.write`: (column names, types, column cells).

    Media cells come back as the dicts written (``kind``, ``path`` relative to the file's
    folder, ``caption``, ``meta``); numbers as int or float, missing values as None.

    Raises:
        ImportError: The file is Parquet and pyarrow is not installed.
    """
    if path.suffix == ".jsonl":
        with open(path, encoding="utf-8") as f:
            header = json.loads(f.readline())
            rows = [json.loads(line) for line in f if line.strip()]
        names, types = list(header["columns"]), list(header["types"])
        columns = [[row[c] for row in rows] for c in range(len(names))]
        return names, types, columns
    try:
        import pyarrow.parquet as pq
    except ImportError as err:
        raise ImportError(f"reading {path.name} needs pyarrow: pip install pyarrow") from err
    table = pq.read_table(path)
    info = json.loads((table.schema.metadata or {})[b"rltrack"])
    names, types = list(info["columns"]), list(info["types"])
    columns = [table.column(i).to_pylist() for i in range(len(names))]
    for c, kind in enumerate(types):
        if kind == "media":
            columns[c] = [None if cell is None else json.loads(cell) for cell in columns[c]]
    return names, types, columns
