"""Build the simulator for one parameter set, and score it by replaying the recorded actions.

A parameter reaches the simulator one of two ways, decided once from the nominal simulator:

- as a keyword argument of ``make_env`` when ``make_env`` names it (or, for a Gymnasium id, when
  the environment's constructor does);
- else as an attribute of ``env.unwrapped`` (a dotted name walks into it: ``model.opt.timestep``),
  set after the env is built. CartPole caches ``total_mass`` and ``polemass_length`` at
  construction, so they are recomputed after its masses or length change.

The score is the open-loop replay error: from a recorded observation, the recorded actions are
applied in the simulator for ``horizon`` steps and the predicted observations are compared with the
recorded ones; then the simulator is put back on the recording and the next window starts. Short
windows keep an unstable system (a pole) from turning tiny errors into a diverged trajectory, which
would leave the objective flat everywhere but at the truth. A simulator that ends an episode early
holds its last observation for the steps it did not reach, so ending early is never rewarded.
"""

from __future__ import annotations

import importlib
import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from rltrack.sim2real.calibrate_data import RealEpisodes
from rltrack.sim2real.calibrate_space import CalibrationError
from rltrack.sim2real.replay import _set_initial, _to_action

__all__ = ["EnvFactory", "Objective", "Score"]

FloatArray = npt.NDArray[np.float64]
SetState = Callable[[Any, FloatArray], None]


def _cartpole_derived(env: Any) -> None:
    env.total_mass = env.masspole + env.masscart
    env.polemass_length = env.masspole * env.length


#: Recorded steps replayed before each window (after the first) to fill the simulator's hidden state.
BURN_IN = 3
#: Constants an env caches at construction from attributes a calibration may change (by class name).
_DERIVED: dict[str, Callable[[Any], None]] = {"CartPoleEnv": _cartpole_derived}


def _resolve(make_env: Callable[..., Any] | str) -> tuple[Callable[..., Any], inspect.Signature | None]:
    """Return the callable that builds the env and the signature that says which kwargs it takes."""
    if callable(make_env):
        return make_env, _signature(make_env)
    if not isinstance(make_env, str) or not make_env:
        raise CalibrationError(f"make_env={make_env!r} must be a callable, 'module:factory' or a Gymnasium env id")
    if ":" in make_env:
        module_name, _, attr = make_env.partition(":")
        try:
            factory = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as err:
            raise CalibrationError(f"cannot load make_env {make_env!r}: {type(err).__name__}: {err}") from err
        if not callable(factory):
            raise CalibrationError(f"make_env {make_env!r} is not callable")
        return factory, _signature(factory)
    import gymnasium as gym

    try:
        entry = gym.spec(make_env).entry_point
    except gym.error.Error as err:
        raise CalibrationError(f"make_env {make_env!r}: not a registered Gymnasium env id ({err})") from err
    if isinstance(entry, str):
        module_name, _, attr = entry.partition(":")
        entry = getattr(importlib.import_module(module_name), attr)
    if not callable(entry):
        raise CalibrationError(f"make_env {make_env!r}: the Gymnasium registry has no entry point for it")
    return (lambda **kw: gym.make(make_env, **kw)), _signature(entry)


def _signature(fn: Callable[..., Any]) -> inspect.Signature | None:
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):  # some builtins have none: then every parameter is an attribute
        return None


class EnvFactory:
    """Builds the simulator with a parameter set (see the module docstring for how each one is set)."""

    def __init__(self, make_env: Callable[..., Any] | str) -> None:
        """Resolve ``make_env`` (a callable, ``"module:factory"`` or a Gymnasium id)."""
        self.spec = make_env
        self._build, sig = _resolve(make_env)
        params = sig.parameters.values() if sig is not None else ()
        self._named = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        self._attrs: frozenset[str] = frozenset()
        self._defaults = {p.name: p.default for p in params if p.default is not p.empty}
        self.nominal: dict[str, Any] = {}

    def __getstate__(self) -> dict[str, Any]:
        # Worker processes rebuild the factory from its spec (a lambda over a Gymnasium id does not pickle).
        return {"spec": self.spec, "attrs": self._attrs, "nominal": self.nominal}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["spec"])  # type: ignore[misc]
        self._attrs, self.nominal = state["attrs"], state["nominal"]

    @property
    def named(self) -> frozenset[str]:
        """Parameters ``make_env`` takes by name (they are passed as keyword arguments)."""
        return frozenset(self._named)

    def describe(self) -> str:
        """Return how ``make_env`` was given: its id, ``module:factory`` or the function's name."""
        return _describe(self.spec)

    def plan(self, names: tuple[str, ...], probe: Any) -> None:
        """Decide which ``names`` are set as attributes, from a built env ``probe``.

        Records :attr:`nominal`: each name's value in the uncalibrated simulator, where known (a
        keyword default of ``make_env``, or the attribute's value in ``probe``).

        Raises:
            CalibrationError: A name is neither an argument of ``make_env`` nor an attribute of
                ``env.unwrapped``.
        """
        attrs = []
        for name in names:
            if name in self._named:
                continue
            if not _has_path(probe.unwrapped, name):
                raise CalibrationError(
                    f"parameter {name!r} is neither an argument of make_env ({_describe(self.spec)}) nor an "
                    f"attribute of env.unwrapped ({type(probe.unwrapped).__name__}); rename it, or make make_env "
                    "take it"
                )
            attrs.append(name)
        self._attrs = frozenset(attrs)
        # What the uncalibrated simulator uses: make_env's defaults, and the attributes as built.
        self.nominal = {n: self._defaults[n] for n in names if n in self._defaults}
        self.nominal |= {n: _get_path(probe.unwrapped, n) for n in attrs}

    def build(self, params: Mapping[str, Any]) -> Any:
        """Return the env built with ``params`` (raises whatever ``make_env`` raises)."""
        env = self._build(**{k: v for k, v in params.items() if k not in self._attrs})
        if self._attrs:
            unwrapped = env.unwrapped
            for name in self._attrs:
                if name in params:
                    _set_path(unwrapped, name, params[name])
            derived = _DERIVED.get(type(unwrapped).__name__)
            if derived is not None:
                derived(unwrapped)
        return env


def _describe(spec: object) -> str:
    return spec if isinstance(spec, str) else getattr(spec, "__qualname__", repr(spec))


def _has_path(obj: Any, dotted: str) -> bool:
    for part in dotted.split("."):
        if not hasattr(obj, part):
            return False
        obj = getattr(obj, part)
    return True


def _get_path(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj.item() if hasattr(obj, "item") and np.ndim(obj) == 0 else obj


def _set_path(obj: Any, dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    for part in parents:
        obj = getattr(obj, part)
    current = getattr(obj, leaf)
    # Keep the attribute's type: an int stays an int, a float32 scalar a float.
    setattr(obj, leaf, type(current)(value) if isinstance(current, (int, float)) and not isinstance(current, bool)
            else value)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Score:
    """One simulator's replay error over the recorded episodes."""

    objective: float
    """``trajectory``: mean over the scored keys of RMSE / the key's spread in the recording; ``dtw``: the
    same with the per-sample DTW cost for the RMSE; ``filter``: exp of the mean negative log-likelihood
    per recorded value (see :mod:`rltrack.sim2real.calibrate_filter`)."""
    rmse: tuple[float, ...]
    """Per scored key, in its own units: RMSE (``trajectory``), DTW cost per sample (``dtw``) or
    RMS of the filter's one-step prediction error (``filter``)."""
    n_samples: int
    """Compared (step, key) samples."""
    sim_steps: int
    """Simulator steps taken."""


@dataclass
class Objective:
    """Replays the recorded actions in a simulator built with a parameter set and scores the prediction."""

    factory: EnvFactory
    episodes: RealEpisodes
    columns: tuple[int, ...]
    scales: FloatArray
    horizon: int | None
    set_state: SetState | None = None
    metric: str = "trajectory"
    dtw_band: int | None = None
    """DTW band half-width in steps (default: :data:`DTW_WINDOW_FRACTION` of the window, as ``compare``)."""
    noise: tuple[float | str, ...] = ()
    """``filter``: sensor noise std per scored key, or the name of the searched parameter holding it."""
    _converted: dict[int, list[Any]] = field(default_factory=dict, init=False, repr=False, compare=False)

    def sim_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """``params`` without the ones the filter's noise model takes (they are not the simulator's)."""
        return {k: v for k, v in params.items() if k not in self.noise}

    def __call__(self, params: Mapping[str, Any]) -> Score:
        """Score the simulator built with ``params``.

        Raises:
            CalibrationError: The simulator's observation does not have the recording's size.
            Exception: Whatever ``make_env`` or the env raises.
        """
        if self.metric == "filter":
            from rltrack.sim2real.calibrate_filter import filter_score

            return filter_score(self, params)
        env = self.factory.build(self.sim_params(params))
        cols = np.asarray(self.columns)
        sq = np.zeros(cols.size)
        n, steps = 0, 0
        preds: list[FloatArray] = []
        reals: list[FloatArray] = []
        try:
            for k, (obs, act, seed) in enumerate(
                zip(self.episodes.observations, self.episodes.actions, self.episodes.seeds, strict=True)
            ):
                commands = self._commands(env, k, act)
                for start, stop in self._windows(env, obs, seed):
                    pred, taken = self._rollout(env, obs, commands, start, stop, seed)
                    real = obs[start + 1 : stop + 1][:, cols]
                    if self.metric == "dtw":
                        preds.append(pred[:, cols])
                        reals.append(real)
                    diff = pred[:, cols] - real
                    sq += np.sum(diff * diff, axis=0)
                    n += diff.shape[0]
                    steps += taken
        finally:
            env.close()
        per_key = np.sqrt(sq / max(n, 1)) if self.metric != "dtw" else self._dtw(preds, reals, max(n, 1))
        return Score(float(np.mean(per_key / self.scales)), tuple(float(r) for r in per_key), n * cols.size, steps)

    def _dtw(self, preds: list[FloatArray], reals: list[FloatArray], n: int) -> FloatArray:
        """Per key: the DTW cost of every window, summed, per compared sample (a warped mean |error|)."""
        from rltrack.sim2real.paired import DTW_WINDOW_FRACTION
        from rltrack.sim2real.stats import dtw_batch_finite

        longest = max((p.shape[0] for p in preds), default=1)
        band = self.dtw_band if self.dtw_band is not None else max(1, math.ceil(DTW_WINDOW_FRACTION * longest))
        out = np.empty(len(self.columns))
        for j in range(len(self.columns)):
            a = [np.ascontiguousarray(p[:, j]) for p in preds]
            b = [np.ascontiguousarray(r[:, j]) for r in reals]
            out[j] = float(np.sum(dtw_batch_finite(a, b, window=band))) / n
        return out

    def predict(self, params: Mapping[str, Any], episode: int) -> list[tuple[int, FloatArray]]:
        """Return one episode's replay in the simulator built with ``params``, window by window.

        Each item is ``(start, rows)``: the window's recorded start observation followed by the
        simulator's predictions, shape ``(stop - start + 1, obs_dim)``. With ``metric="filter"``, one
        item: the filter's one-step predictions over the whole episode.
        """
        if self.metric == "filter":
            from rltrack.sim2real.calibrate_filter import filter_predict

            return [(0, filter_predict(self, params, episode))]
        env = self.factory.build(self.sim_params(params))
        obs, act, seed = (self.episodes.observations[episode], self.episodes.actions[episode],
                          self.episodes.seeds[episode])  # fmt: skip
        try:
            commands = self._commands(env, episode, act)
            out = []
            for start, stop in self._windows(env, obs, seed):
                pred, _ = self._rollout(env, obs, commands, start, stop, seed)
                out.append((start, np.vstack([obs[start], pred])))
            return out
        finally:
            env.close()

    def _windows(self, env: Any, obs: FloatArray, seed: int | None) -> list[tuple[int, int]]:
        last = obs.shape[0] - 1
        reset_obs, _ = env.reset(seed=seed)
        self._check_size(np.asarray(reset_obs).size, obs.shape[1])
        if self.horizon is None or not _set_initial(env, reset_obs, obs[0], self.set_state):
            return [(0, last)]
        return [(s, min(s + self.horizon, last)) for s in range(0, last, self.horizon)]

    def _commands(self, env: Any, episode: int, act: FloatArray) -> list[Any]:
        # Converting the recorded actions to the action space once per process, not once per step.
        if episode not in self._converted:
            self._converted[episode] = [_to_action(env.action_space, row) for row in act]
        return self._converted[episode]

    def scale_all(self) -> FloatArray:
        """Every observation key's standard deviation in the recording (1 for a constant key)."""
        std = np.std(np.vstack(self.episodes.observations), axis=0)
        return np.where(std > 0, std, 1.0)

    def _check_size(self, sim: int, real: int) -> None:
        if sim != real:
            raise CalibrationError(
                f"the simulator observes {sim} values but the recording has {real} observation keys "
                f"({', '.join(self.episodes.obs_keys)}); pass the keys in the simulator's order (observations=[...])"
            )

    def _put(self, env: Any, state: FloatArray) -> None:
        if self.set_state is not None:
            self.set_state(env, state)
        else:
            env.unwrapped.state = state.astype(np.asarray(env.unwrapped.state).dtype)

    def _rollout(
        self, env: Any, obs: FloatArray, commands: list[Any], start: int, stop: int, seed: int | None
    ) -> tuple[FloatArray, int]:
        """Predicted observations for rows ``start + 1 .. stop``, and the steps taken (burn-in included)."""
        taken = 0
        if start == 0:
            reset_obs, _ = env.reset(seed=seed)  # seeded: without a settable state, the seed is the start
            _set_initial(env, reset_obs, obs[0], self.set_state)
        else:
            env.reset()  # the recorded state replaces whatever reset drew
            # Burn-in: the recorded commands before the window fill state the observation does not
            # show (an actuator's command queue, a filter); then the physical state is put back.
            for t in range(start - min(BURN_IN, start), start):
                self._put(env, obs[t])
                taken += 1
                if any(env.step(commands[t])[2:4]):
                    env.reset()
                    break
            self._put(env, obs[start])
        pred = np.empty((stop - start, obs.shape[1]))
        for t in range(start, stop):
            o, _, terminated, truncated, _ = env.step(commands[t])
            flat = np.asarray(o, dtype=np.float64).ravel()
            self._check_size(flat.size, obs.shape[1])
            pred[t - start] = flat
            taken += 1
            if terminated or truncated:
                pred[t - start + 1 :] = flat  # held: ending early is never rewarded
                break
        return pred, taken
