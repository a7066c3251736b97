from __future__ import annotations

import numpy as np
import pytest
from rltrack.sim2real.errors import GapError
from rltrack.sim2real.timing import loop_timing

PERIOD_NS = 10_000_000  # 100 Hz


def test_regular_stream_has_nominal_rate_and_no_drops() -> None:
    t = 1_700_000_000_000_000_000 + PERIOD_NS * np.arange(500)
    timing = loop_timing("joint_states/velocity/0", t)
    assert timing.rate_hz == pytest.approx(100.0)
    assert timing.period_mean_s == pytest.approx(0.01)
    assert timing.jitter_s == 0.0
    assert (timing.dropped_estimate, timing.n_messages, timing.n_intervals) == (0, 500, 499)


def test_gap_counts_dropped_messages() -> None:
    t = PERIOD_NS * np.arange(300)
    t = np.delete(t, [50, 51, 52, 200])  # 3 missing in a row, then 1
    timing = loop_timing("odom/twist/linear/x", t)
    assert timing.dropped_estimate == 4
    assert timing.period_median_s == pytest.approx(0.01)


def test_jitter_is_std_of_intervals() -> None:
    # Intervals alternate 9 ms and 11 ms: mean 10 ms, std ~1 ms.
    intervals = np.tile([9_000_000, 11_000_000], 100)
    t = np.concatenate([[0], np.cumsum(intervals)])
    timing = loop_timing("k", t)
    assert timing.period_mean_s == pytest.approx(0.01)
    assert timing.jitter_s == pytest.approx(np.std(intervals * 1e-9, ddof=1))
    assert timing.dropped_estimate == 0


def test_intervals_across_episode_boundaries_are_left_out() -> None:
    t = np.concatenate([PERIOD_NS * np.arange(100), 5_000_000_000 + PERIOD_NS * np.arange(100)])
    whole = loop_timing("k", t)
    per_episode = loop_timing("k", t, starts=[0, 100], stops=[100, 200])
    assert whole.dropped_estimate > 0
    assert per_episode.dropped_estimate == 0
    assert per_episode.n_intervals == 198


def test_too_few_messages_raise() -> None:
    with pytest.raises(GapError, match="at least 2 message intervals, got 1"):
        loop_timing("k", [0, 10])


def test_duplicated_stamps_raise() -> None:
    with pytest.raises(GapError, match="median interval 0 ns"):
        loop_timing("k", [5, 5, 5, 5, 6])
