"""Trajectory error over paired episodes: RMSE after alignment and DTW, per signal.

Episodes pair up when both sides logged the same ``episode/seed`` (or ``episode/tag``) value; if
one side repeated a seed, its first episode with that seed is used. Within a pair, RMSE compares
the aligned samples (equal step offsets, or time offsets with interpolation) and DTW compares the
whole episodes with a Sakoe-Chiba band of :data:`DTW_WINDOW_FRACTION` of the longer episode.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from rltrack.sim2real import stats
from rltrack.sim2real.align import AlignOn, Series, align
from rltrack.sim2real.errors import GapError
from rltrack.sim2real.report import PairedGap
from rltrack.sim2real.sides import PAIR_KEYS, Boundaries, Side

__all__ = ["DTW_WINDOW_FRACTION", "PairBy", "PairedSignals", "Pairs", "pair_episodes"]

IntArray = npt.NDArray[np.int64]
PairBy = Literal["seed", "order"]
#: DTW band half-width as a fraction of the longer episode (Sakoe and Chiba's 10 %): it keeps DTW
#: from matching far-apart instants and makes it O(n * window) instead of O(n * m).
DTW_WINDOW_FRACTION = 0.1


@dataclass(frozen=True, slots=True)
class Pairs:
    """Episode indices paired between the sides, and the key that paired them."""

    key: str
    sim_episode: IntArray
    real_episode: IntArray
    sim_bounds: Boundaries
    real_bounds: Boundaries

    def __len__(self) -> int:
        return int(self.sim_episode.size)


def _episode_ids(side: Side, key: str, bounds: Boundaries) -> npt.NDArray[np.float64]:
    ids = np.full(len(bounds), np.nan)
    series = side.episodes[key]
    at = bounds.coordinate(series)
    idx = np.searchsorted(bounds.ends, at)
    on_end = idx < bounds.ends.size
    on_end[on_end] = bounds.ends[idx[on_end]] == at[on_end]
    if not bool(on_end.all()):
        raise GapError(
            f"{key!r} under {side.source!r} of run {side.run!r} is logged where no episode ends "
            "(episode/length); log it in the same call as the episode summary"
        )
    ids[idx] = series.value
    return ids


def pair_episodes(sim: Side, real: Side, *, by: PairBy = "seed") -> Pairs:
    """Pair sim and real episodes by reset seed or initial-state tag, or by their order.

    Args:
        sim: The sim side.
        real: The real side.
        by: ``"seed"`` pairs episodes with equal ``episode/seed`` (or ``episode/tag``) values;
            ``"order"`` pairs the k-th sim episode with the k-th real one, for recordings that
            ran the same start states in the same order but could not log them (a robot).

    Raises:
        GapError: No pairing key on both sides, no episode ends, or no value in common.
    """
    if by not in ("seed", "order"):
        raise GapError(f"pair_by must be 'seed' or 'order', got {by!r}")
    if by == "order":
        sim_bounds, real_bounds = sim.boundaries(), real.boundaries()
        n = min(len(sim_bounds), len(real_bounds))
        order = np.arange(n, dtype=np.int64)
        return Pairs("episode order", order, order.copy(), sim_bounds, real_bounds)
    key = next((k for k in PAIR_KEYS if k in sim.episodes and k in real.episodes), None)
    if key is None:
        raise GapError(
            f"no paired episodes: {' or '.join(repr(k) for k in PAIR_KEYS)} must be logged on both sides "
            f"(sim {sim.source!r}, real {real.source!r}) with each episode summary"
        )
    sim_bounds, real_bounds = sim.boundaries(), real.boundaries()
    sim_ids, real_ids = _episode_ids(sim, key, sim_bounds), _episode_ids(real, key, real_bounds)
    sim_u, sim_first = np.unique(sim_ids[np.isfinite(sim_ids)], return_index=True)
    real_u, real_first = np.unique(real_ids[np.isfinite(real_ids)], return_index=True)
    _, si, ri = np.intersect1d(sim_u, real_u, assume_unique=True, return_indices=True)
    if si.size == 0:
        raise GapError(f"no paired episodes: no {key!r} value occurs on both sides")
    sim_eps = np.flatnonzero(np.isfinite(sim_ids))[sim_first[si]]
    real_eps = np.flatnonzero(np.isfinite(real_ids))[real_first[ri]]
    return Pairs(key, sim_eps.astype(np.int64), real_eps.astype(np.int64), sim_bounds, real_bounds)


@dataclass(frozen=True, slots=True)
class _Layout:
    """Where the paired episodes sit in one side's step-sorted series."""

    series: Series
    starts: IntArray  # per pair: first sample index of its episode on this side
    stops: IntArray
    pair_of_sample: IntArray  # for samples [0, total): pair index, or -1 when unpaired
    offset: IntArray  # for samples [0, total): step minus the episode's first step
    repeated: bool  # some step holds two samples


def _layout(series: Series, bounds: Boundaries, episodes: IntArray) -> _Layout:
    step = series.step
    starts, stops = bounds.bounds(series)
    lens = stops - starts
    total = int(stops[-1]) if stops.size else 0
    first_step = step[np.minimum(starts, max(step.size - 1, 0))] if step.size else starts
    pair_of_episode = np.full(len(bounds), -1, dtype=np.int64)
    pair_of_episode[episodes] = np.arange(episodes.size)
    return _Layout(
        series=series,
        starts=starts[episodes],
        stops=stops[episodes],
        pair_of_sample=np.repeat(pair_of_episode, lens),
        offset=step[:total] - np.repeat(first_step, lens),
        repeated=bool(np.any(np.diff(step) == 0)),
    )


class _Layouts:
    """Per-side layout cache: keys logged in one ``log()`` call share their steps and times."""

    def __init__(self, bounds: Boundaries, episodes: IntArray) -> None:
        self._bounds, self._episodes = bounds, episodes
        self._last: _Layout | None = None

    def get(self, series: Series) -> _Layout:
        last = self._last
        if last is None or not (
            np.array_equal(last.series.step, series.step) and np.array_equal(last.series.t_ns, series.t_ns)
        ):
            last = self._last = _layout(series, self._bounds, self._episodes)
        return last


@dataclass(frozen=True, slots=True)
class _Match:
    """Samples at equal (pair, step offset) on both sides: indices into each series."""

    sim_index: IntArray
    real_index: IntArray
    pair: IntArray


def _match_on_step(sl: _Layout, rl: _Layout) -> _Match:
    width = int(max(sl.offset.max(initial=0), rl.offset.max(initial=0))) + 1
    keep_s, keep_r = np.flatnonzero(sl.pair_of_sample >= 0), np.flatnonzero(rl.pair_of_sample >= 0)
    sim_code = sl.pair_of_sample[keep_s] * width + sl.offset[keep_s]
    real_code = rl.pair_of_sample[keep_r] * width + rl.offset[keep_r]
    cells = int(sl.starts.size) * width
    if not (sl.repeated or rl.repeated) and cells <= 4 * (sim_code.size + real_code.size):
        # Dense (pair, offset) grid of sample indices: a linear scatter instead of a sort.
        grid_s, grid_r = np.full(cells, -1, dtype=np.int64), np.full(cells, -1, dtype=np.int64)
        grid_s[sim_code], grid_r[real_code] = keep_s, keep_r
        both = np.flatnonzero((grid_s >= 0) & (grid_r >= 0))
        return _Match(grid_s[both], grid_r[both], both // width)
    # Sparse offsets or repeated steps: intersect1d keeps each code's first sample.
    _, ia, ib = np.intersect1d(sim_code, real_code, return_indices=True)
    return _Match(keep_s[ia], keep_r[ib], sim_code[ia] // width)


def _rmse_on_step(sim: Series, real: Series, match: _Match, n_pairs: int) -> tuple[npt.NDArray[np.float64], int]:
    diff = sim.value[match.sim_index] - real.value[match.real_index]
    counts = np.bincount(match.pair, minlength=n_pairs)
    sums = np.bincount(match.pair, weights=diff * diff, minlength=n_pairs)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_pair = np.sqrt(sums / counts)
    return per_pair[counts > 0], int(diff.size)


def _rmse_on_time(sim: Series, real: Series, sl: _Layout, rl: _Layout) -> tuple[npt.NDArray[np.float64], int]:
    out, n = [], 0
    for s0, s1, r0, r1 in zip(sl.starts, sl.stops, rl.starts, rl.stops, strict=True):
        av, bv = align(sim.slice(int(s0), int(s1)), real.slice(int(r0), int(r1)), on="t_ns")
        if av.size:
            out.append(float(np.sqrt(np.mean((av - bv) ** 2))))
            n += int(av.size)
    return np.asarray(out), n


def _dtw(sim: Series, real: Series, sl: _Layout, rl: _Layout) -> npt.NDArray[np.float64]:
    groups: dict[int, tuple[list[npt.NDArray[np.float64]], list[npt.NDArray[np.float64]]]] = {}
    for s0, s1, r0, r1 in zip(
        sl.starts.tolist(), sl.stops.tolist(), rl.starts.tolist(), rl.stops.tolist(), strict=True
    ):
        n, m = s1 - s0, r1 - r0
        if n and m:
            window = max(math.ceil(DTW_WINDOW_FRACTION * max(n, m)), abs(n - m))
            a_list, b_list = groups.setdefault(window, ([], []))
            a_list.append(sim.value[s0:s1])
            b_list.append(real.value[r0:r1])
    parts = [stats.dtw_batch_finite(a, b, window=w) for w, (a, b) in groups.items()]
    return np.concatenate(parts) if parts else np.empty(0)


class PairedSignals:
    """Computes :class:`PairedGap` per signal, reusing episode layouts across keys."""

    def __init__(self, pairs: Pairs, *, on: AlignOn) -> None:
        self._pairs, self._on = pairs, on
        self._sim = _Layouts(pairs.sim_bounds, pairs.sim_episode)
        self._real = _Layouts(pairs.real_bounds, pairs.real_episode)
        self._match: tuple[_Layout, _Layout, _Match] | None = None
        self._lock = threading.Lock()  # gap() may run in several threads; the caches are shared

    def _matched(self, sl: _Layout, rl: _Layout) -> _Match:
        cached = self._match
        if cached is None or cached[0] is not sl or cached[1] is not rl:
            cached = self._match = (sl, rl, _match_on_step(sl, rl))
        return cached[2]

    def gap(self, key: str, real_key: str, sim: Series, real: Series) -> PairedGap:
        """RMSE and DTW of one signal over the paired episodes (non-finite samples dropped first).

        Raises:
            GapError: No pair has samples of this signal on both sides.
        """
        sim, real = sim.finite(), real.finite()
        with self._lock:
            sl, rl = self._sim.get(sim), self._real.get(real)
            match = self._matched(sl, rl) if self._on == "step" else None
        if match is not None:
            per_pair, n_samples = _rmse_on_step(sim, real, match, len(self._pairs))
        else:
            per_pair, n_samples = _rmse_on_time(sim, real, sl, rl)
        if per_pair.size == 0:
            raise GapError(
                f"no paired episode has {key!r} samples at matching {self._on} offsets on both sides; "
                "check the key mapping and the align mode"
            )
        dtw = _dtw(sim, real, sl, rl)
        return PairedGap(
            key=key,
            real_key=real_key,
            n_pairs=int(per_pair.size),
            n_samples=n_samples,
            rmse=float(per_pair.mean()),
            dtw=float(dtw.mean()) if dtw.size else None,
        )
