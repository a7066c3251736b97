"""calibrate() on bad input: each cause is a CalibrationError that names it, before any trial runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from rltrack.sim2real import CalibrationError, calibrate
from s2r_standin import cartpole, record_episodes

import rltrack

POLE = {"masspole": {"min": 0.05, "max": 1.0}}


@pytest.fixture
def real_run(store_dir: Path) -> str:
    run = rltrack.init(project="s2r", dir=store_dir, source="real", system_metrics=False, quiet=True)
    record_episodes(run, cartpole(0.3), range(2), max_steps=30)
    run.finish()
    return run.id


def test_episodes_without_actions(store_dir: Path) -> None:
    run = rltrack.init(project="s2r", dir=store_dir, source="real", system_metrics=False, quiet=True)
    for i in range(5):
        run.log({"obs/0": float(i), "obs/1": 0.0})
    run.log({"episode/length": 5})
    run.finish()
    with pytest.raises(CalibrationError, match=r"has no action keys action/0, action/1, \.\.\.: calibration replays"):
        calibrate(run.id, make_env="CartPole-v1", params=POLE, dir=store_dir)


def test_a_scored_key_the_sim_does_not_reproduce(store_dir: Path, real_run: str) -> None:
    with pytest.raises(CalibrationError, match=r"key 'joint/effort' is not an observation the simulator reproduces"):
        calibrate(real_run, make_env="CartPole-v1", params=POLE, keys=["joint/effort"], dir=store_dir)


def test_a_recording_with_fewer_observations_than_the_sim(store_dir: Path, real_run: str) -> None:
    with pytest.raises(CalibrationError, match=r"the simulator observes 4 values but the recording has 3"):
        calibrate(real_run, make_env="CartPole-v1", params=POLE, observations=["obs/0", "obs/1", "obs/2"],
                  dir=store_dir)  # fmt: skip


def test_an_observation_key_that_was_not_logged(store_dir: Path, real_run: str) -> None:
    with pytest.raises(CalibrationError, match=r"has no observation key 'odom/x'"):
        calibrate(real_run, make_env="CartPole-v1", params=POLE, observations=["odom/x"], dir=store_dir)


def broken(**params: Any) -> gym.Env[Any, Any]:
    raise RuntimeError("license server unreachable")


def test_a_make_env_that_raises(store_dir: Path, real_run: str) -> None:
    with pytest.raises(
        CalibrationError,
        match=r"make_env \(broken\) raised RuntimeError on the nominal parameters \{\}: license server",
    ):
        calibrate(real_run, make_env=broken, params=POLE, dir=store_dir)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"masspole": {"min": 0.3, "max": 0.3}}, r"'masspole' has an empty range \[0\.3, 0\.3\]"),
        ({"masspole": {"min": 0.5, "max": 0.1}}, r"calibration params: parameters\.masspole\.min: 0\.5 > max 0\.1"),
        ({"masspole": {"values": []}}, r"parameters\.masspole\.values: the list is empty"),
        ({"masspole": {"value": 0.3}}, r"nothing to search: every parameter is a constant"),
        ({}, r"expected a non-empty mapping"),
    ],
)
def test_an_empty_parameter_range(store_dir: Path, real_run: str, params: dict[str, Any], match: str) -> None:
    with pytest.raises(CalibrationError, match=match):
        calibrate(real_run, make_env="CartPole-v1", params=params, dir=store_dir)


def test_a_parameter_the_sim_does_not_have(store_dir: Path, real_run: str) -> None:
    with pytest.raises(
        CalibrationError,
        match=r"parameter 'pole_mass' is neither an argument of make_env \(CartPole-v1\) nor an attribute of "
        r"env.unwrapped \(CartPoleEnv\)",
    ):
        calibrate(real_run, make_env="CartPole-v1", params={"pole_mass": {"min": 0.1, "max": 1.0}}, dir=store_dir)


def test_a_budget_smaller_than_the_profile(store_dir: Path, real_run: str) -> None:
    with pytest.raises(CalibrationError, match=r"budget=5 is too small: the identifiability profile alone takes 7"):
        calibrate(real_run, make_env="CartPole-v1", params=POLE, budget=5, dir=store_dir)


def test_a_lambda_cannot_go_to_worker_processes(store_dir: Path, real_run: str) -> None:
    with pytest.raises(CalibrationError, match=r"workers=2 runs trials in processes, which need a picklable make_env"):
        calibrate(real_run, make_env=lambda **kw: cartpole(**kw), params=POLE, workers=2, budget=20, dir=store_dir)


def test_params_file_that_does_not_exist(store_dir: Path, real_run: str, tmp_path: Path) -> None:
    with pytest.raises(CalibrationError, match=r"cannot read the calibration params file .*nope\.yaml"):
        calibrate(real_run, make_env="CartPole-v1", params=tmp_path / "nope.yaml", dir=store_dir)


def fails_when_set(masspole: float | None = None) -> gym.Env[Any, Any]:
    if masspole is not None:
        raise RuntimeError(f"no such pole: {masspole}")
    return cartpole()


def test_every_trial_failing_is_an_error_naming_the_first_failure(store_dir: Path, real_run: str) -> None:
    with pytest.raises(CalibrationError, match=r"every trial failed; the first: RuntimeError: no such pole: 0\."):
        calibrate(real_run, make_env=fails_when_set, params={"masspole": {"min": 0.2, "max": 1.0}}, budget=12,
                  track=False, dir=store_dir)  # fmt: skip


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"metric": "mae"}, r"metric='mae' is unknown; use one of \['trajectory', 'dtw', 'filter'\]"),
        (
            {"metric": "filter"},
            r"metric='filter' needs noise=\.\.\.: the sensors' noise standard deviation per "
            r"scored key \(obs/0, obs/1, obs/2, obs/3\)",
        ),
        ({"metric": "filter", "noise": [0.1, 0.1]}, r"noise=\[0\.1, 0\.1\] must give one std per scored key \(4: "),
        ({"metric": "filter", "noise": [0.1, 0.1, -0.1, 0.1]}, r"noise of 'obs/2' is -0\.1; give a finite std >= 0"),
        ({"metric": "filter", "noise": [0.1, 0.1, float("nan"), 0.1]}, r"noise of 'obs/2' is nan"),
        ({"metric": "filter", "noise": {"obs/0": 0.1, "obs/9": 0.1}}, r"noise: 'obs/9' is not a scored key"),
        ({"metric": "filter", "noise": {"obs/0": 0.1}}, r"noise: 'obs/1' is missing"),
        (
            {"metric": "filter", "noise": ["sigma", 0.1, 0.1, 0.1]},
            r"noise of 'obs/0' names parameter 'sigma', which params does not have; add it with a range",
        ),
        ({"noise": [0.1] * 4}, r"noise=\.\.\. is used by metric='filter' only; metric='trajectory' ignores it"),
        ({"metric": "dtw", "dtw_band": -1}, r"dtw_band=-1 must be an int >= 0 \(steps\)"),
    ],
)
def test_bad_metric_options(store_dir: Path, real_run: str, options: dict[str, Any], match: str) -> None:
    with pytest.raises(CalibrationError, match=match):
        calibrate(real_run, make_env="CartPole-v1", params=POLE, dir=store_dir, **options)


def test_the_filter_needs_a_simulator_it_can_put_into_a_state(store_dir: Path) -> None:
    # Pendulum observes (cos, sin, velocity) but its state is (angle, velocity): without set_state= the
    # filter cannot move its members, and says so instead of scoring reset states.
    env = gym.make("Pendulum-v1")
    run = rltrack.init(project="s2r", dir=store_dir, source="real", system_metrics=False, quiet=True)
    obs, _ = env.reset(seed=0)
    for _ in range(10):
        run.log({**{f"obs/{i}": float(v) for i, v in enumerate(obs)}, "action/0": 0.5})
        obs, *_ = env.step(np.array([0.5], dtype=np.float32))
    run.log({"episode/length": 10, "episode/seed": 0})
    run.finish()
    with pytest.raises(CalibrationError, match=r"metric='filter' puts the simulator into estimated states, but its "
                       r"env\.unwrapped\.state is not its observation; pass set_state="):  # fmt: skip
        calibrate(run.id, make_env="Pendulum-v1", params={"m": {"min": 0.5, "max": 2.0}}, metric="filter",
                  noise=[0.01, 0.01, 0.1], budget=20, track=False, dir=store_dir)  # fmt: skip
