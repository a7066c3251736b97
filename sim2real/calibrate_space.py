"""The parameters a calibration searches: wandb-sweep-style distributions, their bounds and values.

``params`` takes the ``parameters`` block of a sweep config (a mapping, or a YAML file holding it
at the top level or under ``parameters:``), validated by :mod:`rltrack.sweeps.config` and sampled by
:class:`rltrack.sweeps.space.Space`, so a calibration accepts every distribution a sweep does. Each
searched parameter also needs a *prior range* (where the simulator may be): ``min``/``max`` for the
ranged distributions, the listed ``values`` for a categorical, ``mu +- 3 sigma`` for a normal. The
prior range is what identifiability and the suggested randomization are measured against.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rltrack.errors import RltrackError

if TYPE_CHECKING:
    import optuna

    from rltrack.sweeps.config import Param

__all__ = ["CalibrationError", "ParamSpace", "ParamSpec", "parse_params"]

#: The objective every trial run logs (lower is better).
OBJECTIVE_KEY = "calibration/objective"
_NORMAL_SPAN = 3.0  # a normal prior "spans" mu +- 3 sigma: 99.7 % of its mass


class CalibrationError(RltrackError, ValueError):
    """A calibration cannot run with the inputs it was given (the message names the cause)."""


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """One searched parameter: its name, whether it is an integer, and its prior range or choices."""

    name: str
    low: float | None
    high: float | None
    integer: bool = False
    choices: tuple[Any, ...] = ()
    log: bool = False

    @property
    def numeric(self) -> bool:
        """Whether the parameter has a numeric range (not a set of choices)."""
        return not self.choices

    def profile(self, points: int) -> list[Any]:
        """Return ``points`` values spread over the prior range (every integer or choice if fewer)."""
        if self.choices:
            return list(self.choices)
        low, high = float(self.low), float(self.high)  # type: ignore[arg-type]  # numeric: set
        if self.integer:
            span = int(high) - int(low)
            if span + 1 <= points:
                return list(range(int(low), int(high) + 1))
            return sorted({round(low + span * i / (points - 1)) for i in range(points)})
        if self.log and low > 0:
            return [
                math.exp(math.log(low) + (math.log(high) - math.log(low)) * i / (points - 1)) for i in range(points)
            ]
        return [low + (high - low) * i / (points - 1) for i in range(points)]


class ParamSpace:
    """The validated parameters of one calibration, and the sampler view of them."""

    def __init__(self, params: tuple[Param, ...]) -> None:
        from rltrack.sweeps.space import Space

        self._params = params
        self._space = Space(params)
        self.constants: dict[str, Any] = {p.name: p.values[0] for p in params if p.distribution == "constant"}
        self.specs = tuple(_spec(p) for p in params if p.distribution != "constant")
        if not self.specs:
            raise CalibrationError(
                "calibration params: nothing to search: every parameter is a constant; give at least one "
                "a range (min/max) or values"
            )

    @property
    def names(self) -> tuple[str, ...]:
        """The searched parameters' names, in config order."""
        return tuple(s.name for s in self.specs)

    def coordinates(self, values: Mapping[str, Any]) -> dict[str, Any] | None:
        """Return Optuna's coordinates of ``values`` (to enqueue them as a trial), or None if they are outside.

        Only ``uniform``, ``int_uniform`` and ``log_uniform_values`` parameters (their coordinate is the
        value) and plain categoricals can be placed; any other searched parameter gives None.
        """
        coords: dict[str, Any] = {}
        for p in self._params:
            if p.distribution == "constant":
                continue
            value = values.get(p.name)
            if p.distribution == "categorical" and p.probabilities is None and value in p.values:
                coords[p.name] = value
            elif (
                p.distribution in ("uniform", "int_uniform", "log_uniform_values")
                and isinstance(value, (int, float))
                and not isinstance(value, bool)
                and p.min <= value <= p.max  # type: ignore[operator]  # ranged distributions have both
                and (p.distribution != "int_uniform" or float(value).is_integer())
            ):
                coords[p.name] = int(value) if p.distribution == "int_uniform" else float(value)
            else:
                return None
        return coords

    def sample(self, trial: optuna.Trial) -> dict[str, Any]:
        """Ask ``trial`` for every parameter; return ``{flat name: value}`` (constants included)."""
        nested = self._space.sample(trial)
        return {p.name: _lookup(nested, p.path) for p in self._params}


def _lookup(nested: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = nested
    for key in path:
        node = node[key]
    return node


def _spec(p: Param) -> ParamSpec:
    d = p.distribution
    if d == "categorical":
        return ParamSpec(p.name, None, None, choices=tuple(p.values))
    if d in ("normal", "q_normal", "log_normal", "q_log_normal"):
        low, high = p.mu - _NORMAL_SPAN * p.sigma, p.mu + _NORMAL_SPAN * p.sigma
        if "log" in d:
            return ParamSpec(p.name, math.exp(low), math.exp(high), log=True)
        return ParamSpec(p.name, low, high)
    low, high = float(p.min), float(p.max)  # type: ignore[arg-type]  # ranged distributions have both
    if d == "log_uniform":  # wandb's log_uniform takes exponents
        low, high = math.exp(low), math.exp(high)
    if not high > low:
        raise CalibrationError(
            f"calibration params: {p.name!r} has an empty range [{p.min!r}, {p.max!r}]: min must be below max "
            f"(to fix a parameter, give it value: {p.min!r})"
        )
    integer = d == "int_uniform" or (d == "q_uniform" and all(isinstance(v, int) for v in (p.q, p.min, p.max)))
    return ParamSpec(p.name, low, high, integer=integer, log=d in ("log_uniform", "log_uniform_values"))


def parse_params(params: Mapping[str, Any] | str | os.PathLike[str]) -> ParamSpace:
    """Validate wandb-sweep-style parameter distributions into a :class:`ParamSpace`.

    Args:
        params: ``{name: {min, max[, distribution]} | {values: [...]} | {value: x}}``, or the path of
            a YAML/JSON file holding that mapping (at the top level or under ``parameters:``).

    Raises:
        CalibrationError: The file cannot be read, a distribution is invalid, a range is empty, or
            nothing is searched.
    """
    from rltrack.sweeps.config import load_config, parse_config
    from rltrack.sweeps.errors import SweepConfigError

    where = "calibration params"
    raw: Any = params
    if isinstance(params, (str, os.PathLike)):
        where = f"calibration params file {str(Path(params))!r}"
        try:
            raw = load_config(params)
        except SweepConfigError as err:
            raise CalibrationError(str(err).replace("the sweep config", "the calibration params file")) from err
        if set(raw) == {"parameters"}:
            raw = raw["parameters"]
    if not isinstance(raw, Mapping) or not raw:
        raise CalibrationError(f"{where}: expected a non-empty mapping of parameter distributions, got {raw!r}")
    try:
        config = parse_config({"method": "bayes", "metric": {"name": OBJECTIVE_KEY}, "parameters": dict(raw)})
    except SweepConfigError as err:
        raise CalibrationError(str(err).replace("sweep config: ", f"{where}: ", 1)) from err
    return ParamSpace(config.params)
