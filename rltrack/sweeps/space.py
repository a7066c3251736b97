"""Map sweep parameters onto Optuna's distributions and back to the values a run sees.

Optuna has no normal distribution and no weighted categorical, so some parameters are searched
in a transformed space and mapped back:

- ``normal``/``log_normal``: Optuna searches ``u`` uniform in (0, 1) and the value is
  ``mu + sigma * Phi^-1(u)`` (exponentiated for ``log_normal``): the inverse-CDF transform, so
  the random sampler draws exactly the normal distribution and TPE models ``u``.
- ``categorical`` with ``probabilities``: ``u`` uniform in [0, 1) picks the value whose
  cumulative-probability interval holds it.
- ``q_uniform``: Optuna searches the integer ``k`` and the value is ``k * q``, uniform over the
  multiples of ``q`` in [min, max] (an integer when ``q``, ``min`` and ``max`` are integers).
- ``q_*`` of the other distributions round the drawn value to the nearest multiple of ``q``.
- ``categorical`` values that Optuna cannot store (lists, dicts, duplicates) are searched by index.

The trial's Optuna params therefore hold the search coordinates; the run's ``config`` (and
the trial's ``config`` user attribute) hold the values.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Sequence
from statistics import NormalDist
from typing import TYPE_CHECKING

from rltrack.sweeps.config import JsonValue, Param

if TYPE_CHECKING:
    import optuna

__all__ = ["Space"]

GridValue = None | bool | int | float | str
# Keeps Phi^-1(u) finite: u in [1e-12, 1 - 1e-12] spans about +-7 sigma.
_U_EPS = 1e-12
_PRIMITIVE = (type(None), bool, int, float, str)


class Space:
    """The search space of one sweep: samples a trial's values and lists the grid."""

    def __init__(self, params: Sequence[Param]) -> None:
        self._params = tuple(params)

    @property
    def params(self) -> tuple[Param, ...]:
        """The parameters, in config order."""
        return self._params

    def grid_space(self) -> dict[str, list[GridValue]]:
        """Return Optuna ``GridSampler``'s search space: each searched parameter's coordinates.

        Raises:
            ValueError: a parameter has a continuous distribution (config validation prevents it).
        """
        space: dict[str, list[GridValue]] = {}
        for p in self._params:
            if p.distribution == "constant":
                continue
            if p.distribution == "categorical":
                space[p.name] = list(_choices(p))
            elif p.distribution == "int_uniform":
                space[p.name] = list(range(int(p.min), int(p.max) + 1))  # type: ignore[arg-type]
            elif p.distribution == "q_uniform":
                space[p.name] = list(range(*_q_bounds(p)))
            else:
                raise ValueError(f"parameter {p.name!r} has the continuous distribution {p.distribution!r}")
        return space

    def grid_size(self) -> int:
        """Return the number of points in the grid (the product of the axes' lengths)."""
        return math.prod(len(axis) for axis in self.grid_space().values())

    def grid_points(self) -> list[dict[str, JsonValue]]:
        """Return every grid point's config, in product order (for tests and listings)."""
        space = self.grid_space()
        names = list(space)
        points = []
        for combo in itertools.product(*space.values()):
            coords = dict(zip(names, combo, strict=True))
            points.append(self._nest({p.name: self._value(p, coords.get(p.name)) for p in self._params}))
        return points

    def sample(self, trial: optuna.Trial) -> dict[str, JsonValue]:
        """Ask ``trial`` for every parameter and return the nested config a run receives."""
        flat = {p.name: self._value(p, self._suggest(trial, p)) for p in self._params}
        return self._nest(flat)

    def _suggest(self, trial: optuna.Trial, p: Param) -> GridValue:
        d = p.distribution
        if d == "constant":
            return None
        if d == "categorical":
            if p.probabilities is not None:
                return trial.suggest_float(p.name, 0.0, 1.0)
            return trial.suggest_categorical(p.name, _choices(p))
        if d == "int_uniform":
            return trial.suggest_int(p.name, int(p.min), int(p.max))  # type: ignore[arg-type]
        if d == "q_uniform":
            low, stop = _q_bounds(p)
            return trial.suggest_int(p.name, low, stop - 1)
        if d == "uniform":
            return trial.suggest_float(p.name, float(p.min), float(p.max))  # type: ignore[arg-type]
        if d in ("log_uniform_values", "q_log_uniform_values"):
            return trial.suggest_float(p.name, float(p.min), float(p.max), log=True)  # type: ignore[arg-type]
        if d == "log_uniform":
            exp_low, exp_high = math.exp(p.min), math.exp(p.max)  # type: ignore[arg-type]
            return trial.suggest_float(p.name, exp_low, exp_high, log=True)
        # normal, q_normal, log_normal, q_log_normal: inverse-CDF transform of u.
        return trial.suggest_float(p.name, _U_EPS, 1.0 - _U_EPS)

    @staticmethod
    def _value(p: Param, coord: GridValue) -> JsonValue:
        d = p.distribution
        if d == "constant":
            return p.values[0]
        if d == "categorical":
            if p.probabilities is not None:
                cumulative = list(itertools.accumulate(p.probabilities))
                return p.values[min(bisect.bisect_right(cumulative, float(coord)), len(p.values) - 1)]  # type: ignore[arg-type]
            return p.values[coord] if _by_index(p) else coord  # type: ignore[index]
        if d == "int_uniform":
            return coord
        if d == "q_uniform":
            return _times(int(coord), p.q)  # type: ignore[arg-type]
        if d in ("normal", "q_normal", "log_normal", "q_log_normal"):
            x = p.mu + p.sigma * NormalDist().inv_cdf(float(coord))  # type: ignore[arg-type]
            value = math.exp(x) if "log" in d else x
        else:
            value = float(coord)  # type: ignore[arg-type]
        return _times(round(value / p.q), p.q) if d.startswith("q_") else value  # type: ignore[operator]

    @staticmethod
    def _nest(flat: dict[str, JsonValue]) -> dict[str, JsonValue]:
        nested: dict[str, JsonValue] = {}
        for name, value in flat.items():
            node = nested
            *parents, leaf = name.split(".")
            for key in parents:
                node = node.setdefault(key, {})  # type: ignore[assignment]
            node[leaf] = value
        return nested


def _by_index(p: Param) -> bool:
    # Optuna stores only None/bool/int/float/str choices, and equal choices would be ambiguous.
    primitive = all(type(v) in _PRIMITIVE for v in p.values)
    return not primitive or len({(type(v), v) for v in p.values}) != len(p.values)


def _choices(p: Param) -> list[GridValue]:
    return list(range(len(p.values))) if _by_index(p) else list(p.values)  # type: ignore[arg-type]


def _q_bounds(p: Param) -> tuple[int, int]:
    """Return ``range`` bounds of the integers ``k`` with ``k * q`` in [min, max]."""
    q = float(p.q)  # type: ignore[arg-type]  # q_uniform always has q
    # The 1e-9 slack keeps min/max that are multiples of q despite float rounding (0.3 / 0.1).
    return math.ceil(p.min / q - 1e-9), math.floor(p.max / q + 1e-9) + 1  # type: ignore[operator]


def _times(k: int, q: float | None) -> int | float:
    if isinstance(q, int):
        return k * q
    # Formatting to 12 significant digits drops float noise: 3 * 0.1 -> 0.3, not 0.30000000000000004.
    return float(f"{k * float(q):.12g}")  # type: ignore[arg-type]
