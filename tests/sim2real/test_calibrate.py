"""Known-answer tests of calibrate(): stand-ins with hidden physics, recorded through the real run API."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from rltrack.sim2real import Calibration, calibrate
from rltrack.sim2real.calibrate_data import load_episodes
from rltrack.sim2real.calibrate_space import OBJECTIVE_KEY, parse_params
from s2r_standin import record_episodes

import rltrack
from rltrack.demo.physics import StandInPhysics
from rltrack.demo.standin import make_env as stand_in

TRUE_MASSPOLE, TRUE_LENGTH = 0.3, 0.7  # CartPole-v1: 0.1 kg, half-length 0.5 m
POLE = {"masspole": {"min": 0.05, "max": 1.0}, "length": {"min": 0.2, "max": 1.5}}
#: Recovered parameters must lie within this relative error of the truth.
TOLERANCE = 0.05


def cartpole(masspole: float = 0.1, length: float = 0.5) -> gym.Env[Any, Any]:
    env = gym.make("CartPole-v1")
    u: Any = env.unwrapped
    u.masspole, u.length = masspole, length
    u.total_mass, u.polemass_length = u.masspole + u.masscart, u.masspole * u.length
    return env


def recorded(store_dir: Path, env: gym.Env[Any, Any], *, episodes: int = 10, steps: int = 100, **kw: Any) -> str:
    run = rltrack.init(project="s2r", dir=store_dir, source="real", system_metrics=False, quiet=True)
    record_episodes(run, env, range(episodes), max_steps=steps, **kw)
    run.finish()
    return run.id


@pytest.fixture
def heavy_long_pole(store_dir: Path) -> str:
    """Ten 100-step episodes of CartPole with a 3x heavier, 1.4x longer pole (the hidden truth)."""
    return recorded(store_dir, cartpole(TRUE_MASSPOLE, TRUE_LENGTH))


def close(value: float, truth: float) -> bool:
    return abs(value - truth) <= TOLERANCE * truth


def test_recovers_pole_mass_and_length_from_ten_episodes(store_dir: Path, heavy_long_pole: str) -> None:
    # CartPole's masspole and length are env.unwrapped attributes: an env id is all make_env needs.
    result = calibrate(heavy_long_pole, make_env="CartPole-v1", params=POLE, budget=100, dir=store_dir)
    assert close(result.best_params["masspole"], TRUE_MASSPOLE), result.best_params
    assert close(result.best_params["length"], TRUE_LENGTH), result.best_params
    assert result.improvement >= 5
    assert result.after.objective < result.before.objective / 5
    for p in result.parameters:
        assert p.identifiable
        assert p.low <= p.estimate <= p.high
        assert p.randomization["min"] <= p.estimate <= p.randomization["max"]
    # The gap report (compare's measures) of the replay against the recording, before and after.
    assert result.gap_before is not None and result.gap_after is not None
    before = {p.key: p.rmse for p in result.gap_before.paired}
    after = {p.key: p.rmse for p in result.gap_after.paired}
    assert set(before) == set(after) == {"obs/0", "obs/1", "obs/2", "obs/3"}
    assert result.gap_after.n_pairs == 10 and result.gap_after.pair_key == "episode/seed"
    assert all(after[k] <= before[k] / 5 for k in before), (before, after)
    w1 = {s.key: (s.wasserstein, t.wasserstein) for s, t in zip(result.gap_before.signals, result.gap_after.signals,
                                                                strict=True)}  # fmt: skip
    assert all(a < b for b, a in w1.values()), w1
    assert "gap report (replay vs real)" in result.table()
    assert result.to_dict()["gap"]["after"]["paired"]["keys"]["obs/2"]["rmse"] == after["obs/2"]


def overlay_rmse(real: np.ndarray, windows: tuple[tuple[int, np.ndarray], ...]) -> float:
    diffs = [rows[1:] - real[start + 1 : start + rows.shape[0]] for start, rows in windows]
    return float(np.sqrt(np.mean(np.concatenate(diffs) ** 2)))


def test_the_overlay_replays_the_first_episode_before_and_after(store_dir: Path, heavy_long_pole: str) -> None:
    result = calibrate(heavy_long_pole, make_env="CartPole-v1", params=POLE, budget=40, track=False, dir=store_dir)
    overlay = result.overlay
    assert overlay is not None and overlay.episode == 0 and overlay.keys == ("obs/0", "obs/1", "obs/2", "obs/3")
    assert overlay.real.shape == (100, 4)
    assert [start for start, _ in overlay.after] == list(range(0, 99, 20))
    for start, rows in overlay.after:
        assert np.array_equal(rows[0], overlay.real[start])  # each window starts on the recording
    assert overlay_rmse(overlay.real, overlay.after) < overlay_rmse(overlay.real, overlay.before) / 5


def test_recovers_stand_in_mass_and_actuator_delay(store_dir: Path) -> None:
    physics = StandInPhysics(pole_mass_factor=3.0, actuator_delay_steps=1, sensor_noise_std=(0.0, 0.0, 0.0, 0.0))
    run_id = recorded(store_dir, stand_in(True, physics), episodes=8)
    params = {"pole_mass_factor": {"min": 0.5, "max": 6.0}, "actuator_delay_steps": {"min": 0, "max": 3}}
    result = calibrate(run_id, make_env="rltrack.demo.standin:calibration_env", params=params, budget=60, dir=store_dir)
    assert result.best_params["actuator_delay_steps"] == 1
    assert close(result.best_params["pole_mass_factor"], 3.0), result.best_params
    assert result.improvement >= 5
    delay = result.param("actuator_delay_steps")
    assert delay.identifiable and delay.randomization == {"value": 1}


def test_an_irrelevant_parameter_is_flagged_unidentifiable(store_dir: Path, heavy_long_pole: str) -> None:
    # x_threshold only ends episodes beyond |x| = 2.4 m; the recording never goes there.
    params = {"masspole": POLE["masspole"], "x_threshold": {"min": 2.4, "max": 5.0}}
    result = calibrate(heavy_long_pole, make_env=cartpole, params=params, budget=40, track=False, dir=store_dir)
    flat = result.param("x_threshold")
    assert not flat.identifiable
    assert flat.estimate is None
    assert flat.sensitivity == 0.0
    assert (flat.low, flat.high) == (2.4, 5.0)
    assert flat.randomization == {"distribution": "uniform", "min": 2.4, "max": 5.0}
    assert result.param("masspole").identifiable
    assert "NO (error changes 0.0% over the prior)" in result.table()


def test_each_trial_is_a_run_in_one_calibration_group(store_dir: Path, heavy_long_pole: str) -> None:
    result = calibrate(heavy_long_pole, make_env="CartPole-v1", params=POLE, budget=25, dir=store_dir)
    assert result.group is not None and result.group.startswith("calibration-")
    runs = [r for r in rltrack.Api(store_dir).runs("s2r") if r.group == result.group]
    assert len(runs) == len(result.trials) == 25
    assert {r.job_type for r in runs} == {"calibration"}
    assert {r.state for r in runs} == {"finished"}
    by_trial = {r.config["calibration"]["trial"]: r for r in runs}
    for trial in result.trials:
        run = by_trial[trial.number]
        assert run.config["masspole"] == trial.params["masspole"]
        assert run.config["calibration"]["real_run"] == heavy_long_pole
        assert trial.score is not None
        assert run.series(OBJECTIVE_KEY)[2].tolist() == [trial.score.objective]


def fragile(masspole: float = 0.1, length: float = 0.5) -> gym.Env[Any, Any]:
    if masspole > 0.5:
        raise RuntimeError(f"the solver diverged at masspole={masspole}")
    return cartpole(masspole, length)


def test_a_crashing_trial_is_stored_failed_and_the_search_goes_on(store_dir: Path, heavy_long_pole: str) -> None:
    result = calibrate(heavy_long_pole, make_env=fragile, params=POLE, budget=40, seed=1, dir=store_dir)
    failed = [t for t in result.trials if t.score is None]
    assert failed and result.n_failed == len(failed)
    assert all("RuntimeError: the solver diverged" in (t.error or "") for t in failed)
    states = {r.config["calibration"]["trial"]: r.state for r in rltrack.Api(store_dir).runs("s2r")
              if r.group == result.group}  # fmt: skip
    assert {states[t.number] for t in failed} == {"failed"}
    assert result.improvement >= 5


def test_two_worker_processes_search_together(store_dir: Path, heavy_long_pole: str) -> None:
    result = calibrate(
        heavy_long_pole, make_env="CartPole-v1", params=POLE, budget=50, workers=2, track=False, dir=store_dir
    )
    assert len(result.trials) == 50 and result.n_failed == 0
    assert sorted(t.number for t in result.trials) == list(range(50))
    assert result.improvement >= 5


def test_a_recording_at_one_step_pairs_actions_by_time(store_dir: Path) -> None:
    # The ROS node logs a deployment at the checkpoint's step: rows pair up by t_ns instead of steps.
    by_step = load_episodes(recorded(store_dir, cartpole(TRUE_MASSPOLE), episodes=3), dir=store_dir)
    one_step = recorded(store_dir, cartpole(TRUE_MASSPOLE), episodes=3, step=3000)
    by_time = load_episodes(one_step, dir=store_dir)
    assert len(by_time) == len(by_step) == 3
    for a, b in zip(by_time.observations + by_time.actions, by_step.observations + by_step.actions, strict=True):
        assert np.array_equal(a, b)
    result = calibrate(one_step, make_env="CartPole-v1", params=POLE, budget=80, track=False, dir=store_dir)
    assert result.n_steps == 300 and result.improvement >= 5


def test_randomization_file_feeds_back_as_params(store_dir: Path, heavy_long_pole: str, tmp_path: Path) -> None:
    result = calibrate(heavy_long_pole, make_env="CartPole-v1", params=POLE, budget=30, track=False, dir=store_dir)
    json_path, yaml_path = result.write(tmp_path / "out")
    assert yaml_path.read_text(encoding="utf-8").startswith("# Domain-randomization ranges")
    space = parse_params(yaml_path)
    assert space.names == ("masspole", "length")
    for spec in space.specs:
        assert (spec.low, spec.high) == (result.param(spec.name).randomization["min"],
                                         result.param(spec.name).randomization["max"])  # fmt: skip
    saved = json.loads(json_path.read_text(encoding="utf-8"))
    assert saved["format"] == "rltrack.sim2real.calibration"
    assert saved["best_params"] == result.best_params
    assert saved["before"]["objective"] == result.before.objective
    assert saved["n_trials"] == 30
    assert isinstance(result, Calibration) and math.isfinite(saved["improvement"])


def pendulum_state(env: Any, obs: np.ndarray) -> None:
    """Pendulum observes (cos, sin, velocity) but its state is (angle, velocity)."""
    env.unwrapped.state = np.array([math.atan2(obs[1], obs[0]), obs[2]])


def test_recovers_pendulum_mass_and_gravity_through_a_set_state_hook(store_dir: Path) -> None:
    # g is a constructor argument of Pendulum-v1 (passed to gym.make), m an env.unwrapped attribute.
    env = gym.make("Pendulum-v1", g=9.0)
    env.unwrapped.m = 1.5  # type: ignore[attr-defined]
    rng = np.random.default_rng(0)
    run = rltrack.init(project="s2r", dir=store_dir, source="real", system_metrics=False, quiet=True)
    for seed in range(6):
        obs, _ = env.reset(seed=seed)
        for _ in range(80):
            torque = float(rng.uniform(-2.0, 2.0))
            run.log({**{f"obs/{i}": float(v) for i, v in enumerate(obs)}, "action/0": torque})
            obs, *_ = env.step(np.array([torque], dtype=np.float32))
        run.log({"episode/length": 80, "episode/seed": seed})
    run.finish()
    params = {"m": {"min": 0.5, "max": 3.0}, "g": {"min": 5.0, "max": 15.0}}
    result = calibrate(run.id, make_env="Pendulum-v1", params=params, set_state=pendulum_state, budget=60,
                       track=False, dir=store_dir)  # fmt: skip
    assert close(result.best_params["m"], 1.5), result.best_params
    assert close(result.best_params["g"], 9.0), result.best_params
    assert result.improvement >= 5
