"""Downsampling keeps every bucket's min, max and last point."""

from __future__ import annotations

import time

import numpy as np
import pytest

from rltrack.server.downsample import downsample_indices, window


def test_few_points_are_kept_whole() -> None:
    assert downsample_indices(np.arange(10.0), 2000).tolist() == list(range(10))


def test_extremes_and_last_survive() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(size=1_000_003)
    values[777_777] = 50.0
    values[3] = -50.0
    keep = downsample_indices(values, 2000)
    assert len(keep) <= 2000
    assert {3, 777_777, 1_000_002} <= set(keep.tolist())
    assert np.all(np.diff(keep) > 0)


def test_nan_never_hides_a_value() -> None:
    values = np.full(10_000, np.nan)
    values[5000] = 1.0
    keep = downsample_indices(values, 30)
    assert 5000 in keep.tolist() and 9999 in keep.tolist()


@pytest.mark.parametrize("max_points", [3, 4, 7, 2000])
def test_bound_holds_for_any_budget(max_points: int) -> None:
    assert len(downsample_indices(np.arange(12_345.0), max_points)) <= max_points


def test_one_million_points_downsample_fast() -> None:
    values = np.random.default_rng(1).normal(size=1_000_000)
    start = time.perf_counter()
    downsample_indices(values, 2000)
    assert time.perf_counter() - start < 0.2


def test_window_keeps_one_point_beyond_each_edge() -> None:
    x = np.arange(100)
    assert window(x, 10, 20) == (9, 22)
    assert window(x, None, None) == (0, 100)
    assert window(x, 500, 600) == (99, 100)
