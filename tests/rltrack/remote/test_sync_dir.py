"""``rltrack sync DIR --to URL``: a whole offline store (runs, sources, values, media, artifacts, lineage)
reaches the server exactly once, also when the sync is killed mid-way or loses a response after the
server stored the request; a second sync sends nothing."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from click.testing import CliRunner

import rltrack
from rltrack.cli import main
from rltrack.remote import push_store
from rltrack.remote.client import Unreachable
from rltrack.server import ServerSettings
from rltrack.server.serve import BackgroundServer
from rltrack.store.artifacts import ArtifactStore
from rltrack.store.base import Backend
from rltrack.store.open import open_database
from rltrack.store.reader import StoreReader

BIG = 30_001  # the lost-answer test sends pieces of 10,000 points: a key goes in several requests


@pytest.fixture(scope="module")
def offline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A robot's offline store: four runs, two sources, 500k points, media, two artifact versions, a use."""
    root = tmp_path_factory.mktemp("robot") / "store"
    first = rltrack.init(project="fleet", name="calibrate", dir=root, system_metrics=False)  # synced first
    first.log({"offset": 0.5}, step=0)
    first.finish()
    sim = rltrack.init(project="fleet", name="train", config={"lr": 3e-4}, dir=root, system_metrics=False)
    steps = np.arange(BIG)
    for step in steps:
        sim.log({"train/loss": 1.0 / (1 + step), "train/return": float(step % 500)}, step=int(step))
    ckpt = root.parent / "policy.bin"
    ckpt.write_bytes(b"v0" * 50_000)
    sim.log_artifact(ckpt, name="policy", aliases=["best"])
    ckpt.write_bytes(b"v1" * 60_000)
    sim.log_artifact(ckpt, name="policy")
    sim.flush()
    real = rltrack.init(id=sim.id, resume="must", source="real", dir=root, system_metrics=False)
    for step in range(3_000):
        real.log({"train/return": float(step % 400)}, step=step)
    real.log({"camera": rltrack.Image(np.full((8, 12, 3), 90, dtype=np.uint8))}, step=7)
    real.finish()
    sim.summary["best"] = 499.0
    sim.finish()
    robot = rltrack.init(project="fleet", name="deploy", source="real", dir=root, system_metrics=False)
    robot.use_artifact("policy:v1")
    for step in range(5_000):
        robot.log({"battery": 100.0 - step / 100}, step=step)
    robot.log({"camera": rltrack.Image(np.zeros((6, 6), dtype=np.uint8), caption="dock")}, step=2)
    robot.finish()
    empty = rltrack.init(project="other", name="empty", dir=root, system_metrics=False)
    empty.finish()
    return root


def snapshot(db: Backend, *, with_files: bool = True) -> dict[str, Any]:
    """Everything a user sees of a store, keyed by identity (run id, source, key), not by position."""
    reader = StoreReader(db)
    runs: dict[str, Any] = {}
    for r in reader.runs():
        sources: dict[str, Any] = {}
        for source in reader.sources(r.id):
            series = {}
            for key in reader.keys(r.id, source):
                s, t, v = reader.series(r.id, source, key)
                series[key] = (s.tolist(), t.tolist(), v.tolist())
            media = sorted((m.key, m.step, m.kind, m.path, m.caption) for m in reader.media(r.id, source))
            sources[source] = {"series": series, "media": media, "summary": reader.summary(r.id, source)}
        runs[r.id] = {"project": r.project, "name": r.name, "config": r.config, "state": r.state,
                      "primary": r.primary_source, "sources": sources}
        if with_files:
            runs[r.id]["files"] = sorted(
                (p.relative_to(db.root / "runs" / r.id).as_posix(), p.read_bytes())
                for p in (db.root / "runs" / r.id).rglob("*") if p.is_file() and "media" in p.parts
            )
    records = ArtifactStore(db)
    versions = sorted(
        (v.name, v.type, v.number, v.digest, v.size, v.run_id, tuple(records.aliases(v.id)),
         tuple(records.users(v.id)), tuple((f.path, f.digest, f.size) for f in records.files(v.id)))
        for v in records.versions()
    )
    return {"runs": runs, "artifacts": versions}


def stores_equal(source: Path, server_root: Path, db_url: str | None = None) -> None:
    local = open_database(source, None, create=False)
    remote = open_database(server_root, db_url, create=False)
    try:
        want, got = snapshot(local), snapshot(remote)
        assert sorted(got["runs"]) == sorted(want["runs"])  # 0 runs lost, none made up
        for run_id, run in want["runs"].items():
            assert got["runs"][run_id] == run, run_id  # every point once, in order; media and files alike
        assert got["artifacts"] == want["artifacts"]
    finally:
        for db in (local, remote):
            getattr(db, "close", lambda: None)()


class LosingTransport(httpx.HTTPTransport):
    """Forwards every request; the response to request number ``lose_at`` is lost after the server acted."""

    def __init__(self, lose_at: int | None = None) -> None:
        super().__init__()
        self.lose_at = lose_at
        self.count = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        self.count += 1
        if self.count == self.lose_at:
            response.read()
            response.close()
            raise httpx.ReadError("connection dropped before the answer arrived")
        return response


@pytest.fixture
def server(tmp_path: Path) -> Iterator[BackgroundServer]:
    with BackgroundServer(ServerSettings(root=tmp_path / "srv", ingest=True)) as running:
        yield running


def test_a_store_folder_arrives_whole_and_a_second_sync_sends_nothing(
    offline: Path, server: BackgroundServer, tmp_path: Path
) -> None:
    result = CliRunner().invoke(main, ["sync", str(offline), "--to", server.url])
    assert result.exit_code == 0, result.output
    assert "4 runs" in result.output
    assert "2 new artifact versions, 2 blobs" in result.output
    stores_equal(offline, tmp_path / "srv")
    again = push_store(offline, server.url)
    assert (again.points, again.media, again.versions, again.blobs) == (0, 0, 0, 0)
    stores_equal(offline, tmp_path / "srv")


def test_a_lost_answer_anywhere_in_the_sync_stores_nothing_twice(
    offline: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rltrack.remote import sync

    monkeypatch.setattr(sync, "PIECE_POINTS", 10_000)
    monkeypatch.setattr(sync, "PIECES_PER_REQUEST", 2)
    counting = LosingTransport()
    with BackgroundServer(ServerSettings(root=tmp_path / "count", ingest=True)) as first:
        push_store(offline, first.url, transport=counting)
    total = counting.count
    assert total > 20
    for lose_at in sorted({3, total // 2, total - 5, total - 1}):  # values, mid-run, blobs, artifact uses
        root = tmp_path / f"srv-{lose_at}"
        with BackgroundServer(ServerSettings(root=root, ingest=True)) as server:
            with pytest.raises(Unreachable, match="dropped"):
                push_store(offline, server.url, transport=LosingTransport(lose_at))
            push_store(offline, server.url)
        stores_equal(offline, root)
        shutil.rmtree(root)


def test_a_killed_sync_resumes_into_postgresql_with_nothing_lost_or_doubled(
    offline: Path, tmp_path: Path, pg_cluster: Any
) -> None:
    db_url = str(pg_cluster.new_database())
    cli = [sys.executable, "-c", "from rltrack.cli import main; main()", "sync", str(offline)]
    with BackgroundServer(ServerSettings(root=tmp_path / "srv", ingest=True, db=db_url)) as server:
        proc = subprocess.Popen([*cli, "--to", server.url], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True)
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("run "), first + proc.stdout.read()
        proc.send_signal(signal.SIGKILL)  # mid-way: the first (small) run is there, the big one partly
        proc.communicate(timeout=60)
        partial = open_database(tmp_path / "srv", db_url, create=False)
        try:
            assert len(StoreReader(partial).runs()) < 4 and not ArtifactStore(partial).versions()
        finally:
            getattr(partial, "close", lambda: None)()
        done = subprocess.run([*cli, "--to", server.url], capture_output=True, text=True, timeout=240)
        assert done.returncode == 0, done.stdout + done.stderr
    stores_equal(offline, tmp_path / "srv", db_url)


def test_a_folder_that_is_not_a_store_is_refused(tmp_path: Path) -> None:
    (tmp_path / "nothing").mkdir()
    result = CliRunner().invoke(main, ["sync", str(tmp_path / "nothing"), "--to", "http://127.0.0.1:9"])
    assert result.exit_code == 1
    assert "no rltrack store" in result.output


def test_a_blob_over_the_servers_body_limit_says_which_flag_to_raise(tmp_path: Path) -> None:
    from rltrack.remote.client import Rejected
    from rltrack.server.security import AccessControl

    local = tmp_path / "robot"
    run = rltrack.init(project="fleet", dir=local, system_metrics=False)
    run.log({"r": 1.0}, step=0)
    big = tmp_path / "policy.bin"
    big.write_bytes(np.random.default_rng(3).bytes(300_000))
    run.log_artifact(big, name="policy")
    run.finish()
    small = ServerSettings(root=tmp_path / "srv", ingest=True, access=AccessControl(max_upload_bytes=200_000))
    with BackgroundServer(small) as server, pytest.raises(Rejected, match="larger --max-upload-mb"):
        push_store(local, server.url)
    with BackgroundServer(ServerSettings(root=tmp_path / "srv", ingest=True)) as server:
        done = push_store(local, server.url)
    assert (done.points, done.blobs, done.versions) == (0, 1, 1)  # the run was already there
    stores_equal(local, tmp_path / "srv")


def test_a_robots_offline_source_joins_a_run_the_server_already_has(tmp_path: Path) -> None:
    with BackgroundServer(ServerSettings(root=tmp_path / "srv", ingest=True)) as server:
        sim = rltrack.init(project="fleet", name="train", mode="online", url=server.url, dir=tmp_path / "spool",
                           system_metrics=False)
        for step in range(1_000):
            sim.log({"episode/return": float(step)}, step=step)
        sim.finish()
        ended = httpx.get(f"{server.url}/api/runs/{sim.id}", timeout=10).json()
        # The robot is offline: it logs its source of the same run into its own store.
        real = rltrack.init(id=sim.id, resume="allow", project="fleet", source="real", dir=tmp_path / "robot",
                            system_metrics=False)
        for step in range(300):
            real.log({"episode/return": float(step) / 2}, step=step)
        real.finish()
        for _ in range(2):  # the second sync sends nothing
            result = CliRunner().invoke(main, ["sync", str(tmp_path / "robot"), "--to", server.url])
            assert result.exit_code == 0, result.output
        after = httpx.get(f"{server.url}/api/runs/{sim.id}", timeout=10).json()
    assert after["sources"] == ["sim", "real"]
    # The training run keeps its own end: the sync neither reopened nor re-ended it.
    assert (after["state"], after["ended_ns"]) == (ended["state"], ended["ended_ns"])
    db = open_database(tmp_path / "srv", None, create=False)
    reader = StoreReader(db)
    assert reader.series(sim.id, "sim", "episode/return")[2].tolist() == [float(s) for s in range(1_000)]
    assert reader.series(sim.id, "real", "episode/return")[2].tolist() == [s / 2 for s in range(300)]
