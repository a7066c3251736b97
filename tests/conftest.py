"""Shared fixtures: an isolated store folder and a clean rltrack environment for every test."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

import rltrack

# A shell's background job (`bash .ci/run &`, nohup) starts with SIGINT ignored, and every child
# inherits that: the tests that stop a child with Ctrl-C (SIGINT) need a terminal's default.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # No test reads the developer's environment or writes into the working directory.
    for var in ("RLTRACK_DIR", "RLTRACK_PROJECT", "RLTRACK_MODE", "RLTRACK_RUN_ID", "RLTRACK_RESUME",
                "RLTRACK_URL", "RLTRACK_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    yield
    current = rltrack.run
    if current is not None:
        current.finish()


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    """A fresh, empty store folder."""
    return tmp_path / "store"
