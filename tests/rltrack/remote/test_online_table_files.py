"""A Table's image/video cells and a run's saved files reach the server: online, spooled, and by ``rltrack sync``.

Each test reads back what a dashboard user sees through the server's API: every media cell of
``/api/runs/{id}/tables/rows`` has a URL that answers 200 with the bytes the run wrote, and every
``save()``d file is listed by ``/api/runs/{id}/files`` and downloads byte for byte.
"""

from __future__ import annotations

import os
import socket
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

import rltrack
from rltrack._run import Run
from rltrack.errors import RltrackWarning
from rltrack.remote import connect
from rltrack.remote.client import media_files, saved_files
from rltrack.remote.sync import push_run
from rltrack.remote.sync_store import push_store
from rltrack.server import ServerSettings
from rltrack.server.serve import BackgroundServer
from rltrack.store.writer import NewRun, WriterInfo


def _log_run(run: Run, work: Path) -> None:
    """Log one Table with Image, Video and Histogram cells, save a file ("now") and a live file, then finish."""
    rng = np.random.default_rng(7)
    table = rltrack.Table(columns=["episode", "frame", "clip", "hist"])
    for episode in range(3):
        table.add_data(
            episode,
            rltrack.Image(rng.integers(0, 255, (8, 10, 3), dtype=np.uint8), caption=f"frame {episode}"),
            rltrack.Video(rng.integers(0, 255, (4, 16, 16, 3), dtype=np.uint8), fps=4),
            rltrack.Histogram(rng.normal(size=50)),
        )
    run.log({"rollouts": table}, step=1)
    (work / "ckpt").mkdir(exist_ok=True)
    (work / "ckpt" / "policy.pt").write_bytes(b"weights-" * 100)
    run.save(str(work / "ckpt" / "policy.pt"), base_path=str(work), policy="now")
    (work / "notes.txt").write_text("first")
    run.save(str(work / "notes.txt"), base_path=str(work), policy="live")
    run.log({"loss": 0.5}, step=2)
    (work / "notes.txt").write_text("final version of the notes")  # a live file: its last content counts
    run.finish()


def _assert_on_server(url: str, run_id: str, local_run_dir: Path) -> None:
    with httpx.Client(base_url=url, timeout=30) as http:
        rows = http.get(f"/api/runs/{run_id}/tables/rows", params={"key": "rollouts"})
        assert rows.status_code == 200, rows.text
        body = rows.json()
        assert body["columns"] == ["episode", "frame", "clip", "hist"]
        assert len(body["rows"]) == 3
        media_row = next(m for m in http.get(f"/api/runs/{run_id}/media").json() if m["key"] == "rollouts")
        folder = local_run_dir / media_row["path"].rpartition("/")[0]
        cells = [cell for row in body["rows"] for cell in row[1:]]
        assert {c["kind"] for c in cells} == {"image", "video", "histogram"}
        for cell in cells:
            assert cell["url"] is not None, f"the server says a {cell['kind']} cell's file is missing"
            got = http.get(cell["url"])
            assert got.status_code == 200, (cell, got.text)
            name = cell["url"].rsplit("/", 1)[1]
            assert got.content == (folder / name).read_bytes()
        listed = {f["path"]: f for f in http.get(f"/api/runs/{run_id}/files").json()["files"]}
        local = {p.relative_to(local_run_dir).as_posix() for top in ("files", "code")
                 for p in (local_run_dir / top).rglob("*") if p.is_file()}
        assert {"files/ckpt/policy.pt", "files/notes.txt"} <= set(listed) == local
        for path in local:
            assert http.get(listed[path]["url"]).content == (local_run_dir / path).read_bytes()
        assert http.get(listed["files/ckpt/policy.pt"]["url"]).content == b"weights-" * 100
        assert http.get(listed["files/notes.txt"]["url"]).content == b"final version of the notes"


def test_an_online_run_uploads_table_cells_and_saved_files(tmp_path: Path) -> None:
    with BackgroundServer(ServerSettings(root=tmp_path / "server", ingest=True)) as server:
        run = rltrack.init(project="p", mode="online", url=server.url, dir=tmp_path / "spool", system_metrics=False,
                           save_code=True)
        _log_run(run, tmp_path)
        run_dir = tmp_path / "spool" / "runs" / run.id
        assert list((run_dir / "code").iterdir())  # pytest's main script: save_code's file goes too
        _assert_on_server(server.url, run.id, run_dir)


def test_a_spooled_run_uploads_them_once_the_server_is_back(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    remote = connect(url, None, tmp_path / "spool")
    remote.create_run(NewRun(id="spooled", project="p", name="spooled", group=None, job_type=None, notes=None,
                             tags=(), config={}, source="sim"),
                      WriterInfo(host=os.uname().nodename, pid=os.getpid(), pid_started_ns=0, now_ns=time.time_ns()))
    run = Run(remote, id="spooled", name="spooled", project="p", group=None, source="sim",
              run_dir=remote.root / "runs" / "spooled", config={}, summary={}, step=0, owner=True, metadata=None)
    run.dir.mkdir(parents=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RltrackWarning)  # "not stored yet": the server is down
        _log_run(run, tmp_path)
    remote.close(timeout=0.1)
    with BackgroundServer(ServerSettings(root=tmp_path / "server", ingest=True), port=port) as server:
        later = connect(url, None, tmp_path / "spool")  # adopts the first writer's spool
        assert later.wait(30.0)
        later.close()
        assert later.dead_letters == 0
        _assert_on_server(server.url, "spooled", tmp_path / "spool" / "runs" / "spooled")


def test_a_saved_file_is_uploaded_again_only_when_it_changed(tmp_path: Path) -> None:
    # Every save() names all the run's saved files: checkpoints saved each epoch must not all be re-sent each epoch.
    with BackgroundServer(ServerSettings(root=tmp_path / "server", ingest=True)) as server:
        remote = connect(server.url, None, tmp_path / "spool")
        remote.create_run(NewRun(id="ckpts", project="p", name="ckpts", group=None, job_type=None, notes=None,
                                 tags=(), config={}, source="sim"),
                          WriterInfo(host=os.uname().nodename, pid=os.getpid(), pid_started_ns=0,
                                     now_ns=time.time_ns()))
        run = Run(remote, id="ckpts", name="ckpts", project="p", group=None, source="sim",
                  run_dir=remote.root / "runs" / "ckpts", config={}, summary={}, step=0, owner=True, metadata=None)
        run.dir.mkdir(parents=True)
        stored = tmp_path / "server" / "runs" / "ckpts" / "files"

        def save(name: str, data: bytes) -> None:
            (tmp_path / name).write_bytes(data)
            run.save(str(tmp_path / "epoch_*.pt"), base_path=str(tmp_path), policy="now")  # matches every epoch
            run.flush()
            assert remote.wait(30.0)

        save("epoch_0.pt", b"zero" * 1000)
        first = (stored / "epoch_0.pt").stat().st_ino  # each upload writes a new file: a new inode
        local = (run.dir / "files" / "epoch_0.pt").stat().st_ino  # so does each local copy
        save("epoch_1.pt", b"one" * 1000)
        assert (stored / "epoch_0.pt").stat().st_ino == first
        assert (run.dir / "files" / "epoch_0.pt").stat().st_ino == local
        assert (stored / "epoch_1.pt").read_bytes() == b"one" * 1000
        save("epoch_0.pt", b"ZERO" * 1000)  # saved again with new content: sent again
        assert (stored / "epoch_0.pt").read_bytes() == b"ZERO" * 1000
        run.finish()
        remote.close()


def test_a_live_file_reaches_the_server_while_the_run_goes_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import rltrack._files

    monkeypatch.setattr(rltrack._files, "LIVE_POLL_S", 0.05)
    with BackgroundServer(ServerSettings(root=tmp_path / "server", ingest=True)) as server:
        run = rltrack.init(project="p", mode="online", url=server.url, dir=tmp_path / "spool", system_metrics=False)
        (tmp_path / "progress.log").write_text("epoch 0\n")
        run.save(str(tmp_path / "progress.log"), base_path=str(tmp_path), policy="live")
        url = f"{server.url}/api/runs/{run.id}/files/files/progress.log"
        for text in ("epoch 0\nepoch 1\n", "epoch 0\nepoch 1\nepoch 2\n"):
            (tmp_path / "progress.log").write_text(text)
            deadline = time.monotonic() + 20
            while httpx.get(url).content != text.encode():  # the watcher copies it, the forwarder sends it
                assert time.monotonic() < deadline, "a changed live file never reached the server"
                run.flush()
        assert run.summary.get("_rltrack/errors/save-live") is None
        run.finish()
        assert httpx.get(url).content == b"epoch 0\nepoch 1\nepoch 2\n"


def test_sync_run_uploads_table_cells_and_saved_files_once(tmp_path: Path) -> None:
    run = rltrack.init(project="p", dir=tmp_path / "local", system_metrics=False)
    _log_run(run, tmp_path)
    with BackgroundServer(ServerSettings(root=tmp_path / "server", ingest=True)) as server:
        first = push_run(run.id, server.url, dir=tmp_path / "local")
        _assert_on_server(server.url, run.id, tmp_path / "local" / "runs" / run.id)
        assert first["files"] == 3 * 3 + 2  # 9 cells, 2 saved files
        again = push_run(run.id, server.url, dir=tmp_path / "local")
        assert again == {"points": 0, "media": 0}


def test_sync_repairs_a_table_whose_cells_an_older_sync_left_behind(tmp_path: Path) -> None:
    run = rltrack.init(project="p", dir=tmp_path / "local", system_metrics=False)
    _log_run(run, tmp_path)
    with BackgroundServer(ServerSettings(root=tmp_path / "server", ingest=True)) as server:
        push_run(run.id, server.url, dir=tmp_path / "local")
        cells = sorted((tmp_path / "server" / "runs" / run.id / "media").glob("*-r1-c*"))
        assert len(cells) == 3
        for cell in cells:
            cell.unlink()  # what a sync before this fix left: the row without its cell files
        (tmp_path / "server" / "runs" / run.id / "files" / "notes.txt").write_text("stale")
        again = push_run(run.id, server.url, dir=tmp_path / "local")
        assert again == {"points": 0, "media": 0, "files": 4}
        _assert_on_server(server.url, run.id, tmp_path / "local" / "runs" / run.id)


def test_sync_dir_uploads_table_cells_and_saved_files(tmp_path: Path) -> None:
    run = rltrack.init(project="p", dir=tmp_path / "local", system_metrics=False)
    _log_run(run, tmp_path)
    with BackgroundServer(ServerSettings(root=tmp_path / "server", ingest=True)) as server:
        done = push_store(tmp_path / "local", server.url)
        assert done.files == 11
        _assert_on_server(server.url, run.id, tmp_path / "local" / "runs" / run.id)
        assert push_store(tmp_path / "local", server.url).files == 0


def test_names_in_a_crafted_batch_never_reach_outside_the_run_folder(tmp_path: Path) -> None:
    # A spool or a dead letter is data on disk: the names it gives are checked before any file is read.
    meta = {"files": ["step-r0-c0.png", "../../secret.txt", "/etc/passwd", ".hidden", 7, "sub/ok.png"]}
    assert media_files(tmp_path, "media/step.parquet", "table", meta) == [
        "media/step.parquet", "media/step-r0-c0.png", "media/sub/ok.png",
    ]
    assert media_files(tmp_path, "../x.parquet", "table", meta) == []
    assert media_files(tmp_path, "media/a.png", "image", meta) == ["media/a.png"]  # only a table has cells
    metadata = {"files": ["files/a.pt", "files/../../x", "media/a.png", "runs.db", None], "code": "code/train.py"}
    assert saved_files(metadata) == ["files/a.pt", "code/train.py"]
    assert saved_files({"files": "files/a.pt", "code": ["code/x.py"]}) == []


@pytest.fixture
def s3_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A real S3 endpoint on loopback (moto's standalone server) with an empty bucket ``team``."""
    boto3 = pytest.importorskip("boto3", reason="S3 blobs need boto3: pip install 'rltrack[s3]'")
    moto_server = pytest.importorskip("moto.server", reason="the S3 tests need moto[server]")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    for name, value in (("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "test"),
                        ("AWS_DEFAULT_REGION", "us-east-1"), ("AWS_ENDPOINT_URL", endpoint)):
        monkeypatch.setenv(name, value)
    boto3.client("s3").create_bucket(Bucket="team")
    try:
        yield endpoint
    finally:
        server.stop()


def test_sync_to_a_bucket_server_compares_files_by_sha256(tmp_path: Path, s3_endpoint: str) -> None:
    from rltrack.server.run_files import BlobSettings

    run = rltrack.init(project="p", dir=tmp_path / "local", system_metrics=False)
    _log_run(run, tmp_path)
    local_dir = tmp_path / "local" / "runs" / run.id
    settings = ServerSettings(root=tmp_path / "server", ingest=True)
    with BackgroundServer(settings, blobs=BlobSettings("s3://team/rl")) as server, httpx.Client(
            base_url=server.url, timeout=30) as http:
        assert push_run(run.id, server.url, dir=tmp_path / "local")["files"] == 11
        rows = http.get(f"/api/runs/{run.id}/tables/rows", params={"key": "rollouts"}).json()["rows"]
        media_path = next(m["path"] for m in http.get(f"/api/runs/{run.id}/media").json())
        for cell in (c for row in rows for c in row[1:]):
            assert cell["url"] is not None
            got = http.get(cell["url"])
            assert got.status_code == 200 and got.content == (
                local_dir / media_path.rpartition("/")[0] / cell["url"].rsplit("/", 1)[1]).read_bytes()
        assert push_run(run.id, server.url, dir=tmp_path / "local") == {"points": 0, "media": 0}
        # Same size, other bytes: only the sha256 the bucket names tells them apart.
        (local_dir / "files" / "notes.txt").write_text("FINAL VERSION OF THE NOTES")
        assert push_run(run.id, server.url, dir=tmp_path / "local") == {"points": 0, "media": 0, "files": 1}
        got = http.get(f"/api/runs/{run.id}/files/files/notes.txt")
        assert got.content == b"FINAL VERSION OF THE NOTES"


def test_probe_tells_missing_empty_and_present_files_apart(tmp_path: Path) -> None:
    from rltrack.remote.client import IngestClient

    run = rltrack.init(project="p", dir=tmp_path / "local", system_metrics=False)
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "full.txt").write_bytes(b"12345")
    run.save(str(tmp_path / "*.txt"), base_path=str(tmp_path), policy="now")
    run.finish()
    with BackgroundServer(ServerSettings(root=tmp_path / "server", ingest=True)) as server:
        assert push_run(run.id, server.url, dir=tmp_path / "local")["files"] == 2
        client = IngestClient(server.url, None)
        try:
            assert client.probe(run.id, "files/full.txt") == (5, None)
            assert client.probe(run.id, "files/empty.txt") == (0, None)
            assert client.probe(run.id, "files/none.txt") is None
        finally:
            client.close()
        assert push_run(run.id, server.url, dir=tmp_path / "local") == {"points": 0, "media": 0}
        got = httpx.get(f"{server.url}/api/runs/{run.id}/files").json()["files"]
        assert {f["path"]: f["size"] for f in got} == {"files/empty.txt": 0, "files/full.txt": 5}
