"""Sim-vs-real agreement across policy versions (checkpoints evaluated in both domains).

Each :class:`PolicyVersion` gives one checkpoint's training step and its per-episode returns in sim
and on the robot. Across versions, Pearson and Spearman correlations of the mean returns and
SIMPLER's MMRV say whether sim ranks policies as the robot does; per version, the return gap with
its bootstrap interval shows how the gap moves with training. The inputs are explicit so that any
source of checkpoints works: artifact lineage, a sweep, or a hand-made list.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from rltrack.sim2real import stats
from rltrack.sim2real.errors import GapError
from rltrack.sim2real.report import MeanGap, NotComputed, VersionGap, VersionPoint

__all__ = ["PolicyVersion", "compare_versions", "mean_gap"]


@dataclass(frozen=True, slots=True)
class PolicyVersion:
    """One checkpoint evaluated in both domains."""

    step: int
    """Training step at which the checkpoint was saved."""
    sim_returns: npt.ArrayLike
    """Per-episode returns of this checkpoint in simulation."""
    real_returns: npt.ArrayLike
    """Per-episode returns of this checkpoint on the robot."""
    name: str | None = None
    """Optional label (artifact version such as ``policy:v3``)."""


def mean_gap(
    measure: str, sim: npt.ArrayLike, real: npt.ArrayLike, *, n_boot: int, seed: int, notes: list[NotComputed]
) -> MeanGap | None:
    """Means, difference and bootstrap interval of one per-episode measure.

    Non-finite values are dropped (and noted). Returns ``None`` (with a note) when a side is empty;
    the interval is ``None`` (with a note) when there are too few episodes for it.
    """
    sim_a = np.asarray(sim, dtype=np.float64).ravel()
    real_a = np.asarray(real, dtype=np.float64).ravel()
    for side, array in (("sim", sim_a), ("real", real_a)):
        bad = int(np.count_nonzero(~np.isfinite(array)))
        if bad:
            notes.append(NotComputed(f"{measure}.{side}", f"dropped {bad} NaN or infinite values of {array.size}"))
    sim_a, real_a = sim_a[np.isfinite(sim_a)], real_a[np.isfinite(real_a)]
    if sim_a.size == 0 or real_a.size == 0:
        notes.append(NotComputed(measure, f"needs episodes on both sides, got sim={sim_a.size} real={real_a.size}"))
        return None
    low: float | None = None
    high: float | None = None
    try:
        low, high = stats.bootstrap_mean_diff(sim_a, real_a, n_boot=n_boot, seed=seed)
    except GapError as err:
        notes.append(NotComputed(f"{measure}.ci", str(err)))
    sim_mean, real_mean = float(sim_a.mean()), float(real_a.mean())
    return MeanGap(sim_mean, real_mean, real_mean - sim_mean, low, high, int(sim_a.size), int(real_a.size))


def _try(measure: str, fn: Callable[[], float], notes: list[NotComputed]) -> float | None:
    try:
        return fn()
    except GapError as err:
        notes.append(NotComputed(measure, str(err)))
        return None


def compare_versions(
    versions: Sequence[PolicyVersion], *, n_boot: int = 2000, seed: int = 0, notes: list[NotComputed] | None = None
) -> VersionGap | None:
    """Correlations, MMRV and the per-step gap across policy versions.

    Args:
        versions: Checkpoints with their sim and real returns, in any order (sorted by step here).
        n_boot: Bootstrap resamples for each version's gap interval.
        seed: Seed of the bootstrap.
        notes: List that collects what could not be computed and why.

    Returns:
        The cross-version report, or ``None`` when no version has returns on both sides.
    """
    notes = [] if notes is None else notes
    points: list[VersionPoint] = []
    for version in sorted(versions, key=lambda v: v.step):
        label = version.name or f"step {version.step}"
        gap = mean_gap(
            f"versions[{label}]", version.sim_returns, version.real_returns, n_boot=n_boot, seed=seed, notes=notes
        )
        if gap is not None:
            points.append(VersionPoint(step=int(version.step), name=version.name, gap=gap))
    if not points:
        notes.append(NotComputed("versions", f"no policy version has returns on both sides (got {len(versions)})"))
        return None
    sim_means = [p.gap.sim_mean or 0.0 for p in points]  # never None: mean_gap returned a gap
    real_means = [p.gap.real_mean or 0.0 for p in points]
    return VersionGap(
        n_versions=len(points),
        pearson=_try("versions.pearson", lambda: stats.pearson(sim_means, real_means), notes),
        spearman=_try("versions.spearman", lambda: stats.spearman(sim_means, real_means), notes),
        mmrv=_try("versions.mmrv", lambda: stats.mmrv(sim_means, real_means), notes),
        points=tuple(points),
    )
