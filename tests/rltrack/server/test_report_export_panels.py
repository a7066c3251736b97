"""The offline HTML export of a report holding every panel type: each panel's data is in the file, media too.

A real server on SQLite and PostgreSQL (the runs of :mod:`test_workspace_panels`) exports a report whose blocks
are every panel type; the embedded JSON is read back and compared with what the live routes answer, and the
media budget is checked on the store's real files.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the server needs the ui extra: pip install 'rltrack[server]'")
pytest.importorskip("PIL", reason="images need Pillow")

import httpx

from rltrack.server.report_embed import Budget

from . import test_workspace_panels
from .test_workspace_panels import HOSTILE, World

#: The runs and server of test_workspace_panels (a module fixture: this module gets its own server).
world = test_workspace_panels.world


def _report(w: World) -> dict[str, Any]:
    blocks = [
        {"markdown": "# Every panel\n\n<script>alert(1)</script>"},
        {"panel": {"key": "loss"}},
        {"panel": {"type": "line", "regex": "^eval/", "title": HOSTILE}},
        {"panel": {"type": "compare", "keys": ["eval/return", "loss"], "config": None}},
        {"panel": {"type": "simreal", "run": w.robot, "keys": None}},
        {"panel": {"type": "media", "key": "cam", "step": None}},
        {"panel": {"type": "media", "key": "clip"}},
        {"panel": {"type": "media", "key": "hist"}},
        {"panel": {"type": "table", "run": w.alpha, "key": "eval/table"}},
        {"panel": {"type": "table", "run": w.alpha, "key": "no/such/table"}},
    ]
    r = httpx.post(w.api("/dashboards"), json={"kind": "report", "name": HOSTILE, "blocks": blocks,
                                               "layout": {"runs": [w.alpha, w.beta, w.robot]}})
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def _embedded(page: str) -> dict[str, Any]:
    found = re.search(r"id='report-data'>(.*?)</script>", page, re.S)
    assert found is not None
    return json.loads(found.group(1))  # type: ignore[no-any-return]


def _bytes_of(data_uri: str) -> bytes:
    head, _, body = data_uri.partition(",")
    assert head.endswith(";base64")
    return base64.b64decode(body)


def test_every_panel_type_is_embedded_in_the_offline_file(world: World) -> None:
    report = _report(world)
    r = httpx.get(world.api(f"/dashboards/{report['id']}/export.html"), timeout=60)
    assert r.status_code == 200
    page = r.text
    assert not re.search(r"<(script|link|img|iframe|video|audio)[^>]*\b(src|href)=", page)  # nothing fetched
    assert "media-src data: blob:" in r.headers["content-security-policy"]
    assert HOSTILE not in page and "<script>alert(1)" not in page  # the writer's text never closes an element
    data = _embedded(page)
    panels = data["panels"]
    assert sorted(panels, key=int) == [str(i) for i in range(1, 10)]  # one entry per panel block, by block index
    assert panels["1"] == {"type": "line", "series_key": "loss|"}
    assert [run["count"] for run in data["series"]["loss|"]["runs"]] == [3, 2, 0]
    regex = panels["2"]
    assert regex["keys"] == ["eval/length", "eval/return"] and regex["more"] == 0
    # Its series sit once in the file's "series", which the block names (two panels of one key share one entry).
    assert regex["series_of"] == {"eval/length": "eval/length|", "eval/return": "eval/return|"}
    assert [run["value"] for run in data["series"]["eval/return|"]["runs"][:2]] == [[10.0, 11.0, 12.0], [20.0, 25.0]]
    compare = panels["3"]
    live = httpx.get(world.api("/compare"), params={"runs": f"{world.alpha},{world.beta},{world.robot}",
                                                    "keys": "eval/return,loss"}).json()
    assert {k: v for k, v in compare.items() if k != "type"} == live  # the file holds what the page fetches
    simreal = panels["4"]
    assert simreal["info"]["available"] and sorted(simreal["keys"]) == ["episode/return", "odom/speed"]
    assert simreal["series"]["odom/speed"]["real"]["value"] == [0.4] * 4
    assert simreal["series"]["odom/speed"]["sim"]["value"] == [0.5] * 6
    live_gap = httpx.get(f"{world.url}/api/runs/{world.robot}/simreal/gap").json()
    assert simreal["gap"] == live_gap  # the gap numbers of the one gap function, not recomputed
    cam = panels["5"]
    assert cam["steps"] == [0, 1, 2, 5] and [i["caption"] for i in cam["items"]] == ["level 80", "level 105"]
    for item in cam["items"]:
        assert item["url"].startswith("data:image/png;base64,") and item["note"] is None
    served = httpx.get(world.api("/media"), params={"key": "cam", "runs": world.alpha}).json()["items"][0]["url"]
    assert _bytes_of(cam["items"][0]["url"]) == httpx.get(world.url + served).content
    clip = panels["6"]["items"][0]
    assert clip["url"].startswith("data:video/mp4;base64,") and clip["caption"] == HOSTILE
    hist = panels["7"]["items"][0]
    assert sum(hist["histogram"]["counts"]) == 100
    assert hist["url"] is None and hist["note"] == "not embedded: application/json files open on the server only"
    table = panels["8"]
    assert table["entry"]["columns"] == ["episode", "return", "frame"] and table["rows"]["total"] == 3
    assert [row[:2] for row in table["rows"]["rows"]] == [[1, 2.5], [2, "NaN"], [3, 0.5]]
    assert table["rows"]["rows"][0][2]["url"].startswith("data:image/png;base64,")
    assert panels["9"]["type"] == "table" and "no table 'no/such/table'" in panels["9"]["error"]
    assert data["workspace"]["panels"][1]["keys"] == ["eval/length", "eval/return"]  # block order, resolved
    embedded = len(re.search(r"id='report-data'>(.*?)</script>", page, re.S).group(1))  # type: ignore[union-attr]
    print(f"\nexport of 9 panels over 3 runs: {len(r.content) / 1024:.0f} KiB, of which data {embedded / 1024:.0f} KiB")


def test_media_over_the_budget_get_a_note_never_a_broken_element(world: World) -> None:
    items = httpx.get(world.api("/media"), params={"key": "cam", "runs": world.alpha}).json()["items"]
    clip = httpx.get(world.api("/media"), params={"key": "clip", "runs": world.alpha}).json()["items"][0]
    root = world.root
    size = len(httpx.get(world.url + items[0]["url"]).content)
    roomy = Budget(left=size)
    uri, note = roomy.embed(root, items[0]["url"])
    assert uri is not None and note is None and roomy.left == 0
    uri, note = roomy.embed(root, clip["url"])  # the budget is spent: the video is named, not embedded
    assert uri is None and note is not None and re.fullmatch(r"not embedded: \d+ KiB, open on the server", note)
    assert roomy.skipped == 1
    assert Budget().embed(root, "/api/runs/nosuch01/files/media/x.png") == (
        None, "not embedded: the file is missing from the run's folder")
    assert Budget().embed(root, "/api/runs/x/files/../../../etc/passwd.png")[0] is None
    assert Budget().embed(root, "https://example.org/x.png") == (None, None)



def test_video_and_audio_over_their_own_cap_are_named_while_images_still_embed(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from rltrack.server import report_embed

    monkeypatch.setattr(report_embed, "MAX_EMBED_AV_BYTES", 1000)  # the clip is a few KiB: now over the cap
    clip = httpx.get(world.api("/media"), params={"key": "clip", "runs": world.alpha}).json()["items"][0]["url"]
    cam = httpx.get(world.api("/media"), params={"key": "cam", "runs": world.alpha}).json()["items"][0]["url"]
    budget = Budget()
    uri, note = budget.embed(world.root, clip)
    assert uri is None and note is not None and note.endswith("KiB, open on the server")
    uri, note = budget.embed(world.root, cam)
    assert uri is not None and uri.startswith("data:image/png;base64,") and note is None


def test_a_report_saved_before_panel_types_still_shares_and_exports(world: World) -> None:
    from rltrack.server.dashboards import DashboardSpec
    from rltrack.server.dashboards_open import open_dashboards

    # Written as the server stored report blocks before panel types existed: no "type" in the panel.
    old = DashboardSpec("report", "old report", {"runs": [world.alpha]},
                        [{"markdown": "# old"}, {"panel": {"key": "loss", "source": None, "log_y": None}}])
    store = open_dashboards(world.root, world.db)
    try:
        made = store.create("lab", old, None)
    finally:
        store.close()
    page = httpx.get(world.api(f"/dashboards/{made.id}/export.html"))
    assert page.status_code == 200
    data = _embedded(page.text)
    assert data["panels"] == {"1": {"type": "line", "series_key": "loss|"}}
    assert data["series"]["loss|"]["runs"][0]["value"] == [1.0, 0.5, 1.0 / 3]
    token = httpx.post(world.api(f"/dashboards/{made.id}/shares"), json={}).json()["token"]
    boot = httpx.get(f"{world.url}/api/shared/{token}/workspace").json()
    assert [(p["type"], p["keys"]) for p in boot["panels"]] == [("line", ["loss"])]
    assert httpx.get(f"{world.url}/api/shared/{token}/series", params={"key": "loss", "runs": world.alpha}
                     ).status_code == 200
