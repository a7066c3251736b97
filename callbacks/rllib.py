"""RLlib training into a run: :class:`RLTrackRLlibCallback`, a callback of RLlib's new API stack.

Where the values are written: **through the driver.** RLlib builds one instance of the callback
in every process (the algorithm's, and each remote env runner's). Env runners write nothing to
rltrack: at each episode's end they add its return and length to their own RLlib
``MetricsLogger`` (an ``item_series`` under ``rltrack_episodes``), which RLlib already ships to
the algorithm with every training iteration. Only the algorithm's process opens the run. So env
runners on other machines need neither the store folder nor server credentials, a run keeps one
writer and one clock, and episodes share the iterations' step axis.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ray.rllib.callbacks.callbacks import RLlibCallback
from rltrack.callbacks._frameworks import LazyRun, log_values
from rltrack.callbacks._runs import check_running
from rltrack.callbacks._warn import WarnOnce
from rltrack.callbacks.ray_tune import _as_step, flatten_result

import rltrack
from rltrack.errors import InvalidValueError

__all__ = ["EPISODES_KEY", "RLTrackRLlibCallback"]

#: The env runners' ``MetricsLogger`` key that carries ``(return, length)`` of each finished episode.
EPISODES_KEY = "rltrack_episodes"


class RLTrackRLlibCallback(RLlibCallback):
    """Log an RLlib training run: every metric of each training iteration and every episode's return.

    - After each ``algo.train()`` (``on_train_result``), every number in the result dict RLlib
      returns lands at ``step = result["num_env_steps_sampled_lifetime"]`` under its flattened
      name: ``env_runners/episode_return_mean``, ``learners/default_policy/policy_loss``,
      ``timers/training_iteration``, ... (``/`` joins the nesting). Booleans, strings and the
      ``config`` entry are not metrics and are skipped.
    - Every episode an env runner (local or remote) finished in that iteration is logged as
      ``episode/return`` and ``episode/length`` at the same step (``evaluation/episode/*`` for
      evaluation runners); see the module docstring for how the values travel.
    - At ``on_algorithm_init`` the algorithm's name and its JSON-able config values go into
      ``run.config`` (keys the run already has are kept).
    - The run is ``rltrack.init(**init_kwargs)`` or, without arguments, the current run; it is
      started in the algorithm's process only, when the algorithm is built.

    RLlib builds the callback itself, without arguments; pass arguments with ``functools.partial``.

    Example:
        >>> config.callbacks(functools.partial(RLTrackRLlibCallback, project="cartpole"))  # doctest: +SKIP
    """

    def __init__(self, *, step_key: str = "num_env_steps_sampled_lifetime", **init_kwargs: Any) -> None:
        """Remember how to find the run; nothing is started here (env runners build one too).

        Args:
            step_key: The result entry (flattened name) used as the step.
            **init_kwargs: Arguments for :func:`rltrack.init`; none: the current run.

        Raises:
            InvalidValueError: ``step_key`` is not a non-empty string, or ``run=`` was given (a run
                cannot travel to env runner processes).
        """
        super().__init__()
        if "run" in init_kwargs:
            raise InvalidValueError(
                "RLTrackRLlibCallback cannot take run=: RLlib copies the callback into every env runner "
                "process; call rltrack.init() before building the algorithm, or pass init arguments"
            )
        if not isinstance(step_key, str) or not step_key:
            raise InvalidValueError(f"step_key={step_key!r} must name a result entry, such as "
                                    "'num_env_steps_sampled_lifetime'")
        self._init_kwargs = init_kwargs
        self._step_key = step_key
        self._run: LazyRun | None = None
        self._warn = WarnOnce()

    def __getstate__(self) -> dict[str, Any]:
        # A copy sent to another process carries the settings, never the run.
        return {"_init_kwargs": self._init_kwargs, "_step_key": self._step_key, "_run": None, "_warn": WarnOnce()}

    @property
    def run(self) -> rltrack.Run | None:
        """The run, once the algorithm has been built in this process (None in env runners)."""
        return None if self._run is None else self._run.made

    # ---- the algorithm's process --------------------------------------------------------------

    def on_algorithm_init(self, *, algorithm: Any, metrics_logger: Any = None, **kwargs: Any) -> None:
        """Start (or pick) the run and put the algorithm's config into ``run.config``."""
        self._run = LazyRun(None, self._init_kwargs, "RLTrackRLlibCallback")
        run = self._run.get()
        if not check_running(run, self._warn):
            return
        config: dict[str, Any] = {"algorithm": type(algorithm).__name__}
        try:
            config.update(_json_config(algorithm.config.to_dict()))
        except Exception as err:  # a config RLlib cannot export must not stop training
            self._warn("config", f"the RLlib config was not stored ({err!r}); training goes on")
        run.config.setdefaults(config)

    def on_train_result(self, *, algorithm: Any, metrics_logger: Any = None, result: dict[str, Any],
                        **kwargs: Any) -> None:
        """Log every number of ``result`` and the iteration's episodes at the iteration's step."""
        if self._run is None:  # built outside Algorithm.setup (a user calling us directly)
            self._run = LazyRun(None, self._init_kwargs, "RLTrackRLlibCallback")
        run = self._run.get()
        episodes = _pop_episodes(result)  # before flattening: the user's result stays as RLlib made it
        step = self._step(result, run)
        log_values(run, flatten_result(result), step, self._warn)
        for prefix, (episode_return, length) in episodes:
            log_values(run, {f"{prefix}episode/return": episode_return, f"{prefix}episode/length": length},
                       step, self._warn)

    def _step(self, result: Mapping[str, Any], run: rltrack.Run) -> int:
        value: Any = result
        for part in self._step_key.split("/"):
            value = value.get(part) if isinstance(value, Mapping) else None
        step = _as_step(value)
        if step is not None:
            return step
        self._warn("step", f"the result has no {self._step_key!r} (got {value!r}); values are logged at the "
                           "run's next step instead")
        return run.step

    # ---- every env runner's process -----------------------------------------------------------

    def on_episode_end(self, *, episode: Any, prev_episode_chunks: list[Any] | None = None,
                       metrics_logger: Any = None, **kwargs: Any) -> None:
        """Hand the finished episode's return and length to RLlib's metrics (they reach the driver)."""
        if metrics_logger is None:  # the old API stack has no MetricsLogger here
            self._warn("old-stack", "RLTrackRLlibCallback needs RLlib's new API stack for episode values; "
                                    "iteration metrics are still logged")
            return
        try:
            chunks = [episode, *(prev_episode_chunks or [])]
            episode_return = float(sum(chunk.get_return() for chunk in chunks))
            length = int(sum(len(chunk) for chunk in chunks))
            metrics_logger.log_value(EPISODES_KEY, (episode_return, length), reduce="item_series")
        except Exception as err:  # telemetry never stops sampling
            self._warn(f"episode-{type(err).__name__}", f"an episode's return was not recorded ({err!r})")


def _pop_episodes(result: dict[str, Any]) -> list[tuple[str, tuple[float, int]]]:
    """Take the episodes the env runners sent out of ``result``; return ``(key prefix, (return, length))``."""
    found: list[tuple[str, tuple[float, int]]] = []
    for prefix, holder in (("", result.get("env_runners")),
                           ("evaluation/", (result.get("evaluation") or {}).get("env_runners"))):
        if isinstance(holder, dict):
            items = holder.pop(EPISODES_KEY, None) or []
            found.extend((prefix, (float(r), int(n))) for r, n in items)
    return found


def _json_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The config entries that are JSON values (classes, callables and spaces are left out)."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        if key.startswith("_"):  # the store behind a public property: `_train_batch_size_per_learner`
            key = key.lstrip("_")
            if not key or key in config:
                continue
        if callable(value):
            continue
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            continue
        out[str(key)] = value
    return out
