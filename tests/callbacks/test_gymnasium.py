from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from rltrack.callbacks import RecordRollouts, TrackEpisodes, TrackVectorEpisodes

import rltrack
from rltrack.errors import InvalidValueError, RltrackError, RltrackWarning, RunFinishedError

from .conftest import StairsEnv, decode_video, read_run


def _episodes(view: object, extra: str | None = None) -> list[tuple[int, float, int] | tuple[int, float, int, float]]:
    steps, _, returns = view.series("episode/return")  # type: ignore[attr-defined]
    _, _, lengths = view.series("episode/length")  # type: ignore[attr-defined]
    rows = [(int(s), float(r), int(n)) for s, r, n in zip(steps, returns, lengths, strict=True)]
    if extra is None:
        return rows  # type: ignore[return-value]
    _, _, values = view.series(extra)  # type: ignore[attr-defined]
    return [(*row, float(v)) for row, v in zip(rows, values, strict=True)]


def test_single_env_cleanrl_loop_logs_hand_computed_returns(run: rltrack.Run, store_dir: Path) -> None:
    env = TrackEpisodes(gym.make("CartPole-v1"), info_keys=["is_success"])
    env.action_space.seed(0)
    expected, total, episode_return, length = [], 0, 0.0, 0
    env.reset(seed=0)
    for _ in range(300):
        _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        total, episode_return, length = total + 1, episode_return + float(reward), length + 1
        if terminated or truncated:
            expected.append((total, episode_return, length))
            episode_return, length = 0.0, 0
            env.reset()
    env.close()
    assert len(expected) >= 5
    assert _episodes(read_run(store_dir, run)) == expected


def test_reset_mid_episode_drops_the_partial_episode(run: rltrack.Run, store_dir: Path) -> None:
    env = TrackEpisodes(StairsEnv(4))
    env.reset()
    env.step(0)
    env.reset()  # the 1-step episode is abandoned
    for _ in range(4):
        env.step(0)
    assert _episodes(read_run(store_dir, run)) == [(5, 10.0, 4)]


@pytest.mark.parametrize(
    ("mode", "ends_env0", "ends_env1"),
    [
        # NEXT_STEP: each episode is followed by one reset step that belongs to no episode.
        (AutoresetMode.NEXT_STEP, [3, 7, 11], [4, 9]),
        (AutoresetMode.SAME_STEP, [3, 6, 9, 12], [4, 8, 12]),
    ],
)
def test_vector_env_logs_every_sub_env_episode_under_each_autoreset_mode(
    run: rltrack.Run, store_dir: Path, mode: AutoresetMode, ends_env0: list[int], ends_env1: list[int]
) -> None:
    vec = SyncVectorEnv([lambda: StairsEnv(3), lambda: StairsEnv(4, truncate=True)], autoreset_mode=mode)
    env = TrackEpisodes(vec, info_keys=["is_success", "score"])
    assert isinstance(env, TrackVectorEpisodes)
    env.reset(seed=0)
    for _ in range(12):
        env.step(np.zeros(2, dtype=np.int64))
    env.close()
    # step = env steps so far (2 per vector step); return 1+2+...+L, success for odd L, score = L.
    expected = sorted(
        [(2 * t, 6.0, 3, 1.0, 3.0) for t in ends_env0] + [(2 * t, 10.0, 4, 0.0, 4.0) for t in ends_env1]
    )
    view = read_run(store_dir, run)
    rows = _episodes(view, "episode/is_success")
    scores = view.series("episode/score")[2]
    got = sorted((*row, float(s)) for row, s in zip(rows, scores, strict=True))
    assert got == expected


def test_vector_returns_match_gymnasiums_own_episode_statistics(run: rltrack.Run, store_dir: Path) -> None:
    vec = gym.make_vec("CartPole-v1", num_envs=3, vectorization_mode="sync")
    stats = gym.wrappers.vector.RecordEpisodeStatistics(vec)
    env = TrackEpisodes(stats)
    env.reset(seed=1)
    env.action_space.seed(1)
    reference = []
    for _ in range(200):
        _, _, _, _, infos = env.step(env.action_space.sample())
        if "episode" in infos:
            done, stats = infos["_episode"], infos["episode"]
            reference += [(float(r), int(n)) for r, n in zip(stats["r"][done], stats["l"][done], strict=True)]
    env.close()
    got = [(r, n) for _, r, n in _episodes(read_run(store_dir, run))]
    assert len(got) >= 10
    assert sorted(got) == sorted(reference)


def test_record_rollouts_logs_every_nth_episode_as_a_decodable_video(run: rltrack.Run, store_dir: Path) -> None:
    env = RecordRollouts(gym.make("CartPole-v1", render_mode="rgb_array"), every_episodes=2, max_frames=15)
    env.action_space.seed(0)
    lengths, total, ends = [], 0, []
    for episode in range(5):
        env.reset(seed=episode)
        length = 0
        while True:
            _, _, terminated, truncated, _ = env.step(env.action_space.sample())
            length, total = length + 1, total + 1
            if terminated or truncated:
                break
        lengths.append(length)
        ends.append(total)
    env.close()
    videos = read_run(store_dir, run).media("video/episode")
    assert [v.step for v in videos] == [ends[0], ends[2], ends[4]]
    assert [v.caption for v in videos] == ["episode 0", "episode 2", "episode 4"]
    for video, length in zip(videos, [lengths[0], lengths[2], lengths[4]], strict=True):
        assert decode_video(video.path) == (min(length + 1, 15), 400, 600)


def test_record_rollouts_refuses_an_env_without_rgb_array(run: rltrack.Run) -> None:
    with pytest.raises(InvalidValueError, match="render_mode=None"):
        RecordRollouts(gym.make("CartPole-v1"))


def test_record_rollouts_refuses_a_vector_env(run: rltrack.Run) -> None:
    vec = gym.make_vec("CartPole-v1", num_envs=2, render_mode="rgb_array")
    with pytest.raises(InvalidValueError, match="wrap one sub-env"):
        RecordRollouts(vec)  # type: ignore[arg-type]
    vec.close()


def test_wrapper_without_a_run_says_how_to_start_one() -> None:
    with pytest.raises(RltrackError, match=r"rltrack\.init"):
        TrackEpisodes(StairsEnv(2))


def test_wrapper_given_a_finished_run_raises(run: rltrack.Run) -> None:
    run.finish()
    with pytest.raises(RunFinishedError, match="has finished"):
        TrackEpisodes(StairsEnv(2), run)


def test_run_finished_mid_loop_warns_once_and_training_goes_on(run: rltrack.Run) -> None:
    env = TrackEpisodes(StairsEnv(1))
    env.reset()
    run.finish()
    with pytest.warns(RltrackWarning, match="finished while training went on") as caught:
        for _ in range(3):
            env.step(0)
    assert len(caught) == 1
