from __future__ import annotations

import numpy as np
import pytest
from rltrack.sim2real.align import Series, align, episode_bounds
from rltrack.sim2real.errors import GapError


def test_episode_bounds_cut_after_each_summary_step() -> None:
    # Samples at steps 0..9; episodes end (summary logged) at steps 3 and 7; 8, 9 are unfinished.
    starts, stops = episode_bounds(np.arange(10), np.array([3, 7]))
    assert starts.tolist() == [0, 4]
    assert stops.tolist() == [4, 8]


def test_episode_bounds_empty_episode_has_empty_slice() -> None:
    starts, stops = episode_bounds(np.array([0, 1, 5, 6]), np.array([1, 3, 6]))
    assert list(zip(starts.tolist(), stops.tolist(), strict=True)) == [(0, 2), (2, 2), (2, 4)]


def test_episode_bounds_unsorted_ends_raise() -> None:
    with pytest.raises(GapError, match="sorted ascending"):
        episode_bounds(np.arange(5), np.array([4, 2]))


def test_series_of_sorts_by_step() -> None:
    s = Series.of([2, 0, 1], [20, 0, 10], [2.0, 0.0, 1.0])
    assert s.step.tolist() == [0, 1, 2]
    assert s.value.tolist() == [0.0, 1.0, 2.0]


def test_series_of_mismatched_lengths_raises() -> None:
    with pytest.raises(GapError, match="equal length"):
        Series.of([0, 1], [0, 1], [1.0])


def test_align_on_step_offsets_matches_episode_starts() -> None:
    a = Series.of([10, 11, 12, 13], [0, 1, 2, 3], [1.0, 2.0, 3.0, 4.0])
    b = Series.of([100, 101, 103], [0, 1, 3], [5.0, 6.0, 8.0])  # offset 2 missing on b
    av, bv = align(a, b, on="step")
    assert av.tolist() == [1.0, 2.0, 4.0]
    assert bv.tolist() == [5.0, 6.0, 8.0]


def test_align_on_step_absolute_uses_raw_steps() -> None:
    a = Series.of([0, 1, 2], [0, 0, 0], [1.0, 2.0, 3.0])
    b = Series.of([1, 2, 3], [0, 0, 0], [7.0, 8.0, 9.0])
    av, bv = align(a, b, on="step", relative=False)
    assert (av.tolist(), bv.tolist()) == ([2.0, 3.0], [7.0, 8.0])


def test_align_on_time_interpolates_inside_overlap() -> None:
    origin = 1_795_753_601_920_616_844  # epoch-scale ns: float64 alone would lose the last digits
    a = Series.of([0, 1, 2, 3], [origin, origin + 10, origin + 20, origin + 30], [0.0, 1.0, 2.0, 3.0])
    b = Series.of([0, 1, 2], [origin + 7, origin + 27, origin + 47], [0.0, 20.0, 40.0])  # b[t] = t
    av, bv = align(a, b, on="t_ns")
    assert av.tolist() == [0.0, 1.0, 2.0, 3.0]
    np.testing.assert_allclose(bv, [0.0, 10.0, 20.0, 30.0])


def test_align_on_time_absolute_keeps_only_overlap() -> None:
    a = Series.of([0, 1, 2], [0, 10, 20], [0.0, 1.0, 2.0])
    b = Series.of([0, 1], [10, 30], [5.0, 7.0])
    av, bv = align(a, b, on="t_ns", relative=False)
    assert (av.tolist(), bv.tolist()) == ([1.0, 2.0], [5.0, 6.0])


def test_align_unknown_mode_raises() -> None:
    a = Series.of([0], [0], [0.0])
    with pytest.raises(GapError, match="'time'"):
        align(a, a, on="time")  # type: ignore[arg-type]  # checked at runtime
