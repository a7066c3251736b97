"""``metric="filter"``: score a simulator by the likelihood of a noisy recording under an ensemble Kalman filter.

Open-loop replay starts each window from a recorded observation. With noisy sensors that start is
off by the noise, the replay carries the error through the window, and what the parameters change
drowns: on the demo's stand-in (velocity noise 0.3 m/s) the replay error moves by less than 1 %
between a pole 2x and 6x heavier. Yet the recording holds that information, spread over every step.

The filter reads it the way system identification does (the prediction-error method): an ensemble
of :data:`MEMBERS` copies of the simulator, all given the recorded commands, tracks the state; at
each step the ensemble's prediction of the next observation is compared with the recorded one,
and the ensemble is moved toward it by the Kalman gain (with perturbed observations). The score is
the negative log-likelihood of the recording's innovations, ``0.5 (r' S^-1 r + log det S)`` with
``S`` the predicted spread plus the sensor noise. Parameters that predict the next step better,
*given everything recorded before it*, score better, however noisy the sensors.

The simulator must be settable to a state (``set_state``, or an ``unwrapped.state`` that is the
observation). Hidden state the observation does not show (an actuator's command queue) stays
right because every member receives the same commands. The random draws are seeded per episode:
a parameter set always gets the same score, so the search sees a deterministic function.

``Score.objective`` is ``exp(mean negative log-likelihood per recorded value)``: positive, lower is
better, and ``n * log(a / b)`` is the log-likelihood ratio of two parameter sets, which is how the
near-best set becomes a likelihood-ratio confidence set (:func:`likelihood_tolerance`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from rltrack.sim2real.calibrate_space import CalibrationError
from rltrack.sim2real.replay import _set_initial

if TYPE_CHECKING:
    from rltrack.sim2real.calibrate_env import Objective, Score

__all__ = ["CHI2_95", "MEMBERS", "filter_predict", "filter_score", "likelihood_tolerance"]

FloatArray = npt.NDArray[np.float64]
#: Simulator copies in the ensemble: enough for a 4-dimensional state; the cost grows with it.
MEMBERS = 16
#: Process noise per step, as a fraction of each key's spread in the recording: room for model error
#: and for an ensemble that would otherwise collapse.
PROCESS_NOISE = 0.01
#: 95 % quantile of chi-square with one degree of freedom: a likelihood-ratio interval's threshold.
CHI2_95 = 3.841


def likelihood_tolerance(n_values: int) -> float:
    """Relative objective tolerance equal to a log-likelihood drop of ``CHI2_95 / 2`` over ``n_values``."""
    return math.expm1(CHI2_95 / 2 / max(n_values, 1))


def _noise(objective: Objective, params: Mapping[str, Any]) -> FloatArray:
    values = []
    for key, spec in zip((objective.episodes.obs_keys[c] for c in objective.columns), objective.noise, strict=True):
        value = float(params[spec]) if isinstance(spec, str) else float(spec)
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"sensor noise of {key!r} is {value!r}; it must be a finite std >= 0")
        values.append(value)
    return np.asarray(values)


def _putter(objective: Objective, env: Any) -> Callable[[FloatArray], None]:
    """Put one member into a state: ``set_state``, or its ``unwrapped.state`` (looked up once, not per step)."""
    if objective.set_state is not None:
        set_state = objective.set_state
        return lambda state: set_state(env, state)
    unwrapped = env.unwrapped
    dtype = np.asarray(unwrapped.state).dtype

    def put(state: FloatArray) -> None:
        unwrapped.state = state.astype(dtype)

    return put


class _Ensemble:
    """The simulator copies and what the filter needs to step them together."""

    def __init__(self, objective: Objective, params: Mapping[str, Any]) -> None:
        self.objective = objective
        self.envs = [objective.factory.build(objective.sim_params(params)) for _ in range(MEMBERS)]
        self.noise = _noise(objective, params)
        self.spread = objective.scale_all()

    def close(self) -> None:
        for env in self.envs:
            env.close()

    def run(self, episode: int) -> tuple[float, FloatArray, FloatArray]:
        """Filter one episode: its negative log-likelihood, squared innovations per key, predicted means."""
        obj, cols = self.objective, list(self.objective.columns)
        obs, act, seed = obj.episodes.observations[episode], obj.episodes.actions[episode], obj.episodes.seeds[episode]
        commands = obj._commands(self.envs[0], episode, act)
        rng = np.random.default_rng([episode, 20_161])  # the same draws for every parameter set
        for env in self.envs:
            reset_obs, _ = env.reset(seed=seed)
            obj._check_size(np.asarray(reset_obs).size, obs.shape[1])
            if not _set_initial(env, reset_obs, obs[0], obj.set_state):
                raise CalibrationError(
                    "metric='filter' puts the simulator into estimated states, but its env.unwrapped.state is "
                    "not its observation; pass set_state=..., or use metric='trajectory'"
                )
        puts = [_putter(obj, env) for env in self.envs]  # after reset: some envs have no state before it
        dim = obs.shape[1]
        start_std = self.spread.copy()  # an unscored key: only its spread in the recording is known
        start_std[cols] = np.maximum(self.noise, PROCESS_NOISE * self.spread[cols])
        states = obs[0] + rng.standard_normal((MEMBERS, dim)) * start_std
        q = np.diag((PROCESS_NOISE * self.spread) ** 2)
        r_cov = np.diag(self.noise**2)
        nll, sq = 0.0, np.zeros(len(cols))
        means = np.empty((obs.shape[0] - 1, dim))
        pred = np.empty((MEMBERS, dim))
        for t in range(obs.shape[0] - 1):
            for i, (env, put) in enumerate(zip(self.envs, puts, strict=True)):
                put(states[i])
                pred[i] = np.asarray(env.step(commands[t])[0], dtype=np.float64).ravel()
            mean = pred.mean(axis=0)
            means[t] = mean
            dev = pred - mean
            cov = dev.T @ dev / (MEMBERS - 1) + q
            s_cov = cov[np.ix_(cols, cols)] + r_cov
            innovation = obs[t + 1, cols] - mean[cols]
            chol = np.linalg.cholesky(s_cov)
            white = np.linalg.solve(chol, innovation)
            nll += 0.5 * float(white @ white) + float(np.sum(np.log(np.diag(chol))))
            sq += innovation**2
            gain = np.linalg.solve(s_cov, cov[cols, :]).T  # cov H' S^-1 (S is symmetric)
            draws = obs[t + 1, cols] + rng.standard_normal((MEMBERS, len(cols))) * self.noise
            states = pred + (draws - pred[:, cols]) @ gain.T
        return nll, sq, means


def filter_score(objective: Objective, params: Mapping[str, Any]) -> Score:
    """Score the simulator built with ``params`` by the filter's negative log-likelihood of the recording.

    Raises:
        CalibrationError: The simulator's state cannot be set, or its observation has the wrong size.
        Exception: Whatever ``make_env`` or the env raises.
    """
    from rltrack.sim2real.calibrate_env import Score

    ensemble = _Ensemble(objective, params)
    nll, sq, n = 0.0, np.zeros(len(objective.columns)), 0
    try:
        with warnings.catch_warnings():
            # Members are stepped past the env's own episode end (a pole beyond 12 degrees) on purpose.
            warnings.simplefilter("ignore")
            for k in range(len(objective.episodes)):
                part, part_sq, means = ensemble.run(k)
                nll, sq, n = nll + part, sq + part_sq, n + means.shape[0]
    finally:
        ensemble.close()
    values = n * len(objective.columns)
    per_value = nll / max(values, 1)
    return Score(
        objective=math.exp(min(per_value, 700.0)), rmse=tuple(float(x) for x in np.sqrt(sq / max(n, 1))),
        n_samples=values, sim_steps=n * MEMBERS,
    )  # fmt: skip


def filter_predict(objective: Objective, params: Mapping[str, Any], episode: int) -> FloatArray:
    """One episode's recorded start and the filter's one-step predictions after it, ``(T, obs_dim)``."""
    ensemble = _Ensemble(objective, params)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            means = ensemble.run(episode)[2]
    finally:
        ensemble.close()
    return np.vstack([objective.episodes.observations[episode][:1], means])
