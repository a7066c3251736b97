"""Paired-episode measures on sides built from arrays: layouts, sparse steps, repeated steps."""

from __future__ import annotations

import numpy as np
import pytest
from rltrack.sim2real import Series, Side, compare_sides
from rltrack.sim2real.errors import GapError
from rltrack.sim2real.paired import PairedSignals, pair_episodes


def side(name: str, episodes: list[tuple[int, list[int], list[float]]], *, gap: int = 5) -> Side:
    """Episodes as (seed, step offsets, values), logged back to back with a summary after each."""
    steps, values, ends, seeds = [], [], [], []
    base = 0
    for seed, offsets, vals in episodes:
        steps += [base + o for o in offsets]
        values += vals
        ends.append(base + max(offsets) + 1)
        seeds.append(float(seed))
        base = ends[-1] + gap
    t = [10 * s for s in steps]
    series = {
        "x": Series.of(steps, t, values),
        "episode/length": Series.of(ends, [10 * e for e in ends], [float(len(o)) for _, o, _ in episodes]),
        "episode/seed": Series.of(ends, [10 * e for e in ends], seeds),
    }
    return Side.of("r", name, series)


def test_pairs_follow_seeds_not_order() -> None:
    sim = side("sim", [(7, [0, 1], [0.0, 0.0]), (3, [0, 1], [1.0, 1.0])])
    real = side("real", [(3, [0, 1], [1.0, 2.0]), (9, [0, 1], [5.0, 5.0]), (7, [0, 1], [0.0, 0.0])])
    pairs = pair_episodes(sim, real)
    assert pairs.key == "episode/seed"
    assert list(zip(pairs.sim_episode.tolist(), pairs.real_episode.tolist(), strict=True)) == [(1, 0), (0, 2)]


def test_rmse_is_mean_of_per_pair_rmse() -> None:
    sim = side("sim", [(1, [0, 1, 2, 3], [0.0, 0.0, 0.0, 0.0]), (2, [0, 1], [0.0, 0.0])])
    real = side("real", [(1, [0, 1, 2, 3], [1.0, 1.0, 1.0, 1.0]), (2, [0, 1], [3.0, 3.0])])
    gap = PairedSignals(pair_episodes(sim, real), on="step").gap("x", "x", sim.signals["x"], real.signals["x"])
    assert (gap.rmse, gap.n_pairs, gap.n_samples) == (2.0, 2, 6)
    # DTW per pair: 4 * |0 - 1| and 2 * |0 - 3|, mean (4 + 6) / 2.
    assert gap.dtw == 5.0


@pytest.mark.parametrize("stride", [1, 10])
def test_sparse_and_dense_step_offsets_agree(stride: int) -> None:
    rng = np.random.default_rng(stride)
    sim_eps = [(s, [stride * i for i in range(20)], rng.normal(size=20).tolist()) for s in range(6)]
    real_eps = [(s, [stride * i for i in range(0, 20, 2)], rng.normal(size=10).tolist()) for s in range(6)]
    sim, real = side("sim", sim_eps), side("real", real_eps)
    gap = PairedSignals(pair_episodes(sim, real), on="step").gap("x", "x", sim.signals["x"], real.signals["x"])
    want = np.mean(
        [np.sqrt(np.mean((np.array(a[2])[::2] - np.array(b[2])) ** 2)) for a, b in zip(sim_eps, real_eps, strict=True)]
    )
    assert gap.rmse == pytest.approx(want)
    assert gap.n_samples == 60


def test_repeated_steps_use_the_first_sample() -> None:
    sim = side("sim", [(1, [0, 1, 1, 2], [0.0, 1.0, 9.0, 2.0])])
    real = side("real", [(1, [0, 1, 2], [0.0, 1.0, 2.0])])
    gap = PairedSignals(pair_episodes(sim, real), on="step").gap("x", "x", sim.signals["x"], real.signals["x"])
    assert (gap.rmse, gap.n_samples) == (0.0, 3)


def test_time_alignment_interpolates_between_rates() -> None:
    # sim at 10 ns per step; real at 20 ns per sample with the same underlying ramp value = t.
    sim = side("sim", [(1, list(range(10)), [10.0 * i for i in range(10)])])
    real_series = side("real", [(1, list(range(0, 10, 2)), [10.0 * i for i in range(0, 10, 2)])])
    pairs = pair_episodes(sim, real_series)
    gap = PairedSignals(pairs, on="t_ns").gap("x", "x", sim.signals["x"], real_series.signals["x"])
    assert gap.rmse == pytest.approx(0.0)
    assert gap.n_samples == 9  # sim offsets 0..80 ns lie inside real's 0..80 ns span


def test_signal_without_overlap_raises() -> None:
    sim = side("sim", [(1, [0, 1], [0.0, 0.0])])
    real = side("real", [(1, [5, 6], [0.0, 0.0])])
    real = Side.of("r", "real", {**real.episodes, "x": Series.of([], [], [])})
    with pytest.raises(GapError, match="no paired episode has 'x' samples"):
        PairedSignals(pair_episodes(sim, real), on="step").gap("x", "x", sim.signals["x"], real.signals["x"])


def test_compare_sides_on_arrays_is_deterministic() -> None:
    rng = np.random.default_rng(0)
    eps = [(s, list(range(30)), rng.normal(size=30).tolist()) for s in range(8)]
    sim, real = side("sim", eps), side("real", [(s, o, (np.array(v) + 0.5).tolist()) for s, o, v in eps])
    first = compare_sides(sim, real, n_boot=100).to_json()
    assert compare_sides(sim, real, n_boot=100).to_json() == first
    (signal,) = compare_sides(sim, real, n_boot=100).signals
    assert signal.wasserstein == pytest.approx(0.5)


def test_parallel_and_serial_reports_are_identical(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    compare_module = importlib.import_module("rltrack.sim2real.compare")  # the package exports the function

    rng = np.random.default_rng(1)
    eps = [(s, list(range(40)), rng.normal(size=40).tolist()) for s in range(10)]
    series = {}
    for k in range(6):
        base = side("sim", [(s, o, (np.array(v) * (k + 1)).tolist()) for s, o, v in eps])
        series[f"x{k}"] = base.signals["x"]
    sim = Side.of("r", "sim", {**base.episodes, **series})
    real = Side.of(
        "r", "real", {**base.episodes, **{k: Series.of(v.step, v.t_ns, v.value + 0.1) for k, v in series.items()}}
    )
    serial = compare_sides(sim, real, n_boot=100).to_json()
    monkeypatch.setattr(compare_module, "_PARALLEL_MIN_SAMPLES", 0)
    assert compare_module._workers(sim, [(k, k) for k in series]) > 1 or (compare_module.os.cpu_count() or 1) == 1
    assert compare_sides(sim, real, n_boot=100).to_json() == serial


def test_robot_summaries_at_one_step_are_cut_by_time() -> None:
    # The ROS mirror logs every real episode summary at the deployed checkpoint's training step;
    # the episodes are then cut by the summaries' t_ns.
    sim = side("sim", [(s, list(range(10)), [float(s)] * 10) for s in range(3)])
    steps = list(range(30))
    t = [100 * i for i in range(30)]
    ends_t = [950, 1950, 2950]
    real = Side.of(
        "r",
        "real",
        {
            "x": Series.of(steps, t, [float(i // 10) + 0.5 for i in range(30)]),
            "episode/length": Series.of([5000] * 3, ends_t, [10.0] * 3),
            "episode/seed": Series.of([5000] * 3, ends_t, [0.0, 1.0, 2.0]),
        },
    )
    assert real.boundaries().axis == "t_ns"
    report = compare_sides(sim, real, n_boot=100)
    (paired,) = report.paired
    assert (report.n_pairs, paired.rmse, paired.n_samples) == (3, 0.5, 30)
    (timing,) = report.timing
    assert (timing.n_intervals, timing.dropped_estimate) == (27, 0)


def test_summaries_that_increase_in_neither_step_nor_time_are_reported() -> None:
    sim = side("sim", [(s, list(range(5)), [0.0] * 5) for s in range(3)])
    real = Side.of(
        "r",
        "real",
        {
            "x": Series.of(range(15), range(15), [0.0] * 15),
            "episode/length": Series.of([9, 9, 9], [7, 7, 7], [5.0] * 3),
            "episode/seed": Series.of([9, 9, 9], [7, 7, 7], [0.0, 1.0, 2.0]),
        },
    )
    report = compare_sides(sim, real, n_boot=100)
    assert "increase neither in step nor in t_ns" in {n.measure: n.reason for n in report.not_computed}["paired"]


def test_pairing_by_order_when_the_robot_logs_no_seed() -> None:
    sim = side("sim", [(s, [0, 1], [float(s), float(s)]) for s in range(4)])
    with_seed = side("real", [(s, [0, 1], [float(s) + 1.0] * 2) for s in range(3)])
    real = Side.of(
        "r", "real", {k: v for k, v in {**with_seed.episodes, **with_seed.signals}.items() if k != "episode/seed"}
    )
    why = {n.measure: n.reason for n in compare_sides(sim, real, n_boot=50).not_computed}
    assert "no paired episodes" in why["paired"]
    report = compare_sides(sim, real, n_boot=50, pair_by="order")
    (paired,) = report.paired
    assert (report.n_pairs, report.pair_key, paired.rmse) == (3, "episode order", 1.0)


def test_unknown_pair_by_raises() -> None:
    sim = side("sim", [(0, [0], [0.0])])
    with pytest.raises(GapError, match="pair_by must be 'seed' or 'order', got 'index'"):
        compare_sides(sim, sim, pair_by="index")  # type: ignore[arg-type]  # checked at runtime
