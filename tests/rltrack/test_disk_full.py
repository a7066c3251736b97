"""Disk full with a backlog of millions of values (issue 19.7): what fits is stored, the rest is counted.

A real small filesystem (tmpfs, needs root) fills up; SQLite answers SQLITE_FULL. Without root the
same error comes from SQLite's own page limit (``PRAGMA max_page_count``) on the writer's connection.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import rltrack
from rltrack import _backlog
from rltrack.errors import RltrackWarning

CALLS = 500_000
SCALES = {"a": 1.0, "b": -1.0, "c": 2.0, "d": -2.0}  # four keys per call: a backlog of 2,000,000 values
LOGGED = CALLS * len(SCALES)


def _log(run: rltrack.Run, calls: int) -> None:
    for i in range(calls):
        x = float(i)
        run.log({"a": x, "b": -x, "c": 2.0 * x, "d": -2.0 * x}, step=i)  # never raises: training goes on


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(mount_point)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {done.stderr.decode().strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def _fill(folder: Path) -> list[Path]:
    """Take every free byte in 1 MiB files; deleting some of them gives that much space back."""
    files = []
    block = b"\0" * 65536
    while True:
        path = folder / f"filler-{len(files)}"
        files.append(path)
        with path.open("wb", buffering=0) as f:
            try:
                for _ in range(16):
                    f.write(block)
            except OSError:  # ENOSPC: the disk is full, which is the point
                return files


def _dropped(summary: dict[str, object]) -> dict[str, int]:
    return {k: int(v) for k, v in summary.items() if k.startswith("_rltrack/dropped/")}  # type: ignore[call-overload]


def _check_stored_plus_dropped_is_logged(store: Path, run_id: str, warned: str) -> tuple[int, dict[str, int]]:
    view = rltrack.Api(store).run(run_id)
    stored = 0
    for key, scale in SCALES.items():
        steps, _, values = view.series(key)
        np.testing.assert_array_equal(values, scale * steps)  # nothing torn or mixed up
        assert np.all(np.diff(steps) > 0)
        stored += steps.shape[0]
    dropped = _dropped(view.summary)
    assert stored + sum(dropped.values()) == LOGGED
    match = re.search(r"([\d,]+) logged values were not stored", warned)
    assert match and int(match.group(1).replace(",", "")) == sum(dropped.values())
    assert view.state == "finished"
    total = sum(dropped.values())
    assert view.reason == f"{total:,} logged values could not be stored (see _rltrack/dropped/* in summary)"
    return stored, dropped


def test_a_full_disk_with_millions_of_values_stores_what_fits_and_counts_the_rest(
    small_disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_backlog, "MAX_UNSAVED_VALUES", 1_500_000)  # the memory bound, small enough to reach here
    store = small_disk / "store"
    run = rltrack.init(project="full", dir=store, system_metrics=False, quiet=True)
    run.flush()
    fillers = _fill(small_disk)
    with pytest.warns(RltrackWarning, match="store-write failed"):
        _log(run, CALLS)
        run.flush()
    # Memory stayed bounded: the oldest values beyond the bound were given up and counted.
    assert run.summary["_rltrack/dropped/backlog-full"] >= LOGGED - 1_500_000
    assert sum(b.count for b in run._writer._unsaved) <= 1_500_000
    for path in fillers[:12]:  # 12 MiB come back: room for part of the 1.5 M values kept
        path.unlink()
    with pytest.warns(RltrackWarning, match="finished with data missing") as caught:
        run.finish()
    stored, dropped = _check_stored_plus_dropped_is_logged(store, run.id, str(caught[-1].message))
    assert stored >= 200_000  # the backlog went in pieces, not one transaction too big for the space
    assert dropped["_rltrack/dropped/unstored-at-finish"] > 0


def test_space_back_before_finish_stores_the_whole_backlog(small_disk: Path) -> None:
    store = small_disk / "store"
    run = rltrack.init(project="full", dir=store, system_metrics=False, quiet=True)
    run.flush()
    fillers = _fill(small_disk)
    with pytest.warns(RltrackWarning, match="store-write failed"):
        _log(run, 100_000)
        run.flush()
    for path in fillers:
        path.unlink()
    run.finish()
    view = rltrack.Api(store).run(run.id)
    for key, scale in SCALES.items():
        np.testing.assert_array_equal(view.series(key)[2], scale * np.arange(100_000.0))
    assert (view.state, view.reason) == ("finished", None)
    assert not _dropped(view.summary)
    assert view.summary["_rltrack/errors/store-write"] >= 1


def test_sqlite_full_from_the_page_limit_counts_what_did_not_fit(store_dir: Path) -> None:
    run = rltrack.init(project="full", dir=store_dir, system_metrics=False, quiet=True)
    run.flush()
    conn = run._store.db._conn  # type: ignore[attr-defined]  # the writer's own connection
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages + 1500}")  # ~6 MB more, then SQLITE_FULL
    with pytest.warns(RltrackWarning) as caught:
        _log(run, CALLS)
        run.finish()
    messages = [str(w.message) for w in caught]
    assert any("store-write failed" in m and "full" in m for m in messages), messages
    stored, dropped = _check_stored_plus_dropped_is_logged(store_dir, run.id, messages[-1])
    assert stored >= 100_000
    assert dropped["_rltrack/dropped/unstored-at-finish"] > 0
