"""A writer killed with SIGKILL between writing blobs and writing the manifest leaves a readable store."""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import time

import rltrack
from rltrack.artifacts import LocalBlobStore
from rltrack.artifacts.blobs import BLOCK_SIZE, STALE_AFTER_S, hash_file

from .conftest import blob_files, write_bytes

# The child logs for real and pauses at one point (by wrapping a function there), so the test
# kills it exactly where it wants to, without sleeps.
_CHILD = """
import os
import sys
import time
import rltrack
from rltrack.store.artifacts import ArtifactStore

def pause(*args, **kwargs):
    print("PAUSED", flush=True)
    sys.stdin.readline()
    raise SystemExit("not killed")

where, store, source = sys.argv[1:4]
if where == "manifest":
    ArtifactStore.add_version = pause
else:
    real, calls = os.sendfile, []

    def sendfile(out_fd, in_fd, offset, count):
        calls.append(count)
        if len(calls) == 2:  # one MiB copied into the temporary file, the rest not
            pause()
        return real(out_fd, in_fd, offset, min(count, 1 << 20))

    os.sendfile = sendfile
run = rltrack.init(project="crash", dir=store, system_metrics=False)
print(run.id, flush=True)
run.log_artifact(source, name="policy")
"""


def _kill_at(where: str, store_dir: pathlib.Path, source: pathlib.Path) -> str:
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, where, str(store_dir), str(source)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()
    assert proc.stdout.readline() == "PAUSED\n"
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    proc.stdout.close()
    assert proc.stdin is not None
    proc.stdin.close()
    return run_id


def test_kill_after_blobs_before_manifest_leaves_no_version(tmp_path: pathlib.Path) -> None:
    store_dir = tmp_path / "store"
    source = write_bytes(tmp_path / "p.zip", 3 * BLOCK_SIZE)
    run_id = _kill_at("manifest", store_dir, source)

    api = rltrack.Api(store_dir)
    assert api.artifacts() == []
    assert api.run(run_id).state == "crashed"
    # The blob is complete (renamed only after fsync), just not referenced yet.
    digest = hash_file(source).digest
    assert blob_files(store_dir) == [LocalBlobStore(store_dir / "artifacts").path(digest)]
    assert blob_files(store_dir)[0].read_bytes() == source.read_bytes()

    with rltrack.init(project="crash", dir=store_dir, system_metrics=False) as run:
        version = run.log_artifact(source, name="policy")
    assert version.version == "v0"
    assert (version.download(tmp_path / "out") / "p.zip").read_bytes() == source.read_bytes()


def test_kill_during_the_blob_copy_leaves_no_blob_and_the_next_writer_cleans_up(tmp_path: pathlib.Path) -> None:
    store_dir = tmp_path / "store"
    source = write_bytes(tmp_path / "p.zip", 3 * BLOCK_SIZE)
    _kill_at("copy", store_dir, source)

    assert rltrack.Api(store_dir).artifacts() == []
    assert blob_files(store_dir) == []
    [partial] = (store_dir / "artifacts" / "tmp").iterdir()
    assert 0 < partial.stat().st_size < source.stat().st_size
    old = time.time() - STALE_AFTER_S - 60  # as if the crash was a while ago
    os.utime(partial, (old, old))

    with rltrack.init(project="crash", dir=store_dir, system_metrics=False) as run:
        version = run.log_artifact(source, name="policy")
    assert list((store_dir / "artifacts" / "tmp").iterdir()) == []
    assert (version.download(tmp_path / "out") / "p.zip").read_bytes() == source.read_bytes()
