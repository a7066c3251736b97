"""The histograms route: one key's rltrack.Histogram files as counts by step on one common set of bins."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import rltrack
from rltrack.server import create_app
from rltrack.server.routes_histograms import GRID_BINS, rebin


def test_rebin_moves_counts_by_overlap_and_keeps_the_total() -> None:
    counts = np.array([4.0, 2.0])
    out = rebin(counts, np.array([0.0, 1.0, 2.0]), np.array([-1.0, 0.5, 1.5, 3.0]))
    assert out.tolist() == [2.0, 3.0, 1.0]  # half of bin 0, half of each, half of bin 1
    assert out.sum() == counts.sum()


@pytest.fixture
def logged(tmp_path: Path) -> tuple[Path, str]:
    run = rltrack.init(project="h", dir=tmp_path, system_metrics=False)
    rng = np.random.default_rng(0)
    for n, step in enumerate([0, 10, 20]):
        run.log({"weights/actor": rltrack.Histogram(rng.normal(n, 1, size=500), num_bins=16)}, step=step)
    run.log({"weights/fixed": rltrack.Histogram(([1, 2, 3], [0.0, 1.0, 2.0, 4.0]))}, step=5)
    run.finish()
    return tmp_path, run.id


def test_histograms_over_steps_on_common_bins(logged: tuple[Path, str], make_client: Callable[..., Any]) -> None:
    root, run_id = logged
    with make_client(create_app(root)) as client:
        data = client.get(f"/api/runs/{run_id}/histograms", params={"key": "weights/actor"}).json()
        assert data["steps"] == [0, 10, 20] and data["skipped"] == 0
        assert len(data["edges"]) == GRID_BINS + 1
        assert [round(sum(row)) for row in data["counts"]] == [500, 500, 500]
        assert [len(h["counts"]) for h in data["histograms"]] == [16, 16, 16]  # each step as logged
        # The common bins span every step's range: the last step's mean (2) sits right of the first's (0).
        centers = (np.array(data["edges"][:-1]) + np.array(data["edges"][1:])) / 2
        means = [float((centers * np.array(row)).sum() / sum(row)) for row in data["counts"]]
        assert means[0] < means[1] < means[2]
        fixed = client.get(f"/api/runs/{run_id}/histograms", params={"key": "weights/fixed"}).json()
        assert fixed["histograms"] == [{"counts": [1.0, 2.0, 3.0], "edges": [0.0, 1.0, 2.0, 4.0]}]
        missing = client.get(f"/api/runs/{run_id}/histograms", params={"key": "weights/none"})
        assert missing.status_code == 404
        assert "no histograms under key 'weights/none'" in missing.json()["detail"]


def test_unreadable_histogram_files_are_counted_not_fatal(
    logged: tuple[Path, str], make_client: Callable[..., Any]
) -> None:
    root, run_id = logged
    with make_client(create_app(root)) as client:
        first = client.get(f"/api/runs/{run_id}/media", params={"key": "weights/actor"}).json()[0]
        (root / "runs" / run_id / first["path"]).write_text("not json", encoding="utf-8")
        data = client.get(f"/api/runs/{run_id}/histograms", params={"key": "weights/actor"}).json()
        assert data["steps"] == [10, 20] and data["skipped"] == 1
