"""rltrack.plot: charts over a Table, logged through a real run; the spec is in the media meta."""

from __future__ import annotations

import pytest

import rltrack
from rltrack.errors import InvalidValueError


def _table() -> rltrack.Table:
    return rltrack.Table(
        columns=["step", "return", "env"], data=[[0, 1.0, "cartpole"], [1, 2.5, "cartpole"], [2, 0.5, "acrobot"]]
    )


def test_each_plot_is_logged_as_its_table_with_the_spec(tmp_path) -> None:
    table = _table()
    plots = {
        "line": rltrack.plot.line(table, "step", "return", stroke="env", title="Return"),
        "scatter": rltrack.plot.scatter(table, "step", "return"),
        "bar": rltrack.plot.bar(table, "env", "return", title="By env"),
        "histogram": rltrack.plot.histogram(table, "return"),
        "series": rltrack.plot.line_series([0, 1], [[1.0, 2.0], [3.0, 4.0]], keys=["a", "b"], xname="epoch"),
    }
    run = rltrack.init(project="plots", dir=tmp_path, system_metrics=False, quiet=True)
    run.log({f"charts/{k}": p for k, p in plots.items()}, step=4)
    run.finish()

    view = rltrack.Api(tmp_path).run(run.id)
    media = {m.key: m for m in view.media()}
    assert {m.kind for m in media.values()} == {"table"}
    assert media["charts/line"].meta["plot"] == {
        "type": "line", "fields": {"x": "step", "y": "return", "stroke": "env"}, "title": "Return",
    }
    assert media["charts/line"].caption == "Return"
    assert media["charts/scatter"].meta["plot"]["fields"] == {"x": "step", "y": "return"}
    assert media["charts/bar"].meta["plot"] == {"type": "bar", "fields": {"label": "env", "value": "return"},
                                                "title": "By env"}
    assert media["charts/histogram"].meta["plot"]["fields"] == {"value": "return"}
    assert list(view.table("charts/line")["return"]) == [1.0, 2.5, 0.5]  # DataFrame or dict of lists
    series = view.table("charts/series")
    columns = series.to_dict("list") if hasattr(series, "to_dict") else series
    assert columns == {"lineKey": ["a", "a", "b", "b"], "lineVal": [1.0, 2.0, 3.0, 4.0],
                       "step": [0, 1, 0, 1]}
    assert media["charts/series"].meta["plot"]["fields"]["xname"] == "epoch"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda t: rltrack.plot.line(t, "step", "nope"),
         "plot y='nope' is not a column of the table; its columns are ['step', 'return', 'env']"),
        (lambda t: rltrack.plot.scatter(t, "env", "return"),
         "plot x='env' holds string cells; a x axis needs numbers (pick a numeric column)"),
        (lambda t: rltrack.plot.histogram([[1, 2]], "a"), "rltrack.plot got list, not an rltrack.Table"),
        (lambda t: rltrack.plot.bar(t, "env", 3), "plot value=3 is not a column name"),
        (lambda t: rltrack.plot.line_series([0, 1], [[1.0]], keys=["a"]),
         "line_series line 'a' has 1 y values but 2 x values"),
        (lambda t: rltrack.plot.line_series([0], [[1.0]], keys=["a", "b"]), "line_series got 1 lines but 2 keys"),
    ],
)
def test_bad_plots_are_refused_with_the_reason(make, message) -> None:
    with pytest.raises(InvalidValueError) as err:
        make(_table())
    assert str(err.value).startswith(message), str(err.value)
