"""The run's tables, plots, alerts and saved files through the dashboard's JSON API, logged by the real run API."""

from __future__ import annotations

import io
import json
import math
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image as PILImage

import rltrack
from rltrack.server import create_app

BIG_ROWS = 100_000
ROWS = [
    [0, 1.5, "walk", True, None],
    [1, float("nan"), "run", False, 7],
    [2, float("inf"), None, None, -3],
    [2**62, -0.0, "é✓ <b>", True, 0],
]
COLUMNS = ["episode", "return", "gait", "success", "seed"]


def wire(cell: Any) -> Any:
    """A cell as the rows route sends it: NaN and ±inf as strings (JSON has no such numbers)."""
    if isinstance(cell, float) and not math.isfinite(cell):
        return "NaN" if math.isnan(cell) else ("Infinity" if cell > 0 else "-Infinity")
    return cell


def start(root: Path, **kwargs: Any) -> Any:
    return rltrack.init(project="tables", dir=root, system_metrics=False, quiet=True, **kwargs)


@pytest.fixture
def api(tmp_path: Path, make_client: Callable[..., Any]) -> Callable[[], Any]:
    """Return a factory of clients over a fresh app on ``tmp_path / "store"`` (made after the runs are logged)."""
    return lambda: make_client(create_app(tmp_path / "store"))


def rows_of(client: Any, run_id: str, **params: Any) -> dict[str, Any]:
    r = client.get(f"/api/runs/{run_id}/tables/rows", params=params)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_numbers_strings_and_an_image_come_back_exactly(tmp_path, api, frames, monkeypatch, fmt) -> None:
    if fmt == "jsonl":
        monkeypatch.setitem(sys.modules, "pyarrow", None)  # as on a robot without pyarrow
    run = start(tmp_path / "store")
    pixels = frames(1, 16)[0]
    table = rltrack.Table(columns=[*COLUMNS, "frame"], caption="eval")
    for i, row in enumerate(ROWS):
        table.add_data(*row, rltrack.Image(pixels) if i % 2 == 0 else None)
    run.log({"eval/samples": table}, step=3)
    run.finish()
    client = api()

    (entry,) = client.get(f"/api/runs/{run.id}/tables").json()
    assert entry["path"].endswith("." + fmt)
    assert {k: entry[k] for k in ("key", "step", "source", "caption", "rows", "cols", "columns", "types", "plot")} == {
        "key": "eval/samples", "step": 3, "source": "sim", "caption": "eval", "rows": 4, "cols": 6,
        "columns": [*COLUMNS, "frame"], "types": ["number", "number", "string", "bool", "number", "media"],
        "plot": None,
    }
    body = rows_of(client, run.id, key="eval/samples")
    assert body["total"] == 4 and body["index"] == [0, 1, 2, 3]
    assert [r[:-1] for r in body["rows"]] == [[wire(c) for c in row] for row in ROWS]
    assert type(body["rows"][3][0]) is int and body["rows"][3][0] == 2**62  # no float rounding on the way
    assert math.copysign(1, body["rows"][3][1]) == -1  # -0.0 stays negative
    images = [r[-1] for r in body["rows"]]
    assert images[1] is None and images[3] is None
    for cell in (images[0], images[2]):
        assert cell["kind"] == "image" and cell["url"].startswith(f"/api/runs/{run.id}/files/media/")
        got = client.get(cell["url"])
        assert got.status_code == 200 and got.headers["content-type"] == "image/png"
        assert np.array_equal(np.asarray(PILImage.open(io.BytesIO(got.content)).convert("RGB")), pixels)


def test_a_100k_row_table_is_paged_and_sorted_by_the_server(tmp_path, api) -> None:
    rng = random.Random(0)
    scores = [rng.random() for _ in range(BIG_ROWS)]
    for i in range(0, BIG_ROWS, 1000):
        scores[i] = float("nan")  # missing values stay last in both directions
    names = [f"ep{rng.randrange(10**6):06d}" for _ in range(BIG_ROWS)]
    run = start(tmp_path / "store")
    run.log({"episodes": rltrack.Table(columns=["i", "score", "name"],
                                       data=[[i, scores[i], names[i]] for i in range(BIG_ROWS)])}, step=0)
    run.finish()
    client = api()
    assert client.get(f"/api/runs/{run.id}/tables").json()[0]["rows"] == BIG_ROWS

    present = sorted((i for i in range(BIG_ROWS) if not math.isnan(scores[i])), key=scores.__getitem__)
    missing = [i for i in range(BIG_ROWS) if math.isnan(scores[i])]
    t0 = time.perf_counter()
    first = rows_of(client, run.id, key="episodes", sort="score", order="desc", offset=0, limit=100)
    first_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    middle = rows_of(client, run.id, key="episodes", sort="score", order="desc", offset=50_000, limit=100)
    next_s = time.perf_counter() - t0
    print(f"100k rows: first sorted page {first_s * 1000:.0f} ms, a later page {next_s * 1000:.0f} ms")
    descending = present[::-1] + missing
    assert first["index"] == descending[:100] and middle["index"] == descending[50_000:50_100]
    assert [r[1] for r in middle["rows"]] == [scores[i] for i in descending[50_000:50_100]]
    assert first["total"] == BIG_ROWS
    tail = rows_of(client, run.id, key="episodes", sort="score", order="asc", offset=BIG_ROWS - 150, limit=1000)
    assert tail["index"] == (present + missing)[-150:] and [r[1] for r in tail["rows"][-100:]] == ["NaN"] * 100
    by_name = rows_of(client, run.id, key="episodes", sort="name", offset=10, limit=5)
    assert by_name["index"] == sorted(range(BIG_ROWS), key=names.__getitem__)[10:15]  # stable among equal names
    logged = rows_of(client, run.id, key="episodes", offset=99_998, limit=10)
    assert logged["index"] == [99_998, 99_999] and [r[0] for r in logged["rows"]] == [99_998, 99_999]
    assert next_s < 2.0  # the order is kept: a later page is not a new sort of 100k rows


def test_the_step_picks_which_table_and_the_last_is_the_default(tmp_path, api) -> None:
    run = start(tmp_path / "store")
    for step in (10, 20, 30):
        run.log({"preds": rltrack.Table(columns=["step"], data=[[step]])}, step=step)
    run.finish()
    client = api()
    assert [e["step"] for e in client.get(f"/api/runs/{run.id}/tables").json()] == [10, 20, 30]
    assert rows_of(client, run.id, key="preds")["rows"] == [[30]]
    assert rows_of(client, run.id, key="preds", step=20)["rows"] == [[20]]
    r = client.get(f"/api/runs/{run.id}/tables/rows", params={"key": "preds", "step": 25})
    assert r.status_code == 404 and "'preds' at step 25" in r.json()["detail"] and "['preds']" in r.json()["detail"]
    r = client.get(f"/api/runs/{run.id}/tables/rows", params={"key": "preds", "sort": "nope"})
    assert r.status_code == 400 and "sort='nope'" in r.json()["detail"] and "['step']" in r.json()["detail"]


def test_plots_come_back_with_their_spec_and_columns(tmp_path, api) -> None:
    table = rltrack.Table(columns=["step", "return", "policy"],
                          data=[[0, 1.0, "a"], [1, 2.5, "a"], [0, 0.5, "b"], [1, float("nan"), "b"]])
    run = start(tmp_path / "store")
    run.log({
        "plots/line": rltrack.plot.line(table, "step", "return", stroke="policy", title="Return"),
        "plots/scatter": rltrack.plot.scatter(table, "step", "return"),
        "plots/bar": rltrack.plot.bar(table, "policy", "return", title="Bars"),
        "plots/hist": rltrack.plot.histogram(table, "return"),
        "plots/series": rltrack.plot.line_series([0, 1, 2], [[1, 2, 3], [3, 2, 1]], keys=["up", "down"], xname="t"),
    }, step=5)
    run.finish()
    client = api()
    specs = {e["key"]: e["plot"] for e in client.get(f"/api/runs/{run.id}/tables").json()}
    assert specs == {
        "plots/line": {"type": "line", "fields": {"x": "step", "y": "return", "stroke": "policy"}, "title": "Return",
                       "xname": None},
        "plots/scatter": {"type": "scatter", "fields": {"x": "step", "y": "return"}, "title": "", "xname": None},
        "plots/bar": {"type": "bar", "fields": {"label": "policy", "value": "return"}, "title": "Bars", "xname": None},
        "plots/hist": {"type": "histogram", "fields": {"value": "return"}, "title": "", "xname": None},
        "plots/series": {"type": "line_series", "fields": {"x": "step", "y": "lineVal", "stroke": "lineKey"},
                         "title": "", "xname": "t"},
    }
    data = client.get(f"/api/runs/{run.id}/tables/data",
                      params={"key": "plots/line", "column": ["step", "return", "policy"]}).json()
    assert data == {"total": 4, "sampled": False,
                    "columns": {"step": [0, 1, 0, 1], "return": [1.0, 2.5, 0.5, None], "policy": ["a", "a", "b", "b"]}}
    series = client.get(f"/api/runs/{run.id}/tables/data",
                        params={"key": "plots/series", "column": ["lineKey", "lineVal"]}).json()["columns"]
    assert series == {"lineKey": ["up"] * 3 + ["down"] * 3, "lineVal": [1, 2, 3, 3, 2, 1]}
    sampled = client.get(f"/api/runs/{run.id}/tables/data",
                         params={"key": "plots/line", "column": "step", "max_rows": 2}).json()
    assert sampled == {"total": 4, "sampled": True, "columns": {"step": [0, 0]}}
    r = client.get(f"/api/runs/{run.id}/tables/data", params={"key": "plots/line", "column": "nope"})
    assert r.status_code == 400 and "column='nope'" in r.json()["detail"]


def test_alerts_come_back_in_order_with_level_step_and_time(tmp_path, api) -> None:
    run = start(tmp_path / "store")
    before = time.time_ns()
    run.log({"loss": 1.0}, step=7)
    run.alert("slow", "fps dropped", level="WARN")
    run.alert("<b>diverged</b>", "loss is NaN", level="ERROR")
    run.alert("done", "all good")
    run.finish()
    alerts = api().get(f"/api/runs/{run.id}/alerts").json()
    assert [(a["title"], a["text"], a["level"]) for a in alerts] == [
        ("slow", "fps dropped", "WARN"), ("<b>diverged</b>", "loss is NaN", "ERROR"), ("done", "all good", "INFO")]
    stored = rltrack.Api(tmp_path / "store").run(run.id).metadata["alerts"]
    assert [a["step"] for a in alerts] == [a["step"] for a in stored]
    assert all(before <= a["t_ns"] <= time.time_ns() for a in alerts)


def test_a_run_without_extras_answers_empty_lists(tmp_path, api) -> None:
    run = start(tmp_path / "store")
    run.log({"loss": 1.0}, step=0)
    run.finish()
    client = api()
    assert client.get(f"/api/runs/{run.id}/tables").json() == []
    assert client.get(f"/api/runs/{run.id}/alerts").json() == []
    assert client.get(f"/api/runs/{run.id}/files").json() == {"files": [], "truncated": False}
    assert client.get("/api/runs/nosuchrun/files").status_code == 404
    assert client.get("/api/runs/nosuchrun/tables").status_code == 404


def test_saved_files_are_listed_and_served_as_attachments(tmp_path, api, monkeypatch) -> None:
    work = tmp_path / "work"
    (work / "ckpt").mkdir(parents=True)
    monkeypatch.chdir(work)
    names = {"ckpt/policy.pt": b"\x00weights" * 100, "notes <script>.html": b"<script>alert(1)</script>",
             "ckpt/frame.png": b"\x89PNG\r\n\x1a\n"}
    for name, data in names.items():
        (work / name).write_bytes(data)
    run = start(tmp_path / "store")
    run.save("ckpt/*")
    run.save("notes <script>.html", policy="now")
    run.finish()
    client = api()
    body = client.get(f"/api/runs/{run.id}/files").json()
    listed = {f["path"]: f for f in body["files"] if f["path"].startswith("files/")}
    assert sorted(listed) == sorted(f"files/{n}" for n in names) and body["truncated"] is False
    for name, data in names.items():
        entry = listed[f"files/{name}"]
        assert entry["size"] == len(data) and abs(entry["modified_ns"] - time.time_ns()) < 600 * 10**9
        got = client.get(entry["url"])
        assert got.status_code == 200 and got.content == data
        if not name.endswith(".png"):
            assert got.headers["content-disposition"].startswith("attachment")
            assert "sandbox" in got.headers["content-security-policy"]
    assert "%3Cscript%3E" in listed["files/notes <script>.html"]["url"]


def test_an_unreadable_or_hostile_table_file_is_an_error_not_a_500(tmp_path, api, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # JSON Lines: a file a hostile writer can craft by hand
    run = start(tmp_path / "store")
    pixels = np.zeros((4, 4, 3), np.uint8)
    run.log({"good": rltrack.Table(columns=["img", "n"], data=[[rltrack.Image(pixels), 1], [rltrack.Image(pixels), 2]]),
             "broken": rltrack.Table(columns=["n"], data=[[1]]), "torn": rltrack.Table(columns=["n"], data=[[1]])},
            step=0)
    run.finish()
    monkeypatch.undo()
    media = {m.key: m.path for m in rltrack.Api(tmp_path / "store").run(run.id).media()}
    media["broken"].write_text("{oops\n")
    media["torn"].write_text(media["torn"].read_text() + "[2, 3\n")  # the header reads, a row does not
    lines = media["good"].read_text().splitlines()
    # Cells that name files outside the table's folder, or outside the run: no URL is made for them.
    first, second = json.loads(lines[1]), json.loads(lines[2])
    first[0]["path"] = "../../../../secret.png"
    second[0]["path"] = "/etc/passwd"
    media["good"].write_text("\n".join([lines[0], json.dumps(first), json.dumps(second)]) + "\n")
    client = api()
    entries = {e["key"]: e for e in client.get(f"/api/runs/{run.id}/tables").json()}
    assert "not a readable table file" in entries["broken"]["error"] and "rows" not in entries["broken"]
    assert str(tmp_path) not in json.dumps(entries)
    assert entries["torn"]["rows"] == 2  # listed from its header
    for key in ("broken", "torn"):
        r = client.get(f"/api/runs/{run.id}/tables/rows", params={"key": key})
        assert r.status_code == 400 and "not a readable table file" in r.json()["detail"]
    rows = rows_of(client, run.id, key="good")["rows"]
    assert [r[0]["url"] for r in rows] == [None, None] and [r[1] for r in rows] == [1, 2]
