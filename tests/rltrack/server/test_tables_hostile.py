"""The tables API against files a hostile writer crafted: huge lines, too many cells, 10,000 columns, links out,
nested cells, mixed sort keys, bad paging parameters, and reads racing a writer that rewrites the file in place.

Every answer is a 200 or a 4xx whose message names what is wrong; none is a 500, none leaks the store's path
or a file outside the run, and the server never holds a huge line whole.
"""

from __future__ import annotations

import json
import sys
import threading
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import rltrack
from rltrack.server import create_app
from rltrack.server import tables as tables_mod
from rltrack.server.routes_runs import MAX_PAGE_CELLS


@pytest.fixture
def jsonl(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables written as JSON Lines (a file a hostile writer can craft by hand)."""
    monkeypatch.setitem(sys.modules, "pyarrow", None)


def _run_with_tables(root: Path, *keys: str) -> tuple[str, dict[str, Path]]:
    run = rltrack.init(project="t", dir=root, system_metrics=False, quiet=True)
    run.log({key: rltrack.Table(columns=["n"], data=[[1]]) for key in keys}, step=0)
    run.finish()
    media = {m.key: m.path for m in rltrack.Api(root).run(run.id).media()}
    return run.id, media


def _write(path: Path, columns: list[str], rows: list[list[Any]], types: list[str] | None = None) -> None:
    head = {"columns": columns, "types": types or ["number"] * len(columns)}
    path.write_text("\n".join([json.dumps(head), *(json.dumps(r) for r in rows)]) + "\n")


@pytest.fixture
def client(tmp_path: Path, make_client: Callable[..., Any]) -> Callable[[], Any]:
    return lambda: make_client(create_app(tmp_path / "store"))


def _entries(c: Any, run_id: str) -> dict[str, dict[str, Any]]:
    r = c.get(f"/api/runs/{run_id}/tables")
    assert r.status_code == 200, r.text
    return {e["key"]: e for e in r.json()}


def test_a_huge_header_or_row_line_is_never_held_whole(tmp_path: Path, client: Any, jsonl: None) -> None:
    run_id, media = _run_with_tables(tmp_path / "store", "header", "row")
    media["header"].write_bytes(b'{"columns": ["' + b"x" * (3 << 20) + b'"], "types": ["number"]}\n[1]\n')
    with open(media["row"], "wb") as f:  # a 40 MB row line, then two ordinary rows and blank lines
        f.write(b'{"columns": ["n"], "types": ["string"]}\n["' + b"y" * (40 << 20) + b'"]\n\n["a"]\n  \n["b"]')
    tables_mod._SHAPES.clear()
    tracemalloc.start()
    try:
        with client() as c:
            entries = _entries(c, run_id)
            _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 12 << 20, f"listing the tables allocated {peak:,} bytes at its peak"
    assert entries["header"]["error"].endswith("is not a readable table file: its header line is over 2,097,152 bytes")
    assert entries["row"]["rows"] == 3 and entries["row"]["columns"] == ["n"]
    with client() as c:
        r = c.get(f"/api/runs/{run_id}/tables/rows", params={"key": "header"})
    assert r.status_code == 400 and "header line is over" in r.json()["detail"]


def test_a_table_of_too_many_cells_is_listed_but_not_read(tmp_path: Path, client: Any, jsonl: None) -> None:
    run_id, media = _run_with_tables(tmp_path / "store", "huge")
    rows = tables_mod.MAX_TABLE_CELLS // 2 + 1
    with open(media["huge"], "w") as f:
        f.write(json.dumps({"columns": ["a", "b"], "types": ["number", "number"]}) + "\n" + "[0,1]\n" * rows)
    with client() as c:
        assert _entries(c, run_id)["huge"]["rows"] == rows
        r = c.get(f"/api/runs/{run_id}/tables/rows", params={"key": "huge"})
    assert r.status_code == 400
    assert f"holds {rows:,} rows x 2 columns" in r.json()["detail"] and "rltrack.Api().run(" in r.json()["detail"]
    assert str(tmp_path) not in r.text


def test_ten_thousand_columns_are_paged_in_fewer_rows_and_every_row_is_reached(
    tmp_path: Path, client: Any, jsonl: None,
) -> None:
    run_id, media = _run_with_tables(tmp_path / "store", "wide")
    columns = [f"c{i}" for i in range(10_000)]
    _write(media["wide"], columns, [[r * 10_000 + c for c in range(10_000)] for r in range(120)])
    per_page = MAX_PAGE_CELLS // 10_000
    seen: list[int] = []
    with client() as c:
        assert _entries(c, run_id)["wide"]["cols"] == 10_000
        offset = 0
        while offset < 120:
            page = c.get(f"/api/runs/{run_id}/tables/rows", params={"key": "wide", "offset": offset, "limit": 10_000})
            assert page.status_code == 200, page.text
            data = page.json()
            assert data["limit"] == per_page and len(data["rows"]) == min(per_page, 120 - offset)
            seen += [row[0] // 10_000 for row in data["rows"]]
            offset += data["limit"]
        # Sorting by one column after another keeps only a few orders in memory, and each answer is right.
        for i in range(12):
            top = c.get(f"/api/runs/{run_id}/tables/rows",
                        params={"key": "wide", "sort": f"c{i}", "order": "desc", "limit": 1}).json()
            assert top["rows"][0][i] == 119 * 10_000 + i and top["index"] == [119]
    assert seen == list(range(120))
    loaded = tables_mod.load(media["wide"])
    assert len(loaded.orders) <= 4


@pytest.mark.parametrize(("content", "why"), [
    (b'{"columns": ["a", "a"], "types": ["number", "number"]}\n[1, 2]\n', "a column name repeats"),
    (b'{"columns": ["a"], "types": ["number", "string"]}\n[1]\n', "columns and types disagree"),
    (b'{"columns": [1], "types": ["number"]}\n[1]\n', "column names are not strings"),
    (b"\x89PNG\r\n\x1a\n\x00\x00garbage", "(UnicodeDecodeError)"),
    (b"", "(JSONDecodeError)"),
    (b"[" * 100_000 + b"\n", "(RecursionError)"),
])
def test_a_crafted_header_is_an_error_that_says_why(tmp_path: Path, client: Any, jsonl: None, content: bytes,
                                                     why: str) -> None:
    run_id, media = _run_with_tables(tmp_path / "store", "bad")
    media["bad"].write_bytes(content)
    with client() as c:
        entry = _entries(c, run_id)["bad"]
        rows = c.get(f"/api/runs/{run_id}/tables/rows", params={"key": "bad"})
        data = c.get(f"/api/runs/{run_id}/tables/data", params={"key": "bad", "column": "a"})
    assert why in entry["error"] and "rows" not in entry
    for r in (rows, data):
        assert r.status_code == 400 and why in r.json()["detail"], r.text


def test_a_table_file_that_is_a_link_out_or_a_folder_is_never_read(tmp_path: Path, client: Any, jsonl: None) -> None:
    run_id, media = _run_with_tables(tmp_path / "store", "link", "folder")
    secret = tmp_path / "secret.jsonl"
    _write(secret, ["password"], [["hunter2"]])
    media["link"].unlink()
    media["link"].symlink_to(secret)
    media["folder"].unlink()
    media["folder"].mkdir()
    with client() as c:
        entries = _entries(c, run_id)
        answers = [c.get(f"/api/runs/{run_id}/tables/{what}", params={"key": key, "column": "password"})
                   for key in ("link", "folder") for what in ("rows", "data")]
    for key in ("link", "folder"):
        assert "is not a table file in this run's folder" in entries[key]["error"] and entries[key]["url"] is None
    for r in answers:
        assert r.status_code == 400 and "which is not a table file" in r.json()["detail"]
        assert "hunter2" not in r.text and str(tmp_path) not in r.text


def test_nested_cells_and_mixed_sort_keys_come_back_as_text_and_in_a_stable_order(
    tmp_path: Path, client: Any, jsonl: None,
) -> None:
    run_id, media = _run_with_tables(tmp_path / "store", "mixed")
    cells = [{"x": [1, {"y": float("nan")}]}, [1, 2], "b", float("nan"), None, 2**70, -1.5, True, "a",
             {"caption": {"not": "text"}, "path": "x.png"}, float("inf")]
    media["mixed"].write_text(json.dumps({"columns": ["k", "i"], "types": ["string", "number"]}) + "\n" + "".join(
        json.dumps([cell, i]) + "\n" for i, cell in enumerate(cells)))
    with client() as c:
        asc = c.get(f"/api/runs/{run_id}/tables/rows", params={"key": "mixed", "sort": "k"}).json()
        desc = c.get(f"/api/runs/{run_id}/tables/rows", params={"key": "mixed", "sort": "k", "order": "desc"}).json()
        data = c.get(f"/api/runs/{run_id}/tables/data", params={"key": "mixed", "column": "k"}).json()
    # Numbers (bools as 0/1) first, then text (a nested cell by its JSON text); NaN and None last both ways.
    assert asc["index"] == [6, 7, 5, 10, 1, 8, 2, 9, 0, 3, 4]
    assert desc["index"] == [0, 9, 2, 8, 1, 10, 5, 7, 6, 3, 4]
    assert [asc["rows"][asc["index"].index(i)][0] for i in (0, 1, 5, 10)] == [
        '{"x": [1, {"y": NaN}]}', "[1, 2]", 2**70, "Infinity"]
    assert data["columns"]["k"] == ['{"x": [1, {"y": NaN}]}', "[1, 2]", "b", None, None, 2**70, -1.5, True, "a",
                                    None, None]


def test_unicode_and_prototype_names_round_trip_as_columns_and_plot_fields(tmp_path: Path, client: Any) -> None:
    names = ["__proto__", "constructor", "\u202eRTL", "😀 reward", "<img src=x onerror=alert(1)>"]
    run = rltrack.init(project="t", dir=tmp_path / "store", system_metrics=False, quiet=True)
    table = rltrack.Table(columns=names, data=[[i, i * 2, i * 3, i * 4, str(i)] for i in range(5)])
    run.log({"chart": rltrack.plot.line(table, "__proto__", "constructor", title="<script>x</script>")}, step=0)
    run.finish()
    with client() as c:
        entry = _entries(c, run.id)["chart"]
        data = c.get(f"/api/runs/{run.id}/tables/data",
                     params={"key": "chart", "column": ["__proto__", "constructor"]}).json()
        rows = c.get(f"/api/runs/{run.id}/tables/rows", params={"key": "chart", "sort": "😀 reward",
                                                                 "order": "desc"}).json()
    assert entry["columns"] == names and entry["plot"]["fields"] == {"x": "__proto__", "y": "constructor"}
    assert data["columns"] == {"__proto__": [0, 1, 2, 3, 4], "constructor": [0, 2, 4, 6, 8]}
    assert rows["columns"] == names and rows["index"] == [4, 3, 2, 1, 0]


@pytest.mark.parametrize(("params", "status", "says"), [
    ({"offset": -1}, 422, "offset"),
    ({"offset": "abc"}, 422, "offset"),
    ({"limit": 0}, 422, "limit"),
    ({"limit": 10**9}, 422, "limit"),
    ({"step": "x"}, 422, "step"),
    ({"order": "sideways"}, 422, "order"),
    ({"step": 10**30}, 404, "no table 't' at step 1000000000000000000000000000000"),
    ({"source": "../x"}, 404, "no table 't' from source '../x'; this run's table keys are ['t'] from sources ['sim']"),
    ({"sort": "nope"}, 400, "sort='nope' is not a column of table 't'"),
    ({"key": "nope"}, 404, "no table 'nope'"),
])
def test_bad_paging_parameters_are_4xx_that_name_them(tmp_path: Path, client: Any, params: dict[str, Any],
                                                      status: int, says: str) -> None:
    run_id, _ = _run_with_tables(tmp_path / "store", "t")
    with client() as c:
        r = c.get(f"/api/runs/{run_id}/tables/rows", params={"key": "t", **params})
        huge = c.get(f"/api/runs/{run_id}/tables/rows", params={"key": "t", "offset": 10**30})
    assert r.status_code == status and says in r.json()["detail"], r.text
    assert huge.status_code == 200 and huge.json()["rows"] == [] and huge.json()["total"] == 1


def test_reads_racing_a_writer_that_rewrites_the_file_in_place_never_fail_or_mix_versions(
    tmp_path: Path, client: Any, jsonl: None,
) -> None:
    run_id, media = _run_with_tables(tmp_path / "store", "live")
    versions = [(n, [[n, i] for i in range(n)]) for n in (50, 300, 2000)]
    _write(media["live"], ["v", "i"], versions[0][1])
    stop = threading.Event()
    answers: list[tuple[int, Any]] = []

    def rewrite() -> None:  # not atomic: truncate, then write (an uploader that does not rename)
        k = 0
        while not stop.is_set():
            k += 1
            _write(media["live"], ["v", "i"], versions[k % 3][1])

    def read(c: Any) -> None:
        for k in range(40):
            params = {"key": "live", "sort": "i", "order": "desc"} if k % 2 else {"key": "live", "limit": 5000}
            r = c.get(f"/api/runs/{run_id}/tables/rows", params=params)
            answers.append((r.status_code, r.json()))

    writer = threading.Thread(target=rewrite)
    writer.start()
    try:
        with client() as c:
            readers = [threading.Thread(target=read, args=(c,)) for _ in range(4)]
            for t in readers:
                t.start()
            for t in readers:
                t.join()
    finally:
        stop.set()
        writer.join()
    assert answers and {s for s, _ in answers} <= {200, 400}
    good = [a for s, a in answers if s == 200]
    assert good, "no read succeeded"
    for a in good:
        # A writer that rewrites in place can be caught between two of its write calls: the file then holds a
        # prefix of one version, which no reader can tell from a shorter table. What must hold: every row of a
        # page comes from one version, and the total is the rows that file held.
        versions_seen = {row[0] for row in a["rows"]}
        assert len(versions_seen) <= 1, "a page mixed two versions"
        (n,) = versions_seen or {a["total"]}
        assert n in (50, 300, 2000) and a["total"] <= n
        if a["sort"] is None:
            assert len(a["rows"]) == a["total"]
    for s, a in answers:
        if s == 400:
            assert "is not a readable table file" in a["detail"]


@pytest.mark.browser
def test_the_page_steps_through_a_very_wide_table_and_draws_prototype_named_plot_fields(
    tmp_path: Path, browser: Any,
) -> None:
    from rltrack.server import ServerSettings
    from rltrack.server.serve import BackgroundServer

    root = tmp_path / "store"
    columns = 1_000
    per_page = 20  # the page draws at most 20,000 cells a page, not 100 rows of 1,000 columns
    run = rltrack.init(id="wide01", project="t", dir=root, system_metrics=False, quiet=True)
    run.log({"wide": rltrack.Table(columns=[f"c{i}" for i in range(columns)],
                                   data=[[r] * columns for r in range(45)])}, step=0)
    curve = rltrack.Table(columns=["__proto__", "constructor"], data=[[i, i * 2] for i in range(5)])
    run.log({"proto": rltrack.plot.line(curve, "__proto__", "constructor", title="__proto__")}, step=0)
    run.finish()
    errors: list[str] = []
    with BackgroundServer(ServerSettings(root=root)) as server:
        page = browser.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{server.url}/runs/wide01")
        card = "#tables .table-card[data-key='wide']"
        page.wait_for_selector(f"{card}[data-loaded='0||asc|0']", timeout=30_000)
        assert page.text_content(f"{card} .rows-info") == f"rows 1–{per_page} of 45"
        for start in (per_page, 2 * per_page):
            page.click(f"{card} button.next")
            page.wait_for_selector(f"{card}[data-loaded='0||asc|{start}']", timeout=30_000)
            first = page.eval_on_selector(f"{card} tbody tr", "r => r.cells[0].textContent")
            assert first == str(start)
        assert page.text_content(f"{card} .rows-info") == f"rows {2 * per_page + 1}–45 of 45"
        assert page.is_disabled(f"{card} button.next")
        page.click(f"{card} button.prev")
        page.wait_for_selector(f"{card}[data-loaded='0||asc|{per_page}']", timeout=30_000)
        page.wait_for_selector("#plots .plot-card[data-loaded] .js-plotly-plot", timeout=30_000)
        drawn = page.evaluate("() => document.querySelector('#plots .js-plotly-plot').data.map(t => [t.x, t.y])")
        page.close()
    assert drawn == [[[0, 1, 2, 3, 4], [0, 2, 4, 6, 8]]]
    assert errors == []


def test_a_plot_data_request_for_too_many_columns_is_refused_with_the_count(tmp_path: Path, client: Any) -> None:
    run = rltrack.init(project="t", dir=tmp_path / "store", system_metrics=False, quiet=True)
    run.log({"wide": rltrack.Table(columns=[f"c{i}" for i in range(40)], data=[list(range(40))])}, step=0)
    run.finish()
    with client() as c:
        r = c.get(f"/api/runs/{run.id}/tables/data", params={"key": "wide", "column": [f"c{i}" for i in range(40)]})
        ok = c.get(f"/api/runs/{run.id}/tables/data", params={"key": "wide", "column": ["c1", "c1", "c39"]})
    assert r.status_code == 400 and "column= names 40 columns; ask for at most 32" in r.json()["detail"]
    assert ok.status_code == 200 and ok.json()["columns"] == {"c1": [1], "c39": [39]}


def test_a_parquet_table_that_unpacks_past_the_limit_is_listed_but_not_read(
    tmp_path: Path, client: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("pyarrow")
    run = rltrack.init(project="t", dir=tmp_path / "store", system_metrics=False, quiet=True)
    run.log({"bomb": rltrack.Table(columns=["text"], data=[["a" * (8 << 20)]])}, step=0)
    run.finish()
    (media,) = rltrack.Api(tmp_path / "store").run(run.id).media()
    assert media.path.suffix == ".parquet" and media.path.stat().st_size < 2 << 20
    monkeypatch.setattr(tables_mod, "MAX_FILE_BYTES", 4 << 20)  # the limit, lowered to keep the test small
    with client() as c:
        entry = _entries(c, run.id)["bomb"]
        r = c.get(f"/api/runs/{run.id}/tables/rows", params={"key": "bomb"})
    assert entry["rows"] == 1
    assert r.status_code == 400 and "bytes uncompressed; the dashboard reads tables of up to 4,194,304" in r.text


@pytest.mark.browser
def test_nanosecond_timestamp_steps_and_cells_keep_every_digit_on_the_page(tmp_path: Path, browser: Any) -> None:
    from rltrack.server import ServerSettings
    from rltrack.server.serve import BackgroundServer

    root = tmp_path / "store"
    t0 = 1_796_541_514_255_416_855  # a step past 2**53: JavaScript's numbers cannot tell t0 from t0 + 1
    run = rltrack.init(id="stamps01", project="t", dir=root, system_metrics=False, quiet=True)
    for offset in (0, 1):
        run.log({"obs": rltrack.Table(columns=["at", "stamp"], data=[[f"t0+{offset}", t0 + offset]])}, step=t0 + offset)
    run.finish()
    errors: list[str] = []
    with BackgroundServer(ServerSettings(root=root)) as server:
        page = browser.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{server.url}/runs/stamps01")
        card = "#tables .table-card[data-key='obs']"
        page.wait_for_selector(f"{card}[data-loaded='{t0 + 1}||asc|0']", timeout=30_000)
        last = page.eval_on_selector(f"{card} tbody tr", "r => r.cells[0].textContent")
        stamp = page.eval_on_selector(f"{card} tbody tr", "r => r.cells[1].textContent")
        options = page.eval_on_selector_all(f"{card} select.table-step option", "os => os.map(o => o.value)")
        page.select_option(f"{card} select.table-step", str(t0))
        page.wait_for_selector(f"{card}[data-loaded='{t0}||asc|0']", timeout=30_000)
        first = page.eval_on_selector(f"{card} tbody tr", "r => r.cells[0].textContent")
        note = page.text_content(f"{card} p")
        page.close()
    assert options == [str(t0), str(t0 + 1)] and (last, first) == ("t0+1", "t0+0")
    assert stamp == str(t0 + 1)  # every digit, not 1796541514255416800
    assert "Not Found" not in (note or "") and "no table" not in (note or "") and errors == []


def test_ints_past_2_53_come_with_their_exact_text(tmp_path: Path, client: Any) -> None:
    run = rltrack.init(project="t", dir=tmp_path / "store", system_metrics=False, quiet=True)
    big = [2**53, 2**53 + 1, -(2**62), 2**63 - 1]
    run.log({"ids": rltrack.Table(columns=["id", "x"], data=[[v, True] for v in big])}, step=0)
    run.finish()
    with client() as c:
        page = c.get(f"/api/runs/{run.id}/tables/rows", params={"key": "ids", "sort": "id"}).json()
    assert [r[0] for r in page["rows"]] == sorted(big)  # numbers stay numbers for Python clients
    assert page["exact_ints"] == [[0, 0, str(-(2**62))], [2, 0, str(2**53 + 1)], [3, 0, str(2**63 - 1)]]


def test_crafted_alert_records_are_shown_with_what_they_hold(tmp_path: Path, client: Any) -> None:
    import os
    import time

    from rltrack.store.open import open_database
    from rltrack.store.writer import NewRun, StoreWriter, WriterInfo

    root = tmp_path / "store"
    writer = StoreWriter(open_database(root, None))
    who = WriterInfo(host=os.uname().nodename, pid=os.getpid(), pid_started_ns=0, now_ns=time.time_ns())
    writer.create_run(NewRun(id="a1", project="t", name="a", group=None, job_type=None, notes=None, tags=(),
                             config={}, source="sim"), who)
    writer.write("a1", "sim", metadata={"alerts": [
        {"title": {"nested": [1]}, "text": None, "level": ["WARN"], "step": True, "t_ns": 1.5},
        {"title": "ok", "text": "t", "level": "error", "step": 2**63 - 1, "t_ns": 7}, "plain text", None]})
    with client() as c:
        alerts = c.get("/api/runs/a1/alerts").json()
    assert alerts == [
        {"title": '{"nested": [1]}', "text": "", "level": "INFO", "step": None, "t_ns": None},
        {"title": "ok", "text": "t", "level": "ERROR", "step": 2**63 - 1, "t_ns": 7},
        {"title": "", "text": "plain text", "level": "INFO", "step": None, "t_ns": None},
        {"title": "", "text": "", "level": "INFO", "step": None, "t_ns": None},
    ]


def test_crafted_plot_specs_are_not_drawn_and_their_tables_still_listed(tmp_path: Path, client: Any) -> None:
    from rltrack.store.open import open_database
    from rltrack.store.writer import StoreWriter
    from rltrack.types import MediaRecord

    root = tmp_path / "store"
    run = rltrack.init(project="t", dir=root, system_metrics=False, quiet=True)
    run.log({"base": rltrack.Table(columns=["x", "y"], data=[[1, 2]])}, step=0)
    run.finish()
    (media,) = rltrack.Api(root).run(run.id).media()
    relative = media.path.relative_to(root / "runs" / run.id).as_posix()
    specs = {
        "unknown_type": {"plot": {"type": "pie", "fields": {"x": "x", "y": "y"}}},
        "missing_column": {"plot": {"type": "line", "fields": {"x": "x", "y": "__proto__"}}},
        "number_field": {"plot": {"type": "line", "fields": {"x": "x", "y": 5}}},
        "fields_list": {"plot": {"type": "scatter", "fields": ["x", "y"]}},
        "spec_string": {"plot": "<script>alert(1)</script>"},
        "extra_fields": {"plot": {"type": "scatter", "fields": {"x": "x", "y": "y", "onload": "x"},
                                  "title": {"not": "text"}, "xname": 7}},
    }
    StoreWriter(open_database(root, None, create=False)).write(run.id, "sim", owner=False, media=[
        MediaRecord("sim", key, 1, 1, "table", relative, None, meta) for key, meta in specs.items()])
    with client() as c:
        entries = _entries(c, run.id)
    assert {k: entries[k]["plot"] for k in specs} == {
        "unknown_type": None, "missing_column": None, "number_field": None, "fields_list": None, "spec_string": None,
        "extra_fields": {"type": "scatter", "fields": {"x": "x", "y": "y"}, "title": "", "xname": None}}
    assert all(entries[k]["rows"] == 1 for k in specs)


@pytest.mark.parametrize("seed", range(4))
def test_rows_are_counted_like_the_reader_counts_them_across_block_boundaries(tmp_path: Path, seed: int) -> None:
    import io
    import random

    rng = random.Random(seed)
    pieces = []
    while sum(map(len, pieces)) < (5 << 19):  # ~2.5 MB: lines cross the 1 MiB blocks in every way
        pieces.append(rng.choice([b"\n", b"  \n", b" ", b"x", b"[1]\n", b"\t", b"y" * rng.randint(1, 400_000)]))
    content = b"".join(pieces)
    expected = sum(1 for line in io.BytesIO(content) if line.strip())
    assert tables_mod._count_rows(io.BytesIO(content)) == expected
