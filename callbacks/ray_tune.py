"""Ray Tune trials into runs: :class:`RLTrackTuneCallback`, a Tune callback that makes each trial a run.

The callback lives in the driver (the process that calls ``Tuner.fit()``) and writes every run
itself from the results Tune sends there, so trial workers on other machines need no access to
the store. Runs land in the driver's store folder (a folder the team shares), or on the team's
rltrack server in online mode (``url=`` or ``RLTRACK_URL``).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator, Mapping
from typing import Any

from ray.tune import Callback
from rltrack.callbacks._frameworks import log_values
from rltrack.callbacks._warn import WarnOnce

import rltrack
from rltrack import _live
from rltrack.errors import InvalidValueError, RltrackError
from rltrack.sweeps.engine import new_id
from rltrack.sweeps.ray_engine import TrialOutcome, trial_state

__all__ = ["RLTrackTuneCallback", "flatten_result"]

#: Result entries that are not metrics: the trial's config (it is the run's config instead).
_NOT_METRICS = frozenset({"config"})


class RLTrackTuneCallback(Callback):
    """Log every Ray Tune trial as an ordinary run in one group: config, every reported number, final state.

    - A trial's run starts when the trial does: id ``<group>-<trial id>``, ``group``, and the
      trial's config as ``run.config``. A trial that Tune restarts continues its run.
    - Every number of each result the trial reports lands at ``step = result[step_key]``
      (default ``training_iteration``) under its name (nested results joined with ``/``); the
      ``config`` entry, booleans and strings are skipped.
    - The run ends ``finished`` when the trial's function returned, when the experiment's ``stop``
      rule was met, or when the trial reached ``max_t`` iterations (the scheduler's budget);
      ``pruned`` when a scheduler (ASHA, HyperBand, median stopping) stopped it earlier; ``failed``
      when it raised. A run still open when the experiment ends reads ``failed``.

    Example:
        >>> callback = RLTrackTuneCallback(project="tune", group="lr-search", max_t=20)  # doctest: +SKIP
        >>> tuner = tune.Tuner(train, run_config=tune.RunConfig(callbacks=[callback]))  # doctest: +SKIP
    """

    def __init__(
        self,
        project: str | None = None,
        *,
        group: str | None = None,
        step_key: str = "training_iteration",
        max_t: int | None = None,
        **init_kwargs: Any,
    ) -> None:
        """Set where the trials' runs go; nothing is started until a trial starts.

        Args:
            project: Project of the runs (as :func:`rltrack.init`).
            group: Group of the runs (default: a new 8-character id, one per callback).
            step_key: The result entry used as the step.
            max_t: The scheduler's ``max_t`` (in ``training_iteration``): a trial stopped there has
                spent its budget and reads ``finished``, not ``pruned``.
            **init_kwargs: More arguments for :func:`rltrack.init` (``dir``, ``url``, ``tags``, ...).

        Raises:
            InvalidValueError: ``step_key`` is not a non-empty string, ``max_t`` not a positive
                integer, or ``init_kwargs`` holds an argument the callback sets per trial.
        """
        super().__init__()
        if not isinstance(step_key, str) or not step_key:
            raise InvalidValueError(f"step_key={step_key!r} must name a result entry, such as 'training_iteration'")
        if max_t is not None and (not isinstance(max_t, int) or isinstance(max_t, bool) or max_t < 1):
            raise InvalidValueError(f"max_t={max_t!r} must be a positive integer (the scheduler's max_t) or None")
        per_trial = sorted({"id", "config", "resume", "group", "name"} & set(init_kwargs))
        if per_trial:
            raise InvalidValueError(f"RLTrackTuneCallback sets {per_trial!r} per trial; leave them out")
        self._project = project
        self._group = group or new_id()
        self._step_key = step_key
        self._max_t = max_t
        self._init_kwargs = {"system_metrics": False, "quiet": True, **init_kwargs}
        self._stop: Mapping[str, Any] | None = None
        self._runs: dict[str, rltrack.Run] = {}
        self._last: dict[str, Mapping[str, Any]] = {}
        self._warn = WarnOnce()

    @property
    def group(self) -> str:
        """The group every trial's run is in."""
        return self._group

    def run_of(self, trial_id: str) -> rltrack.Run | None:
        """The run of the trial ``trial_id`` (None before it started)."""
        return self._runs.get(trial_id)

    # ---- Tune's hooks (all on the driver) ----------------------------------------------------

    def setup(self, stop: Any = None, num_samples: int | None = None, total_num_samples: int | None = None,
              **info: Any) -> None:
        """Remember the experiment's ``stop`` rule (a dict of thresholds) to tell stopped from pruned."""
        self._stop = stop if isinstance(stop, Mapping) else None

    def on_trial_start(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        """Start (or continue) the trial's run."""
        self._start(trial)

    def on_trial_result(self, iteration: int, trials: list[Any], trial: Any, result: dict[str, Any],
                        **info: Any) -> None:
        """Log every number of ``result`` at its step."""
        run = self._start(trial)
        if run is None:
            return
        self._last[trial.trial_id] = result
        step = _as_step(result.get(self._step_key))
        if step is None:
            self._warn("step", f"a result has no {self._step_key!r} (got {result.get(self._step_key)!r}); it is "
                               "logged at the run's next step")
            step = run.step
        log_values(run, flatten_result(result), step, self._warn)

    def on_trial_complete(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        """Finish the run: ``finished``, or ``pruned`` when a scheduler stopped the trial early."""
        last = self._last.get(trial.trial_id, {})
        stopped = bool(last.get("done")) and not self._stop_rule_met(last)
        outcome = TrialOutcome(trial.trial_id, {}, reports=_as_step(last.get("training_iteration")) or 0,
                               stopped=stopped)
        state, reason = trial_state(outcome, self._max_t) if outcome.reports else ("finished", None)
        self._finish(trial.trial_id, 0, state, reason)

    def on_trial_error(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        """Finish the run as ``failed``."""
        self._finish(trial.trial_id, 1, "failed", "the trial raised (Tune's error.txt in the trial folder has "
                                                  "the traceback)")

    def on_experiment_end(self, trials: list[Any], **info: Any) -> None:
        """Finish the runs of trials that never ended (the experiment stopped first) as ``failed``."""
        for trial_id in list(self._runs):
            self._finish(trial_id, 1, "failed", "the Tune experiment ended before the trial")

    # ---- helpers --------------------------------------------------------------------------------

    def _start(self, trial: Any) -> rltrack.Run | None:
        run = self._runs.get(trial.trial_id)
        if run is not None:
            return run
        previous = _live.current.get()
        try:
            run = rltrack.init(
                self._project, id=f"{self._group}-{trial.trial_id}", resume="allow", group=self._group,
                config=dict(trial.config), reinit="create_new", **self._init_kwargs,
            )
        except RltrackError as err:  # telemetry never stops the experiment
            self._warn(f"init-{type(err).__name__}", f"trial {trial.trial_id!r} gets no run ({err}); Tune goes on")
            return None
        finally:
            _live.current.set(previous)  # a trial's run never becomes the driver's rltrack.run
        self._runs[trial.trial_id] = run
        return run

    def _finish(self, trial_id: str, exit_code: int, state: str, reason: str | None) -> None:
        run = self._runs.pop(trial_id, None)
        self._last.pop(trial_id, None)
        if run is not None and not run.finished:
            run.finish(exit_code, state=state, reason=reason)

    def _stop_rule_met(self, result: Mapping[str, Any]) -> bool:
        # Tune's dict stop rule: a trial stops once any entry reaches its threshold.
        flat = flatten_result(result)
        return any(
            _is_number(limit) and key in flat and flat[key] >= limit for key, limit in (self._stop or {}).items()
        )


def flatten_result(result: Mapping[str, Any], prefix: str = "") -> dict[str, float | int]:
    """Return the numbers of a Tune or RLlib result dict under ``/``-joined names; ``config`` is skipped.

    Example:
        >>> flatten_result({"env_runners": {"episode_return_mean": 9.5}, "done": False, "config": {"lr": 1}})
        {'env_runners/episode_return_mean': 9.5}
    """
    return dict(_numbers(result, prefix))


def _numbers(result: Mapping[str, Any], prefix: str) -> Iterator[tuple[str, float | int]]:
    for key, value in result.items():
        if not prefix and key in _NOT_METRICS:
            continue
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from _numbers(value, f"{name}/")
        elif _is_number(value):
            yield name, value.item() if hasattr(value, "item") else value


def _as_step(value: object) -> int | None:
    """``value`` as a step (a finite number >= 0, truncated), else None."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        number = float(value)
        if math.isfinite(number) and number >= 0:
            return int(number)
    return None


def _is_number(value: object) -> bool:
    # numpy floats and ints are numbers.Real; bools (and numpy bools, which are not Real) are flags.
    return isinstance(value, numbers.Real) and not isinstance(value, bool)
