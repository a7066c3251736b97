"""Gymnasium wrappers that log to a run: :class:`TrackEpisodes` and :class:`RecordRollouts`.

Both work in a plain training loop (CleanRL style) without SB3. Their x-axis is the number of
env steps taken through the wrapper (a vector env counts ``num_envs`` per ``step()``, like
CleanRL's ``global_step``).
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Mapping
from typing import Any, SupportsFloat, cast

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv, VectorWrapper
from rltrack.callbacks._runs import log_unless_finished, resolve_run
from rltrack.callbacks._video import EpisodeVideo, check_rgb_array_env, headless_sdl, render_fps
from rltrack.callbacks._warn import WarnOnce
from rltrack.callbacks.episodes import EpisodeAccumulator, FinishedEpisode

import rltrack
from rltrack.errors import InvalidValueError

__all__ = ["RecordRollouts", "TrackEpisodes", "TrackVectorEpisodes"]

#: Media key of the episode videos.
VIDEO_KEY = "video/episode"


def _check_info_keys(info_keys: Iterable[str]) -> tuple[str, ...]:
    if isinstance(info_keys, str) or not all(isinstance(k, str) and k for k in info_keys):
        raise InvalidValueError(f"info_keys={info_keys!r} must be a list of info key names such as ['is_success']")
    return tuple(info_keys)


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidValueError(f"{name}={value!r} must be a positive int")
    return value


class _EpisodeLog:
    """Turns finished episodes plus chosen info values into ``episode/*`` values of a run."""

    def __init__(self, run: rltrack.Run | None, info_keys: Iterable[str], what: str) -> None:
        self.run = resolve_run(run, what)
        self.info_keys = _check_info_keys(info_keys)
        self.warn = WarnOnce()

    def log(self, episode: FinishedEpisode, info: Mapping[str, Any], index: int | None, step: int) -> None:
        values: dict[str, float | int] = {"episode/return": episode.episode_return, "episode/length": episode.length}
        for key in self.info_keys:
            value = _info_value(info, key, index)
            if value is None:
                continue
            if isinstance(value, (numbers.Real, np.bool_)):
                values[f"episode/{key}"] = float(value)
            else:
                self.warn(f"info-{key}", f"info[{key!r}] is {value!r}, not a number; it is not logged")
        log_unless_finished(self.run, values, step, self.warn)


def _info_value(info: Mapping[str, Any], key: str, index: int | None) -> Any:
    """Return ``info[key]`` (single env) or sub-env ``index``'s entry of a vector info, else None."""
    if key not in info:
        return None
    if index is None:
        return info[key]
    mask = info.get(f"_{key}")
    if mask is not None and not mask[index]:
        return None
    value = info[key][index]
    return value.item() if isinstance(value, np.generic) else value


class TrackEpisodes(gym.Wrapper[Any, Any, Any, Any]):
    """Log each episode's return, length and chosen info values to a run.

    At the end of every episode, logs ``episode/return``, ``episode/length`` and
    ``episode/<key>`` for each of ``info_keys`` found in the last step's info, at
    ``step`` = env steps so far. Given a :class:`gymnasium.vector.VectorEnv`, it returns a
    :class:`TrackVectorEpisodes` instead, which does the same for every sub-env.

    Example:
        >>> env = TrackEpisodes(gymnasium.make("CartPole-v1"), info_keys=["is_success"])  # doctest: +SKIP
    """

    def __new__(cls, env: Any = None, *args: Any, **kwargs: Any) -> Any:
        """Return a TrackVectorEpisodes for a vector env, else a new TrackEpisodes."""
        # One name for both env kinds (as users expect); the vector twin shares all bookkeeping
        # through EpisodeAccumulator and _EpisodeLog. ``env`` defaults to None for copy/pickle.
        if isinstance(env, VectorEnv):
            return TrackVectorEpisodes(env, *args, **kwargs)
        return super().__new__(cls)

    def __init__(
        self, env: gym.Env[Any, Any] | VectorEnv[Any, Any, Any], run: rltrack.Run | None = None, *,
        info_keys: Iterable[str] = ()
    ) -> None:
        """Wrap ``env`` (a vector env gets a :class:`TrackVectorEpisodes`); ``run=None`` uses the current run.

        Raises:
            RltrackError: No run is current, or ``run`` has finished.
            InvalidValueError: ``info_keys`` is not a list of names.
        """
        super().__init__(cast("gym.Env[Any, Any]", env))  # __new__ sent vector envs to the twin
        self._log = _EpisodeLog(run, info_keys, "TrackEpisodes")
        self._episodes = EpisodeAccumulator(1)
        #: Env steps taken through this wrapper: the ``step`` of logged episodes.
        self.total_steps = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Reset the env; an episode cut short by this reset is not logged."""
        self._episodes.reset()
        return self.env.reset(seed=seed, options=options)

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        """Step the env and log the episode if it ended."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.total_steps += 1
        for episode in self._episodes.step(float(reward), terminated, truncated):
            self._log.log(episode, info, None, self.total_steps)
        return obs, reward, terminated, truncated, info


class TrackVectorEpisodes(VectorWrapper):
    """Log every sub-env's episodes of a Gymnasium 1.x vector env (see :class:`TrackEpisodes`).

    Follows the env's ``autoreset_mode``: with ``NEXT_STEP`` (the default) the reset step
    after an episode belongs to no episode; with ``SAME_STEP`` the info of the last step is
    read from ``info["final_info"]``; with ``DISABLED``, ``reset(options={"reset_mask": ...})``
    discards the masked sub-envs' running episodes.
    """

    def __init__(
        self, env: VectorEnv[Any, Any, Any], run: rltrack.Run | None = None, *, info_keys: Iterable[str] = ()
    ) -> None:
        """Wrap ``env``; ``run=None`` uses the current run.

        Raises:
            RltrackError: No run is current, or ``run`` has finished.
            InvalidValueError: ``info_keys`` is not a list of names.
        """
        super().__init__(env)
        self._log = _EpisodeLog(run, info_keys, "TrackEpisodes")
        mode = env.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
        self._same_step = mode == AutoresetMode.SAME_STEP or mode == AutoresetMode.SAME_STEP.value
        skip = mode == AutoresetMode.NEXT_STEP or mode == AutoresetMode.NEXT_STEP.value
        self._episodes = EpisodeAccumulator(env.num_envs, skip_after_done=skip)
        #: Env steps taken through this wrapper (``num_envs`` per ``step()``): the logged ``step``.
        self.total_steps = 0

    def reset(
        self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Reset sub-envs (all, or ``options["reset_mask"]``); their running episodes are not logged."""
        mask = None if options is None else options.get("reset_mask")
        self._episodes.reset(None if mask is None else np.asarray(mask, dtype=bool))
        return self.env.reset(seed=seed, options=options)  # type: ignore[arg-type]  # VectorEnv.reset says int, its wrapper int or list

    def step(self, actions: Any) -> tuple[Any, Any, Any, Any, dict[str, Any]]:
        """Step all sub-envs and log the episodes that ended."""
        obs, rewards, terminations, truncations, infos = self.env.step(actions)
        self.total_steps += self.num_envs
        finished = self._episodes.step(rewards, terminations, truncations)
        if finished:
            final = infos.get("final_info", infos) if self._same_step else infos
            for episode in finished:
                self._log.log(episode, final, episode.env_index, self.total_steps)
        return obs, rewards, terminations, truncations, infos


class RecordRollouts(gym.Wrapper[Any, Any, Any, Any]):
    """Log a video of every ``every_episodes``-th episode (the first one included) to a run.

    Frames from ``env.render()`` stream to an H.264 encoder thread while the episode runs; at
    its end (or at ``close()``) the video is logged as ``video/episode`` at ``step`` = env steps
    so far. At most ``max_frames`` frames are kept per video (the reset frame included);
    the episode itself goes on. Wraps one env made with ``render_mode="rgb_array"``; for a
    vector env, wrap one sub-env inside its factory (as CleanRL does with ``RecordVideo``).

    Example:
        >>> env = RecordRollouts(gymnasium.make("CartPole-v1", render_mode="rgb_array"))  # doctest: +SKIP
    """

    def __init__(
        self,
        env: gym.Env[Any, Any],
        run: rltrack.Run | None = None,
        *,
        every_episodes: int = 10,
        max_frames: int = 1000,
    ) -> None:
        """Wrap ``env``; ``run=None`` uses the current run.

        Raises:
            InvalidValueError: ``env`` is a vector env or does not render ``rgb_array`` frames, or
                ``every_episodes``/``max_frames`` is not a positive int.
            RltrackError: No run is current, or ``run`` has finished.
        """
        if isinstance(env, VectorEnv):
            raise InvalidValueError(
                f"RecordRollouts got the vector env {env!r}; wrap one sub-env in its factory instead, e.g. "
                "RecordRollouts(gymnasium.make(env_id, render_mode='rgb_array')) for index 0"
            )
        check_rgb_array_env(env, "RecordRollouts env")
        self._every = _positive_int("every_episodes", every_episodes)
        self._max_frames = _positive_int("max_frames", max_frames)
        headless_sdl()
        super().__init__(env)
        self._run = resolve_run(run, "RecordRollouts")
        self._warn = WarnOnce()
        self._fps = render_fps(env)
        self._episode = -1
        self._video: EpisodeVideo | None = None
        #: Env steps taken through this wrapper: the ``step`` of logged videos.
        self.total_steps = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Reset the env; start recording if this episode is one to record."""
        self._finish_video()
        obs, info = self.env.reset(seed=seed, options=options)
        self._episode += 1
        if self._episode % self._every == 0 and not self._run.finished:
            self._video = EpisodeVideo(fps=self._fps, caption=f"episode {self._episode}", max_frames=self._max_frames)
            self._video.add(self.env.render())
        return obs, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        """Step the env, stream its frame if recording, and log the video when the episode ends."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.total_steps += 1
        if self._video is not None:
            if not self._video.full:
                self._video.add(self.env.render())
            if terminated or truncated:
                self._finish_video()
        return obs, reward, terminated, truncated, info

    def close(self) -> None:
        """Log a video still being recorded, then close the env."""
        self._finish_video()
        super().close()  # type: ignore[no-untyped-call]  # gymnasium 1.2 (pinned by RLlib) leaves Wrapper.close untyped

    def _finish_video(self) -> None:
        video, self._video = self._video, None
        if video is not None:
            log_unless_finished(self._run, {VIDEO_KEY: video.stream}, self.total_steps, self._warn)
