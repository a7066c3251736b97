"""Trajectory error over paired episodes: RMSE after alignment and DTW, per signal.

Episodes pair up when both sides logged the same ``episode/seed`` (or ``episode/tag``) value; if
one side repeated a seed, its first episode with that seed is used. Within a pair, RMSE compares
the aligned samples (equal step offsets, or time offsets with interpolation) and DTW compares the
whole episodes with a Sakoe-Chiba band of :data:`DTW_WINDOW_FRACTION` of the longer episode.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from rltrack.sim2real import stats
from rltrack.sim2real.align import AlignOn, Series, align, episode_bounds
from rltrack.sim2real.errors import GapError
from rltrack.sim2real.report import PairedGap
from rltrack.sim2real.sides import PAIR_KEYS, Side

__all__ = ["DTW_WINDOW_FRACTION", "Pairs", "pair_episodes", "paired_gap"]

IntArray = npt.NDArray[np.int64]
#: DTW band half-width as a fraction of the longer episode (Sakoe and Chiba's 10 %): it keeps DTW
#: from matching far-apart instants and makes it O(n * window) instead of O(n * m).
DTW_WINDOW_FRACTION = 0.1


@dataclass(frozen=True, slots=True)
class Pairs:
    """Episode indices paired between the sides, and the key that paired them."""

    key: str
    sim_episode: IntArray
    real_episode: IntArray
    sim_ends: IntArray
    real_ends: IntArray

    def __len__(self) -> int:
        return int(self.sim_episode.size)


def _episode_ids(side: Side, key: str, ends: IntArray) -> npt.NDArray[np.float64]:
    ids = np.full(ends.size, np.nan)
    series = side.episodes[key]
    idx = np.searchsorted(ends, series.step)
    on_end = idx < ends.size
    on_end[on_end] = ends[idx[on_end]] == series.step[on_end]
    if not bool(on_end.all()):
        raise GapError(
            f"{key!r} under {side.source!r} of run {side.run!r} is logged at steps with no episode end "
            "(episode/length); log it in the same call as the episode summary"
        )
    ids[idx] = series.value
    return ids


def pair_episodes(sim: Side, real: Side) -> Pairs:
    """Pair sim and real episodes by reset seed or initial-state tag.

    Raises:
        GapError: No pairing key on both sides, no episode ends, or no value in common.
    """
    key = next((k for k in PAIR_KEYS if k in sim.episodes and k in real.episodes), None)
    if key is None:
        raise GapError(
            f"no paired episodes: {' or '.join(repr(k) for k in PAIR_KEYS)} must be logged on both sides "
            f"(sim {sim.source!r}, real {real.source!r}) with each episode summary"
        )
    sim_ends, real_ends = sim.end_steps(), real.end_steps()
    sim_ids, real_ids = _episode_ids(sim, key, sim_ends), _episode_ids(real, key, real_ends)
    sim_u, sim_first = np.unique(sim_ids[np.isfinite(sim_ids)], return_index=True)
    real_u, real_first = np.unique(real_ids[np.isfinite(real_ids)], return_index=True)
    _, si, ri = np.intersect1d(sim_u, real_u, assume_unique=True, return_indices=True)
    if si.size == 0:
        raise GapError(f"no paired episodes: no {key!r} value occurs on both sides")
    sim_eps = np.flatnonzero(np.isfinite(sim_ids))[sim_first[si]]
    real_eps = np.flatnonzero(np.isfinite(real_ids))[real_first[ri]]
    return Pairs(key, sim_eps.astype(np.int64), real_eps.astype(np.int64), sim_ends, real_ends)


def _samples_by_pair(series: Series, ends: IntArray, episodes: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """For each sample: its pair index (-1 if its episode is unpaired) and its step offset."""
    starts, stops = episode_bounds(series.step, ends)
    lens = stops - starts
    total = int(stops[-1]) if stops.size else 0
    episode_of = np.repeat(np.arange(ends.size), lens)
    first_step = series.step[np.minimum(starts, max(len(series) - 1, 0))] if len(series) else starts
    offset = series.step[:total] - np.repeat(first_step, lens)
    pair_of_episode = np.full(ends.size, -1, dtype=np.int64)
    pair_of_episode[episodes] = np.arange(episodes.size)
    return pair_of_episode[episode_of], offset, np.arange(total)


def _rmse_on_step(sim: Series, real: Series, pairs: Pairs) -> tuple[npt.NDArray[np.float64], int]:
    sp, so, si = _samples_by_pair(sim, pairs.sim_ends, pairs.sim_episode)
    rp, ro, ri = _samples_by_pair(real, pairs.real_ends, pairs.real_episode)
    width = int(max(so.max(initial=0), ro.max(initial=0))) + 1
    keep_s, keep_r = sp >= 0, rp >= 0
    sim_code = sp[keep_s] * width + so[keep_s]
    real_code = rp[keep_r] * width + ro[keep_r]
    _, ia, ib = np.intersect1d(sim_code, real_code, return_indices=True)
    diff = sim.value[si[keep_s][ia]] - real.value[ri[keep_r][ib]]
    pair = sim_code[ia] // width
    counts = np.bincount(pair, minlength=len(pairs))
    sums = np.bincount(pair, weights=diff * diff, minlength=len(pairs))
    with np.errstate(invalid="ignore", divide="ignore"):
        per_pair = np.sqrt(sums / counts)
    return per_pair[counts > 0], int(diff.size)


def _episode_slices(series: Series, ends: IntArray, episodes: IntArray) -> list[Series]:
    starts, stops = episode_bounds(series.step, ends)
    return [series.slice(int(starts[e]), int(stops[e])) for e in episodes]


def _rmse_on_time(sims: list[Series], reals: list[Series]) -> tuple[npt.NDArray[np.float64], int]:
    out, n = [], 0
    for a, b in zip(sims, reals, strict=True):
        av, bv = align(a, b, on="t_ns")
        if av.size:
            out.append(float(np.sqrt(np.mean((av - bv) ** 2))))
            n += int(av.size)
    return np.asarray(out), n


def _dtw(sims: Sequence[Series], reals: Sequence[Series]) -> npt.NDArray[np.float64]:
    usable = [(a.value, b.value) for a, b in zip(sims, reals, strict=True) if len(a) and len(b)]
    groups: dict[int, list[tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]]] = {}
    for a, b in usable:
        window = max(math.ceil(DTW_WINDOW_FRACTION * max(a.size, b.size)), abs(a.size - b.size))
        groups.setdefault(window, []).append((a, b))
    parts = [stats.dtw_batch([a for a, _ in g], [b for _, b in g], window=w) for w, g in groups.items()]
    return np.concatenate(parts) if parts else np.empty(0)


def paired_gap(key: str, real_key: str, sim: Series, real: Series, pairs: Pairs, *, on: AlignOn) -> PairedGap:
    """RMSE and DTW of one signal over the paired episodes (non-finite samples dropped first).

    Raises:
        GapError: No pair has samples of this signal on both sides.
    """
    sim, real = sim.finite(), real.finite()
    sims = _episode_slices(sim, pairs.sim_ends, pairs.sim_episode)
    reals = _episode_slices(real, pairs.real_ends, pairs.real_episode)
    if on == "step":
        per_pair, n_samples = _rmse_on_step(sim, real, pairs)
    else:
        per_pair, n_samples = _rmse_on_time(sims, reals)
    if per_pair.size == 0:
        raise GapError(
            f"no paired episode has {key!r} samples at matching {on} offsets on both sides; "
            "check the key mapping and the align mode"
        )
    dtw = _dtw(sims, reals)
    return PairedGap(
        key=key,
        real_key=real_key,
        n_pairs=int(per_pair.size),
        n_samples=n_samples,
        rmse=float(per_pair.mean()),
        dtw=float(dtw.mean()) if dtw.size else None,
    )
