"""A damaged spool left by an earlier run never stops a new online run (issue 19 follow-up, found by probing).

An orphan spool whose ``.ack`` held a negative offset (a damaged file) made every read fail with
``OSError: Invalid argument``; one whose ``.ack`` could not be written (a folder in its place) made
every acknowledgement fail. Either way the forwarder retried that orphan forever and a new run
sharing the spool folder sent nothing: 0 of 10 points reached the server. Now an out-of-range
``.ack`` counts as 0 (so the orphan's batches are sent or become dead letters), and an orphan
that cannot be read or acknowledged is skipped with one warning while the others go on.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

import rltrack
from rltrack.api import Api
from rltrack.server import ServerSettings
from rltrack.server.serve import BackgroundServer

ORPHAN_BATCH = b'{"id":"old:1","op":"write","run_id":"gone","source":"sim","batches":[]}\n'


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[BackgroundServer]:
    monkeypatch.setenv("RLTRACK_REMOTE_TRIES", "2")
    with BackgroundServer(ServerSettings(root=tmp_path / "server", ingest=True)) as s:
        yield s


def log_online(server: BackgroundServer, tmp_path: Path) -> tuple[int, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = rltrack.init(project="p", dir=tmp_path / "client", mode="online", url=server.url,
                           system_metrics=False, quiet=True)
        for step in range(10):
            run.log({"x": float(step)}, step=step)
        run.finish()
    history = Api(tmp_path / "server").run(run.id).history()
    return len(history.get("x", [])), [str(w.message) for w in caught]


@pytest.mark.parametrize("ack", [b"-99999", b"99999999999", b"\xff\xfe", b"12abc"],
                         ids=["negative", "past-the-end", "not-utf8", "not-a-number"])
def test_a_damaged_ack_offset_is_read_as_zero(server: BackgroundServer, tmp_path: Path, ack: bytes) -> None:
    spool = tmp_path / "client" / "spool"
    spool.mkdir(parents=True)
    (spool / "old.jsonl").write_bytes(ORPHAN_BATCH)
    (spool / "old.ack").write_bytes(ack)
    stored, warned = log_online(server, tmp_path)
    assert stored == 10
    # The orphan's batch was sent from its start: the server refused it (no run 'gone'), so it is a dead letter.
    assert any("refused a batch of run 'gone'" in w for w in warned)
    assert not (spool / "old.jsonl").exists()


def test_an_orphan_that_cannot_be_acknowledged_is_skipped(server: BackgroundServer, tmp_path: Path) -> None:
    spool = tmp_path / "client" / "spool"
    spool.mkdir(parents=True)
    (spool / "old.jsonl").write_bytes(ORPHAN_BATCH)
    (spool / "old.ack").mkdir()  # a folder where the offset file belongs: every ack fails
    stored, warned = log_online(server, tmp_path)
    assert stored == 10
    assert any(f"the spool file {str(spool / 'old.jsonl')!r} left by an earlier run cannot be read or acknowledged"
               in w for w in warned)
    assert (spool / "old.jsonl").read_bytes() == ORPHAN_BATCH  # kept on disk, not lost
