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
from typing import Any, NamedTuple, Protocol

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


class _Job(NamedTuple):
    """One video to record: a snapshot of the policy's weights (CPU copies) and how to play it."""

    weights: dict[str, Any]
    normalize: Callable[[Any], Any] | None
    seed: int | None
    step: int


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
        self._seeded = False
        self._architecture: tuple[type[Any], dict[str, Any]] | None = None
        self._policy: Any = None  # rebuilt from _architecture for recording on a thread
        self._folder = folder
        self._worker: VideoWorker | None = None
        self._no_worker = folder is None or isinstance(env, VecEnv)
        # _running and _queued change together under the lock: start() on the training thread,
        # the recording thread when it finishes a job.
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._running = False
        self._queued: _Job | None = None

    @property
    def busy(self) -> bool:
        """Whether a recording is still running (or queued)."""
        with self._lock:
            return self._running

    def start(self, model: BaseAlgorithm, step: int, *, queue: bool = False) -> bool:
        """Snapshot ``model``'s policy and record one episode of it in the background.

        While a recording runs, this one is dropped (returns False) or, with ``queue``, recorded
        right after it (a later queued one replaces it); training never waits either way.
        """
        job = self._snapshot(model, step)
        if not self._background:
            self._record(job)
            return True
        self._worker_for(model)
        with self._lock:
            if self._running:
                if queue:
                    self._queued = job
                return queue
            self._running = True
            self._thread = threading.Thread(target=self._jobs, args=(job,), name="rltrack-policy-video", daemon=True)
        self._thread.start()
        return True

    def _snapshot(self, model: BaseAlgorithm, step: int) -> _Job:
        live = model.policy
        if self._architecture is None:
            # SB3's own way to rebuild a policy (BasePolicy.save/load); deepcopy fails on the
            # non-leaf tensors a policy caches after a forward pass.
            self._architecture = (type(live), live._get_constructor_parameters())
        weights = {name: tensor.detach().to("cpu", copy=True) for name, tensor in live.state_dict().items()}
        normalize = _obs_normalizer(model) if not isinstance(self.env, VecEnv) else None
        seed = None if self._seeded else model.seed
        self._seeded = True
        return _Job(weights, normalize, seed, step)

    def _worker_for(self, model: BaseAlgorithm) -> VideoWorker | None:
        """The child process that records, started on first use; None where one cannot be used."""
        if self._worker is None and not self._no_worker:
            assert self._folder is not None  # _no_worker is set without a folder
            self._worker = VideoWorker.launch(
                self.env, model.policy, max_frames=self.max_frames, fps=render_fps(self.env), folder=self._folder
            )
            self._no_worker = self._worker is None
        return self._worker

    def wait(self) -> None:
        """Block until the running recording and the queued one (if any) are logged."""
        thread = self._thread
        if thread is not None:
            thread.join()

    def close(self) -> None:
        """Wait for the recordings, then stop the child process (the next :meth:`start` starts one)."""
        self.wait()
        if self._worker is not None:
            self._worker.close()
            self._worker = None

    def _jobs(self, job: _Job) -> None:
        while True:
            self._record(job)
            with self._lock:
                if self._queued is None:
                    self._running = False
                    return
                job, self._queued = self._queued, None

    def _record(self, job: _Job) -> None:
        worker = self._worker
        try:
            values = self._record_on_this_thread(job) if worker is None else self._record_in_worker(worker, job)
        except InvalidValueError as err:
            self._warn("video-frame", f"no video at step {job.step}: {err} (training goes on)")
            return
        self._log(values, job.step)

    def _record_in_worker(self, worker: VideoWorker, job: _Job) -> dict[str, Any]:
        try:
            recording = worker.record(job.weights, job.normalize, job.seed, job.step)
        except WorkerError as err:
            # From now on record on a thread; say so only if the process had worked (an env or
            # policy the child cannot rebuild is an expected case, not a failure).
            if worker.ready:
                self._warn("video-process", f"{err}; videos are recorded on a thread from step {job.step} on")
            self._no_worker = True
            self._worker = None
            worker.close()
            return self._record_on_this_thread(job)
        return {VIDEO_KEY: recording.video, "video/return": recording.episode_return, "video/length": recording.length}

    def _record_on_this_thread(self, job: _Job) -> dict[str, Any]:
        if self._policy is None:
            assert self._architecture is not None  # set by the first snapshot
            policy_class, arguments = self._architecture
            self._policy = policy_class(**arguments)
            self._policy.set_training_mode(False)
        self._policy.load_state_dict(job.weights)
        video = EpisodeVideo(fps=render_fps(self.env), caption=f"step {job.step}", max_frames=self.max_frames)
        episode_return, length = play_episode(self.env, self._policy, job.normalize, job.seed, video)
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
