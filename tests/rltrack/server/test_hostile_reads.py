"""Hostile data already in a store never breaks the dashboard's answers (issue 19 follow-up).

Found with a real ``rltrack server``: one local run whose config or summary held a lone surrogate
(what ``os.listdir`` returns for a non-UTF-8 file name; the local store keeps it as the JSON escape
``"\\udcff"``) made ``GET /api/runs`` answer 500 for every run in the store. Stored JSON is now read
with each lone surrogate replaced by U+FFFD (:func:`rltrack.validate.loads_text`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import rltrack
from rltrack.api import Api
from rltrack.server import ServerSettings
from rltrack.server.serve import BackgroundServer
from rltrack.validate import loads_text

BAD = "name\udcff.txt"  # os.listdir's answer for the file name b"name\xff.txt"
SEEN = "name\ufffd.txt"


@pytest.fixture
def store(tmp_path: Path) -> Path:
    root = tmp_path / "store"
    clean = rltrack.init(project="p", name="clean", dir=root, system_metrics=False, quiet=True)
    clean.log({"x": 1.0}, step=0)
    clean.finish()
    run = rltrack.init(project="p", name="odd", dir=root, system_metrics=False, quiet=True,
                       config={"file": BAD, BAD: 1, "nested": {"list": [BAD]}})
    run.log({"x": 2.0}, step=0)
    run.summary["last_file"] = BAD
    run.finish()
    return root


@pytest.fixture
def server(store: Path) -> Iterator[httpx.Client]:
    with BackgroundServer(ServerSettings(root=store)) as s, httpx.Client(base_url=s.url, timeout=30) as client:
        yield client


def test_the_runs_list_and_the_run_page_answer_with_u_fffd(server: httpx.Client) -> None:
    listing = server.get("/api/runs")
    assert listing.status_code == 200, listing.text
    assert sorted(r["name"] for r in listing.json()["runs"]) == ["clean", "odd"]
    odd = next(r for r in listing.json()["runs"] if r["name"] == "odd")
    detail = server.get(f"/api/runs/{odd['id']}")
    assert detail.status_code == 200, detail.text
    body = detail.json()
    assert body["config"] == {"file": SEEN, SEEN: 1, "nested": {"list": [SEEN]}}
    assert SEEN in detail.text and "\\udcff" not in detail.text
    assert server.get(f"/runs/{odd['id']}").status_code == 200


def test_api_reads_replace_the_surrogate_too(store: Path) -> None:
    odd = next(r for r in Api(store).runs("p") if r.name == "odd")
    assert odd.config["file"] == SEEN
    assert odd.summary["last_file"] == SEEN
    json.dumps(odd.config, ensure_ascii=False).encode("utf-8")  # what an export writes: no UnicodeEncodeError


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('{"a": "\\udcff"}', {"a": "\ufffd"}),
        ('{"\\ud800": ["\\udfff", 1]}', {"\ufffd": ["\ufffd", 1]}),
        ('{"emoji": "\\ud83c\\udf89"}', {"emoji": "🎉"}),  # a valid pair is one character, kept
        ('{"plain": "\\\\udcff"}', {"plain": "\\udcff"}),  # an escaped backslash, not a surrogate
        (b'{"bytes": 1}', {"bytes": 1}),
    ],
)
def test_loads_text(text: str | bytes, value: object) -> None:
    assert loads_text(text) == value
