"""The one rule for what a config, summary or metadata may hold on a server (client and server share it)."""

from __future__ import annotations

import warnings
from pathlib import Path

import rltrack
from rltrack.api import Api
from rltrack.remote.fit import MAX_ENTRIES, count_entries, fit_extra
from rltrack.remote.sync import push_run
from rltrack.server import ServerSettings
from rltrack.server.serve import BackgroundServer


def test_count_entries_counts_nested_values_and_stops_past_the_bound() -> None:
    assert count_entries({"a": 1, "b": [1, 2, {"c": 3}]}) == 6  # a, b; 3 list items; c
    assert count_entries({"x": list(range(10 * MAX_ENTRIES))}) > MAX_ENTRIES


def test_fit_extra_notes_the_largest_values_until_the_whole_fits() -> None:
    values = {"big": list(range(80_000)), "bigger": {str(i): i for i in range(90_000)}, "lr": 0.1}
    out, noted = fit_extra(values)
    note = "<dict of 90,000 values: too many to send to an rltrack server>"
    assert out == {"big": list(range(80_000)), "bigger": note, "lr": 0.1}
    assert noted == [("bigger", "holds 90,000 values; a server keeps at most 100,000 in one object")]
    assert count_entries(out) <= MAX_ENTRIES
    assert fit_extra({"lr": 0.1}) == ({"lr": 0.1}, [])


def test_sync_sends_an_oversized_config_as_a_note_and_the_run_arrives(tmp_path: Path) -> None:
    with rltrack.init(project="p", dir=tmp_path / "local", config={"seeds": list(range(150_000)), "lr": 0.1},
                      system_metrics=False, quiet=True) as run:
        run.log({"x": 1.0})
    with (BackgroundServer(ServerSettings(root=tmp_path / "server", ingest=True)) as server,
          warnings.catch_warnings(record=True) as caught):
        warnings.simplefilter("always")
        push_run(run.id, server.url, dir=tmp_path / "local")
    there = Api(tmp_path / "server").run(run.id)
    assert there.config == {"seeds": "<list of 150,000 values: too many to send to an rltrack server>", "lr": 0.1}
    assert there.history()["x"].tolist() == [1.0]
    assert there.state == "finished"
    messages = [str(w.message) for w in caught]
    assert any(f"run {run.id!r}: config value 'seeds' holds 150,000 values" in m for m in messages)
    assert Api(tmp_path / "local").run(run.id).config["seeds"] == list(range(150_000))  # the local store keeps it

