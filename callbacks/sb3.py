"""Stable-Baselines3 training into a run: :class:`RLTrackCallback`."""

from __future__ import annotations

from typing import Any

import numpy as np
from rltrack.callbacks._checkpoints import Checkpointer
from rltrack.callbacks._runs import check_running, current_run, log_unless_finished, resolve_run
from rltrack.callbacks._sb3_config import model_config
from rltrack.callbacks._sb3_video import PolicyVideo
from rltrack.callbacks._video import check_rgb_array_env
from rltrack.callbacks._warn import WarnOnce
from rltrack.callbacks.episodes import EpisodeAccumulator
from rltrack.callbacks.sb3_logger import RunOutputFormat
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import VecMonitor, is_vecenv_wrapped

import rltrack
from rltrack._disabled import DisabledRun
from rltrack.errors import InvalidValueError, RltrackError
from rltrack.media import Histogram

__all__ = ["RLTrackCallback"]

#: The key whose best value moves the checkpoint alias ``best``.
EVAL_KEY = "eval/mean_reward"


def _every(name: str, value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidValueError(f"{name}={value!r} must be a positive number of timesteps (an int) or None")
    return value


class RLTrackCallback(BaseCallback):
    """Log an SB3 training run: every logger value, every episode, config, checkpoints and videos.

    - Every value SB3's logger dumps (``train/*``, ``rollout/*``, ``time/*``, ``eval/*``) lands at
      SB3's step through a ``KVWriter`` added to ``model.logger.output_formats``.
    - Every finished episode of every sub-env (from ``Monitor``/``VecMonitor`` infos) is logged as
      ``episode/return``, ``episode/length`` (and ``episode/success`` when the info has
      ``is_success``) at ``step = model.num_timesteps``.
    - ``run.config`` gets the algorithm, policy, every constructor hyperparameter, env id,
      ``n_envs``, seed and library versions (keys the run already has are kept).
    - With ``checkpoint_every``, the model is stored every that many timesteps and at the end
      as versions of the artifact ``<run name>-policy`` with alias ``latest``; each new best
      ``eval/mean_reward`` (from SB3's ``EvalCallback`` alongside) stores the evaluated model
      with alias ``best``.
    - With ``video_env`` (one env, ``render_mode="rgb_array"``), one deterministic episode of
      up to ``video_length`` frames is logged as ``video/episode`` (with ``video/return`` and
      ``video/length``) every ``video_every`` timesteps, or once at the end without it. The
      episode runs with a snapshot of the policy in a child process that gets a copy of
      ``video_env`` (pickled, or rebuilt from its spec), so training never waits on rendering
      or encoding; where that copy cannot be made (a VecEnv, classes defined in ``__main__``)
      it runs on a background thread instead. Frames stream to the encoder, never buffered; a
      video still recording when the next is due defers that one (at the end of training it is
      queued behind it). ``learn()`` never waits for a video: ``run.flush()`` and
      ``run.finish()`` do.
    - With ``gradients_every``, histograms of every policy weight and gradient are logged as
      ``weights/*`` and ``gradients/*``.
    - Training stops (``_on_step`` returns False) once the run's ``_should_stop`` attribute is
      true (how a sweep prunes a trial), with no final checkpoint or video.

    Example:
        >>> model.learn(10_000, callback=RLTrackCallback(project="cartpole"))  # doctest: +SKIP
    """

    def __init__(
        self,
        run: rltrack.Run | None = None,
        *,
        checkpoint_every: int | None = None,
        video_env: Any = None,
        video_every: int | None = None,
        video_length: int = 1000,
        gradients_every: int | None = None,
        **init_kwargs: Any,
    ) -> None:
        """Check the settings and pick the run (``run``, else ``rltrack.init(**init_kwargs)`` or the current run).

        Raises:
            InvalidValueError: A ``*_every`` or ``video_length`` is not a positive int, ``video_every``
                has no ``video_env``, or ``video_env`` is not one ``rgb_array`` env.
            RunFinishedError: ``run`` has finished.
            RltrackError: ``run`` and ``init_kwargs`` are both given.
        """
        super().__init__(verbose=0)
        self._checkpoint_every = _every("checkpoint_every", checkpoint_every)
        self._video_every = _every("video_every", video_every)
        self._gradients_every = _every("gradients_every", gradients_every)
        if _every("video_length", video_length) is None:
            raise InvalidValueError(f"video_length={video_length!r} must be a positive number of frames")
        if video_env is None and video_every is not None:
            raise InvalidValueError(
                f"video_every={video_every!r} needs video_env=gymnasium.make(env_id, render_mode='rgb_array')"
            )
        if video_env is not None:
            check_rgb_array_env(video_env, "video_env")
        if run is not None and init_kwargs:
            raise RltrackError(
                f"RLTrackCallback got run={run!r} and init arguments {sorted(init_kwargs)!r}; pass one or the other"
            )
        if run is None and (init_kwargs or current_run() is None):
            run = rltrack.init(**init_kwargs)
        self.run: rltrack.Run = resolve_run(run, "RLTrackCallback")
        self._warn = WarnOnce()
        self._video = (
            PolicyVideo(
                video_env,
                max_frames=video_length,
                log=self._log,
                warn=self._warn,
                # A disabled run's dir is the working directory: nothing may be written there.
                folder=None if isinstance(self.run, DisabledRun) else self.run.dir / "media" / ".video-process",
            )
            if video_env is not None
            else None
        )
        self._writer = RunOutputFormat(self._on_logger_values, self._on_hparams, warn=self._warn)
        self._checkpoints = Checkpointer(self.run, self._warn) if checkpoint_every is not None else None
        self._episodes: EpisodeAccumulator | None = None
        self._best = -np.inf
        self._stop = False
        self._next_checkpoint = self._next_video = self._next_gradients = 0
        self._last_video_step = -1

    # ---- SB3 hooks -------------------------------------------------------------------------

    def _init_callback(self) -> None:
        resolve_run(self.run, "RLTrackCallback")  # refuse a run finished since construction, before training
        formats = self.model.logger.output_formats
        if self._writer not in formats:
            formats.append(self._writer)
        config = model_config(self.model)
        missing = {k: v for k, v in config.items() if k not in self.run.config}
        if missing:
            self.run.config.update(missing)
        self.run.define_metric(EVAL_KEY, summary="max", goal="maximize")
        self._episodes = None if self._has_monitor() else EpisodeAccumulator(self.model.n_envs)
        now = self.model.num_timesteps
        self._next_checkpoint = _next_multiple(now, self._checkpoint_every)
        self._next_video = _next_multiple(now, self._video_every)
        self._next_gradients = _next_multiple(now, self._gradients_every)
        self._stop = False

    def _on_step(self) -> bool:
        step = self.num_timesteps
        if self._episodes is None:
            infos = self.locals.get("infos")
            if infos is not None:
                for info in infos:
                    episode = info.get("episode")
                    if episode is not None:
                        self._log_episode(episode["r"], episode["l"], info.get("is_success"), step)
        else:
            self._count_episodes(step)
        # A multiple reached by the last step is left to the end of training: PPO, A2C and the
        # off-policy algorithms still update the policy after that step's callback.
        if (
            self._checkpoints is not None
            and step >= self._next_checkpoint
            and step < getattr(self.model, "_total_timesteps", step + 1)
        ):
            self._checkpoints.save(self.model, step)
            self._next_checkpoint = _next_multiple(step, self._checkpoint_every)
        video_due = self._video_every is not None and step >= self._next_video
        if video_due and self._video is not None and not self._video.busy:
            # A video still recording defers the next one to the first step after it is done.
            self._record_video(step)
            self._next_video = _next_multiple(step, self._video_every)
        if self._gradients_every is not None and step >= self._next_gradients:
            self._log_gradients(step)
            self._next_gradients = _next_multiple(step, self._gradients_every)
        return not (self._stop or getattr(self.run, "_should_stop", False))

    def _on_training_end(self) -> None:
        try:
            self._end_training()
        finally:
            # learn() returns now: a recording still running lands, and the video process exits,
            # by run.flush()/finish(). Until then a next learn() with this callback reuses the
            # warm child instead of starting one (~1.4 s of CPU to import torch and SB3).
            if self._video is not None and self._video.close not in self.run._pending:
                self.run._pending.append(self._video.close)

    def _end_training(self) -> None:
        formats = self.model.logger.output_formats
        if self._writer in formats:
            formats.remove(self._writer)
        if self._stop or getattr(self.run, "_should_stop", False):
            return  # stopped on request (a pruned sweep trial): no final checkpoint or video
        step = self.num_timesteps
        if self._checkpoints is not None and not self._checkpoints.is_current(self.model, step):
            self._checkpoints.save(self.model, step)
        # Without video_every the one video comes now; with it, a video deferred because the
        # previous one was still recording (and never started since) comes now too.
        deferred = self._video_every is not None and step >= self._next_video
        if self._video is not None and (self._video_every is None or deferred) and self._last_video_step != step:
            self._record_video(step, queue=True)  # after a recording still running, without waiting

    # ---- what gets logged ------------------------------------------------------------------

    def _log(self, data: dict[str, Any], step: int) -> None:
        try:
            log_unless_finished(self.run, data, step, self._warn)
        except RltrackError:
            # A run observer (a sweep's pruner) may raise out of log(); when it also asked to
            # stop, stop cleanly at the next step instead of tearing down learn().
            if getattr(self.run, "_should_stop", False):
                self._stop = True
                return
            raise

    def _on_hparams(self, hparams: dict[str, Any]) -> None:
        if check_running(self.run, self._warn):
            self.run.config.update(hparams)

    def _on_logger_values(self, values: dict[str, Any], step: int) -> None:
        self._log(values, step)
        value = values.get(EVAL_KEY)
        if value is not None and value > self._best:
            self._best = float(value)
            if self._checkpoints is not None:
                # Called inside EvalCallback's dump: the model right now is the one just evaluated.
                self._checkpoints.save(self.model, step, best=True, metadata={EVAL_KEY: float(value)})

    def _log_episode(self, episode_return: Any, length: Any, success: Any, step: int) -> None:
        values: dict[str, float | int] = {"episode/return": float(episode_return), "episode/length": int(length)}
        if success is not None:
            values["episode/success"] = float(success)
        self._log(values, step)

    def _count_episodes(self, step: int) -> None:
        # No Monitor: episodes from the rewards the algorithm saw (unnormalised when VecNormalize is used).
        assert self._episodes is not None  # only called when the fallback is active
        dones = self.locals.get("dones")
        rewards = self.locals.get("rewards")
        if dones is None or rewards is None:
            return
        vec_normalize = self.model.get_vec_normalize_env()
        if vec_normalize is not None:
            rewards = vec_normalize.get_original_reward()
        infos = self.locals.get("infos") or [{}] * len(dones)
        for episode in self._episodes.step(rewards, dones, np.zeros_like(dones)):
            self._log_episode(episode.episode_return, episode.length, infos[episode.env_index].get("is_success"), step)

    def _has_monitor(self) -> bool:
        env = self.model.get_env()
        if env is None or is_vecenv_wrapped(env, VecMonitor) or all(env.env_is_wrapped(Monitor)):
            return True
        self._warn(
            "no-monitor",
            "the training env has no Monitor/VecMonitor, so rltrack counts episodes from the rewards SB3 sees "
            "and SB3 logs no rollout/ep_rew_mean; wrap it for exact episodes: VecMonitor(env), or "
            "make_vec_env(env_id, n_envs) which adds Monitor",
        )
        return False

    def _log_gradients(self, step: int) -> None:
        if not check_running(self.run, self._warn):
            return
        data: dict[str, Any] = {}
        for name, param in self.model.policy.named_parameters():
            key = name.replace(".", "/")
            data[f"weights/{key}"] = Histogram(param.detach().cpu())
            if param.grad is not None:
                data[f"gradients/{key}"] = Histogram(param.grad.detach().cpu())
        if data:
            self._log(data, step)

    def _record_video(self, step: int, *, queue: bool = False) -> None:
        if self._video is None or not check_running(self.run, self._warn):
            return
        if self._video.start(self.model, step, queue=queue):
            self._last_video_step = step


def _next_multiple(now: int, every: int | None) -> int:
    """Return the first multiple of ``every`` after ``now`` (counted in timesteps, whatever ``n_envs`` is)."""
    if every is None:
        return 0
    return (now // every + 1) * every
