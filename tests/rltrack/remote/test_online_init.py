"""``rltrack.init(mode="online")`` end to end: a real server on loopback, the public run API on the client."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import rltrack
from rltrack.errors import InvalidValueError
from rltrack.server import ServerSettings
from rltrack.server.serve import BackgroundServer


def test_online_run_lands_in_the_servers_store(tmp_path: Path) -> None:
    server = BackgroundServer(ServerSettings(root=tmp_path / "server", ingest=True))
    try:
        run = rltrack.init(project="robot", mode="online", url=server.url, dir=tmp_path / "spool",
                           config={"lr": 0.1}, system_metrics=False)
        for step in range(500):
            run.log({"odom/x": step * 0.5}, step=step)
        run.finish()
        view = rltrack.Api(tmp_path / "server").run(run.id)
        assert view.state == "finished"
        assert view.config == {"lr": 0.1}
        np.testing.assert_array_equal(view.series("odom/x")[2], np.arange(500) * 0.5)
    finally:
        server.stop()


def test_rltrack_url_switches_the_default_mode_to_online(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server = BackgroundServer(ServerSettings(root=tmp_path / "server", ingest=True))
    try:
        monkeypatch.setenv("RLTRACK_URL", server.url)
        run = rltrack.init(project="robot", dir=tmp_path / "spool", system_metrics=False)
        run.log({"x": 1.0})
        run.finish()
        assert rltrack.Api(tmp_path / "server").run(run.id).series("x")[2].tolist() == [1.0]
    finally:
        server.stop()


def test_online_without_a_url_says_how_to_give_one(tmp_path: Path) -> None:
    with pytest.raises(InvalidValueError, match="pass url='http://host:port' or set RLTRACK_URL"):
        rltrack.init(mode="online", dir=tmp_path, system_metrics=False)
