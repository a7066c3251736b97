"""Share links of dashboards with typed panels: they serve what the panels show, logged out, and nothing else.

A real server on SQLite and on PostgreSQL (the runs of :mod:`test_workspace_panels`); every request is made
without credentials, as a share link's viewer makes it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the server needs the ui extra: pip install 'rltrack[server]'")
pytest.importorskip("PIL", reason="images need Pillow")

import httpx

from . import test_workspace_panels
from .test_workspace_panels import HOSTILE, World

#: The runs and server of test_workspace_panels (a module fixture: this module gets its own server).
world = test_workspace_panels.world


def _share(w: World, kind: str, **body: Any) -> tuple[str, str, str]:
    made = httpx.post(w.api("/dashboards"), json={"kind": kind, "name": HOSTILE, **body})
    assert made.status_code == 201, made.text
    dashboard = made.json()["id"]
    token = httpx.post(w.api(f"/dashboards/{dashboard}/shares"), json={}).json()["token"]
    return dashboard, token, f"{w.url}/api/shared/{token}"


def _ok(url: str, **params: Any) -> Any:
    r = httpx.get(url, params=params, timeout=30)
    assert r.status_code == 200, (url, params, r.text)
    return r.json() if r.headers["content-type"].startswith("application/json") else r


def _refused(url: str, **params: Any) -> None:
    r = httpx.get(url, params=params, timeout=30)
    assert r.status_code == 404, (url, params, r.status_code, r.text[:200])


def _workspace(w: World) -> dict[str, Any]:
    return {"runs": [w.alpha, w.beta, w.robot], "key_filter": "loss", "panels": [
        {"type": "media", "key": "cam"},
        {"type": "table", "run": w.alpha, "key": "eval/table"},
        {"type": "compare", "keys": ["eval/return"]},
        {"type": "simreal", "run": w.robot, "keys": ["odom/speed"]},
        {"type": "line", "regex": "^eval/ret"},
    ]}


def test_a_shared_workspace_serves_its_panels_data_logged_out(world: World) -> None:
    _, _, base = _share(world, "workspace", layout=_workspace(world))
    boot = _ok(f"{base}/workspace")
    assert [p["type"] for p in boot["panels"]] == ["media", "table", "compare", "simreal", "line"]
    assert boot["panels"][4]["keys"] == ["eval/return"] and boot["shown"] == ["loss"]
    # Line charts: the filtered keys and the regex panel's keys, for the layout's runs.
    assert _ok(f"{base}/series", key="eval/return", runs=world.alpha)["runs"][0]["count"] == 3
    assert _ok(f"{base}/runs/{world.alpha}/series", key="loss")["series"]["loss"]["count"] == 3
    # Media: URLs under the link, loadable without a login, the same bytes as the run's file.
    media = _ok(f"{base}/media", key="cam", runs=f"{world.alpha},{world.beta}")
    assert [(i["run"], i["step"]) for i in media["items"]] == [(world.alpha, 2), (world.beta, 5)]
    item = media["items"][0]
    assert item["url"].startswith(f"/api/shared/{base.rsplit('/', 1)[1]}/runs/{world.alpha}/files/media/")
    image = _ok(world.url + item["url"])
    assert image.headers["content-type"] == "image/png"
    own = httpx.get(world.url + item["url"].replace(base[len(world.url):], "/api"))
    assert image.content == own.content and own.status_code == 200
    listed = _ok(f"{base}/runs/{world.alpha}/media")
    assert {m["key"] for m in listed} == {"cam"} and all(m["url"].startswith("/api/shared/") for m in listed)
    # The table panel: its list entry, its rows (the image cell's URL under the link), its columns.
    tables = _ok(f"{base}/runs/{world.alpha}/tables")
    assert [t["key"] for t in tables] == ["eval/table"]
    rows = _ok(f"{base}/runs/{world.alpha}/tables/rows", key="eval/table", sort="return", order="desc")
    assert [r[0] for r in rows["rows"]] == [1, 3, 2]  # sorted on the server, NaN last
    cell = rows["rows"][0][2]
    assert cell["kind"] == "image" and cell["url"].startswith("/api/shared/")
    assert _ok(world.url + cell["url"]).content.startswith(b"\x89PNG")
    assert _ok(f"{base}/runs/{world.alpha}/tables/data", key="eval/table", column="return")["columns"]["return"][0] \
        == 2.5
    # Compare and sim-vs-real.
    compare = _ok(f"{base}/compare", runs=f"{world.alpha},{world.beta}", keys="eval/return")
    assert [r["summary"]["eval/return"]["last"] for r in compare["runs"]] == [12.0, 25.0]
    simreal = _ok(f"{base}/runs/{world.robot}/simreal")
    assert simreal["available"] and simreal["shared"] == ["odom/speed"]  # only what the panel draws
    assert "available" in _ok(f"{base}/runs/{world.robot}/simreal/gap")
    real = _ok(f"{base}/runs/{world.robot}/series", key="odom/speed", source="real")
    assert real["series"]["odom/speed"]["value"] == [0.4] * 4


def test_a_shared_workspace_refuses_what_its_panels_do_not_show(world: World) -> None:
    _, token, base = _share(world, "workspace", layout=_workspace(world))
    clip = _ok(f"{world.api('/media')}", key="clip", runs=world.alpha)["items"][0]["url"]
    table_file = next(m for m in _ok(f"{world.url}/api/runs/{world.alpha}/media") if m["kind"] == "table")["path"]
    secret_cam = _ok(f"{world.url}/api/runs/{world.secret}/media", key="cam")[0]["path"]
    for url, params in [
        (f"{base}/media", {"key": "clip", "runs": world.alpha}),  # no media panel of that key
        (f"{base}/media", {"key": "cam", "runs": world.secret}),  # a run of another project
        (f"{base}/media", {"key": "cam", "runs": "../../x"}),
        (f"{base}/runs/{world.alpha}/files/{clip.split('/files/')[1]}", {}),  # a file no panel shows
        (f"{base}/runs/{world.alpha}/files/{table_file}", {}),  # the table file itself: its rows are served instead
        (f"{base}/runs/{world.alpha}/files/..%2F..%2Fdashboards.sqlite", {}),
        (f"{base}/runs/{world.secret}/files/{secret_cam}", {}),
        (f"{base}/runs/{world.secret}/media", {}),
        (f"{base}/runs/{world.beta}/tables", {}),  # no table panel of this run
        (f"{base}/runs/{world.alpha}/tables/rows", {"key": "other"}),
        (f"{base}/runs/{world.secret}/tables/rows", {"key": "eval/table"}),
        (f"{base}/runs/{world.secret}/tables/data", {"key": "eval/table", "column": "a"}),
        (f"{base}/compare", {"runs": world.alpha, "keys": "loss"}),  # not a compare panel's key
        (f"{base}/compare", {"runs": world.secret, "keys": "eval/return"}),
        (f"{base}/runs/{world.alpha}/simreal", {}),  # no sim-vs-real panel of this run
        (f"{base}/runs/{world.alpha}/simreal/gap", {}),
        (f"{base}/runs/{world.robot}/series", {"key": "episode/return", "source": "real"}),  # not drawn
        (f"{base}/runs/{world.alpha}/series", {"key": "eval/length"}),  # outside the filter and the regex
        (f"{base}/runs/{world.secret}/series", {"key": "cam"}),
        (f"{base}/runs/<script>/series", {"key": "loss"}),
        (f"{world.url}/api/shared/{token}x/media", {"key": "cam", "runs": world.alpha}),
    ]:
        _refused(url, **params)
    # The refusal tells nothing of the project beyond the link: no other run's or project's name.
    detail = httpx.get(f"{base}/runs/{world.secret}/media").json()["detail"]
    assert "secret" not in detail and "not shown by this shared dashboard" in detail


def test_a_revoked_link_answers_404_on_every_route(world: World) -> None:
    dashboard, _, base = _share(world, "workspace", layout=_workspace(world))
    media = _ok(f"{base}/media", key="cam", runs=world.alpha)["items"][0]["url"]
    urls = [(f"{base}/workspace", {}), (f"{base}/media", {"key": "cam", "runs": world.alpha}),
            (f"{base}/compare", {"runs": world.alpha, "keys": "eval/return"}),
            (f"{base}/runs/{world.alpha}/tables/rows", {"key": "eval/table"}),
            (f"{base}/runs/{world.robot}/simreal", {}), (world.url + media, {})]
    for url, params in urls:
        _ok(url, **params)
    link = httpx.get(world.api(f"/dashboards/{dashboard}/shares")).json()["shares"][0]["id"]
    assert httpx.delete(world.api(f"/dashboards/{dashboard}/shares/{link}")).status_code == 200
    for url, params in urls:
        _refused(url, **params)


def test_a_shared_report_serves_its_panel_blocks(world: World) -> None:
    blocks = [{"markdown": "# Week 3"}, {"panel": {"key": "loss"}},
              {"panel": {"type": "media", "key": "clip", "title": HOSTILE}},
              {"panel": {"type": "table", "run": world.alpha, "key": "eval/table"}},
              {"panel": {"type": "line", "regex": "^eval/len"}}]
    _, _, base = _share(world, "report", layout={"runs": [world.alpha, world.beta]}, blocks=blocks)
    shared = _ok(base)
    assert shared["blocks"][2]["panel"] == {"type": "media", "key": "clip", "step": None, "title": HOSTILE}
    boot = _ok(f"{base}/workspace")
    assert [(p["type"], p["keys"]) for p in boot["panels"]] == [
        ("line", ["loss"]), ("media", ["clip"]), ("table", ["eval/table"]), ("line", ["eval/length"])]
    assert sorted(k["key"] for k in boot["keys"]) == ["eval/length", "loss"]
    clip = _ok(f"{base}/media", key="clip", runs=world.alpha)["items"][0]
    assert _ok(world.url + clip["url"]).headers["content-type"] == "video/mp4"
    _refused(f"{base}/media", key="cam", runs=world.alpha)  # the report has no media panel of that key
    _refused(f"{base}/compare", runs=world.alpha, keys="loss")  # nor a compare panel
    assert _ok(f"{base}/series", key="eval/length", runs=world.alpha)["runs"][0]["count"] == 3
    _refused(f"{base}/series", key="eval/return", runs=world.alpha)


def test_a_saved_dashboard_refuses_hostile_panels_naming_the_field(world: World) -> None:
    for panel, words in [
        ({"type": "media", "key": "cam", "title": "x" * 201}, "'title'"),
        ({"type": "table", "run": "../../etc", "key": "t"}, "'run'"),
        ({"type": "simreal", "run": "' OR 1=1 --"}, "'run'"),
        ({"type": "compare", "keys": ["k"] * 21}, "at most 20 keys"),
        ({"type": "line", "regex": "(x|xx)+y" * 30}, "write at most 200"),
        ({"type": "media", "key": "cam", "step": -1}, "'step'"),
        ({"type": "media", "key": "cam", "onload": "x"}, "unknown field(s) ['onload']"),
        ({"type": "<script>"}, "is unknown; write one of line, compare, simreal, media, table"),
    ]:
        r = httpx.post(world.api("/dashboards"), json={"kind": "report", "name": "r", "blocks": [{"panel": panel}]})
        assert r.status_code == 400 and words in r.json()["detail"], (panel, r.text)
        r = httpx.post(world.api("/dashboards"), json={"kind": "workspace", "name": "w", "layout": {"panels": [panel]}})
        assert r.status_code == 400 and words in r.json()["detail"], (panel, r.text)
    many = {"kind": "workspace", "name": "w", "layout": {"panels": [{"type": "media", "key": "cam"}] * 101}}
    r = httpx.post(world.api("/dashboards"), content=json.dumps(many), headers={"content-type": "application/json"})
    assert r.status_code == 400 and "keep at most 100" in r.json()["detail"]
