"""RemoteWriter against a real server on loopback: spooling, in-order forwarding, exactly-once storage."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

import rltrack
from rltrack._run import Run
from rltrack.errors import RunExistsError
from rltrack.remote import RemoteWriter, connect, push_run
from rltrack.server import ServerSettings
from rltrack.server.serve import BackgroundServer
from rltrack.store.writer import NewRun, WriterInfo

WAIT_S = 30.0


def who() -> WriterInfo:
    return WriterInfo(host=os.uname().nodename, pid=os.getpid(), pid_started_ns=0, now_ns=time.time_ns())


def start_run(remote: RemoteWriter, run_id: str, *, project: str = "remote") -> Run:
    # What rltrack.init(mode="online") does once the lead wires connect() in.
    remote.create_run(
        NewRun(id=run_id, project=project, name=run_id, group=None, job_type=None, notes=None, tags=(),
               config={"lr": 0.1}, source="sim"),
        who(),
    )
    run = Run(remote, id=run_id, name=run_id, project=project, group=None, source="sim",
              run_dir=remote.root / "runs" / run_id, config={"lr": 0.1}, summary={}, step=0, owner=True,
              metadata=None)
    run.dir.mkdir(parents=True, exist_ok=True)
    return run


def server_on(root: Path, port: int = 0) -> BackgroundServer:
    return BackgroundServer(ServerSettings(root=root, ingest=True), port=port)


def test_points_arrive_exactly_once_across_a_server_restart(tmp_path: Path) -> None:
    server_root = tmp_path / "server"
    first = server_on(server_root)
    port = first.port
    remote = connect(first.url, None, tmp_path / "spool")
    run = start_run(remote, "restart")
    for step in range(500):
        run.log({"train/loss": float(step), "x": step * 2.0}, step=step)
    run.flush()
    first.stop()  # the server goes away mid-run
    for step in range(500, 1500):
        run.log({"train/loss": float(step), "x": step * 2.0}, step=step)
    run.flush()  # stored in the spool only
    assert remote.wait(0.5) is False
    second = server_on(server_root, port)
    try:
        for step in range(1500, 2000):
            run.log({"train/loss": float(step), "x": step * 2.0}, step=step)
        run.finish()
        assert remote.wait(WAIT_S)
        view = rltrack.Api(server_root).run("restart")
        steps, _, values = view.series("train/loss")
        assert steps.tolist() == list(range(2000))
        assert values.tolist() == [float(s) for s in range(2000)]
        assert view.series("x")[2].tolist() == [s * 2.0 for s in range(2000)]
        assert view.state == "finished"
        assert view.config == {"lr": 0.1}
        assert view.summary["train/loss"] == 1999.0
        assert remote.dead_letters == 0
    finally:
        remote.close()
        second.stop()
    assert list((tmp_path / "spool" / "spool").glob("*.jsonl")) == []


def test_a_run_started_offline_is_forwarded_by_the_next_writer(tmp_path: Path) -> None:
    server_root = tmp_path / "server"
    first = server_on(server_root)
    url, port = first.url, first.port
    first.stop()
    remote = connect(url, None, tmp_path / "spool")
    run = start_run(remote, "offline")
    for step in range(100):
        run.log({"v": float(step)}, step=step)
    run.finish()  # returns although nothing reached the server
    remote.close(timeout=0.1)
    server = server_on(server_root, port)
    try:
        later = connect(url, None, tmp_path / "spool")  # adopts the orphaned spool
        assert later.wait(WAIT_S)
        later.close()
        view = rltrack.Api(server_root).run("offline")
        assert view.series("v")[2].tolist() == [float(s) for s in range(100)]
        assert view.state == "finished"
    finally:
        server.stop()


def test_media_files_are_uploaded(tmp_path: Path) -> None:
    with server_on(tmp_path / "server") as server:
        remote = connect(server.url, None, tmp_path / "spool")
        run = start_run(remote, "media")
        image = np.zeros((16, 24, 3), dtype=np.uint8)
        image[:, :12, 0] = 255
        run.log({"camera": rltrack.Image(image)}, step=3)
        run.finish()
        remote.close()
        (item,) = rltrack.Api(tmp_path / "server").run("media").media()
        assert item.path.is_file()
        assert item.path.read_bytes() == (tmp_path / "spool" / "runs" / "media" / item.path.relative_to(
            tmp_path / "server" / "runs" / "media")).read_bytes()


def test_an_existing_id_is_refused(tmp_path: Path) -> None:
    with server_on(tmp_path / "server") as server:
        remote = connect(server.url, None, tmp_path / "spool")
        start_run(remote, "twice").finish()
        with pytest.raises(RunExistsError, match="twice"):
            start_run(remote, "twice")
        remote.close()


def test_sync_pushes_a_local_run_once(tmp_path: Path) -> None:
    local = tmp_path / "local"
    sim = rltrack.init(project="p", config={"deployed_step": 7}, dir=local, system_metrics=False)
    for step in range(250_123 // 1000):
        sim.log({"a": float(step)}, step=step)
    sim.flush()
    real = rltrack.init(id=sim.id, resume="must", source="real", dir=local, system_metrics=False)
    real.log({"a": 5.0, "camera": rltrack.Image(np.full((8, 8), 200, dtype=np.uint8))}, step=0)
    real.finish()
    sim.finish()
    with server_on(tmp_path / "server") as server:
        first = push_run(sim.id, server.url, dir=local)
        again = push_run(sim.id, server.url, dir=local)
    assert first == {"points": 251, "media": 1}
    assert again == {"points": 0, "media": 0}
    view = rltrack.Api(tmp_path / "server").run(sim.id)
    assert view.sources == ["sim", "real"]
    assert view.series("a")[2].tolist() == [float(s) for s in range(250)]
    assert view.series("a", source="real")[2].tolist() == [5.0]
    assert view.state == "finished" and view.config == {"deployed_step": 7}
    assert view.media()[0].path.is_file()
