"""A dashboard serving a store tells runs in that store where to look (init() prints its URL)."""

from __future__ import annotations

from pathlib import Path

import pytest

import rltrack
from rltrack.server.app import ServerSettings
from rltrack.server.serve import BackgroundServer
from rltrack.store.liveness import DASHBOARD_FILE


def test_init_prints_the_url_of_the_dashboard_serving_its_store(
    store_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rltrack.init(project="p", dir=store_dir, system_metrics=False, quiet=True).finish()  # the store exists
    with BackgroundServer(ServerSettings(root=store_dir)) as server:
        run = rltrack.init(project="p", dir=store_dir, system_metrics=False)
        run.finish()
        err = capsys.readouterr().err
        assert f"{server.url}" in err, err
    assert not (store_dir / DASHBOARD_FILE).exists()  # withdrawn when the server stops
    rltrack.init(project="p", dir=store_dir, system_metrics=False).finish()
    assert "http://" not in capsys.readouterr().err
