"""``rltrack server --db postgresql://...`` end to end: online runs, exactly-once ingest, SIGKILL, bad URLs.

A real server (uvicorn on loopback, or the CLI in a subprocess) over the session's throwaway PostgreSQL
cluster; what it stored is read back through the store's reader on the same database and through the JSON API.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

# The server needs the ui extra and PostgreSQL the server extra (the Python 3.10 core job has neither).
pytest.importorskip("fastapi", reason="the server needs the ui extra: pip install 'rltrack[server]'")
pytest.importorskip("psycopg", reason="PostgreSQL needs psycopg: pip install 'rltrack[server]'")

import httpx
from click.testing import CliRunner

import rltrack
from rltrack.cli import main
from rltrack.remote import connect
from rltrack.server import ServerSettings
from rltrack.server.serve import BackgroundServer
from rltrack.store.base import Backend
from rltrack.store.open import open_database
from rltrack.store.reader import StoreReader
from rltrack.store.writer import NewRun, StoreWriter, WriterInfo

WAIT_S = 30.0
ReaderOf = Callable[[Path, str], StoreReader]


@pytest.fixture
def pg_url(pg_cluster: object) -> str:
    """An empty PostgreSQL database in the session's cluster."""
    return pg_cluster.new_database()  # type: ignore[attr-defined, no-any-return]  # tests/pgcluster.PgCluster


@pytest.fixture
def reader_of() -> Iterator[ReaderOf]:
    """Open readers on a server's database (closed after the test)."""
    opened: list[Backend] = []

    def reader(root: Path, url: str) -> StoreReader:
        opened.append(open_database(root, url, create=False))
        return StoreReader(opened[-1])

    yield reader
    for db in opened:
        db.close()


def test_an_online_run_lands_in_postgresql_and_reads_back_through_the_api(
    tmp_path: Path, pg_url: str, reader_of: ReaderOf
) -> None:
    server = BackgroundServer(ServerSettings(root=tmp_path / "server", ingest=True, db=pg_url))
    try:
        run = rltrack.init(project="robot", mode="online", url=server.url, dir=tmp_path / "spool",
                           config={"lr": 0.1}, tags=["pg"], system_metrics=False)
        for step in range(500):
            run.log({"odom/x": step * 0.5, "reward": float(step % 7)}, step=step)
        run.finish()
        reader = reader_of(tmp_path / "server", pg_url)
        row = reader.run(run.id)
        assert (row.state, row.config, row.tags, row.project) == ("finished", {"lr": 0.1}, ["pg"], "robot")
        np.testing.assert_array_equal(reader.series(run.id, "sim", "odom/x")[2], np.arange(500) * 0.5)
        detail = httpx.get(f"{server.url}/api/runs/{run.id}").json()
        assert detail["state"] == "finished" and detail["keys"]["sim"] == ["odom/x", "reward"]
        series = httpx.get(f"{server.url}/api/runs/{run.id}/series", params={"key": "odom/x"}).json()
        assert series["series"]["odom/x"]["count"] == 500
        assert httpx.get(f"{server.url}/api/runs/{run.id}/counts").json() == {"odom/x": 500, "reward": 500}
        listed = httpx.get(f"{server.url}/api/runs", params={"project": "robot"}).json()
        assert [r["id"] for r in listed["runs"]] == [run.id]
    finally:
        server.stop()


def test_two_online_runs_at_once_lose_nothing(
    tmp_path: Path, pg_url: str, reader_of: ReaderOf
) -> None:
    server = BackgroundServer(ServerSettings(root=tmp_path / "server", ingest=True, db=pg_url))
    ids: list[str] = []
    try:
        def train(name: str) -> None:
            remote = connect(server.url, None, tmp_path / f"spool-{name}")
            try:
                from rltrack._run import Run
                from rltrack.store.writer import NewRun, WriterInfo

                remote.create_run(NewRun(id=name, project="p", name=name, group=None, job_type=None, notes=None,
                                         tags=(), config={}, source="sim"),
                                  WriterInfo(host="box", pid=1, pid_started_ns=0, now_ns=1))
                run = Run(remote, id=name, name=name, project="p", group=None, source="sim",
                          run_dir=remote.root / "runs" / name, config={}, summary={}, step=0, owner=True,
                          metadata=None)
                for step in range(2000):
                    run.log({"loss": float(step), "lr": 1e-3}, step=step)
                    if step % 500 == 0:
                        run.flush()
                run.finish()
                assert remote.wait(WAIT_S)
                ids.append(name)
            finally:
                remote.close()

        threads = [threading.Thread(target=train, args=(f"w{i}",)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(ids) == ["w0", "w1"]
        reader = reader_of(tmp_path / "server", pg_url)
        for name in ids:
            steps, _, values = reader.series(name, "sim", "loss")
            assert steps.tolist() == list(range(2000)) and values.tolist() == [float(s) for s in range(2000)]
            assert reader.run(name).state == "finished"
    finally:
        server.stop()


def server_process(root: Path, url: str) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-c", "from rltrack.cli import main; main()", "server", "--dir", str(root),
         "--port", "0", "--db", url],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()  # printed once the socket listens
    assert "http://127.0.0.1:" in line, line
    return proc, int(line.split("http://127.0.0.1:")[1].split("/")[0].split()[0])


def test_a_server_killed_with_sigkill_mid_run_stores_every_point_once(
    tmp_path: Path, pg_url: str, reader_of: ReaderOf
) -> None:
    from rltrack._run import Run
    from rltrack.store.writer import NewRun, WriterInfo

    proc, port = server_process(tmp_path / "server", pg_url)
    remote = connect(f"http://127.0.0.1:{port}", None, tmp_path / "spool")
    try:
        remote.create_run(NewRun(id="killed", project="p", name="killed", group=None, job_type=None, notes=None,
                                 tags=(), config={}, source="sim"),
                          WriterInfo(host="robot", pid=1, pid_started_ns=0, now_ns=1))
        run = Run(remote, id="killed", name="killed", project="p", group=None, source="sim",
                  run_dir=remote.root / "runs" / "killed", config={}, summary={}, step=0, owner=True, metadata=None)
        for step in range(3000):
            run.log({"a": float(step)}, step=step)
            if step == 1000:
                proc.send_signal(signal.SIGKILL)  # whatever was in flight is lost with the process
                proc.communicate(timeout=WAIT_S)
        run.flush()
        # The same port: the client's spool resends there.
        proc = subprocess.Popen(
            [sys.executable, "-c", "from rltrack.cli import main; main()", "server", "--dir", str(tmp_path / "server"),
             "--port", str(port), "--db", pg_url],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        assert proc.stdout is not None and f":{port}/" in proc.stdout.readline()
        run.finish()
        assert remote.wait(WAIT_S)
    finally:
        remote.close()
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=WAIT_S)
    steps, _, values = reader_of(tmp_path / "server", pg_url).series("killed", "sim", "a")
    assert steps.tolist() == list(range(3000))
    assert values.tolist() == [float(s) for s in range(3000)]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://u@127.0.0.1/db", "--db 'mysql://u@127.0.0.1/db' is not a PostgreSQL URL; pass postgresql://"),
        ("postgresql://u:hunter2@127.0.0.1:1/db", "cannot use the PostgreSQL database postgresql://u:***@127.0.0.1:1/db"),
    ],
)
def test_a_bad_db_url_is_refused_with_what_to_do_and_no_password(tmp_path: Path, url: str, message: str) -> None:
    result = CliRunner().invoke(main, ["server", "--dir", str(tmp_path / "s"), "--port", "0", "--db", url])
    assert result.exit_code == 1
    assert message in result.output and "hunter2" not in result.output


def spawn(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


PARALLEL_WRITER = """
    import sys, rltrack
    run = rltrack.init(project="parallel", name=sys.argv[3], mode="online", url=sys.argv[1], dir=sys.argv[2],
                       system_metrics=False)
    for i in range(20_000):
        run.log({"value": float(i)}, step=i)
    run.finish()
"""


def test_four_online_processes_write_one_postgresql_store_at_once_without_loss(
    tmp_path: Path, pg_url: str, reader_of: ReaderOf
) -> None:
    server = BackgroundServer(ServerSettings(root=tmp_path / "server", ingest=True, db=pg_url))
    try:
        procs = [spawn(PARALLEL_WRITER, server.url, str(tmp_path / f"spool-{n}"), f"writer-{n}") for n in range(4)]
        for proc in procs:
            _, err = proc.communicate(timeout=240)
            assert proc.returncode == 0, err
    finally:
        server.stop()
    reader = reader_of(tmp_path / "server", pg_url)
    runs = reader.runs("parallel")
    assert sorted(r.name for r in runs) == [f"writer-{n}" for n in range(4)]
    for r in runs:
        steps, _, values = reader.series(r.id, "sim", "value")
        np.testing.assert_array_equal(steps, np.arange(20_000))
        np.testing.assert_array_equal(values, np.arange(20_000, dtype=float))
        assert r.state == "finished"


REAL_WRITER = """
    import sys, rltrack
    run = rltrack.init(id=sys.argv[3], resume="must", source="real", mode="online", url=sys.argv[1],
                       dir=sys.argv[2], system_metrics=False)
    for i in range(10_000):
        run.log({"episode/return": float(i)}, step=i)
    run.finish()
"""


def test_a_second_process_writes_the_same_run_under_another_source(
    tmp_path: Path, pg_url: str, reader_of: ReaderOf
) -> None:
    server = BackgroundServer(ServerSettings(root=tmp_path / "server", ingest=True, db=pg_url))
    try:
        run = rltrack.init(project="sim2real", mode="online", url=server.url, dir=tmp_path / "spool-sim",
                           system_metrics=False)
        run.flush()
        proc = spawn(REAL_WRITER, server.url, str(tmp_path / "spool-real"), run.id)
        for i in range(10_000):
            run.log({"episode/return": -float(i)}, step=i)
        _, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
        reader = reader_of(tmp_path / "server", pg_url)
        assert reader.run(run.id).state == "running"  # the robot finishing does not end the training run
        run.finish()
    finally:
        server.stop()
    assert reader.run(run.id).state == "finished"
    assert reader.sources(run.id) == ["sim", "real"]
    np.testing.assert_array_equal(reader.series(run.id, "sim", "episode/return")[2], -np.arange(10_000.0))
    np.testing.assert_array_equal(reader.series(run.id, "real", "episode/return")[2], np.arange(10_000.0))
    assert reader.summary(run.id, "real")["episode/return"] == 9_999.0


def test_a_postgresql_restart_costs_no_write(pg_cluster: Any, pg_url: str, tmp_path: Path) -> None:
    db = open_database(tmp_path / "store", pg_url)
    try:
        writer = StoreWriter(db)
        writer.create_run(NewRun(id="r1", project="p", name="r1", group=None, job_type=None, notes=None, tags=(),
                                 config={}, source="sim"), WriterInfo(host="h", pid=1, pid_started_ns=0, now_ns=1))
        pg_cluster.restart()  # every pooled connection is now dead
        writer.write("r1", "sim", summary={"after": "restart"})
        assert StoreReader(db).summary("r1", "sim") == {"after": "restart"}
        pg_cluster.restart()
        assert StoreReader(db).run("r1").project == "p"  # reads reconnect too
    finally:
        db.close()


def test_a_retried_ingest_batch_is_stored_once_in_postgresql(tmp_path: Path, pg_url: str, reader_of: ReaderOf) -> None:
    from rltrack.remote import wire
    from rltrack.store.chunks import pack

    def write(batch_id: str, start: int, n: int) -> dict[str, Any]:
        steps = np.arange(start, start + n, dtype=np.int64)
        chunk = pack("sim", "loss", steps, steps * 10, steps.astype(np.float64) / 2)
        return {"id": batch_id, "op": "write", "run_id": "r1", "source": "sim", "batches": [wire.batch_to(chunk)],
                "summary": {"loss": float(start + n - 1) / 2}}

    new = NewRun(id="r1", project="p", name="r1", group=None, job_type=None, notes=None, tags=("a",),
                 config={"lr": 1}, source="sim")
    who = WriterInfo(host="robot", pid=1, pid_started_ns=0, now_ns=1)
    create = {"id": "w:1", "op": "create_run", "run": wire.new_run_to(new), "who": wire.who_to(who)}
    server = BackgroundServer(ServerSettings(root=tmp_path / "srv", ingest=True, db=pg_url))
    try:
        post = f"{server.url}/api/ingest/batches"
        first = httpx.post(post, json={"batches": [create, write("w:2", 0, 100)]})
        assert first.json() == {"applied": 2, "duplicates": []}
        again = httpx.post(post, json={"batches": [create, write("w:2", 0, 100), write("w:3", 100, 5)]})
        assert again.json() == {"applied": 1, "duplicates": ["w:1", "w:2"]}
    finally:
        server.stop()
    steps, _, values = reader_of(tmp_path / "srv", pg_url).series("r1", "sim", "loss")
    assert steps.tolist() == list(range(105))
    assert values.tolist() == [s / 2 for s in range(105)]
