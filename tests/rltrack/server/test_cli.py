"""``rltrack ui``, ``rltrack server`` and ``rltrack sync`` as a user runs them."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

import rltrack
from rltrack.cli import main
from rltrack.server import ServerSettings
from rltrack.server.serve import BackgroundServer

START_TIMEOUT_S = 30


def run_cli(*args: str) -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", "from rltrack.cli import main; main()", *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"(http://\S+?)/?\s", line)
        assert match, line
        yield match.group(1)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=START_TIMEOUT_S)


def logged_store(root: Path) -> str:
    run = rltrack.init(project="cli", dir=root, system_metrics=False)
    run.log({"a": 1.0}, step=0)
    run.finish()
    return run.id


def test_ui_serves_the_store(tmp_path: Path) -> None:
    run_id = logged_store(tmp_path / "store")
    for url in run_cli("ui", "--dir", str(tmp_path / "store"), "--port", "0"):
        assert httpx.get(f"{url}/api/runs/{run_id}", timeout=10).json()["project"] == "cli"
        assert httpx.post(f"{url}/api/ingest/batches", json={"batches": []}, timeout=10).status_code == 404


def test_server_takes_ingest(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text("abc\n")
    for url in run_cli("server", "--dir", str(tmp_path / "store"), "--port", "0", "--token-file", str(tokens)):
        response = httpx.post(f"{url}/api/ingest/batches", json={"batches": []}, timeout=10,
                              headers={"authorization": "Bearer abc"})
        assert response.json() == {"applied": 0, "duplicates": []}
        # The token protects loopback too: without it even this machine cannot write or read.
        assert httpx.post(f"{url}/api/ingest/batches", json={"batches": []}, timeout=10).status_code == 401
        assert httpx.get(f"{url}/api/projects", timeout=10).status_code == 401


def test_ui_without_a_store_says_so(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["ui", "--dir", str(tmp_path / "none"), "--port", "0"])
    assert result.exit_code == 1
    assert "no rltrack store" in result.output


def test_sync_copies_a_run(tmp_path: Path) -> None:
    run_id = logged_store(tmp_path / "local")
    with BackgroundServer(ServerSettings(root=tmp_path / "srv", ingest=True)) as server:
        result = CliRunner().invoke(main, ["sync", run_id, "--to", server.url, "--dir", str(tmp_path / "local")])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == (f"run {run_id}: sent 1 points, 0 media files and 0 other files "
                                     f"(table cells, saved files) to {server.url}")
    assert rltrack.Api(tmp_path / "srv").run(run_id).series("a")[2].tolist() == [1.0]


@pytest.mark.parametrize("args", [["sync", "nope", "--to", "http://127.0.0.1:9"]])
def test_sync_errors_are_clean(tmp_path: Path, args: list[str]) -> None:
    logged_store(tmp_path / "local")
    result = CliRunner().invoke(main, [*args, "--dir", str(tmp_path / "local")])
    assert result.exit_code == 1
    assert "'nope'" in result.output and "Traceback" not in result.output
    assert os.environ.get("RLTRACK_API_KEY") is None
