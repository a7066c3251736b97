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
                "RLTRACK_URL", "RLTRACK_API_KEY", "RLTRACK_BLOBS", "RLTRACK_DB"):
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


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[object]:
    """A throwaway PostgreSQL server for the session (started on first use; see tests/pgcluster.py)."""
    import importlib.util

    # --import-mode=importlib: tests/ is not a package, so load the helper by its path.
    spec = importlib.util.spec_from_file_location("pgcluster", Path(__file__).with_name("pgcluster.py"))
    assert spec is not None and spec.loader is not None
    pgcluster = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pgcluster)
    PgCluster, find_bindir = pgcluster.PgCluster, pgcluster.find_bindir

    bindir = find_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (no initdb): apt-get install postgresql (scripts/setup.sh does)")
    cluster = PgCluster(bindir)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[None]:
    """A local Ray cluster (2 CPUs) for one test module, in a loopback-only network namespace (tests/rayloop.py)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("rayloop", Path(__file__).with_name("rayloop.py"))
    assert spec is not None and spec.loader is not None
    rayloop = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rayloop)
    with rayloop.loopback_ray(num_cpus=2):
        yield
