from __future__ import annotations

import math

import numpy as np
import pytest
from rltrack.sim2real import stats
from rltrack.sim2real.errors import GapError
from scipy import stats as sps


def naive_dtw(a: list[float], b: list[float], window: int | None = None) -> float:
    d = np.full((len(a) + 1, len(b) + 1), np.inf)
    d[0, 0] = 0.0
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            if window is None or abs(i - j) <= window:
                d[i, j] = abs(a[i - 1] - b[j - 1]) + min(d[i - 1, j], d[i, j - 1], d[i - 1, j - 1])
    return float(d[-1, -1])


# --- bootstrap interval of the mean difference -------------------------------------------------


def test_bootstrap_identical_samples_interval_is_zero() -> None:
    values = np.random.default_rng(1).normal(size=50)
    low, high = stats.bootstrap_mean_diff(values, values.copy(), n_boot=500, seed=0)
    assert low <= 0.0 <= high


def test_bootstrap_same_distribution_interval_contains_zero() -> None:
    rng = np.random.default_rng(2)
    low, high = stats.bootstrap_mean_diff(rng.normal(size=400), rng.normal(size=400), n_boot=2000, seed=0)
    assert low < 0.0 < high


def test_bootstrap_shift_interval_contains_shift_and_excludes_zero() -> None:
    rng = np.random.default_rng(3)
    sim = rng.normal(size=2000)
    real = rng.normal(size=2000) - 1.0
    low, high = stats.bootstrap_mean_diff(sim, real, n_boot=2000, seed=0)
    assert high < 0.0
    assert low < -1.0 < high


def test_bootstrap_same_seed_gives_same_interval() -> None:
    rng = np.random.default_rng(4)
    sim, real = rng.normal(size=30), rng.normal(size=40)
    assert stats.bootstrap_mean_diff(sim, real, seed=7) == stats.bootstrap_mean_diff(sim, real, seed=7)


def test_bootstrap_too_few_episodes_raises() -> None:
    with pytest.raises(GapError, match="at least 5 real episodes, got 3"):
        stats.bootstrap_mean_diff(np.ones(10), np.ones(3))


def test_bootstrap_nan_raises() -> None:
    with pytest.raises(GapError, match="1 NaN or infinite values"):
        stats.bootstrap_mean_diff([1.0, 2.0, np.nan, 4.0, 5.0, 6.0], np.ones(6))


# --- W1 and KS ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n_sim", "n_real", "ties"),
    [(1, 1, False), (7, 3, False), (200, 150, True), (300, 300, True), (300, 300, False),
     (30_000, 20_000, False), (20_000, 30_000, True), (20_000, 20_000, True)],
)
def test_distances_match_scipy(n_sim: int, n_real: int, ties: bool) -> None:
    rng = np.random.default_rng(n_sim + n_real)
    sim, real = rng.normal(size=n_sim), rng.normal(0.3, 1.5, size=n_real)
    if ties:
        sim, real = np.round(sim, 1), np.round(real, 1)
    got = stats.distances(sim, real)
    ks = sps.ks_2samp(sim, real)
    assert got.wasserstein == pytest.approx(sps.wasserstein_distance(sim, real), rel=1e-9, abs=1e-12)
    assert got.ks_statistic == pytest.approx(ks.statistic, abs=1e-12)
    assert got.ks_p_value == pytest.approx(ks.pvalue, rel=1e-6, abs=1e-300)


@pytest.mark.parametrize("bias", [-2.5, 0.01, 3.0])
def test_known_bias_gives_wasserstein_equal_to_abs_bias(bias: float) -> None:
    sim = np.random.default_rng(5).normal(size=5000)
    assert stats.distances(sim, sim + bias).wasserstein == pytest.approx(abs(bias), rel=1e-9)


def test_same_samples_have_zero_distances() -> None:
    sim = np.random.default_rng(6).normal(size=1000)
    got = stats.distances(sim, sim.copy())
    assert (got.wasserstein, got.ks_statistic, got.ks_p_value) == (0.0, 0.0, 1.0)


def test_scale_change_gives_expected_ks_statistic() -> None:
    # N(0, 1) vs N(0, s^2): same mean, so a mean test sees nothing, but the CDFs differ by
    # D = max_x |Phi(x) - Phi(x / s)|, reached at x = s * sqrt(2 ln s / (s^2 - 1)).
    s, n = 2.0, 40_000
    rng = np.random.default_rng(7)
    sim, real = rng.normal(size=n), rng.normal(scale=s, size=n)
    x = s * math.sqrt(2 * math.log(s) / (s * s - 1))
    expected = sps.norm.cdf(x) - sps.norm.cdf(x / s)
    got = stats.distances(sim, real)
    assert got.ks_statistic == pytest.approx(expected, abs=0.015)
    assert got.ks_p_value < 1e-12
    low, high = stats.bootstrap_mean_diff(sim, real, n_boot=500)
    assert low < 0.0 < high


def test_same_distribution_ks_is_not_significant() -> None:
    rng = np.random.default_rng(8)
    got = stats.distances(rng.normal(size=3000), rng.normal(size=3000))
    assert got.ks_p_value > 0.05
    assert got.wasserstein < 0.1


def test_distances_empty_side_raises() -> None:
    with pytest.raises(GapError, match="sim=3 real=0"):
        stats.distances([1.0, 2.0, 3.0], [])


# --- RMSE and DTW -------------------------------------------------------------------------------


def test_rmse_hand_computed() -> None:
    assert stats.rmse([0.0, 1.0, 2.0, 3.0], [1.0, 1.0, 2.0, 1.0]) == pytest.approx(math.sqrt((1 + 0 + 0 + 4) / 4))


def test_rmse_mismatched_lengths_raises() -> None:
    with pytest.raises(GapError, match="equal length, got 3 and 2"):
        stats.rmse([1.0, 2.0, 3.0], [1.0, 2.0])


def test_dtw_hand_computed() -> None:
    # |a_i - b_j| for a=[1,3,4], b=[1,2,4]:  [[0,1,3],[2,1,1],[3,2,0]]
    # cumulative D: [[0,1,4],[2,1,2],[5,3,1]] -> 1, along (0,0),(1,1),(2,2).
    assert stats.dtw_distance([1.0, 3.0, 4.0], [1.0, 2.0, 4.0]) == 1.0


def test_dtw_warps_repeated_samples_to_zero() -> None:
    a, b = [0.0, 0.0, 1.0, 2.0], [0.0, 1.0, 2.0, 2.0]
    assert stats.dtw_distance(a, b) == 0.0
    # A zero-width band forbids warping: lockstep |0-0|+|0-1|+|1-2|+|2-2| = 2.
    assert stats.dtw_distance(a, b, window=0) == 2.0


def test_dtw_unequal_lengths_hand_computed() -> None:
    # a=[0,2], b=[1]: both a samples must match b's only sample: |0-1| + |2-1| = 2.
    assert stats.dtw_distance([0.0, 2.0], [1.0]) == 2.0


@pytest.mark.parametrize("window", [None, 0, 2, 5])
def test_dtw_batch_matches_naive_recursion(window: int | None) -> None:
    rng = np.random.default_rng(9)
    a_list, b_list = [], []
    for _ in range(40):
        n = int(rng.integers(1, 15))
        m = n if window == 0 else int(rng.integers(max(1, n - (window or 20)), n + (window or 20) + 1))
        a_list.append(rng.normal(size=n).tolist())
        b_list.append(rng.normal(size=m).tolist())
    got = stats.dtw_batch(a_list, b_list, window=window)
    want = [naive_dtw(a, b, window) for a, b in zip(a_list, b_list, strict=True)]
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_dtw_band_narrower_than_length_difference_raises() -> None:
    with pytest.raises(GapError, match="narrower than the length difference 3"):
        stats.dtw_distance([1.0] * 5, [1.0] * 2, window=2)


# --- across policy versions ---------------------------------------------------------------------

SIM = [0.1, 0.5, 0.3, 0.9]
REAL = [0.2, 0.4, 0.6, 0.8]


def test_mmrv_hand_computed() -> None:
    # Sim orders p0 < p2 < p1 < p3, the robot p0 < p1 < p2 < p3: only (p1, p2) is swapped, by
    # |0.4 - 0.6| = 0.2. Max violations per policy: [0, 0.2, 0.2, 0] -> mean 0.1.
    assert stats.mmrv(SIM, REAL) == pytest.approx(0.1)


def test_mmrv_is_zero_when_ranks_agree() -> None:
    assert stats.mmrv([1.0, 2.0, 3.0], [10.0, 20.0, 35.0]) == 0.0


def test_mmrv_tie_in_sim_against_strict_real_order_is_a_violation() -> None:
    # Sim cannot tell the three apart, the robot can. With the paper's 1[(S_i<S_j) != (R_i<R_j)]:
    # p0's worst is vs p2 (|0-3|=3), p1's vs p2 (2), p2 has none -> (3 + 2 + 0) / 3.
    assert stats.mmrv([0.0, 0.0, 0.0], [0.0, 1.0, 3.0]) == pytest.approx(5 / 3)


def test_pearson_hand_computed() -> None:
    # deviations: sim [-.35,.05,-.15,.45], real [-.3,-.1,.1,.3]; sum of products .22,
    # sums of squares .35 and .2 -> r = .22 / sqrt(.07).
    assert stats.pearson(SIM, REAL) == pytest.approx(0.22 / math.sqrt(0.07))


def test_spearman_hand_computed() -> None:
    # ranks sim [1,3,2,4], real [1,2,3,4]; sum d^2 = 2 -> 1 - 6*2 / (4*(16-1)) = 0.8.
    assert stats.spearman(SIM, REAL) == pytest.approx(0.8)


def test_correlation_of_constant_side_raises() -> None:
    with pytest.raises(GapError, match=r"every real value equals 1\.0"):
        stats.pearson([1.0, 2.0, 3.0], [1.0, 1.0, 1.0])


def test_correlation_needs_three_versions() -> None:
    with pytest.raises(GapError, match="at least 3 policy versions, got 2"):
        stats.spearman([1.0, 2.0], [1.0, 2.0])
