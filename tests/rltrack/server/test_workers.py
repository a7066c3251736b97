"""``rltrack server --workers 2``: two uvicorn worker processes on one port, on PostgreSQL and on SQLite.

Several online runs in separate processes log into the server at once, and one batch is posted
eight times in parallel (a client retrying against whichever worker answers): every value lands
once, every batch is applied once.
"""

from __future__ import annotations

import functools
import re
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil
import pytest
from click.testing import CliRunner

from rltrack.cli import main
from rltrack.remote import wire
from rltrack.store.chunks import pack
from rltrack.store.open import open_database
from rltrack.store.reader import StoreReader

WAIT_S = 240
VALUES = 20_000
WRITERS = 3

WRITER = f"""
    import sys, rltrack
    run = rltrack.init(project="fleet", name=sys.argv[3], mode="online", url=sys.argv[1], dir=sys.argv[2],
                       system_metrics=False)
    for i in range({VALUES}):
        run.log({{"value": float(i), "twice": 2.0 * i}}, step=i)
    run.finish()
"""


@pytest.fixture(params=["postgresql", "sqlite"])
def db_url(request: pytest.FixtureRequest) -> str | None:
    if request.param == "sqlite":
        return None
    cluster: Any = request.getfixturevalue("pg_cluster")
    return str(cluster.new_database())


def start(root: Path, db_url: str | None, workers: int) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    args = ["server", "--dir", str(root), "--port", "0", "--workers", str(workers)]
    proc = subprocess.Popen(
        [sys.executable, "-c", "from rltrack.cli import main; main()", *args, *(["--db", db_url] if db_url else [])],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"(http://\S+?)/?\s", line)
        assert match, line + proc.stdout.read()
        assert f"on {workers} worker processes" in line
        url = match.group(1)
        httpx.get(f"{url}/api/projects", timeout=60)  # the workers import the app first
        yield url, proc
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, out


def workers_of(proc: subprocess.Popen[str]) -> list[psutil.Process]:
    return [c for c in psutil.Process(proc.pid).children() if "spawn_main" in " ".join(c.cmdline())]


def test_two_workers_take_online_runs_from_several_processes_once(tmp_path: Path, db_url: str | None) -> None:
    for url, proc in start(tmp_path / "server", db_url, workers=2):
        assert len(workers_of(proc)) == 2
        writers = [
            subprocess.Popen([sys.executable, "-c", textwrap.dedent(WRITER), url, str(tmp_path / f"spool-{n}"),
                              f"writer-{n}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for n in range(WRITERS)
        ]
        for writer in writers:
            _, err = writer.communicate(timeout=WAIT_S)
            assert writer.returncode == 0, err
        run_id = httpx.get(f"{url}/api/runs", params={"project": "fleet"}, timeout=10).json()["runs"][0]["id"]
        # One batch, posted 8 times at once: whichever worker takes each, it is stored once.
        chunk = pack("sim", "retried", np.arange(100), np.arange(100), np.arange(100, dtype=float))
        batch = {"id": "retry-me", "op": "write", "run_id": run_id, "source": "sim", "batches": [wire.batch_to(chunk)]}
        post = functools.partial(httpx.post, f"{url}/api/ingest/batches", json={"batches": [batch]}, timeout=60)
        with ThreadPoolExecutor(8) as pool:
            answers = [f.result().json() for f in [pool.submit(post) for _ in range(8)]]
        assert sum(a["applied"] for a in answers) == 1
        assert sum(len(a["duplicates"]) for a in answers) == 7
    db = open_database(tmp_path / "server", db_url, create=False)
    try:
        reader = StoreReader(db)
        runs = reader.runs("fleet")
        assert sorted(r.name for r in runs) == [f"writer-{n}" for n in range(WRITERS)]
        for r in runs:
            assert r.state == "finished"
            steps, _, values = reader.series(r.id, "sim", "value")
            np.testing.assert_array_equal(steps, np.arange(VALUES))
            np.testing.assert_array_equal(values, np.arange(VALUES, dtype=float))
            np.testing.assert_array_equal(reader.series(r.id, "sim", "twice")[2], 2.0 * np.arange(VALUES))
        assert reader.series(run_id, "sim", "retried")[2].tolist() == [float(i) for i in range(100)]
    finally:
        getattr(db, "close", lambda: None)()


def test_settings_reach_the_workers_only_through_a_private_file(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text("s3cret-token\n")
    proc = subprocess.Popen(
        [sys.executable, "-c", "from rltrack.cli import main; main()", "server", "--dir", str(tmp_path / "srv"),
         "--port", "0", "--workers", "2", "--token-file", str(tokens)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert proc.stdout is not None
        url = re.search(r"(http://\S+?)/?\s", proc.stdout.readline()).group(1)  # type: ignore[union-attr]
        assert httpx.get(f"{url}/api/projects", timeout=60).status_code == 401  # the workers know the token
        headers = {"authorization": "Bearer s3cret-token"}
        assert httpx.get(f"{url}/api/projects", headers=headers, timeout=10).status_code == 200
        (worker, *_) = workers_of(proc)
        settings = Path(worker.environ()["RLTRACK_SERVER_SETTINGS"])
        assert settings.stat().st_mode & 0o077 == 0  # only the server's user can read the tokens
        assert "s3cret-token" not in " ".join(worker.cmdline())
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    assert not settings.exists()  # removed when the server stops


def test_zero_workers_is_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["server", "--dir", str(tmp_path), "--port", "0", "--workers", "0"])
    assert result.exit_code == 2
    assert "--workers" in result.output
