"""Charts built on :class:`rltrack.Table`, as ``wandb.plot``'s are: ``line``, ``scatter``, ``bar``, ``histogram``.

Each function checks that the named columns exist and hold numbers, and returns a :class:`Plot`
to log like any value: ``run.log({"returns": rltrack.plot.line(table, "step", "return")})``.
The plot is stored as its table's file (kind ``table``) with the chart's spec in the media meta
under ``"plot"`` (``{"type", "fields", "title"}``), so the read API returns its data and a
dashboard can draw it.

Example:
    >>> import rltrack
    >>> table = rltrack.Table(columns=["step", "return"], data=[[0, 1.0], [1, 2.5]])
    >>> rltrack.plot.line(table, "step", "return", title="Return").spec["type"]
    'line'
"""

from __future__ import annotations

import pathlib
from collections.abc import Sequence
from typing import Any

from rltrack.errors import InvalidValueError
from rltrack.media.image import check_caption
from rltrack.media.table import Table

__all__ = ["Plot", "bar", "histogram", "line", "line_series", "scatter"]

_NUMERIC = ("number", "bool", None)


class Plot:
    """A chart over a :class:`rltrack.Table`; log it like any value. Made by the functions of this module."""

    kind: str = "table"

    def __init__(self, type: str, table: Table, fields: dict[str, str], title: str) -> None:
        """Keep the table and the chart's spec (checked by the functions that make plots)."""
        if not isinstance(title, str):
            raise InvalidValueError(f"plot title={title!r} is not a string; pass a str")
        self.caption: str | None = check_caption(title or None)
        self.table = table
        #: What a dashboard needs to draw the chart: its type, which column is which axis, the title.
        self.spec: dict[str, Any] = {"type": type, "fields": dict(fields), "title": title}

    def write(self, dest_dir: pathlib.Path, stem: str) -> tuple[str, dict[str, object]]:
        """Write the table's file and return (file name, table meta with ``"plot"`` added)."""
        name, meta = self.table.write(dest_dir, stem)
        return name, {**meta, "plot": self.spec}

    def __repr__(self) -> str:
        return f"Plot({self.spec['type']}, fields={self.spec['fields']!r}, {len(self.table)} rows)"


def _table(table: object) -> Table:
    if not isinstance(table, Table):
        raise InvalidValueError(
            f"rltrack.plot got {type(table).__name__}, not an rltrack.Table; "
            "pass rltrack.Table(columns=[...], data=[...]) or rltrack.Table(dataframe=df)"
        )
    return table


def _column(table: Table, name: object, role: str, *, numeric: bool) -> str:
    if not isinstance(name, str):
        raise InvalidValueError(f"plot {role}={name!r} is not a column name; pass one of {table.columns!r}")
    kind = table.types.get(name, "missing")
    if kind == "missing":
        raise InvalidValueError(f"plot {role}={name!r} is not a column of the table; its columns are {table.columns!r}")
    if numeric and kind not in _NUMERIC:
        raise InvalidValueError(
            f"plot {role}={name!r} holds {kind} cells; a {role} axis needs numbers (pick a numeric column)"
        )
    return name


def line(table: Table, x: str, y: str, stroke: str | None = None, title: str = "") -> Plot:
    """A line chart of column ``y`` against column ``x`` (one line per value of ``stroke``, if given)."""
    t = _table(table)
    fields = {"x": _column(t, x, "x", numeric=True), "y": _column(t, y, "y", numeric=True)}
    if stroke is not None:
        fields["stroke"] = _column(t, stroke, "stroke", numeric=False)
    return Plot("line", t, fields, title)


def scatter(table: Table, x: str, y: str, title: str = "") -> Plot:
    """A scatter plot of column ``y`` against column ``x``."""
    t = _table(table)
    return Plot("scatter", t, {"x": _column(t, x, "x", numeric=True), "y": _column(t, y, "y", numeric=True)}, title)


def bar(table: Table, label: str, value: str, title: str = "") -> Plot:
    """A bar chart: one bar per row, labelled by column ``label``, as high as column ``value``."""
    t = _table(table)
    fields = {"label": _column(t, label, "label", numeric=False), "value": _column(t, value, "value", numeric=True)}
    return Plot("bar", t, fields, title)


def histogram(table: Table, value: str, title: str = "") -> Plot:
    """A histogram of column ``value`` (binned when drawn)."""
    t = _table(table)
    return Plot("histogram", t, {"value": _column(t, value, "value", numeric=True)}, title)


def line_series(
    xs: Sequence[float] | Sequence[Sequence[float]],
    ys: Sequence[Sequence[float]],
    keys: Sequence[str] | None = None,
    title: str = "",
    xname: str = "x",
) -> Plot:
    """Several lines in one chart: ``ys[i]`` against ``xs`` (shared) or ``xs[i]``, named ``keys[i]``.

    The table has columns ``lineKey``, ``lineVal`` and ``step`` as in wandb; ``xname`` names the x axis.
    """
    if keys is None:
        keys = [f"key_{i}" for i in range(len(ys))]
    if len(keys) != len(ys):
        raise InvalidValueError(f"line_series got {len(ys)} lines but {len(keys)} keys; pass one key per line")
    shared = len(xs) > 0 and not isinstance(xs[0], Sequence)
    table = Table(columns=["lineKey", "lineVal", "step"])
    for i, (key, line_ys) in enumerate(zip(keys, ys, strict=True)):
        line_xs: Sequence[Any] = xs if shared else xs[i]  # type: ignore[assignment]  # a list of lists here
        if len(line_xs) != len(line_ys):
            raise InvalidValueError(
                f"line_series line {key!r} has {len(line_ys)} y values but {len(line_xs)} x values; pass equal lengths"
            )
        for x, y in zip(line_xs, line_ys, strict=True):
            table.add_data(key, y, x)
    return Plot("line_series", table, {"x": "step", "y": "lineVal", "stroke": "lineKey", "xname": xname}, title)
