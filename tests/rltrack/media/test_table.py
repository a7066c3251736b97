"""rltrack.Table: logged through a real run, stored as Parquet (or JSON Lines without pyarrow), read back."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest

import rltrack
from rltrack.api import MediaView
from rltrack.errors import InvalidValueError, RltrackError
from rltrack.media.table import read_table_file

ROWS = [
    [0, 1.5, "walk", True, None],
    [1, float("nan"), "run", False, 7],
    [2, float("inf"), None, None, -3],
    [2**62, -0.0, "é✓", True, 0],
]
COLUMNS = ["episode", "return", "gait", "success", "seed"]


def _log(tmp_path, value, step=3):
    run = rltrack.init(project="tables", dir=tmp_path, system_metrics=False, quiet=True)
    run.log({"before": 1.0}, step=0)
    run.log({"samples": value}, step=step)
    run.finish()
    return rltrack.Api(tmp_path).run(run.id)


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b and type(a) is type(b)


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_cells_round_trip_exactly_through_a_run(tmp_path, monkeypatch, fmt) -> None:
    if fmt == "jsonl":
        # As on a robot: without pyarrow nor pandas, tables are JSON Lines and read back as a dict of columns.
        monkeypatch.setitem(sys.modules, "pyarrow", None)
        monkeypatch.setitem(sys.modules, "pandas", None)
    else:
        pytest.importorskip("pyarrow")

    view = _log(tmp_path, rltrack.Table(columns=COLUMNS, data=ROWS, caption="eval"))

    (media,) = view.media("samples")
    assert (media.kind, media.step, media.caption, media.path.suffix) == ("table", 3, "eval", f".{fmt}")
    assert media.meta == {
        "format": fmt, "columns": COLUMNS, "types": ["number", "number", "string", "bool", "number"], "rows": 4,
    }
    names, types, columns = read_table_file(media.path)  # exact Python values, no pandas casts
    assert (names, types) == (COLUMNS, media.meta["types"])
    for c, name in enumerate(COLUMNS):
        expected = [row[c] for row in ROWS]
        assert all(_same(a, b) for a, b in zip(columns[c], expected, strict=True)), (name, columns[c], expected)
    got = view.table("samples")
    assert list(got) == COLUMNS
    if fmt == "jsonl":
        assert got == dict(zip(names, columns, strict=True))
    else:
        gait = got["gait"].tolist()  # pandas shows a missing string as NaN or None, by version
        assert gait[:2] + gait[3:] == ["walk", "run", "é✓"] and got["gait"].isna().tolist() == [0, 0, 1, 0]
        assert got["episode"].dtype == np.int64 and got["episode"].tolist() == [0, 1, 2, 2**62]
    assert view.series("before")[2].tolist() == [1.0]


def test_image_cells_are_files_beside_the_table(tmp_path) -> None:
    pixels = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    table = rltrack.Table(columns=["frame", "note"])
    table.add_data(rltrack.Image(pixels, caption="f0"), "first")
    table.add_data(None, "missing")

    view = _log(tmp_path, table)
    got = view.table("samples")

    cell = got["frame"][0]
    assert isinstance(cell, MediaView)
    assert (cell.kind, cell.caption, cell.step, cell.meta["width"], cell.meta["height"]) == ("image", "f0", 3, 3, 2)
    assert cell.path.read_bytes().startswith(b"\x89PNG")
    # The table's meta names its cell files (what an online run or a sync uploads with it); None cells write none.
    (row,) = view.media("samples")
    assert row.meta["files"] == [cell.path.name]
    assert (row.path.parent / cell.path.name) == cell.path
    assert got["frame"][1] is None and list(got["note"]) == ["first", "missing"]


def test_a_dataframe_becomes_a_table_and_reads_back_as_one(tmp_path) -> None:
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"step": np.arange(5, dtype=np.int64), "loss": np.linspace(1, 0, 5), "tag": list("abcde")})

    got = _log(tmp_path, rltrack.Table(dataframe=df)).table("samples")

    pd.testing.assert_frame_equal(got, df)


def test_numpy_scalars_are_numbers_and_columns_can_be_added() -> None:
    table = rltrack.Table(columns=["a"], data=[[np.float32(0.5)], [np.int64(3)]])
    table.add_column("b", [np.bool_(True), None])

    assert table.data == [[0.5, True], [3, None]]
    assert table.types == {"a": "number", "b": "bool"}
    assert table.get_column("b") == [True, None]
    assert list(table.iterrows()) == [(0, [0.5, True]), (1, [3, None])] and len(table) == 2
    pytest.importorskip("pandas")
    assert table.get_dataframe().to_dict("list") == {"a": [0.5, 3.0], "b": [True, None]}


def test_the_latest_table_of_a_key_unless_a_step_is_given(tmp_path) -> None:
    run = rltrack.init(project="tables", dir=tmp_path, system_metrics=False, quiet=True)
    for step in (1, 5, 3):
        run.log({"t": rltrack.Table(columns=["s"], data=[[step]])}, step=step)
    run.finish()
    view = rltrack.Api(tmp_path).run(run.id)

    assert list(view.table("t")["s"]) == [5]
    assert list(view.table("t", step=3)["s"]) == [3]
    with pytest.raises(RltrackError, match=r"has no table 't' at step 2; its table keys are \['t'\]"):
        view.table("t", step=2)
    with pytest.raises(RltrackError, match=r"has no table 'x'; its table keys are \['t'\]"):
        view.table("x")


def test_a_row_of_the_wrong_width_is_refused_and_nothing_before_is_lost(tmp_path) -> None:
    run = rltrack.init(project="tables", dir=tmp_path, system_metrics=False, quiet=True)
    run.log({"x": 1.0}, step=0)
    table = rltrack.Table(columns=["a", "b"], data=[[1, 2]])

    with pytest.raises(InvalidValueError) as err:
        table.add_data(1, 2, 3)
    assert str(err.value) == (
        "Table row 1 has 3 cells but the table has 2 columns ['a', 'b']; pass one cell per column "
        "(None for a missing value)"
    )
    with pytest.raises(InvalidValueError, match=r"Table row 0 has 1 cells but the table has 2 columns"):
        rltrack.Table(columns=["a", "b"], data=[[1]])
    run.log({"t": table}, step=1)
    run.finish()

    view = rltrack.Api(tmp_path).run(run.id)
    assert view.series("x")[2].tolist() == [1.0]
    assert list(view.table("t")["a"]) == [1]  # a DataFrame with pandas, a dict of lists without


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: rltrack.Table(columns=["a"], data=[[1], ["x"]]),
         "Table column 'a' holds number cells but row 1 has 'x' (str) (string); keep one type per column"),
        (lambda: rltrack.Table(columns=["a"], data=[[[1, 2]]]), "Table cell [1, 2] (list) is not supported"),
        (lambda: rltrack.Table(columns=["a", "a"]), "Table column 'a' appears twice in ['a', 'a']"),
        (lambda: rltrack.Table(columns="ab"), "Table columns='ab' is one string"),
        (lambda: rltrack.Table(data=[[1]]), "Table got rows but no columns"),
        (lambda: rltrack.Table(columns=["a"], data=[[2**64]]), "Table cell 18446744073709551616 does not fit in 64"),
        (lambda: rltrack.Table(columns=["a"], data=[[rltrack.Table(columns=["b"])]]), "Table cell Table(0 rows"),
        (lambda: rltrack.Table(columns=["a"]).get_column("b"), "Table has no column 'b'; its columns are ['a']"),
        (lambda: rltrack.Table(columns=["a"]).add_column("b", [1]), "Table column 'b' has 1 cells but the table has 0"),
        (lambda: rltrack.Table(dataframe=[[1]]), "Table dataframe= got [[1]] (list); pass a pandas DataFrame"),
    ],
)
def test_bad_tables_are_refused_with_the_reason(make, message) -> None:
    with pytest.raises(InvalidValueError) as err:
        make()
    assert str(err.value).startswith(message), str(err.value)


def test_cell_files_come_from_the_meta_or_from_an_older_table_file(tmp_path) -> None:
    from rltrack.media.table import table_cell_files

    table = rltrack.Table(columns=["n", "frame"])
    table.add_data(1, rltrack.Image(np.zeros((2, 2), dtype=np.uint8)))
    table.add_data(2, None)
    name, meta = table.write(tmp_path, "t")
    assert meta["files"] == ["t-r0-c1.png"] and (tmp_path / "t-r0-c1.png").is_file()
    assert table_cell_files(tmp_path / name, meta) == ["t-r0-c1.png"]
    # A table logged before the meta listed its cells: read from the file itself.
    older = {k: v for k, v in meta.items() if k != "files"}
    assert table_cell_files(tmp_path / name, older) == ["t-r0-c1.png"]
    numbers, numbers_meta = rltrack.Table(columns=["n"], data=[[1]]).write(tmp_path, "plain")
    assert "files" not in numbers_meta
    (tmp_path / numbers).write_bytes(b"not read: a table without media columns has no cells")
    assert table_cell_files(tmp_path / numbers, numbers_meta) == []
