"""Videos of an SB3 policy on a separate render env, recorded off the training thread.

Each recording runs one deterministic episode of a *snapshot* of the policy (and of the
VecNormalize observation statistics) on a background thread, so training goes on while the
episode is stepped and rendered; frames stream to the H.264 encoder thread as they come.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
from rltrack.callbacks._video import EpisodeVideo, render_fps
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
        background: Record on a background thread (True) or inline (False).
    """

    def __init__(
        self,
        env: Any,
        *,
        max_frames: int,
        log: Callable[[dict[str, Any], int], None],
        warn: WarnOnce,
        background: bool = True,
    ) -> None:
        self.env = env
        self.max_frames = max_frames
        self._log = log
        self._warn = warn
        self._background = background
        self._thread: threading.Thread | None = None
        self._seeded = False
        self._policy: Any = None

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
        self._thread = threading.Thread(
            target=self._record, args=(policy, normalize, seed, step), name="rltrack-policy-video", daemon=True
        )
        self._thread.start()
        return True

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
        env = self.env
        is_vec = isinstance(env, VecEnv)
        video = EpisodeVideo(fps=render_fps(env), caption=f"step {step}", max_frames=self.max_frames)
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
        return {VIDEO_KEY: video.stream, "video/return": episode_return, "video/length": length}


def _obs_normalizer(model: BaseAlgorithm) -> Callable[[Any], Any] | None:
    """Return a frozen copy of the training env's VecNormalize observation normalisation, if any."""
    vec_normalize = model.get_vec_normalize_env()
    if vec_normalize is None:
        return None
    frozen = copy.copy(vec_normalize)  # shallow: shares the venv, which normalize_obs never touches
    frozen.obs_rms = copy.deepcopy(vec_normalize.obs_rms)
    return frozen.normalize_obs


def _render(env: Any, is_vec: bool) -> Any:
    return env.get_images()[0] if is_vec else env.render()
