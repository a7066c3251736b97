"""Statistics for the reality gap, on plain numpy arrays.

Every function takes 1-D arrays of finite floats and raises :class:`~rltrack.sim2real.errors.GapError`
with a one-line reason when a measure is undefined for its input (too few samples, NaN, constant
input, ...). :func:`rltrack.sim2real.compare` turns those reasons into the report's
``not_computed`` list. Differences are always ``real - sim``: a negative return gap means the
policy does worse on the robot than in simulation.

Example:
    >>> import numpy as np
    >>> from rltrack.sim2real import stats
    >>> stats.mmrv([1.0, 5.0, 3.0], [2.0, 3.0, 6.0])  # policy 2 and 3 swap places: |3 - 6|
    2.0
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from rltrack.sim2real.errors import GapError

__all__ = [
    "CI_LEVEL",
    "MIN_BOOTSTRAP_SAMPLES",
    "MIN_CORRELATION_POINTS",
    "Distances",
    "as_finite",
    "bootstrap_mean_diff",
    "distances",
    "distances_sorted",
    "dtw_batch",
    "dtw_batch_finite",
    "dtw_distance",
    "mmrv",
    "pearson",
    "rmse",
    "spearman",
]

FloatArray = npt.NDArray[np.float64]
ArrayLike = npt.ArrayLike

#: Confidence level of every bootstrap interval in a report.
CI_LEVEL = 0.95
#: Fewest samples per side for a bootstrap interval: below this the percentile interval of a
#: resampled mean is mostly an artefact of the few values present.
MIN_BOOTSTRAP_SAMPLES = 5
#: Fewest policy versions for a Pearson or Spearman correlation (two points always give +-1).
MIN_CORRELATION_POINTS = 3
# Bootstrap resamples are drawn in blocks of this many values so memory stays bounded for large n.
_BOOT_BLOCK_VALUES = 4_000_000
# scipy's ks_2samp computes an exact p-value up to this sample size (its MAX_AUTO_N) and uses the
# asymptotic Kolmogorov distribution above it; we follow the same split.
_KS_EXACT_MAX_N = 10_000
# Batch width of the DTW recursion: wide enough to amortise numpy's per-call overhead, small
# enough that the three diagonals stay in cache.
_DTW_BATCH = 1024


def as_finite(values: ArrayLike, *, name: str) -> FloatArray:
    """Return ``values`` as a 1-D float64 array, refusing NaN and infinities.

    Args:
        values: Anything numpy turns into a 1-D array of numbers.
        name: What the values are, for the error message.

    Returns:
        A 1-D float64 array (a copy only when a conversion is needed).

    Raises:
        GapError: The values are not 1-D numbers or contain NaN or infinity.
    """
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise GapError(f"{name} must be numbers, got {values!r:.80}; pass a 1-D sequence of floats") from err
    if array.ndim != 1:
        raise GapError(f"{name} must be 1-D, got shape {array.shape!r}; pass one value per sample")
    bad = int(np.count_nonzero(~np.isfinite(array)))
    if bad:
        raise GapError(f"{name} has {bad!r} NaN or infinite values of {array.size!r}; drop them first")
    return array


def bootstrap_mean_diff(
    sim: ArrayLike, real: ArrayLike, *, n_boot: int = 2000, seed: int = 0, level: float = CI_LEVEL
) -> tuple[float, float]:
    """Return the percentile bootstrap interval of ``mean(real) - mean(sim)``.

    Each resample draws both sides independently with replacement, so the interval reflects the
    sampling noise of both domains. The same ``seed`` always gives the same interval.

    Args:
        sim: Per-episode values in simulation.
        real: Per-episode values on the robot.
        n_boot: Number of bootstrap resamples.
        seed: Seed of the resampling generator.
        level: Confidence level, e.g. 0.95.

    Returns:
        ``(low, high)`` bounds of the interval.

    Raises:
        GapError: Either side has fewer than :data:`MIN_BOOTSTRAP_SAMPLES` values, holds NaN, or
            ``n_boot``/``level`` is out of range.
    """
    sim_a = as_finite(sim, name="sim values")
    real_a = as_finite(real, name="real values")
    if n_boot < 1:
        raise GapError(f"n_boot must be at least 1, got {n_boot!r}; pass e.g. n_boot=2000")
    if not 0.0 < level < 1.0:
        raise GapError(f"level must lie in (0, 1), got {level!r}; pass e.g. level=0.95")
    for side, array in (("sim", sim_a), ("real", real_a)):
        if array.size < MIN_BOOTSTRAP_SAMPLES:
            raise GapError(
                f"a bootstrap interval needs at least {MIN_BOOTSTRAP_SAMPLES} {side} episodes, got "
                f"{array.size!r}; record more episodes"
            )
    rng = np.random.default_rng(seed)
    diffs = _boot_means(real_a, n_boot, rng) - _boot_means(sim_a, n_boot, rng)
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(diffs, [alpha, 1.0 - alpha])
    return float(low), float(high)


def _boot_means(values: FloatArray, n_boot: int, rng: np.random.Generator) -> FloatArray:
    """Means of ``n_boot`` resamples of ``values``, drawn in bounded blocks."""
    n = values.size
    block = max(1, _BOOT_BLOCK_VALUES // n)
    means = np.empty(n_boot)
    for start in range(0, n_boot, block):
        stop = min(n_boot, start + block)
        idx = rng.integers(0, n, size=(stop - start, n))
        means[start:stop] = values[idx].mean(axis=1)
    return means


@dataclass(frozen=True, slots=True)
class Distances:
    """Distribution distances between the sim and real samples of one signal."""

    wasserstein: float
    """W1 distance in the signal's own units."""
    ks_statistic: float
    """Two-sample Kolmogorov-Smirnov statistic (largest gap between the two empirical CDFs)."""
    ks_p_value: float
    """Two-sided p-value of the KS statistic under "same distribution"."""


def distances(sim: ArrayLike, real: ArrayLike) -> Distances:
    """Return W1 and the two-sample KS test between two samples.

    W1 equals ``scipy.stats.wasserstein_distance(sim, real)`` and the KS statistic and p-value equal
    ``scipy.stats.ks_2samp(sim, real)`` (tested); both are computed from one shared sort so that
    large signals (hundreds of thousands of samples) stay fast.

    Raises:
        GapError: A side is empty or holds NaN.
    """
    sim_a = np.sort(as_finite(sim, name="sim samples"))
    real_a = np.sort(as_finite(real, name="real samples"))
    return distances_sorted(sim_a, real_a)


def distances_sorted(sim_sorted: FloatArray, real_sorted: FloatArray) -> Distances:
    """Like :func:`distances`, for finite samples that are already sorted ascending."""
    from scipy import stats as sps

    n_sim, n_real = sim_sorted.size, real_sorted.size
    if n_sim == 0 or n_real == 0:
        raise GapError(
            f"distribution distances need samples on both sides, got sim={n_sim!r} real={n_real!r}; "
            "log the signal under both sources"
        )
    w1 = _wasserstein_sorted(sim_sorted, real_sorted)
    ks = _ks_sorted(sim_sorted, real_sorted)
    if max(n_sim, n_real) <= _KS_EXACT_MAX_N:
        with warnings.catch_warnings():
            # scipy warns when its exact p-value recursion fails for some sample sizes and then
            # uses the asymptotic one itself; that fallback is what we want, the warning is noise.
            warnings.filterwarnings(
                "ignore", message="ks_2samp: Exact calculation unsuccessful", category=RuntimeWarning
            )
            p_value = float(sps.ks_2samp(sim_sorted, real_sorted).pvalue)
    else:
        # scipy's asymptotic branch of ks_2samp: Kolmogorov distribution at the effective n.
        big, small = max(n_sim, n_real), min(n_sim, n_real)
        p_value = float(sps.kstwo.sf(ks, np.round(big * small / (big + small))))
    return Distances(wasserstein=w1, ks_statistic=ks, ks_p_value=min(1.0, max(0.0, p_value)))


def _wasserstein_sorted(a: FloatArray, b: FloatArray) -> float:
    """W1 = integral of |F_a - F_b| over x, from sorted samples."""
    if a.size == b.size:
        # Equal sizes: the quantile functions are step functions on the same grid i/n, so the
        # integral of |Q_a - Q_b| over (0, 1) is the mean gap between order statistics.
        return float(np.mean(np.abs(a - b)))
    merged = np.concatenate([a, b])
    merged.sort(kind="stable")  # two sorted runs: a linear merge
    cdf_gap = np.abs(
        np.searchsorted(a, merged[:-1], side="right") / a.size - np.searchsorted(b, merged[:-1], side="right") / b.size
    )
    return float(np.dot(cdf_gap, np.diff(merged)))


def _cdf_at_own_points(a: FloatArray) -> FloatArray:
    """F_a(a[i]) for sorted ``a``: (i + 1) / n, or the last index of a tied value plus one."""
    if a.size > 1 and bool(np.any(a[1:] == a[:-1])):
        return np.searchsorted(a, a, side="right") / a.size
    return np.arange(1, a.size + 1) / a.size


def _ks_sorted(a: FloatArray, b: FloatArray) -> float:
    """Return max |F_a(x) - F_b(x)| over x: both CDFs jump only at sample points, so check those."""
    at_a = np.abs(_cdf_at_own_points(a) - np.searchsorted(b, a, side="right") / b.size)
    at_b = np.abs(_cdf_at_own_points(b) - np.searchsorted(a, b, side="right") / a.size)
    return float(max(at_a.max(), at_b.max()))


def rmse(a: ArrayLike, b: ArrayLike) -> float:
    """Return the root mean squared difference of two aligned series.

    Raises:
        GapError: The series differ in length, are empty, or hold NaN.
    """
    a_arr = as_finite(a, name="first series")
    b_arr = as_finite(b, name="second series")
    if a_arr.size != b_arr.size or a_arr.size == 0:
        raise GapError(
            f"RMSE needs two non-empty series of equal length, got {a_arr.size!r} and {b_arr.size!r}; "
            "align them first (rltrack.sim2real.align)"
        )
    return float(np.sqrt(np.mean((a_arr - b_arr) ** 2)))


def dtw_distance(a: ArrayLike, b: ArrayLike, *, window: int | None = None) -> float:
    """Return the dynamic time warping distance between two series.

    The cost of matching ``a[i]`` with ``b[j]`` is ``|a[i] - b[j]|``; the distance is the smallest
    total cost of a monotone path from ``(0, 0)`` to ``(n-1, m-1)`` moving by (1,0), (0,1) or
    (1,1). ``window`` restricts the path to the Sakoe-Chiba band ``|i - j| <= window``.

    Args:
        a: First series.
        b: Second series.
        window: Band half-width in samples, or ``None`` for no band.

    Raises:
        GapError: A series is empty or holds NaN, or the band cannot reach the end
            (``window < |n - m|``).
    """
    return float(dtw_batch([a], [b], window=window)[0])


def dtw_batch(a_list: Sequence[ArrayLike], b_list: Sequence[ArrayLike], *, window: int | None = None) -> FloatArray:
    """Return the DTW distance of each pair ``(a_list[k], b_list[k])`` (see :func:`dtw_distance`).

    The recursion runs along anti-diagonals of the cost matrix, vectorised over the cells of a
    diagonal and over up to 1024 pairs at once, so numpy does the O(n*m) work per pair.
    """
    if len(a_list) != len(b_list):
        raise GapError(f"dtw_batch needs as many b series as a series, got {len(a_list)!r} and {len(b_list)!r}")
    if window is not None and window < 0:
        raise GapError(f"DTW window must be >= 0 samples or None, got {window!r}")
    a_arrays = [as_finite(a, name="DTW series") for a in a_list]
    b_arrays = [as_finite(b, name="DTW series") for b in b_list]
    for a_arr, b_arr in zip(a_arrays, b_arrays, strict=True):
        if a_arr.size == 0 or b_arr.size == 0:
            raise GapError("DTW needs non-empty series; drop empty episodes first")
        if window is not None and abs(a_arr.size - b_arr.size) > window:
            raise GapError(
                f"DTW band {window!r} is narrower than the length difference {abs(a_arr.size - b_arr.size)!r}; "
                "widen the window"
            )
    return dtw_batch_finite(a_arrays, b_arrays, window=window)


def dtw_batch_finite(
    a_arrays: Sequence[FloatArray], b_arrays: Sequence[FloatArray], *, window: int | None = None
) -> FloatArray:
    """:func:`dtw_batch` without input checks, for callers that hold finite, non-empty float64 arrays.

    A pair whose length difference exceeds ``window`` gets ``inf``.
    """
    out = np.empty(len(a_arrays))
    for start in range(0, len(a_arrays), _DTW_BATCH):
        stop = start + _DTW_BATCH
        out[start:stop] = _dtw_block(list(a_arrays[start:stop]), list(b_arrays[start:stop]), window)
    return out


def _dtw_block(a_arrays: list[FloatArray], b_arrays: list[FloatArray], window: int | None) -> FloatArray:
    """DTW of one block of pairs, padded to common lengths (padding never reaches a pair's end)."""
    n = np.array([a.size for a in a_arrays])
    m = np.array([b.size for b in b_arrays])
    big_n, big_m, k = int(n.max()), int(m.max()), len(a_arrays)
    # Rows are series positions, columns are pairs: every diagonal slice is one contiguous block.
    a_mat = np.zeros((big_n, k))
    b_rev = np.zeros((big_m, k))  # b reversed, so cells of a diagonal are a contiguous slice
    for col, (a_arr, b_arr) in enumerate(zip(a_arrays, b_arrays, strict=True)):
        a_mat[: a_arr.size, col] = a_arr
        b_rev[big_m - b_arr.size :, col] = b_arr[::-1]
    # D has a virtual row/column 0 (D[0,0]=0, D[i,0]=D[0,j]=inf); diagonal d holds D[i, d-i] at row i.
    bufs = [np.full((big_n + 1, k), np.inf) for _ in range(3)]
    bufs[0][0] = 0.0
    work = np.empty((2, big_n, k))
    # Pair k's distance is D[n_k, m_k], on diagonal n_k + m_k: read it when that diagonal is done.
    ends, inverse = np.unique(n + m, return_inverse=True)
    finish = {int(d): np.flatnonzero(inverse == i) for i, d in enumerate(ends)}
    out = np.full(k, np.inf)
    prev2, prev1 = bufs[2], bufs[0]
    for d in range(1, big_n + big_m + 1):
        cur = bufs[d % 3]
        lo, hi = max(1, d - big_m), min(big_n, d - 1)
        if window is not None:
            lo, hi = max(lo, (d - window + 1) // 2), min(hi, (d + window) // 2)
        if lo <= hi:
            cost, best = work[0, : hi - lo + 1], work[1, : hi - lo + 1]
            np.subtract(a_mat[lo - 1 : hi], b_rev[big_m - d + lo : big_m - d + hi + 1], out=cost)
            np.abs(cost, out=cost)
            np.minimum(prev1[lo - 1 : hi], prev1[lo : hi + 1], out=best)
            np.minimum(best, prev2[lo - 1 : hi], out=best)
            np.add(best, cost, out=cur[lo : hi + 1])
        # Guards: the cells just outside this diagonal's range are read by the next two diagonals.
        if 0 <= lo - 1 <= big_n:
            cur[lo - 1] = np.inf
        if 0 <= hi + 1 <= big_n:
            cur[hi + 1] = np.inf
        done = finish.get(d)
        if done is not None:
            out[done] = cur[n[done], done]
        prev2, prev1 = prev1, cur
    return out


def _check_pairs(sim: ArrayLike, real: ArrayLike, minimum: int, what: str) -> tuple[FloatArray, FloatArray]:
    sim_a = as_finite(sim, name=f"{what} sim values")
    real_a = as_finite(real, name=f"{what} real values")
    if sim_a.size != real_a.size:
        raise GapError(f"{what} needs one sim and one real value per policy, got {sim_a.size!r} and {real_a.size!r}")
    if sim_a.size < minimum:
        raise GapError(f"{what} needs at least {minimum!r} policy versions, got {sim_a.size!r}")
    return sim_a, real_a


def pearson(sim: ArrayLike, real: ArrayLike) -> float:
    """Return Pearson's correlation of per-policy sim and real performance.

    Raises:
        GapError: Fewer than :data:`MIN_CORRELATION_POINTS` policies, or one side is constant.
    """
    sim_a, real_a = _check_pairs(sim, real, MIN_CORRELATION_POINTS, "Pearson correlation")
    _require_spread(sim_a, real_a, "Pearson correlation")
    sim_c, real_c = sim_a - sim_a.mean(), real_a - real_a.mean()
    r = float(np.sum(sim_c * real_c) / math.sqrt(float(np.sum(sim_c**2) * np.sum(real_c**2))))
    return max(-1.0, min(1.0, r))


def spearman(sim: ArrayLike, real: ArrayLike) -> float:
    """Return Spearman's rank correlation (Pearson on average ranks; ties share their mean rank).

    Raises:
        GapError: Fewer than :data:`MIN_CORRELATION_POINTS` policies, or one side is constant.
    """
    from scipy.stats import rankdata

    sim_a, real_a = _check_pairs(sim, real, MIN_CORRELATION_POINTS, "Spearman correlation")
    _require_spread(sim_a, real_a, "Spearman correlation")
    return pearson(rankdata(sim_a), rankdata(real_a))


def _require_spread(sim_a: FloatArray, real_a: FloatArray, what: str) -> None:
    for side, array in (("sim", sim_a), ("real", real_a)):
        if np.all(array == array[0]):
            raise GapError(f"{what} is undefined: every {side} value equals {float(array[0])!r}")


def mmrv(sim: ArrayLike, real: ArrayLike) -> float:
    """Return SIMPLER's mean maximum rank violation (Li et al. 2024, arXiv 2405.05941, eq. 1).

    For policies ``i, j`` with sim performance ``S`` and real performance ``R``::

        RankViolation(i, j) = |R_i - R_j| * 1[(S_i < S_j) != (R_i < R_j)]
        MMRV = (1/N) * sum_i max_j RankViolation(i, j)

    Each policy contributes its worst mis-ordering, weighted by how far apart the two policies
    really are; 0 means sim ranks every pair as the robot does. Comparisons are strict as in the
    paper, so a tie on one side against a strict order on the other counts as a violation.

    Raises:
        GapError: Fewer than two policies, unequal lengths or NaN.
    """
    sim_a, real_a = _check_pairs(sim, real, 2, "MMRV")
    order_differs = (sim_a[:, None] < sim_a[None, :]) != (real_a[:, None] < real_a[None, :])
    violation = np.abs(real_a[:, None] - real_a[None, :]) * order_differs
    return float(violation.max(axis=1).mean())
