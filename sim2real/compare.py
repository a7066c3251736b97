"""Compare a sim run with a real run: every gap measure, in one :class:`GapReport`.

``compare(sim, real)`` reads two runs (or the ``sim`` and ``real`` sources of one run) through
the read API and hands them to :func:`compare_sides`, which works on loaded arrays. Bad data
(no shared keys, an empty side, NaN, too few episodes) never raises: the report leaves the
measure out and says why under ``not_computed``. Only wrong arguments raise.

Example:
    >>> from rltrack.sim2real import compare
    >>> report = compare("a1b2c3", dir="rltrack-runs")  # doctest: +SKIP
    >>> print(report.table())  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from rltrack.sim2real import stats
from rltrack.sim2real.align import AlignOn, Series
from rltrack.sim2real.deployed import N_BOOT, SEED, select_sim
from rltrack.sim2real.errors import GapError
from rltrack.sim2real.paired import DTW_WINDOW_FRACTION, PairBy, PairedSignals, Pairs, pair_episodes
from rltrack.sim2real.report import GapReport, Histogram, NotComputed, PairedGap, Settings, SideInfo, SignalGap
from rltrack.sim2real.sides import (
    EPISODE_LENGTH,
    EPISODE_RETURN,
    EPISODE_SUCCESS,
    Boundaries,
    RunLike,
    Side,
    is_signal_key,
    load_side,
    resolve_run,
)
from rltrack.sim2real.timing import LoopTiming, loop_timing
from rltrack.sim2real.versions import PolicyVersion, compare_versions, mean_gap

if TYPE_CHECKING:
    from rltrack.api import Api

__all__ = ["HISTOGRAM_BINS", "compare", "compare_sides"]

#: Bins of the per-signal histograms kept in the report for plotting.
HISTOGRAM_BINS = 40
#: A stream with fewer messages than this is not timed as a control loop (its rate would be noise).
MIN_LOOP_MESSAGES = 20
# Signals with fewer samples than this (summed over keys) are compared serially.
_PARALLEL_MIN_SAMPLES = 1_000_000
_MAX_WORKERS = 8


def _key_pairs(
    sim: Side, real: Side, keys: Sequence[str] | None, mapping: Mapping[str, str], notes: list[NotComputed]
) -> list[tuple[str, str]]:
    """``(sim_key, real_key)`` of the signals to compare."""
    candidates = list(keys) if keys is not None else sorted(sim.signals)
    pairs = []
    for key in candidates:
        real_key = mapping.get(key, key)
        if key not in sim.signals:
            notes.append(
                NotComputed(f"signals[{key}]", f"not logged under sim source {sim.source!r} of run {sim.run!r}")
            )
        elif real_key not in real.signals:
            notes.append(NotComputed(f"signals[{key}]", f"{real_key!r} not logged under real source {real.source!r}"))
        else:
            pairs.append((key, real_key))
    if not pairs and keys is None:
        notes.append(
            NotComputed(
                "signals",
                (
                    f"no shared signal keys: sim has {sorted(sim.signals)[:8]!r}, "
                    f"real has {sorted(real.signals)[:8]!r}; "
                    "pass mapping={sim_key: real_key} to pair differently named keys"
                ),
            )
        )
    return pairs


def _histogram(sim_sorted: np.ndarray, real_sorted: np.ndarray) -> Histogram:
    low = float(min(sim_sorted[0], real_sorted[0]))
    high = float(max(sim_sorted[-1], real_sorted[-1]))
    if high <= low:
        low, high = low - 0.5, high + 0.5
    edges = np.linspace(low, high, HISTOGRAM_BINS + 1)
    width = edges[1] - edges[0]

    def density(sorted_values: np.ndarray) -> tuple[float, ...]:
        idx = np.searchsorted(sorted_values, edges, side="left")
        idx[-1] = sorted_values.size  # last bin is closed, as in np.histogram
        return tuple((np.diff(idx) / (sorted_values.size * width)).tolist())

    return Histogram(tuple(edges.tolist()), density(sim_sorted), density(real_sorted))


def _signal_gap(key: str, real_key: str, sim: Series, real: Series, notes: list[NotComputed]) -> SignalGap:
    measure = f"signals[{key}]"
    sim_v, real_v = sim.value, real.value
    sim_ok, real_ok = np.isfinite(sim_v), np.isfinite(real_v)
    sim_s, real_s = np.sort(sim_v[sim_ok]), np.sort(real_v[real_ok])
    for side, ok in (("sim", sim_ok), ("real", real_ok)):
        if not bool(ok.all()):
            notes.append(NotComputed(f"{measure}.{side}", f"dropped {int(ok.size - ok.sum())} NaN or infinite samples"))
    w1 = w1n = ks = ks_p = None
    hist = None
    try:
        dist = stats.distances_sorted(sim_s, real_s)
        w1, ks, ks_p = dist.wasserstein, dist.ks_statistic, dist.ks_p_value
        hist = _histogram(sim_s, real_s)
        sim_std = float(sim_s.std(ddof=1)) if sim_s.size > 1 else 0.0
        if sim_std > 0.0:
            w1n = w1 / sim_std
        else:
            notes.append(NotComputed(f"{measure}.wasserstein_norm", f"sim std is 0 over {sim_s.size} samples"))
    except GapError as err:
        notes.append(NotComputed(measure, str(err)))

    def moments(values: np.ndarray) -> tuple[float | None, float | None]:
        if values.size == 0:
            return None, None
        return float(values.mean()), float(values.std(ddof=1)) if values.size > 1 else None

    (sim_mean, sim_sd), (real_mean, real_sd) = moments(sim_s), moments(real_s)
    return SignalGap(
        key=key,
        real_key=real_key,
        n_sim=int(sim_s.size),
        n_real=int(real_s.size),
        n_nonfinite_sim=int(sim_ok.size - sim_s.size),
        n_nonfinite_real=int(real_ok.size - real_s.size),
        sim_mean=sim_mean,
        real_mean=real_mean,
        sim_std=sim_sd,
        real_std=real_sd,
        wasserstein=w1,
        wasserstein_norm=w1n,
        ks_statistic=ks,
        ks_p_value=ks_p,
        histogram=hist,
    )


def _timing(real: Side, real_keys: Sequence[str], notes: list[NotComputed]) -> list[LoopTiming]:
    try:
        bounds: Boundaries | None = real.boundaries()
    except GapError:
        bounds = None  # no episodes: time the whole stream
    out = []
    for key in real_keys:
        series = real.signals[key]
        if len(series) < MIN_LOOP_MESSAGES:
            notes.append(
                NotComputed(f"timing[{key}]", f"{len(series)} messages; a control loop needs {MIN_LOOP_MESSAGES}")
            )
            continue
        try:
            starts, stops = bounds.bounds(series) if bounds is not None else (None, None)
            out.append(loop_timing(key, series.t_ns, starts=starts, stops=stops))
        except GapError as err:
            notes.append(NotComputed(f"timing[{key}]", str(err)))
    return out


def _pairing(
    sim: Side, real: Side, key_pairs: list[tuple[str, str]], on: AlignOn, by: PairBy, notes: list[NotComputed]
) -> tuple[Pairs | None, PairedSignals | None]:
    if not key_pairs:
        notes.append(NotComputed("paired", "no shared signal keys to compare over paired episodes"))
        return None, None
    try:
        pairs = pair_episodes(sim, real, by=by)
    except GapError as err:
        notes.append(NotComputed("paired", str(err)))
        return None, None
    return pairs, PairedSignals(pairs, on=on)


def _key_task(
    sim: Series, real: Series, key: str, real_key: str, paired: PairedSignals | None
) -> tuple[SignalGap, PairedGap | None, list[NotComputed]]:
    """Every per-signal measure of one key: one unit of (possibly parallel) work with its own notes."""
    notes: list[NotComputed] = []
    signal = _signal_gap(key, real_key, sim, real, notes)
    gap = None
    if paired is not None:
        try:
            gap = paired.gap(key, real_key, sim, real)
        except GapError as err:
            notes.append(NotComputed(f"paired[{key}]", str(err)))
    return signal, gap, notes


def _workers(sim: Side, key_pairs: list[tuple[str, str]]) -> int:
    # numpy releases the GIL in sorts, searchsorted and ufunc loops, so large signals compare in
    # parallel threads; small ones stay serial, where a pool costs more than it saves.
    samples = sum(len(sim.signals[k]) for k, _ in key_pairs)
    if samples < _PARALLEL_MIN_SAMPLES:
        return 1
    return max(1, min(len(key_pairs), os.cpu_count() or 1, _MAX_WORKERS))


def _per_key(
    sim: Side, real: Side, key_pairs: list[tuple[str, str]], paired: PairedSignals | None, notes: list[NotComputed]
) -> tuple[tuple[SignalGap, ...], tuple[PairedGap, ...]]:
    def task(pair: tuple[str, str]) -> tuple[SignalGap, PairedGap | None, list[NotComputed]]:
        return _key_task(sim.signals[pair[0]], real.signals[pair[1]], pair[0], pair[1], paired)

    workers = _workers(sim, key_pairs)
    if workers > 1:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rltrack-sim2real") as pool:
            results = list(pool.map(task, key_pairs))  # in key order: the report does not depend on timing
    else:
        results = [task(pair) for pair in key_pairs]
    for _, _, key_notes in results:
        notes.extend(key_notes)
    return tuple(r[0] for r in results), tuple(r[1] for r in results if r[1] is not None)


def compare_sides(
    sim: Side,
    real: Side,
    *,
    keys: Sequence[str] | None = None,
    mapping: Mapping[str, str] | None = None,
    n_boot: int = N_BOOT,
    seed: int = SEED,
    versions: Sequence[PolicyVersion] | None = None,
    align: AlignOn = "step",
    pair_by: PairBy = "seed",
    sim_description: str | None = None,
) -> GapReport:
    """Compute the gap report from two loaded sides (see :func:`compare` for the arguments).

    ``sim_description`` says which sim episodes ``sim`` holds (:func:`~rltrack.sim2real.deployed.select_sim`
    writes it); by default the report says they are all the side's episodes.

    Raises:
        GapError: ``n_boot``, ``align`` or ``pair_by`` is invalid.
    """
    if not isinstance(n_boot, int) or n_boot < 1:
        raise GapError(f"n_boot must be a positive int, got {n_boot!r}; pass e.g. n_boot=2000")
    if align not in ("step", "t_ns"):
        raise GapError(f"align must be 'step' or 't_ns', got {align!r}")
    if pair_by not in ("seed", "order"):
        raise GapError(f"pair_by must be 'seed' or 'order', got {pair_by!r}")
    notes: list[NotComputed] = []
    gaps = {
        name: mean_gap(name, sim.episode_values(key), real.episode_values(key), n_boot=n_boot, seed=seed, notes=notes)
        for name, key in (
            ("episodes.return", EPISODE_RETURN),
            ("episodes.success_rate", EPISODE_SUCCESS),
            ("episodes.length", EPISODE_LENGTH),
        )
    }
    key_pairs = _key_pairs(sim, real, keys, mapping or {}, notes)
    pairs, paired_measure = _pairing(sim, real, key_pairs, align, pair_by, notes)
    signals, paired = _per_key(sim, real, key_pairs, paired_measure, notes)
    timing_keys = [rk for _, rk in key_pairs] if key_pairs else sorted(real.signals)
    if not timing_keys:
        notes.append(NotComputed("timing", f"no signals under real source {real.source!r} of run {real.run!r}"))
    version_gap = None
    if versions is None:
        notes.append(NotComputed("versions", "no policy versions given (pass versions=[PolicyVersion(...), ...])"))
    else:
        version_gap = compare_versions(versions, n_boot=n_boot, seed=seed, notes=notes)
    n_sim, n_real = int(sim.end_steps().size), int(real.end_steps().size)
    if sim_description is None:
        sim_description = f"sim: all {n_sim} episodes given"
    return GapReport(
        sim=SideInfo(sim.run, sim.source, n_sim, sim_description),
        real=SideInfo(real.run, real.source, n_real, f"real: {n_real} episodes"),
        settings=Settings(n_boot, seed, stats.CI_LEVEL, align, DTW_WINDOW_FRACTION),
        episode_return=gaps["episodes.return"],
        success_rate=gaps["episodes.success_rate"],
        episode_length=gaps["episodes.length"],
        signals=signals,
        n_pairs=0 if pairs is None else len(pairs),
        pair_key=None if pairs is None else pairs.key,
        paired=paired,
        timing=tuple(_timing(real, timing_keys, notes)),
        versions=version_gap,
        not_computed=tuple(notes),
    )


def _source(view: RunLike, wanted: str, *, strict: bool) -> str:
    sources = [str(s) for s in view.sources]
    if wanted in sources or strict or len(sources) != 1:
        return wanted
    return sources[0]  # a run with one source (a robot-only run): that source is its real side


def compare(
    sim: str | RunLike,
    real: str | RunLike | None = None,
    *,
    keys: Sequence[str] | None = None,
    mapping: Mapping[str, str] | None = None,
    n_boot: int = N_BOOT,
    seed: int = SEED,
    versions: Sequence[PolicyVersion] | None = None,
    align: AlignOn = "step",
    pair_by: PairBy = "seed",
    sources: tuple[str, str] = ("sim", "real"),
    policy_step: int | None = None,
    api: Api | None = None,
    dir: str | Path | None = None,
) -> GapReport:
    """Measure the reality gap between a sim run and a real run.

    Args:
        sim: Run id or read view (``rltrack.Api(dir).run(id)``) of the simulated side.
        real: Run id or read view of the real side; ``None`` compares the ``sim`` and ``real``
            sources of the same run.
        keys: Signal keys (sim-side names) to compare; ``None`` compares every shared telemetry key
            (not episode summaries, the training loggers' ``eval/``, ``rollout/``, ``train/``,
            ``time/`` aggregates, ``system/`` or internal keys). The real side's control loop is
            timed over the same keys, each with at least :data:`MIN_LOOP_MESSAGES` messages.
        mapping: ``{sim_key: real_key}`` for signals named differently on the two sides.
        n_boot: Bootstrap resamples for every confidence interval.
        seed: Seed of the bootstrap, so a report is reproducible.
        versions: Policy versions evaluated in both domains, for the cross-version measures.
        align: Align paired episodes on ``"step"`` offsets or ``"t_ns"`` time offsets (use
            ``"t_ns"`` for ROS data, where many messages share a step).
        pair_by: Pair episodes by equal ``episode/seed`` (or ``episode/tag``) values, or by
            their ``"order"`` on each side.
        sources: Source names of the sim and real sides. A separate real run with a single
            source uses that source whatever its name.
        policy_step: Training step of the policy the robot ran; default: what the real run
            (else the sim run) records. The sim side is that checkpoint's episodes (see
            :func:`~rltrack.sim2real.deployed.select_sim`), stated in ``report.sim.description``.
        api: Read API that resolves run ids (keyword-only); default ``rltrack.Api(dir=dir)``.
        dir: Store root used when ``api`` is not given; default ``$RLTRACK_DIR`` or
            ``./rltrack-runs``.

    Returns:
        The report; measures that could not be computed are ``None`` and listed with the reason
        in ``not_computed``.

    Raises:
        RunNotFoundError: A run id does not exist in the store.
        GapError: An argument is invalid (``n_boot``, ``align``, ``pair_by``).
    """
    sim_view = resolve_run(sim, api=api, dir=dir)
    real_view = sim_view if real is None else resolve_run(real, api=api, dir=dir)
    sim_source = _source(sim_view, sources[0], strict=real is None)
    real_source = _source(real_view, sources[1], strict=real is None)
    mapping = dict(mapping or {})
    chosen = select_sim(
        sim_view, None if real is None else real_view, source=sim_source, real_source=real_source,
        policy_step=policy_step,
    )  # fmt: skip
    sim_view = chosen.view
    sim_keys = set(sim_view.keys(sim_source)) if sim_source in sim_view.sources else set()
    real_keys = set(real_view.keys(real_source)) if real_source in real_view.sources else set()
    wanted: list[str] | None = (
        list(keys) if keys is not None else [k for k in sim_keys if is_signal_key(k) and mapping.get(k, k) in real_keys]
    )
    if not wanted:
        wanted = None  # nothing shared: load all signals so the report can name them (and time them)
    sim_side = load_side(sim_view, sim_source, signal_keys=wanted) if sim_keys else Side(str(sim_view.id), sim_source)
    real_wanted = [mapping.get(k, k) for k in wanted] if wanted else None
    real_side = (
        load_side(real_view, real_source, signal_keys=real_wanted)
        if real_keys
        else Side(str(real_view.id), real_source)
    )
    report = compare_sides(
        sim_side,
        real_side,
        keys=keys,
        mapping=mapping,
        n_boot=n_boot,
        seed=seed,
        versions=versions,
        align=align,
        pair_by=pair_by,
        sim_description=chosen.description,
    )
    if not real_keys:
        missing = NotComputed("real", f"run {real_view.id!r} has no data under source {real_source!r}")
        report = _with_note(report, missing)
    if not sim_keys:
        report = _with_note(report, NotComputed("sim", f"run {sim_view.id!r} has no data under source {sim_source!r}"))
    return report


def _with_note(report: GapReport, note: NotComputed) -> GapReport:
    from dataclasses import replace

    return replace(report, not_computed=(note, *report.not_computed))
