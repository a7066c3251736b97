"""``rltrack sync`` with damaged dead letters (issue 19 follow-up, found by probing).

One torn or damaged file in ``<dir>/spool/dead/`` (a crash while the disk was failing, a stray
editor save) made every ``rltrack sync`` — list, ``--retry`` and ``--discard`` — stop with
"cannot read the dead letter ...": the good dead letters beside it could be neither sent nor
deleted. Now damaged files are listed with why, skipped by ``--retry`` and deleted by ``--discard``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from rltrack.cli import main
from rltrack.remote import deadletters
from rltrack.server import ServerSettings
from rltrack.server.serve import BackgroundServer

DAMAGED = {
    "torn.json": b'{"run_id": "r1", "batch_id": "w:',
    "not-utf8.json": b"\xff\xfe",
    "a-list.json": b"[]",
    "no-fields.json": b'{"batch": 5}',
}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[BackgroundServer]:
    with BackgroundServer(ServerSettings(root=tmp_path / "server", ingest=True)) as s:
        yield s


def spool_with_damage(tmp_path: Path, url: str) -> Path:
    """A spool folder holding one good dead letter (a run the server lacks: refused 404) and damaged files."""
    spool_dir = tmp_path / "client"
    batch = {"id": "w:1", "op": "write", "run_id": "gone", "source": "sim", "batches": []}
    deadletters.bury(deadletters.dead_dir(spool_dir), batch, url=url, status=404, reason="no such run", tries=1)
    for name, data in DAMAGED.items():
        (deadletters.dead_dir(spool_dir) / name).write_bytes(data)
    return spool_dir


def test_sync_lists_good_and_damaged_dead_letters(tmp_path: Path, server: BackgroundServer) -> None:
    spool_dir = spool_with_damage(tmp_path, server.url)
    result = CliRunner().invoke(main, ["sync", "--dir", str(spool_dir)])
    assert result.exit_code == 0, result.output
    assert "run gone: 1 batch, 0 values" in result.output
    for name in DAMAGED:
        assert f"damaged dead letter {str(deadletters.dead_dir(spool_dir) / name)!r}" in result.output
    assert "JSONDecodeError" in result.output and "UnicodeDecodeError" in result.output


def test_retry_skips_damaged_files_and_discard_deletes_them(tmp_path: Path, server: BackgroundServer) -> None:
    spool_dir = spool_with_damage(tmp_path, server.url)
    retried = CliRunner().invoke(main, ["sync", "--retry", "--dir", str(spool_dir)])
    assert "still refused: run gone batch w:1 (404" in retried.output  # tried, not stopped by the damaged files
    assert retried.exit_code == 1
    discarded = CliRunner().invoke(main, ["sync", "--discard", "--dir", str(spool_dir)])
    assert discarded.exit_code == 0, discarded.output
    assert f"discarded {1 + len(DAMAGED)} dead letters (0 values)" in discarded.output
    assert list(deadletters.dead_dir(spool_dir).iterdir()) == []


def test_discarding_one_runs_letters_keeps_the_damaged_files(tmp_path: Path, server: BackgroundServer) -> None:
    spool_dir = spool_with_damage(tmp_path, server.url)
    assert deadletters.discard(spool_dir, run_id="gone") == (1, 0)
    assert sorted(p.name for p, _ in deadletters.damaged(spool_dir)) == sorted(DAMAGED)
