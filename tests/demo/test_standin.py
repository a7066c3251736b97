"""The robot stand-in: heavier pole, one-step actuator delay, seeded sensor noise; lock-step episodes."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("gymnasium", reason="the stand-in is a Gymnasium wrapper (rltrack[sb3])")

from rltrack.demo.physics import StandInPhysics
from rltrack.demo.record import CAMERA_HEIGHT, CAMERA_WIDTH, camera_frame
from rltrack.demo.standin import RobotStandIn, make_env, run_episodes
from rltrack.errors import InvalidValueError

EXACT = StandInPhysics(pole_mass_factor=1.0, actuator_delay_steps=1, sensor_noise_std=(0.0, 0.0, 0.0, 0.0))


def test_the_pole_is_heavier() -> None:
    env = make_env(True, StandInPhysics(pole_mass_factor=3.0))
    sim = env.unwrapped
    assert sim.masspole == pytest.approx(0.3)  # type: ignore[attr-defined]
    assert sim.total_mass == pytest.approx(1.3)  # type: ignore[attr-defined]
    assert sim.polemass_length == pytest.approx(0.15)  # type: ignore[attr-defined]


def test_each_command_acts_one_step_late() -> None:
    commands = [1, 0, 0, 1, 1, 0]
    applied_expected = [1, 1, 0, 0, 1, 1]  # the first command also acts at once: nothing came before it
    stand_in, plain = make_env(True, EXACT), make_env(False)
    stand_in.reset(seed=3)
    plain.reset(seed=3)
    for command, expected in zip(commands, applied_expected, strict=True):
        _, _, _, _, info = stand_in.step(command)
        state, *_ = plain.step(expected)
        assert info["applied_action"] == expected
        np.testing.assert_array_equal(info["state"], state)


def test_sensor_noise_is_seeded_and_float32() -> None:
    physics = StandInPhysics()
    first = [make_env(True, physics).reset(seed=7) for _ in range(2)]
    np.testing.assert_array_equal(first[0][0], first[1][0])
    obs, info = first[0]
    assert obs.dtype == np.float32
    assert not np.array_equal(obs, info["state"].astype(np.float32))


def test_without_noise_the_sensors_read_the_state() -> None:
    obs, info = make_env(True, EXACT).reset(seed=1)
    np.testing.assert_array_equal(obs, info["state"].astype(np.float32))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"pole_mass_factor": 0.0}, "pole_mass_factor=0.0"),
        ({"actuator_delay_steps": -1}, "actuator_delay_steps=-1"),
        ({"sensor_noise_std": (0.1, 0.1, 0.1)}, "sensor_noise_std"),
        ({"sensor_noise_std": (0.1, -0.1, 0.1, 0.1)}, "sensor_noise_std"),
    ],
)
def test_impossible_physics_is_refused(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidValueError, match=match):
        StandInPhysics(**kwargs)  # type: ignore[arg-type]


def test_the_stand_in_needs_a_cartpole() -> None:
    import gymnasium as gym

    with pytest.raises(InvalidValueError, match="needs a CartPole"):
        RobotStandIn(gym.make("Pendulum-v1"))


def test_lock_step_episodes_keep_seed_order_and_full_traces() -> None:
    def always_right(obs: np.ndarray) -> np.ndarray:
        return np.ones(len(obs), dtype=np.int64)

    seeds = [5, 6, 7]
    episodes = run_episodes(always_right, lambda: make_env(False), seeds)
    assert [e.seed for e in episodes] == seeds
    for episode in episodes:
        assert episode.terminated  # always pushing right tips the pole over
        assert episode.measured.shape == episode.state.shape == (episode.length, 4)
        np.testing.assert_array_equal(episode.measured, episode.state)  # the simulator has exact sensors
        assert episode.ret == episode.length
        assert set(episode.force_n.tolist()) == {10.0}
    single = run_episodes(always_right, lambda: make_env(False), [6])[0]
    np.testing.assert_array_equal(single.state, episodes[1].state)  # batching does not change an episode


def test_camera_frame_draws_the_cart_where_it_is() -> None:
    left = camera_frame(np.array([-1.5, 0.0, 0.0, 0.0]))
    right = camera_frame(np.array([1.5, 0.0, 0.0, 0.0]))
    assert left.shape == (CAMERA_HEIGHT, CAMERA_WIDTH, 3) and left.dtype == np.uint8
    cart_columns = [np.flatnonzero((f == 40).all(axis=2).any(axis=0)) for f in (left, right)]
    assert cart_columns[0].mean() < CAMERA_WIDTH / 2 < cart_columns[1].mean()
