"""Videos of an SB3 policy on a separate render env, recorded off the training thread.

Each recording runs one deterministic episode of a *snapshot* of the policy (and of the
VecNormalize observation statistics), so training goes on while the episode is stepped,
rendered and encoded. Where the env and policy can be sent to another process, a child
process records (:mod:`rltrack.callbacks._video_worker`) and training never waits for the GIL;
otherwise (a VecEnv, classes defined in ``__main__``) a background thread does, with frames
streaming to the H.264 encoder thread as they come.
"""

from __future__ import annotations

import pickle
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from rltrack.callbacks._video import EpisodeVideo, render_fps
from rltrack.callbacks._video_worker import VideoWorker, WorkerError
from rltrack.callbacks._warn import WarnOnce
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.vec_env import VecEnv

from rltrack.errors import InvalidValueError

__all__ = ["VIDEO_KEY", "PolicyVideo"]

#: Media key of the videos; ``video/return`` and ``video/length`` go with each.
VIDEO_KEY = "video/episode"


class PolicyVideo:
    """Records one episode of a policy snapshot per :meth:`start` and logs it through ``log``.

    Args:
        env: One Gymnasium env, or an SB3 VecEnv holding one env, rendering ``rgb_array``.
        max_frames: Most frames per video (the reset frame included); the episode stops there.
        log: Called (on the recording thread) with the video and its scalars, and the step.
        warn: Where a bad frame is reported.
        background: Record in the background (True) or inline (False).
        folder: Where a child process may write finished videos (inside the run's media folder);
            None records on a thread only.
    """

    def __init__(
        self,
        env: Any,
        *,
        max_frames: int,
        log: Callable[[dict[str, Any], int], None],
        warn: WarnOnce,
        background: bool = True,
        folder: Path | None = None,
    ) -> None:
        self.env = env
        self.max_frames = max_frames
        self._log = log
        self._warn = warn
        self._background = background
        self._thread: threading.Thread | None = None
        self._seeded = False
        self._policy: Any = None
        self._folder = folder
        self._worker: VideoWorker | None = None
        self._no_worker = folder is None or isinstance(env, VecEnv)

    @property
    def busy(self) -> bool:
        """Whether a recording is still running."""
        return self._thread is not None and self._thread.is_alive()

    def start(self, model: BaseAlgorithm, step: int) -> bool:
        """Snapshot ``model``'s policy and record one episode; False (nothing done) while one is running."""
        if self.busy:
            return False
        policy = self._snapshot(model)
        normalize = _obs_normalizer(model) if not isinstance(self.env, VecEnv) else None
        seed = None if self._seeded else model.seed
        self._seeded = True
        if not self._background:
            self._record(policy, normalize, seed, step)
            return True
        target = self._record_in_worker if self._worker_for(model) is not None else self._record
        self._thread = threading.Thread(
            target=target, args=(policy, normalize, seed, step), name="rltrack-policy-video", daemon=True
        )
        self._thread.start()
        return True

    def _worker_for(self, model: BaseAlgorithm) -> VideoWorker | None:
        """The child process that records, started on first use; None where one cannot be used."""
        if self._worker is None and not self._no_worker:
            assert self._folder is not None  # _no_worker is set without a folder
            self._worker = VideoWorker.launch(
                self.env, model.policy, max_frames=self.max_frames, fps=render_fps(self.env), folder=self._folder
            )
            self._no_worker = self._worker is None
        return self._worker

    def _snapshot(self, model: BaseAlgorithm) -> Any:
        """Copy the live weights into a private policy, so training may update them meanwhile."""
        live = model.policy
        if self._policy is None:
            # SB3's own way to rebuild a policy (BasePolicy.save/load); deepcopy fails on the
            # non-leaf tensors a policy caches after a forward pass.
            self._policy = type(live)(**live._get_constructor_parameters()).to(live.device)
            self._policy.set_training_mode(False)
        self._policy.load_state_dict(live.state_dict())
        return self._policy

    def wait(self) -> None:
        """Block until the running recording (if any) is logged."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def close(self) -> None:
        """Wait for the running recording, then stop the child process (the next :meth:`start` starts one)."""
        self.wait()
        if self._worker is not None:
            self._worker.close()
            self._worker = None

    def _record_in_worker(
        self, policy: Any, normalize: Callable[[Any], Any] | None, seed: int | None, step: int
    ) -> None:
        worker = self._worker
        assert worker is not None  # start() picked this target because there is one
        weights = {name: tensor.detach().cpu() for name, tensor in policy.state_dict().items()}
        try:
            recording = worker.record(weights, normalize, seed, step)
        except InvalidValueError as err:
            self._warn("video-frame", f"no video at step {step}: {err} (training goes on)")
            return
        except WorkerError as err:
            # From now on record on a thread; say so only if the process had worked (an env or
            # policy the child cannot rebuild is an expected case, not a failure).
            if worker.ready:
                self._warn("video-process", f"{err}; videos are recorded on a thread from step {step} on")
            self._no_worker = True
            self._worker = None
            worker.close()
            self._record(policy, normalize, seed, step)
            return
        video = {VIDEO_KEY: recording.video, "video/return": recording.episode_return, "video/length": recording.length}
        self._log(video, step)

    def _record(self, policy: Any, normalize: Callable[[Any], Any] | None, seed: int | None, step: int) -> None:
        try:
            values = self._episode(policy, normalize, seed, step)
        except InvalidValueError as err:
            self._warn("video-frame", f"no video at step {step}: {err} (training goes on)")
            return
        self._log(values, step)

    def _episode(
        self, policy: Any, normalize: Callable[[Any], Any] | None, seed: int | None, step: int
    ) -> dict[str, Any]:
        video = EpisodeVideo(fps=render_fps(self.env), caption=f"step {step}", max_frames=self.max_frames)
        episode_return, length = play_episode(self.env, policy, normalize, seed, video)
        return {VIDEO_KEY: video.stream, "video/return": episode_return, "video/length": length}


class FrameSink(Protocol):
    """Where :func:`play_episode` puts frames: :class:`EpisodeVideo` or :class:`FileVideo`."""

    @property
    def full(self) -> bool:
        """Whether no more frames are wanted."""
        ...

    def add(self, frame: Any) -> None:
        """Take one rendered frame."""
        ...


def play_episode(
    env: Any, policy: Any, normalize: Callable[[Any], Any] | None, seed: int | None, video: FrameSink
) -> tuple[float, int]:
    """Run one deterministic episode of ``policy`` on ``env``, rendering each frame into ``video``.

    Stops when the episode ends or ``video`` is full; returns the undiscounted return and length
    of what was played. ``env`` is a Gymnasium env or a one-env SB3 VecEnv; ``seed`` seeds the
    reset of a Gymnasium env (None: continue its RNG).
    """
    is_vec = isinstance(env, VecEnv)
    obs = env.reset() if is_vec else env.reset(seed=seed)[0]
    video.add(_render(env, is_vec))
    state = None
    episode_start = np.ones((1,), dtype=bool)
    episode_return, length = 0.0, 0
    while not video.full:
        policy_obs = obs if normalize is None else normalize(obs)
        action, state = policy.predict(policy_obs, state=state, episode_start=episode_start, deterministic=True)
        episode_start = np.zeros((1,), dtype=bool)
        if is_vec:
            obs, rewards, dones, _ = env.step(action)
            reward, done = float(rewards[0]), bool(dones[0])
        else:
            obs, raw_reward, terminated, truncated, _ = env.step(action)
            reward, done = float(raw_reward), bool(terminated or truncated)
        episode_return += reward
        length += 1
        if done and is_vec:
            break  # a VecEnv has already reset: its frame now shows the next episode
        video.add(_render(env, is_vec))
        if done:
            break
    return episode_return, length


def _obs_normalizer(model: BaseAlgorithm) -> Callable[[Any], Any] | None:
    """Return a frozen copy of the training env's VecNormalize observation normalisation, if any."""
    vec_normalize = model.get_vec_normalize_env()
    return None if vec_normalize is None else FrozenNormalization(pickle.dumps(vec_normalize))


class FrozenNormalization:
    """VecNormalize's ``normalize_obs`` with the statistics of one moment; pickles to a child process.

    Built from SB3's own pickled form of the VecNormalize (what ``VecNormalize.save`` writes:
    statistics and settings, no env), so training may update the live statistics meanwhile.
    """

    def __init__(self, state: bytes) -> None:
        self._state = state
        self._vec_normalize = pickle.loads(state)  # bytes this process just pickled

    def __call__(self, obs: Any) -> Any:
        """Normalise one observation as the training env did at the snapshot."""
        return self._vec_normalize.normalize_obs(obs)

    def __reduce__(self) -> tuple[Any, tuple[bytes]]:
        return FrozenNormalization, (self._state,)


def _render(env: Any, is_vec: bool) -> Any:
    return env.get_images()[0] if is_vec else env.render()
