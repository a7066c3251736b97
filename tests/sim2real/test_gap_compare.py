from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from rltrack.sim2real import GapError, GapReport, PolicyVersion, compare
from s2r_standin import cartpole, record_episodes

import rltrack
from rltrack.errors import RunNotFoundError

MakeRun = Callable[..., str]


def reasons(report: GapReport) -> dict[str, str]:
    return {n.measure: n.reason for n in report.not_computed}


# --- validation with known answers --------------------------------------------------------------


def test_same_env_and_seeds_gives_zero_gaps(sim_real_run: MakeRun, store_dir: Path) -> None:
    report = compare(sim_real_run(range(6), max_steps=60), dir=store_dir, n_boot=500)
    for gap in (report.episode_return, report.success_rate, report.episode_length):
        assert gap is not None
        assert gap.difference == 0.0
        assert gap.ci_contains(0.0)
        assert (gap.n_sim, gap.n_real) == (6, 6)
    assert {s.key for s in report.signals} == {"obs/0", "obs/1", "obs/2", "obs/3", "action/0"}
    for s in report.signals:
        assert (s.wasserstein, s.ks_statistic) == (0.0, 0.0)
        assert s.n_sim == s.n_real == 360
    assert report.n_pairs == 6
    assert all(p.rmse == 0.0 and p.dtw == 0.0 and p.n_pairs == 6 for p in report.paired)


def test_known_bias_on_one_real_signal_shows_as_wasserstein(sim_real_run: MakeRun, store_dir: Path) -> None:
    bias = 0.25
    run_id = sim_real_run(range(5), real_signal=lambda obs: {"obs/1": float(obs[1]) + bias}, max_steps=50)
    report = compare(run_id, dir=store_dir, n_boot=200)
    by_key = {s.key: s for s in report.signals}
    assert by_key["obs/1"].wasserstein == pytest.approx(bias, rel=1e-6)
    assert by_key["obs/0"].wasserstein == 0.0
    paired = {p.key: p for p in report.paired}
    assert paired["obs/1"].rmse == pytest.approx(bias, rel=1e-6)


def test_known_scale_change_shows_in_ks_not_in_the_mean(sim_real_run: MakeRun, store_dir: Path) -> None:
    # A real sensor with twice the gain on obs/3 (zero-mean): same center, wider spread.
    run_id = sim_real_run(range(8), real_signal=lambda obs: {"obs/3": 2.0 * float(obs[3])}, max_steps=150)
    report = compare(run_id, dir=store_dir, n_boot=200)
    scaled = {s.key: s for s in report.signals}["obs/3"]
    assert scaled.ks_statistic is not None and scaled.ks_statistic > 0.1
    assert scaled.ks_p_value is not None and scaled.ks_p_value < 1e-6
    assert scaled.real_std == pytest.approx(2.0 * (scaled.sim_std or 0.0))
    untouched = {s.key: s for s in report.signals}["obs/2"]
    assert (untouched.ks_statistic, untouched.ks_p_value) == (0.0, 1.0)


def test_heavier_pole_stand_in_shows_a_gap(sim_real_run: MakeRun, store_dir: Path) -> None:
    report = compare(sim_real_run(range(6), masspole=1.0, max_steps=100), dir=store_dir, n_boot=300)
    paired = {p.key: p for p in report.paired}
    assert paired["obs/3"].rmse is not None and paired["obs/3"].rmse > 0.05
    assert paired["obs/3"].dtw is not None and paired["obs/3"].dtw > 0.0
    assert {s.key: s for s in report.signals}["obs/3"].wasserstein > 0.01


def test_report_is_reproducible_with_the_same_seed(sim_real_run: MakeRun, store_dir: Path) -> None:
    run_id = sim_real_run(range(6), masspole=0.6, max_steps=80)
    first = compare(run_id, dir=store_dir, n_boot=300, seed=3).to_json()
    assert compare(run_id, dir=store_dir, n_boot=300, seed=3).to_json() == first


def test_real_run_given_separately(store_dir: Path) -> None:
    sim = rltrack.init(project="s2r", dir=store_dir, system_metrics=False)
    record_episodes(sim, cartpole(), range(5), max_steps=40)
    sim.finish()
    robot = rltrack.init(project="s2r", dir=store_dir, source="real", system_metrics=False)
    record_episodes(robot, cartpole(0.3), range(5), max_steps=40)
    robot.finish()
    api = rltrack.Api(store_dir)
    report = compare(api.run(sim.id), robot.id, api=api, n_boot=200)
    assert (report.sim.run, report.sim.source) == (sim.id, "sim")
    assert (report.real.run, report.real.source) == (robot.id, "real")
    assert report.n_pairs == 5


def test_mapping_pairs_differently_named_keys(store_dir: Path) -> None:
    sim = rltrack.init(project="s2r", dir=store_dir, system_metrics=False)
    record_episodes(sim, cartpole(), range(5), max_steps=30)
    sim.finish()
    real = rltrack.init(id=sim.id, resume="must", source="real", dir=store_dir, system_metrics=False)
    record_episodes(real, cartpole(), range(5), max_steps=30,
                    signal=lambda obs: {"joint_states/velocity/0": float(obs[3])})
    real.finish()
    report = compare(sim.id, dir=store_dir, keys=["obs/3"], mapping={"obs/3": "joint_states/velocity/0"})
    (signal,) = report.signals
    assert (signal.key, signal.real_key, signal.wasserstein) == ("obs/3", "joint_states/velocity/0", 0.0)
    assert [t.key for t in report.timing] == ["joint_states/velocity/0"]


def test_policy_versions_give_correlations_and_gap_by_step(sim_real_run: MakeRun, store_dir: Path) -> None:
    rng = np.random.default_rng(0)
    versions = [
        PolicyVersion(step, rng.normal(sim_mean, 1.0, 20), rng.normal(real_mean, 1.0, 20), name=f"policy:v{i}")
        for i, (step, sim_mean, real_mean) in enumerate([(3000, 50, 30), (1000, 10, 8), (2000, 30, 25)])
    ]
    report = compare(sim_real_run(range(3), max_steps=20), dir=store_dir, versions=versions, n_boot=300)
    v = report.versions
    assert v is not None
    assert [p.step for p in v.points] == [1000, 2000, 3000]
    assert (v.spearman, v.mmrv) == (1.0, 0.0)
    assert v.pearson is not None and v.pearson > 0.9
    assert all(p.gap.ci_high is not None and p.gap.ci_high < 0 for p in v.points)
    assert json.loads(report.to_json())["versions"]["points"][0]["name"] == "policy:v1"


# --- bad input: clear reasons, never a traceback ------------------------------------------------


def test_no_shared_keys_is_reported(store_dir: Path) -> None:
    sim = rltrack.init(project="s2r", dir=store_dir, system_metrics=False)
    for i in range(20):
        sim.log({"obs/0": float(i)})
    sim.finish()
    real = rltrack.init(id=sim.id, resume="must", source="real", dir=store_dir, system_metrics=False)
    for i in range(20):
        real.log({"odom/x": float(i)}, t_ns=i * 10_000_000)
    real.finish()
    report = compare(sim.id, dir=store_dir)
    why = reasons(report)
    assert "no shared signal keys" in why["signals"]
    assert "'odom/x'" in why["signals"]
    assert report.signals == () and report.paired == ()
    assert "needs episodes on both sides" in why["episodes.return"]
    assert [t.key for t in report.timing] == ["odom/x"]  # the robot's timing still works


def test_empty_real_side_is_reported(store_dir: Path) -> None:
    sim = rltrack.init(project="s2r", dir=store_dir, system_metrics=False)
    record_episodes(sim, cartpole(), range(5), max_steps=20)
    sim.finish()
    report = compare(sim.id, dir=store_dir)
    why = reasons(report)
    assert why["real"] == f"run {sim.id!r} has no data under source 'real'"
    assert report.episode_return is None
    assert "sim=5 real=0" in why["episodes.return"]
    assert "timing" in why
    assert report.table().count("not computed") == 1


def test_mismatched_episode_lengths_compare_the_overlap(sim_real_run: MakeRun, store_dir: Path) -> None:
    report = compare(sim_real_run(range(5), max_steps=80, real_max_steps=50), dir=store_dir, n_boot=200)
    assert report.episode_length is not None
    assert (report.episode_length.sim_mean, report.episode_length.real_mean) == (80.0, 50.0)
    paired = {p.key: p for p in report.paired}
    assert paired["obs/0"].n_samples == 5 * 50  # only the offsets present on both sides
    assert paired["obs/0"].rmse == 0.0  # same physics and seeds: the overlap is identical
    assert paired["obs/0"].dtw is not None and paired["obs/0"].dtw > 0.0  # DTW sees the missing tail


def test_nan_in_signals_is_dropped_and_noted(sim_real_run: MakeRun, store_dir: Path) -> None:
    run_id = sim_real_run(range(5), max_steps=30,
                          real_signal=lambda obs: {"obs/2": float("nan") if obs[0] > 0 else float(obs[2])})
    report = compare(run_id, dir=store_dir, n_boot=200)
    signal = {s.key: s for s in report.signals}["obs/2"]
    assert signal.n_nonfinite_real > 0
    assert signal.n_real + signal.n_nonfinite_real == signal.n_sim
    assert signal.wasserstein is not None
    assert "NaN or infinite samples" in reasons(report)["signals[obs/2].real"]
    assert json.loads(report.to_json())["signals"]["obs/2"]["n_nonfinite_real"] == signal.n_nonfinite_real


def test_too_few_episodes_for_a_ci_keeps_the_means(sim_real_run: MakeRun, store_dir: Path) -> None:
    report = compare(sim_real_run(range(3), max_steps=20), dir=store_dir)
    gap = report.episode_return
    assert gap is not None
    assert (gap.sim_mean, gap.ci_low, gap.ci_high) == (20.0, None, None)
    assert "at least 5 sim episodes, got 3" in reasons(report)["episodes.return.ci"]


def test_unpaired_episodes_are_reported(sim_real_run: MakeRun, store_dir: Path) -> None:
    report = compare(sim_real_run(range(5), real_seeds=range(100, 105), max_steps=20), dir=store_dir, n_boot=200)
    assert report.n_pairs == 0
    assert "no 'episode/seed' value occurs on both sides" in reasons(report)["paired"]
    assert report.signals  # distributions do not need pairs


def test_unknown_run_id_raises_run_not_found(store_dir: Path) -> None:
    rltrack.init(project="s2r", dir=store_dir, system_metrics=False).finish()
    with pytest.raises(RunNotFoundError):
        compare("nosuchrun", dir=store_dir)


@pytest.mark.parametrize(("kwargs", "match"), [({"n_boot": 0}, "n_boot must be a positive int"),
                                               ({"align": "time"}, "align must be 'step' or 't_ns'")])
def test_invalid_arguments_raise(sim_real_run: MakeRun, store_dir: Path, kwargs: dict[str, object], match: str) -> None:
    run_id = sim_real_run(range(2), max_steps=10)
    with pytest.raises(GapError, match=match):
        compare(run_id, dir=store_dir, **kwargs)  # type: ignore[arg-type]  # wrong on purpose


def test_align_on_time_matches_step_alignment_for_a_fixed_rate(sim_real_run: MakeRun, store_dir: Path) -> None:
    run_id = sim_real_run(range(5), masspole=0.5, max_steps=60)
    by_step = {p.key: p.rmse for p in compare(run_id, dir=store_dir, n_boot=100).paired}
    by_time = {p.key: p.rmse for p in compare(run_id, dir=store_dir, n_boot=100, align="t_ns").paired}
    assert by_time == pytest.approx(by_step)
