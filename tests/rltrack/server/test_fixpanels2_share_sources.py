"""A share link serves a key's series only from the sources its dashboard's panels draw it from.

A real server on SQLite and on PostgreSQL (the runs of :mod:`test_workspace_panels`), every request logged out as
a share link's viewer makes it. The series routes accepted any ``source`` for an allowed run and key: a link
showing ``loss`` of the primary source served the run's ``real`` telemetry of the same key, and a sim-vs-real
panel's run served any source of its keys.
"""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the server needs the ui extra: pip install 'rltrack[server]'")
pytest.importorskip("PIL", reason="the world's images need Pillow")

import httpx

from . import test_workspace_panels
from .test_shared_panels import _ok, _refused, _share
from .test_workspace_panels import World

world = test_workspace_panels.world


def _layout(w: World) -> dict[str, Any]:
    return {"runs": [w.alpha, w.beta, w.robot], "key_filter": "loss", "panels": [
        {"type": "line", "key": "odom/speed", "source": "real", "log_y": None},
        {"type": "simreal", "run": w.robot, "keys": ["episode/return"]},
    ]}


def test_the_series_routes_serve_only_the_sources_the_panels_draw(world: World) -> None:
    _, _, base = _share(world, "workspace", layout=_layout(world))
    primary = _ok(f"{world.url}/api/runs/{world.alpha}")["primary_source"]
    robot = _ok(f"{world.url}/api/runs/{world.robot}")
    assert robot["primary_source"] == "sim" and sorted(robot["sources"]) == ["real", "sim"]
    # A key the filter shows, without a panel: each run's primary source (asked as null or by its name).
    loss = _ok(f"{base}/series", key="loss", runs=world.alpha)
    assert [r["value"] for r in loss["runs"]] == [[1.0, 0.5, 1.0 / 3]]
    assert _ok(f"{base}/series", key="loss", runs=world.alpha, source=primary)["runs"] == loss["runs"]
    _refused(f"{base}/series", key="loss", runs=world.alpha, source="real")  # was a 200
    # A panel naming a source: that source only.
    real = _ok(f"{base}/series", key="odom/speed", runs=world.robot, source="real")
    assert [r["value"] for r in real["runs"]] == [[0.4] * 4]
    _refused(f"{base}/series", key="odom/speed", runs=world.robot)  # the primary (sim): no panel draws it
    _refused(f"{base}/series", key="odom/speed", runs=world.robot, source="sim")
    # A run's series route: the line panel's source, and both sides of the sim-vs-real panel.
    run = f"{base}/runs/{world.robot}/series"
    assert _ok(run, key="odom/speed", source="real")["series"]["odom/speed"]["value"] == [0.4] * 4
    _refused(run, key="odom/speed", source="sim")
    assert _ok(run, key="episode/return", source="sim")["series"]["episode/return"]["value"] == [0.0, 1.0, 2.0,
                                                                                                 3.0, 4.0, 5.0]
    assert _ok(run, key="episode/return", source="real")["series"]["episode/return"]["value"] == [3.0, 4.0, 5.0,
                                                                                                  6.0]
    _refused(run, key="episode/return", source="other")
    _refused(f"{base}/runs/{world.alpha}/series", key="loss", source="real")  # was a 200
    assert _ok(f"{base}/runs/{world.alpha}/series", key="loss")["series"]["loss"]["count"] == 3
    # The refusal names the source asked for.
    detail = httpx.get(f"{base}/series", params={"key": "loss", "runs": world.alpha, "source": "real"}).json()
    assert detail == {"detail": "key 'loss' from source 'real' is not shown by this shared dashboard"}


def test_a_shared_report_serves_its_line_blocks_sources_only(world: World) -> None:
    blocks = [{"markdown": "# speed"}, {"panel": {"type": "line", "key": "odom/speed", "source": "real"}},
              {"panel": {"type": "line", "regex": "^loss$", "source": None}}]
    _, _, base = _share(world, "report", layout={"runs": [world.alpha, world.robot]}, blocks=blocks)
    assert [r["value"] for r in _ok(f"{base}/series", key="odom/speed", runs=world.robot,
                                    source="real")["runs"]] == [[0.4] * 4]
    _refused(f"{base}/series", key="odom/speed", runs=world.robot)
    assert _ok(f"{base}/series", key="loss", runs=world.alpha)["runs"][0]["count"] == 3
    _refused(f"{base}/series", key="loss", runs=world.alpha, source="real")
