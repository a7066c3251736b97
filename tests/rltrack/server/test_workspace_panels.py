"""Typed workspace panels over HTTP on both backends: a real server (uvicorn on loopback) on SQLite and PostgreSQL.

The server is filled by real online runs (``rltrack.init(mode="online")``): images at several steps, a video,
a histogram, an ``rltrack.Table`` with an image cell, a sim+real robot run, and a run of another project.
Then the workspace bootstrap's resolved panels, the project media and compare routes, and the key regex
(hostile patterns included) are driven with httpx.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the server needs the ui extra: pip install 'rltrack[server]'")
pytest.importorskip("PIL", reason="images need Pillow")

import httpx

import rltrack
from rltrack.server import ServerSettings
from rltrack.server.serve import BackgroundServer

HOSTILE = '<img src=x onerror="window.pwned=1">"\'&</script>'
#: A key no backtracking regex engine without a bound finishes searching (x|xx)+y in (2**125 ways to split it).
LONG_KEY = "x" * 250


@dataclass
class World:
    url: str
    db: str | None
    root: Path  # the server's store root (run files live under root/runs on both backends)
    alpha: str  # lab: loss, eval/return, eval/length, LONG_KEY; cam images at 0..2, clip video, eval/table, hist
    beta: str  # lab: loss, eval/return; cam images at 0 and 5; name HOSTILE
    robot: str  # lab: sim + real sources of odom/speed and episode/return
    secret: str  # project "secret": cam image, eval/table

    def api(self, path: str) -> str:
        return f"{self.url}/api/projects/lab{path}"


def _image(level: int) -> Any:
    return rltrack.Image(np.full((8, 8, 3), level, dtype=np.uint8), caption=f"level {level}")


def _online(url: str, spool: Path, **kwargs: Any) -> Any:
    return rltrack.init(mode="online", url=url, dir=spool, system_metrics=False, quiet=True, **kwargs)


def fill(url: str, spool: Path) -> tuple[str, str, str, str]:
    alpha = _online(url, spool, project="lab", name="alpha", config={"lr": 0.1, "net": {"width": 64}, "seed": 0})
    for step in range(3):
        alpha.log({"loss": 1.0 / (step + 1), "eval/return": 10.0 + step, "eval/length": 100.0 + step,
                   LONG_KEY: 1.0, "cam": _image(step * 40)}, step=step)
    alpha.log({"clip": rltrack.Video(np.zeros((10, 16, 16, 3), dtype=np.uint8), fps=5, caption=HOSTILE),
               "eval/table": rltrack.Table(columns=["episode", "return", "frame"],
                                           data=[[1, 2.5, _image(200)], [2, float("nan"), None], [3, 0.5, None]]),
               "hist": rltrack.Histogram(np.arange(100.0))}, step=3)
    alpha.finish()
    beta = _online(url, spool, project="lab", name=HOSTILE, config={"lr": 0.01, "net": {"width": 64}, "seed": 1})
    for step in (0, 5):
        beta.log({"loss": 2.0 / (step + 1), "eval/return": 20.0 + step, "cam": _image(100 + step)}, step=step)
    beta.finish()
    robot = _online(url, spool, project="lab", name="robot", config={"deployed_step": 4})
    for step in range(6):
        robot.log({"odom/speed": 0.5, "episode/return": float(step)}, step=step)
    robot.flush()
    real = _online(url, spool, id=robot.id, resume="must", source="real")
    for episode in range(4):
        real.log({"odom/speed": 0.4, "episode/return": 3.0 + episode}, step=episode)
    real.finish()
    robot.finish()
    secret = _online(url, spool, project="secret", name="hidden")
    secret.log({"cam": _image(7), "eval/table": rltrack.Table(columns=["a"], data=[[1]])}, step=0)
    secret.finish()
    return alpha.id, beta.id, robot.id, secret.id


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp(f"panels-{request.param}")
    db = request.getfixturevalue("pg_cluster").new_database() if request.param == "postgresql" else None
    server = BackgroundServer(ServerSettings(root=root / "server", ingest=True, db=db))
    try:
        yield World(server.url, db, root / "server", *fill(server.url, root / "spool"))
    finally:
        server.stop()


def _get(url: str, **params: Any) -> Any:
    r = httpx.get(url, params=params, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def _layout(w: World, **extra: Any) -> str:
    return json.dumps({"runs": [w.alpha, w.beta, w.robot], **extra})


def test_the_bootstrap_resolves_every_panel_type(world: World) -> None:
    panels = [
        {"key": "loss"},  # saved before panel types: still a line panel
        {"type": "line", "key": "never/logged"},
        {"type": "line", "regex": "^eval/", "title": HOSTILE},
        {"type": "compare", "keys": ["eval/return", "loss"], "config": None},
        {"type": "simreal", "run": world.robot, "keys": None},
        {"type": "media", "key": "cam", "step": None},
        {"type": "table", "run": world.alpha, "key": "eval/table"},
        {"type": "table", "run": world.secret, "key": "eval/table"},
        {"type": "simreal", "run": world.secret},
    ]
    body = _get(world.api("/workspace"), w=_layout(world, panels=panels))
    got = body["panels"]
    assert [p["index"] for p in got] == list(range(9))
    assert (got[0]["type"], got[0]["keys"], got[0]["error"]) == ("line", ["loss"], None)
    assert got[1]["keys"] == []
    assert (got[2]["keys"], got[2]["more"], got[2]["title"]) == (["eval/length", "eval/return"], 0, HOSTILE)
    assert got[3]["keys"] == ["eval/return", "loss"] and got[3]["config"] is None
    simreal = got[4]
    assert (simreal["available"], simreal["sim"], simreal["real"], simreal["sim_run"], simreal["real_run"]) == (
        True, "sim", "real", world.robot, world.robot)
    assert sorted(simreal["keys"]) == ["episode/return", "odom/speed"]
    assert (got[5]["keys"], got[6]["keys"], got[6]["error"]) == (["cam"], ["eval/table"], None)
    # A run of another project is never reached through a panel: an error on that panel, not on the page.
    assert got[7]["error"] == f"run {world.secret!r} is not a run of project 'lab'; pick one of its runs"
    assert got[8]["error"] == got[7]["error"] and got[8]["keys"] == []
    assert body["layout"]["panels"][0] == {"type": "line", "key": "loss", "source": None, "log_y": None}


def test_a_key_regex_filters_on_the_server_and_a_bad_one_is_a_400_naming_it(world: World) -> None:
    shown = _get(world.api("/workspace"), w=_layout(world, key_regex=True, key_filter="^eval/"))["shown"]
    assert shown == ["eval/length", "eval/return"]
    plain = _get(world.api("/workspace"), w=_layout(world, key_filter="EVAL"))["shown"]
    assert plain == ["eval/length", "eval/return"]  # the substring filter stays case-insensitive
    anchored = _get(world.api("/workspace"), w=_layout(world, key_regex=True, key_filter="(a+)+$"))["shown"]
    assert anchored == []  # the classic bomb finishes (no key ends in a's) instead of hanging the server
    for pattern, words in (("(a", "is not a valid regular expression"), ("(?P<n>a)", "'(?P'"),
                           ("(?i)loss", "inline flags"), ("a" * 201, "write at most 200")):
        r = httpx.get(world.api("/workspace"), params={"w": _layout(world, key_regex=True, key_filter=pattern)})
        assert r.status_code == 400 and words in r.json()["detail"], (pattern, r.text)
    start = time.perf_counter()
    r = httpx.get(world.api("/workspace"), params={"w": _layout(world, key_regex=True, key_filter="(x|xx)+y")},
                  timeout=30)
    took = time.perf_counter() - start
    assert r.status_code == 400 and "needs more than 0.5 s" in r.json()["detail"] and "(x|xx)+y" in r.json()["detail"]
    assert took < 10  # bounded: the server answers instead of backtracking over a 250-character key for hours
    # The same bomb as a regex panel: that panel says why, the page still loads.
    body = _get(world.api("/workspace"), w=_layout(world, panels=[{"type": "line", "regex": "(x|xx)+y"}]))
    assert "needs more than 0.5 s" in body["panels"][0]["error"] and body["panels"][0]["keys"] == []


def test_media_of_many_runs_at_the_latest_or_a_chosen_step(world: World) -> None:
    latest = _get(world.api("/media"), key="cam", runs=f"{world.beta},{world.alpha}")
    assert latest["steps"] == [0, 1, 2, 5] and latest["step"] is None
    assert [(i["run"], i["step"], i["kind"], i["caption"]) for i in latest["items"]] == [
        (world.beta, 5, "image", "level 105"), (world.alpha, 2, "image", "level 80")]
    at0 = _get(world.api("/media"), key="cam", runs=f"{world.alpha},{world.beta}", step=0)
    assert [(i["run"], i["caption"]) for i in at0["items"]] == [(world.alpha, "level 0"), (world.beta, "level 100")]
    image = httpx.get(world.url + at0["items"][0]["url"])
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert image.content.startswith(b"\x89PNG")
    assert _get(world.api("/media"), key="cam", runs=world.alpha, step=4)["items"] == []
    clip = _get(world.api("/media"), key="clip", runs=world.alpha)["items"][0]
    assert (clip["kind"], clip["caption"], clip["name"].endswith(".mp4")) == ("video", HOSTILE, True)
    part = httpx.get(world.url + clip["url"], headers={"range": "bytes=0-99"})
    assert part.status_code == 206 and len(part.content) == 100
    hist = _get(world.api("/media"), key="hist", runs=world.alpha)["items"][0]
    assert hist["kind"] == "histogram" and sum(hist["histogram"]["counts"]) == 100
    assert len(hist["histogram"]["edges"]) == len(hist["histogram"]["counts"]) + 1
    # Tables have their own panel type.
    assert _get(world.api("/media"), key="eval/table", runs=world.alpha)["items"] == []


@pytest.mark.parametrize(("params", "status", "words"), [
    ({"key": "cam", "runs": "nosuchrun"}, 404, "are not in project 'lab'"),
    ({"key": "cam", "runs": "{secret}"}, 404, "are not in project 'lab'"),
    ({"key": "cam", "runs": " , "}, 400, "runs= is empty"),
    ({"key": "a//b", "runs": "{alpha}"}, 400, "empty '/'-separated part"),
    ({"key": "cam", "runs": "{alpha}", "step": -1}, 422, "step"),
    ({"key": "cam", "runs": "../../etc/passwd"}, 404, "are not in project"),
])
def test_media_refuses_bad_requests(world: World, params: dict[str, Any], status: int, words: str) -> None:
    params = {k: str(v).format(secret=world.secret, alpha=world.alpha) for k, v in params.items()}
    r = httpx.get(world.api("/media"), params=params)
    assert r.status_code == status and words in r.text, r.text


def test_compare_lists_summaries_and_the_config_that_varies(world: World) -> None:
    body = _get(world.api("/compare"), runs=f"{world.alpha},{world.beta}", keys="eval/return,loss,absent")
    assert body["config_keys"] == ["lr", "seed"]  # net.width is 64 in both: not what sets them apart
    assert body["keys"] == ["eval/return", "loss", "absent"]
    alpha, beta = body["runs"]
    assert (alpha["id"], alpha["name"], alpha["state"]) == (world.alpha, "alpha", "finished")
    assert beta["name"] == HOSTILE  # JSON carries it as text; the page escapes it
    assert alpha["config"] == {"lr": 0.1, "seed": 0} and beta["config"] == {"lr": 0.01, "seed": 1}
    assert alpha["summary"] == {"eval/return": {"last": 12.0}, "loss": {"last": 1.0 / 3}, "absent": None}
    assert beta["summary"]["eval/return"] == {"last": 25.0}
    named = _get(world.api("/compare"), runs=world.alpha, keys="loss", config="net.width,nope")
    assert named["config_keys"] == ["net.width", "nope"] and named["runs"][0]["config"] == {"net.width": 64,
                                                                                           "nope": None}
    assert _get(world.api("/compare"), runs=world.alpha, config="")["config_keys"] == []
    too_many = httpx.get(world.api("/compare"), params={"runs": world.alpha, "keys": ",".join(f"k{i}" for i in
                                                                                             range(21))})
    assert too_many.status_code == 400 and "at most 20" in too_many.json()["detail"]
    assert httpx.get(world.api("/compare"), params={"runs": world.secret, "keys": "loss"}).status_code == 404


def test_report_panel_blocks_resolve_through_the_panels_route(world: World) -> None:
    p = json.dumps([{"type": "line", "regex": "^e"}, {"key": "loss"}, {"type": "table", "run": world.secret,
                                                                       "key": "eval/table"}])
    body = _get(world.api("/panels"), p=p, w=_layout(world))
    assert [x["keys"] for x in body["panels"]] == [["episode/return", "eval/length", "eval/return"], ["loss"], []]
    assert "is not a run of project 'lab'" in body["panels"][2]["error"]
    bad = httpx.get(world.api("/panels"), params={"p": json.dumps([{"type": "pie"}])})
    assert bad.status_code == 400 and "type 'pie' is unknown" in bad.json()["detail"]
    assert httpx.get(world.api("/panels"), params={"p": "{"}).status_code == 400
