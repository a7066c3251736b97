"""calibrate()'s metrics on stand-ins with hidden physics: DTW, and the filter for noisy sensors.

Stated tolerances: noise-free recordings give parameters within 5 % of the truth; behind the demo
stand-in's sensor noise (0.3 m/s on the cart's velocity), the filter gives the pole mass within
10 % (20 % when 300 steps must also give the noise levels, which come within 15 %).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.envs.classic_control.pendulum import PendulumEnv
from rltrack.sim2real import calibrate
from s2r_standin import record_episodes

import rltrack
from rltrack.demo.physics import StandInPhysics
from rltrack.demo.standin import make_env as stand_in

POLE = {"masspole": {"min": 0.05, "max": 1.0}, "length": {"min": 0.2, "max": 1.5}}
STAND_IN = {"pole_mass_factor": {"min": 0.5, "max": 6.0}, "actuator_delay_steps": {"min": 0, "max": 3}}


def near(value: float, truth: float, tolerance: float) -> bool:
    return abs(value - truth) <= tolerance * truth


def cartpole(masspole: float = 0.1, length: float = 0.5) -> gym.Env[Any, Any]:
    env = gym.make("CartPole-v1")
    u: Any = env.unwrapped
    u.masspole, u.length = masspole, length
    u.total_mass, u.polemass_length = u.masspole + u.masscart, u.masspole * u.length
    return env


def recorded(store_dir: Path, env: gym.Env[Any, Any], *, episodes: int, steps: int) -> str:
    run = rltrack.init(project="s2r", dir=store_dir, source="real", system_metrics=False, quiet=True)
    record_episodes(run, env, range(episodes), max_steps=steps)
    run.finish()
    return run.id


def test_dtw_with_a_zero_band_is_the_mean_absolute_error(store_dir: Path) -> None:
    # A band of 0 leaves DTW one path, the diagonal: the per-sample cost is then the replay's MAE.
    run_id = recorded(store_dir, cartpole(0.3, 0.7), episodes=1, steps=100)
    common = {"make_env": "CartPole-v1", "params": POLE, "budget": 15, "track": False, "dir": store_dir}
    replay = calibrate(run_id, **common)
    dtw = calibrate(run_id, metric="dtw", dtw_band=0, **common)
    assert replay.overlay is not None
    real = replay.overlay.real
    errors = np.concatenate([rows[1:] - real[s + 1 : s + rows.shape[0]] for s, rows in replay.overlay.before])
    assert errors.shape == (99, 4)
    np.testing.assert_allclose(dtw.before.rmse, np.mean(np.abs(errors), axis=0), rtol=1e-9)
    # A wider band can only find cheaper paths; and absolute errors never exceed the RMSE.
    wide = calibrate(run_id, metric="dtw", dtw_band=5, **common)
    assert all(w <= z + 1e-12 for w, z in zip(wide.before.rmse, dtw.before.rmse, strict=True))
    assert all(m <= r for m, r in zip(dtw.before.rmse, replay.before.rmse, strict=True))
    assert "scored by DTW" in dtw.table() and dtw.metric == "dtw"


def test_dtw_recovers_pole_mass_and_length(store_dir: Path) -> None:
    run_id = recorded(store_dir, cartpole(0.3, 0.7), episodes=10, steps=100)
    result = calibrate(run_id, make_env="CartPole-v1", params=POLE, metric="dtw", budget=100, track=False,
                       dir=store_dir)  # fmt: skip
    assert near(result.best_params["masspole"], 0.3, 0.05), result.best_params
    assert near(result.best_params["length"], 0.7, 0.05), result.best_params
    assert result.improvement >= 5
    assert all(p.identifiable for p in result.parameters)


@pytest.fixture
def noisy_stand_in(store_dir: Path) -> str:
    """The demo's stand-in as it is: 3x pole, one step of delay, noisy sensors; 3 episodes of <= 200 steps."""
    return recorded(store_dir, stand_in(True, StandInPhysics()), episodes=3, steps=200)


def test_behind_sensor_noise_the_replay_loses_the_mass_and_the_filter_finds_it(
    store_dir: Path, noisy_stand_in: str
) -> None:
    common = {"make_env": "rltrack.demo.standin:calibration_env", "params": STAND_IN, "track": False,
              "dir": store_dir}  # fmt: skip
    replay = calibrate(noisy_stand_in, budget=30, **common)
    # Replaying from noisy recorded states: the error hardly moves with the mass (the noise dominates).
    assert not replay.param("pole_mass_factor").identifiable
    assert replay.param("pole_mass_factor").sensitivity < 0.1
    noise = list(StandInPhysics().sensor_noise_std)
    found = calibrate(noisy_stand_in, budget=40, metric="filter", noise=np.array(noise), **common)
    assert found.best_params["actuator_delay_steps"] == 1
    assert near(found.best_params["pole_mass_factor"], 3.0, 0.10), found.best_params
    mass = found.param("pole_mass_factor")
    assert mass.identifiable and mass.low <= mass.estimate <= mass.high
    assert found.param("actuator_delay_steps").randomization == {"value": 1}
    # The one-step innovations come down to the sensors' noise.
    assert all(near(rms, std, 0.25) for rms, std in zip(found.after.rmse, noise, strict=True)), found.after.rmse
    assert "log-likelihood gain" in found.table() and found.to_dict()["uncertainty"].startswith("likelihood-ratio")


def test_the_filter_estimates_the_sensor_noise_with_the_mass(store_dir: Path) -> None:
    physics = StandInPhysics(sensor_noise_std=(0.02, 0.3, 0.02, 0.3))
    run_id = recorded(store_dir, stand_in(True, physics), episodes=2, steps=150)
    params = {**STAND_IN, "actuator_delay_steps": {"value": 1},
              "position_noise": {"min": 0.005, "max": 0.1}, "velocity_noise": {"min": 0.05, "max": 1.0}}  # fmt: skip
    noise = ["position_noise", "velocity_noise", "position_noise", "velocity_noise"]
    result = calibrate(run_id, make_env="rltrack.demo.standin:calibration_env", params=params, metric="filter",
                       noise=noise, budget=60, track=False, dir=store_dir)  # fmt: skip
    assert near(result.best_params["position_noise"], 0.02, 0.15), result.best_params
    assert near(result.best_params["velocity_noise"], 0.3, 0.15), result.best_params
    # 300 noisy steps, the noise estimated with it: the mass is looser, and its likelihood range says so.
    mass = result.param("pole_mass_factor")
    assert near(mass.estimate, 3.0, 0.20) and mass.low <= 3.0 <= mass.high, mass
    assert all(p.identifiable for p in result.parameters)


class FrictionPendulum(PendulumEnv):
    """Pendulum-v1 with viscous friction at the hinge (a torque of -friction * angular velocity)."""

    def __init__(self, friction: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.friction = friction
        self.max_torque = 1e9  # the commanded torque is clipped below; friction adds to it unclipped

    def step(self, u: Any) -> Any:
        torque = float(np.clip(np.asarray(u, dtype=np.float64).ravel()[0], -2.0, 2.0))
        return super().step(np.array([torque - self.friction * float(self.state[1])]))


def pendulum_state(env: Any, obs: np.ndarray) -> None:
    env.unwrapped.state = np.array([np.arctan2(obs[1], obs[0]), obs[2]])


def test_recovers_pendulum_length_and_friction(store_dir: Path) -> None:
    # friction is a keyword of make_env, l an env.unwrapped attribute: both reach the simulator.
    env = FrictionPendulum(friction=0.2)
    env.l = 1.3
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
    params = {"l": {"min": 0.5, "max": 2.0}, "friction": {"min": 0.0, "max": 1.0}}
    result = calibrate(run.id, make_env=FrictionPendulum, params=params, set_state=pendulum_state, budget=60,
                       track=False, dir=store_dir)  # fmt: skip
    assert near(result.best_params["l"], 1.3, 0.05), result.best_params
    assert near(result.best_params["friction"], 0.2, 0.05), result.best_params
    assert result.improvement >= 5
    assert all(p.identifiable for p in result.parameters)


def test_the_filter_estimates_the_velocities_it_is_not_given(store_dir: Path, noisy_stand_in: str) -> None:
    # Scoring the positions only: the velocities are state the filter infers from them (their start is
    # known only to within their spread in the recording), and mass and delay still come out.
    result = calibrate(noisy_stand_in, make_env="rltrack.demo.standin:calibration_env", params=STAND_IN,
                       keys=["obs/0", "obs/2"], metric="filter", noise={"obs/0": 0.02, "obs/2": 0.02}, budget=40,
                       track=False, dir=store_dir)  # fmt: skip
    assert result.keys == ("obs/0", "obs/2")
    assert result.best_params["actuator_delay_steps"] == 1
    assert near(result.best_params["pole_mass_factor"], 3.0, 0.10), result.best_params


def test_the_filter_recovers_pendulum_mass_and_gravity_behind_sensor_noise(store_dir: Path) -> None:
    env = gym.make("Pendulum-v1", g=9.0)
    env.unwrapped.m = 1.5  # type: ignore[attr-defined]
    noise = np.array([0.05, 0.05, 0.3])  # on cos, sin and the angular velocity
    rng = np.random.default_rng(0)
    run = rltrack.init(project="s2r", dir=store_dir, source="real", system_metrics=False, quiet=True)
    for seed in range(3):
        obs, _ = env.reset(seed=seed)
        for _ in range(80):
            torque = float(rng.uniform(-2.0, 2.0))
            sensed = obs + noise * rng.standard_normal(3)
            run.log({**{f"obs/{i}": float(v) for i, v in enumerate(sensed)}, "action/0": torque})
            obs, *_ = env.step(np.array([torque], dtype=np.float32))
        run.log({"episode/length": 80, "episode/seed": seed})
    run.finish()
    params = {"m": {"min": 0.5, "max": 3.0}, "g": {"min": 5.0, "max": 15.0}}
    result = calibrate(run.id, make_env="Pendulum-v1", params=params, set_state=pendulum_state, metric="filter",
                       noise=noise.tolist(), budget=70, track=False, dir=store_dir)  # fmt: skip
    assert near(result.best_params["m"], 1.5, 0.10), result.best_params
    assert near(result.best_params["g"], 9.0, 0.05), result.best_params
    for p, truth in ((result.param("m"), 1.5), (result.param("g"), 9.0)):
        assert p.identifiable and p.low <= truth <= p.high, p
    # The likelihood-ratio ranges rest on several trials, so the table does not warn about them.
    assert result.n_near_best >= 3 and "raise the budget" not in result.table()


def test_a_search_too_small_to_map_the_best_says_so(store_dir: Path) -> None:
    # 15 trials for two parameters: the profile takes 14, so one trial searches; its range is one point.
    run_id = recorded(store_dir, cartpole(0.3, 0.7), episodes=2, steps=50)
    result = calibrate(run_id, make_env="CartPole-v1", params=POLE, budget=15, track=False, dir=store_dir)
    assert result.n_near_best == 1 and result.to_dict()["n_near_best"] == 1
    assert "only 1 trial(s) are near-best" in result.table() and "raise the budget" in result.table()
