"""Policy videos recorded in a child process, and the thread they fall back to."""

from __future__ import annotations

import textwrap
import threading
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from rltrack.callbacks import RLTrackCallback
from rltrack.callbacks._sb3_video import VIDEO_KEY, PolicyVideo
from rltrack.callbacks._video_worker import EncodedVideo
from rltrack.callbacks._warn import WarnOnce
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecNormalize

import rltrack
from rltrack.errors import RltrackWarning

from .conftest import decode_video


def _ppo(*, normalize: bool = False) -> PPO:
    env: Any = make_vec_env("CartPole-v1", n_envs=1, seed=0)
    if normalize:
        env = VecNormalize(env, norm_reward=False)
    return PPO("MlpPolicy", env, n_steps=64, batch_size=64, n_epochs=1, policy_kwargs={"net_arch": [8]},
               device="cpu", seed=0)


class _Logged:
    """Collects what PolicyVideo logs, as the callback's run would."""

    def __init__(self) -> None:
        self.calls: list[tuple[dict[str, Any], int]] = []

    def __call__(self, values: dict[str, Any], step: int) -> None:
        self.calls.append((values, step))


def _policy_video(env: Any, folder: Path, logged: _Logged, max_frames: int = 12) -> PolicyVideo:
    return PolicyVideo(env, max_frames=max_frames, log=logged, warn=WarnOnce(), folder=folder)


def test_a_picklable_env_records_in_a_child_process_with_the_normalisation_snapshot(tmp_path: Path) -> None:
    model = _ppo(normalize=True)
    model.learn(64)
    logged = _Logged()
    video = _policy_video(gym.make("CartPole-v1", render_mode="rgb_array"), tmp_path / "worker", logged)
    assert video.start(model, 64)
    video.wait()
    assert video._worker is not None and video._worker.ready  # the child set up and recorded
    assert video.start(model, 128)
    video.close()
    assert [step for _, step in logged.calls] == [64, 128]
    for values, _ in logged.calls:
        clip = values[VIDEO_KEY]
        assert isinstance(clip, EncodedVideo) and clip.path.parent == tmp_path / "worker"
        assert decode_video(clip.path) == (min(values["video/length"] + 1, 12), 400, 600)
        assert clip.meta["frames"] == decode_video(clip.path)[0] and clip.meta["fps"] == 50
    # Same seed, same weights, same normalisation: the child's first episode is the one a thread plays.
    thread_logged = _Logged()
    inline = PolicyVideo(gym.make("CartPole-v1", render_mode="rgb_array"), max_frames=12, log=thread_logged,
                         warn=WarnOnce(), background=False)
    inline.start(model, 64)
    assert thread_logged.calls[0][0]["video/return"] == logged.calls[0][0]["video/return"]


def test_an_env_the_child_cannot_rebuild_records_on_a_thread_without_a_warning(tmp_path: Path) -> None:
    class LocalEnv(gym.Wrapper[Any, Any, Any, Any]):  # a local class: cannot be pickled, has no spec
        pass

    env = LocalEnv(gym.make("CartPole-v1", render_mode="rgb_array").unwrapped)
    logged = _Logged()
    video = _policy_video(env, tmp_path / "worker", logged)
    video.start(_ppo(), 0)
    video.close()
    assert video._worker is None
    assert logged.calls[0][0]["video/length"] >= 1
    assert not (tmp_path / "worker").exists()  # never started: nothing written there


def test_a_child_that_dies_is_warned_once_and_videos_go_on_on_a_thread(tmp_path: Path) -> None:
    model = _ppo()
    logged = _Logged()
    video = _policy_video(gym.make("CartPole-v1", render_mode="rgb_array"), tmp_path / "worker", logged)
    video.start(model, 0)
    video.wait()
    worker = video._worker
    assert worker is not None
    worker._proc.kill()
    worker._proc.wait()
    with pytest.warns(RltrackWarning, match=r"the video process stopped .*recorded on a thread from step 10 on"):
        video.start(model, 10)
        video.wait()
    video.start(model, 20)  # no second warning
    video.close()
    assert [step for _, step in logged.calls] == [0, 10, 20]
    assert [type(values[VIDEO_KEY]).__name__ for values, _ in logged.calls] == [
        "EncodedVideo", "VideoStream", "VideoStream"
    ]


def test_an_env_class_from_the_users_module_is_rebuilt_in_the_child(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The child imports the user's classes from the parent's sys.path; this one renders
    # greyscale frames, which the child refuses frame by frame like the thread would.
    (tmp_path / "user_envs.py").write_text(textwrap.dedent("""
        import gymnasium as gym

        class GreyRender(gym.Wrapper):
            def render(self):
                return self.env.render()[..., 0]
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    import user_envs  # type: ignore[import-not-found]

    env = user_envs.GreyRender(gym.make("CartPole-v1", render_mode="rgb_array"))
    logged = _Logged()
    video = _policy_video(env, tmp_path / "worker", logged)
    with pytest.warns(RltrackWarning, match=r"no video at step 5: render\(\) returned ndarray with shape \(400, 600\)"):
        video.start(_ppo(), 5)
        video.wait()
    assert video._worker is not None and video._worker.ready
    video.close()
    assert logged.calls == []
    assert not (tmp_path / "worker").exists()  # the partial file was removed, then the folder


def test_learn_returns_before_the_last_video_and_flush_waits_for_it(run: rltrack.Run, store_dir: Path) -> None:
    model = _ppo()
    callback = RLTrackCallback(run, video_env=gym.make("CartPole-v1", render_mode="rgb_array"), video_length=30)
    model.learn(128, callback=callback)
    run.flush()  # the run is still open: flush alone brings the video in
    view = rltrack.Api(store_dir).run(run.id)
    (video,) = view.media(VIDEO_KEY)
    assert video.step == 128
    length = int(view.series("video/length")[2][0])
    assert decode_video(video.path) == (min(length + 1, 30), 400, 600)
    assert not (run.dir / "media" / ".video-process").exists()


def test_the_video_process_outlives_learn_for_the_next_learn_and_flush_ends_it(
    run: rltrack.Run, store_dir: Path
) -> None:
    model = _ppo()
    callback = RLTrackCallback(run, video_env=gym.make("CartPole-v1", render_mode="rgb_array"), video_length=5)
    model.learn(64, callback=callback)
    assert callback._video is not None
    callback._video.wait()
    worker = callback._video._worker
    assert worker is not None and worker._proc.poll() is None  # learn() did not wait for the child to exit
    model.learn(64, callback=callback, reset_num_timesteps=False)
    callback._video.wait()
    assert callback._video._worker is worker  # the warm child recorded the second video too
    run.flush()
    assert worker._proc.returncode == 0 and callback._video._worker is None
    assert [v.step for v in rltrack.Api(store_dir).run(run.id).media(VIDEO_KEY)] == [64, 128]


def test_a_one_env_vecenv_records_on_a_thread(run: rltrack.Run, store_dir: Path) -> None:
    video_env = make_vec_env("CartPole-v1", n_envs=1, seed=3, env_kwargs={"render_mode": "rgb_array"})
    callback = RLTrackCallback(run, video_env=video_env, video_length=10)
    _ppo().learn(64, callback=callback)
    run.finish()
    assert callback._video is not None and callback._video._worker is None
    assert len(rltrack.Api(store_dir).run(run.id).media(VIDEO_KEY)) == 1
    assert np.all(np.isfinite(rltrack.Api(store_dir).run(run.id).series("video/return")[2]))


def test_a_video_asked_for_while_one_records_is_dropped_or_queued_never_waited_for() -> None:
    model = _ppo()
    release = threading.Event()
    logged: list[int] = []

    def log(values: dict[str, Any], step: int) -> None:
        release.wait(30)  # the first recording stays running until the test has asked for more
        logged.append(step)

    video = PolicyVideo(gym.make("CartPole-v1", render_mode="rgb_array"), max_frames=5, log=log, warn=WarnOnce())
    assert video.start(model, 1)
    assert video.busy
    assert video.start(model, 2) is False  # dropped: the callback defers it to a later step
    assert video.start(model, 3, queue=True) is True  # queued: the end of training asks this way
    assert video.start(model, 4, queue=True) is True  # replaces 3: only the newest waits
    release.set()
    video.close()
    assert logged == [1, 4]
    assert not video.busy


def test_a_child_closed_before_its_first_video_exits_quietly(tmp_path: Path) -> None:
    from rltrack.callbacks._video_worker import VideoWorker

    worker = VideoWorker.launch(gym.make("CartPole-v1", render_mode="rgb_array"), _ppo().policy, max_frames=5,
                                fps=30, folder=tmp_path / "worker")
    assert worker is not None
    worker.close()
    assert worker._proc.returncode == 0
    assert not (tmp_path / "worker").exists()
