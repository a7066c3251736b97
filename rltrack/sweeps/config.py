"""Validate a wandb-compatible sweep config (dict or YAML file) into frozen records.

The accepted keys follow wandb's sweep configuration: ``method``, ``metric``, ``parameters``,
``early_terminate``, ``run_cap``, ``program``, ``command``, ``name``, ``description``,
``project`` and ``entity`` (accepted for compatibility; a local store has no entities).
Every problem raises :class:`SweepConfigError` naming the field, e.g.
``parameters.optimizer.parameters.lr.min``.

Example:
    >>> cfg = parse_config({"method": "random", "metric": {"name": "loss"},
    ...                     "parameters": {"lr": {"min": 1e-4, "max": 1e-2,
    ...                                           "distribution": "log_uniform_values"}}})
    >>> cfg.metric.goal, cfg.params[0].name
    ('minimize', 'lr')
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from rltrack._extras import install_hint
from rltrack.sweeps.errors import SweepConfigError

__all__ = [
    "DEFAULT_COMMAND",
    "DISTRIBUTIONS",
    "FINITE_DISTRIBUTIONS",
    "Hyperband",
    "Metric",
    "Param",
    "SweepConfig",
    "load_config",
    "parse_config",
]

#: A JSON value, as parameter values are (they go into ``run.config``).
JsonValue = None | bool | int | float | str | Sequence["JsonValue"] | Mapping[str, "JsonValue"]

Method = Literal["grid", "random", "bayes"]
Goal = Literal["minimize", "maximize"]

METHODS: tuple[str, ...] = ("grid", "random", "bayes")
#: Every ``distribution`` accepted; ``log_uniform`` takes exponents (e**min..e**max) as in wandb.
DISTRIBUTIONS: tuple[str, ...] = (
    "constant",
    "categorical",
    "int_uniform",
    "uniform",
    "q_uniform",
    "log_uniform",
    "log_uniform_values",
    "q_log_uniform_values",
    "normal",
    "q_normal",
    "log_normal",
    "q_log_normal",
)
#: Distributions a grid can enumerate.
FINITE_DISTRIBUTIONS: tuple[str, ...] = ("constant", "categorical", "int_uniform", "q_uniform")
#: wandb's default command for CLI agents.
DEFAULT_COMMAND: tuple[str, ...] = ("${env}", "${interpreter}", "${program}", "${args}")

_TOP_KEYS = frozenset(
    {
        "method",
        "metric",
        "parameters",
        "early_terminate",
        "run_cap",
        "program",
        "command",
        "name",
        "description",
        "project",
        "entity",
    }
)
_PARAM_KEYS = frozenset({"value", "values", "probabilities", "distribution", "min", "max", "q", "mu", "sigma"})
_NEEDS_RANGE = frozenset(
    {"int_uniform", "uniform", "q_uniform", "log_uniform", "log_uniform_values", "q_log_uniform_values"}
)


@dataclass(frozen=True, slots=True)
class Metric:
    """The value a sweep optimises: the key logged with ``run.log`` and its direction."""

    name: str
    goal: Goal = "minimize"
    target: float | None = None


@dataclass(frozen=True, slots=True)
class Hyperband:
    """Hyperband early termination; an iteration is one logged value of the sweep metric."""

    min_iter: int
    max_iter: int | None
    eta: int


@dataclass(frozen=True, slots=True)
class Param:
    """One searched (or constant) parameter; ``path`` is its place in the nested config."""

    path: tuple[str, ...]
    distribution: str
    values: tuple[JsonValue, ...] = ()
    probabilities: tuple[float, ...] | None = None
    min: float | None = None
    max: float | None = None
    q: float | None = None
    mu: float = 0.0
    sigma: float = 1.0

    @property
    def name(self) -> str:
        """The flat name (``optimizer.lr``): Optuna's parameter name and the CLI argument."""
        return ".".join(self.path)


@dataclass(frozen=True, slots=True)
class SweepConfig:
    """A validated sweep config; ``raw`` is the JSON-able dict it came from."""

    method: Method
    metric: Metric
    params: tuple[Param, ...]
    early_terminate: Hyperband | None = None
    run_cap: int | None = None
    program: str | None = None
    command: tuple[str, ...] = DEFAULT_COMMAND
    name: str | None = None
    description: str | None = None
    project: str | None = None
    raw: Mapping[str, object] = field(default_factory=dict, compare=False)


def load_config(path: str | os.PathLike[str]) -> dict[str, object]:
    """Read a sweep YAML (or JSON, a subset of YAML) file into a dict, unvalidated."""
    try:
        import yaml
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(f"reading a sweep YAML needs PyYAML: {install_hint('sweeps')}") from err
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as err:
        raise SweepConfigError(f"cannot read the sweep config {str(file)!r}: {err}; check the path") from err
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise SweepConfigError(f"the sweep config {str(file)!r} is not valid YAML: {err}") from err
    if not isinstance(data, dict):
        raise SweepConfigError(f"the sweep config {str(file)!r} must hold a mapping, got {type(data).__name__}")
    return data


def parse_config(config: Mapping[str, object] | str | os.PathLike[str]) -> SweepConfig:
    """Validate a sweep config (a mapping, or the path of a YAML file) into a :class:`SweepConfig`.

    Raises:
        SweepConfigError: a field is missing, unknown, of the wrong type or out of range.
    """
    raw = load_config(config) if isinstance(config, (str, os.PathLike)) else dict(config)
    unknown = sorted(set(map(str, raw)) - _TOP_KEYS)
    if unknown:
        raise SweepConfigError(f"sweep config: unknown key {unknown[0]!r}; expected one of {sorted(_TOP_KEYS)}")
    method = raw.get("method")
    if method not in METHODS:
        raise SweepConfigError(f"sweep config: method: unknown method {method!r}; use one of {list(METHODS)}")
    params_raw = raw.get("parameters")
    if not isinstance(params_raw, Mapping) or not params_raw:
        raise SweepConfigError(f"sweep config: parameters: expected a non-empty mapping, got {params_raw!r}")
    params = tuple(_parse_params(params_raw, (), str(method)))
    names = [p.name for p in params]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise SweepConfigError(f"sweep config: parameters: {dupes[0]!r} is defined twice after nesting")
    return SweepConfig(
        method=method,  # type: ignore[arg-type]  # checked against METHODS above
        metric=_parse_metric(raw.get("metric")),
        params=params,
        early_terminate=_parse_early_terminate(raw.get("early_terminate")),
        run_cap=_parse_run_cap(raw.get("run_cap")),
        program=_optional_str(raw, "program"),
        command=_parse_command(raw.get("command")),
        name=_optional_str(raw, "name"),
        description=_optional_str(raw, "description"),
        project=_optional_str(raw, "project"),
        raw=raw,
    )


def _optional_str(raw: Mapping[str, object], key: str) -> str | None:
    value = raw.get(key)
    if value is not None and (not isinstance(value, str) or not value):
        raise SweepConfigError(f"sweep config: {key}: expected a non-empty string, got {value!r}")
    return value


def _parse_metric(metric: object) -> Metric:
    if metric is None:
        raise SweepConfigError(
            "sweep config: metric: missing; add metric: {name: <logged key>, goal: minimize|maximize}"
        )
    if not isinstance(metric, Mapping):
        raise SweepConfigError(f"sweep config: metric: expected a mapping with 'name' and 'goal', got {metric!r}")
    unknown = sorted(set(map(str, metric)) - {"name", "goal", "target"})
    if unknown:
        raise SweepConfigError(f"sweep config: metric.{unknown[0]}: unknown key; use name, goal or target")
    name = metric.get("name")
    if not isinstance(name, str) or not name:
        raise SweepConfigError(f"sweep config: metric.name: expected the logged key as a string, got {name!r}")
    goal = metric.get("goal", "minimize")
    if goal not in ("minimize", "maximize"):
        raise SweepConfigError(f"sweep config: metric.goal: {goal!r} is neither 'minimize' nor 'maximize'")
    target = metric.get("target")
    if target is not None and not _is_number(target):
        raise SweepConfigError(f"sweep config: metric.target: expected a number, got {target!r}")
    return Metric(name=name, goal=goal, target=None if target is None else float(target))


def _parse_early_terminate(et: object) -> Hyperband | None:
    if et is None:
        return None
    if not isinstance(et, Mapping):
        raise SweepConfigError(f"sweep config: early_terminate: expected a mapping, got {et!r}")
    unknown = sorted(set(map(str, et)) - {"type", "min_iter", "max_iter", "eta", "s"})
    if unknown:
        raise SweepConfigError(
            f"sweep config: early_terminate.{unknown[0]}: unknown key; use type, min_iter, max_iter, eta or s"
        )
    if et.get("type") != "hyperband":
        raise SweepConfigError(
            f"sweep config: early_terminate.type: unknown type {et.get('type')!r}; the only one is 'hyperband'"
        )
    ints = {}
    for key in ("min_iter", "max_iter", "eta", "s"):
        value = et.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise SweepConfigError(f"sweep config: early_terminate.{key}: expected a positive integer, got {value!r}")
        ints[key] = value
    eta = ints["eta"] or 3
    if eta < 2:
        raise SweepConfigError(f"sweep config: early_terminate.eta: {eta!r} must be at least 2")
    min_iter, max_iter, s = ints["min_iter"], ints["max_iter"], ints["s"]
    if min_iter is None and max_iter is None:
        raise SweepConfigError("sweep config: early_terminate: set min_iter or max_iter (iterations of the metric)")
    if min_iter is None:
        # wandb: with only max_iter, the s brackets start at max_iter / eta**s.
        min_iter = max(1, int(max_iter) // eta ** (s or 2))  # type: ignore[arg-type]  # max_iter set here
    if max_iter is not None and min_iter > max_iter:
        raise SweepConfigError(
            f"sweep config: early_terminate.min_iter: {min_iter!r} > max_iter {max_iter!r}; swap them"
        )
    return Hyperband(min_iter=min_iter, max_iter=max_iter, eta=eta)


def _parse_run_cap(run_cap: object) -> int | None:
    if run_cap is None:
        return None
    if not isinstance(run_cap, int) or isinstance(run_cap, bool) or run_cap < 1:
        raise SweepConfigError(f"sweep config: run_cap: expected a positive integer, got {run_cap!r}")
    return run_cap


def _parse_command(command: object) -> tuple[str, ...]:
    if command is None:
        return DEFAULT_COMMAND
    if (
        not isinstance(command, Sequence)
        or isinstance(command, str)
        or not command
        or not all(isinstance(c, str) for c in command)
    ):
        raise SweepConfigError(
            f"sweep config: command: expected a non-empty list of strings (e.g. {list(DEFAULT_COMMAND)}), "
            f"got {command!r}"
        )
    return tuple(command)


def _parse_params(params: Mapping[object, object], prefix: tuple[str, ...], method: str) -> list[Param]:
    out: list[Param] = []
    for key, spec in params.items():
        field_name = "parameters." + ".parameters.".join((*prefix, str(key)))
        if not isinstance(key, str) or not key:
            raise SweepConfigError(f"sweep config: {field_name}: parameter names must be non-empty strings")
        if not isinstance(spec, Mapping):
            raise SweepConfigError(
                f"sweep config: {field_name}: expected a mapping such as {{values: [...]}}, got {spec!r}"
            )
        if "parameters" in spec:
            nested = spec["parameters"]
            if len(spec) != 1 or not isinstance(nested, Mapping) or not nested:
                raise SweepConfigError(
                    f"sweep config: {field_name}.parameters: nested parameters must be the only key and a "
                    "non-empty mapping"
                )
            out.extend(_parse_params(nested, (*prefix, key), method))
        else:
            out.append(_parse_param(spec, (*prefix, key), field_name, method))
    return out


def _parse_param(spec: Mapping[object, object], path: tuple[str, ...], where: str, method: str) -> Param:
    unknown = sorted(set(map(str, spec)) - _PARAM_KEYS)
    if unknown:
        raise SweepConfigError(
            f"sweep config: {where}.{unknown[0]}: unknown key; use one of {sorted(_PARAM_KEYS | {'parameters'})}"
        )
    dist = spec["distribution"] if "distribution" in spec else _infer_distribution(spec, where)
    if dist not in DISTRIBUTIONS:
        raise SweepConfigError(
            f"sweep config: {where}.distribution: unknown distribution {dist!r}; use one of {list(DISTRIBUTIONS)}"
        )
    extra = sorted(set(map(str, spec)) - {"distribution"} - _keys_for(dist))
    if extra:
        raise SweepConfigError(
            f"sweep config: {where}.{extra[0]}: does not apply to distribution {dist!r}; "
            f"it takes {sorted(_keys_for(dist))}"
        )
    if method == "grid" and dist not in FINITE_DISTRIBUTIONS:
        raise SweepConfigError(
            f"sweep config: {where}: grid search cannot enumerate the continuous distribution {dist!r}; "
            "use values, int_uniform or q_uniform, or method random/bayes"
        )
    if dist == "constant":
        if "value" not in spec:
            raise SweepConfigError(f"sweep config: {where}.value: a constant parameter needs 'value'")
        return Param(path=path, distribution=dist, values=(spec["value"],))  # type: ignore[arg-type]
    if dist == "categorical":
        return _parse_categorical(spec, path, where, method)
    low, high = _parse_range(spec, dist, where)
    q = _positive(spec, "q", where, 1.0 if dist.startswith("q_") else None)
    mu = _number(spec, "mu", where, 0.0)
    sigma = _positive(spec, "sigma", where, 1.0)
    if dist in ("int_uniform", "q_uniform") and method == "grid":
        # An empty grid axis would make the whole product empty.
        step = 1.0 if dist == "int_uniform" else float(q)  # type: ignore[arg-type]  # q defaults to 1.0
        if math.floor(high / step + 1e-9) < math.ceil(low / step - 1e-9):  # type: ignore[operator]
            raise SweepConfigError(f"sweep config: {where}: no multiple of q={step!r} lies in [{low!r}, {high!r}]")
    return Param(path=path, distribution=dist, min=low, max=high, q=q, mu=mu, sigma=sigma)  # type: ignore[arg-type]


def _keys_for(dist: str) -> set[str]:
    if dist == "constant":
        return {"value"}
    if dist == "categorical":
        return {"values", "probabilities"}
    keys = {"min", "max"} if dist in _NEEDS_RANGE else {"mu", "sigma"}
    return keys | {"q"} if dist.startswith("q_") else keys


def _infer_distribution(spec: Mapping[object, object], where: str) -> str:
    # wandb's rules: value -> constant, values -> categorical, int min/max -> int_uniform, else uniform.
    if "value" in spec:
        return "constant"
    if "values" in spec:
        return "categorical"
    if "min" in spec and "max" in spec:
        ints = all(isinstance(spec[k], int) and not isinstance(spec[k], bool) for k in ("min", "max"))
        return "int_uniform" if ints else "uniform"
    raise SweepConfigError(
        f"sweep config: {where}: say what to search: value, values, or min and max (with a distribution)"
    )


def _parse_categorical(spec: Mapping[object, object], path: tuple[str, ...], where: str, method: str) -> Param:
    values = spec.get("values")
    if not isinstance(values, Sequence) or isinstance(values, str):
        raise SweepConfigError(f"sweep config: {where}.values: expected a list, got {values!r}")
    if not values:
        raise SweepConfigError(f"sweep config: {where}.values: the list is empty; give at least one value")
    probs = spec.get("probabilities")
    if probs is None:
        return Param(path=path, distribution="categorical", values=tuple(values))
    if method == "grid":
        raise SweepConfigError(
            f"sweep config: {where}.probabilities: grid search tries every value, so probabilities do not "
            "apply; remove them or use method random/bayes"
        )
    if not isinstance(probs, Sequence) or len(probs) != len(values) or not all(_is_number(p) for p in probs):
        raise SweepConfigError(
            f"sweep config: {where}.probabilities: expected {len(values)} numbers (one per value), got {probs!r}"
        )
    if any(p < 0 for p in probs) or not math.isclose(sum(probs), 1.0, abs_tol=1e-6):
        raise SweepConfigError(f"sweep config: {where}.probabilities: {probs!r} must be non-negative and sum to 1")
    return Param(
        path=path,
        distribution="categorical",
        values=tuple(values),
        probabilities=tuple(float(p) for p in probs),
    )


def _parse_range(spec: Mapping[object, object], dist: str, where: str) -> tuple[float | None, float | None]:
    if dist not in _NEEDS_RANGE:
        return None, None
    for key in ("min", "max"):
        if key not in spec:
            raise SweepConfigError(f"sweep config: {where}.{key}: distribution {dist!r} needs min and max")
        if not _is_number(spec[key]):
            raise SweepConfigError(f"sweep config: {where}.{key}: expected a number, got {spec[key]!r}")
    low, high = spec["min"], spec["max"]
    if dist == "int_uniform" and not all(isinstance(v, int) for v in (low, high)):
        raise SweepConfigError(f"sweep config: {where}: int_uniform needs integer min and max, got {low!r}, {high!r}")
    if low > high:  # type: ignore[operator]  # both are numbers
        raise SweepConfigError(f"sweep config: {where}.min: {low!r} > max {high!r}; min must not exceed max")
    if dist in ("log_uniform_values", "q_log_uniform_values") and low <= 0:  # type: ignore[operator]
        raise SweepConfigError(f"sweep config: {where}.min: {dist} needs min > 0, got {low!r}")
    return low, high  # type: ignore[return-value]  # checked numbers


def _number(spec: Mapping[object, object], key: str, where: str, default: float) -> float:
    value = spec.get(key, default)
    if not _is_number(value):
        raise SweepConfigError(f"sweep config: {where}.{key}: expected a number, got {value!r}")
    return float(value)  # type: ignore[arg-type]  # checked by _is_number


def _positive(spec: Mapping[object, object], key: str, where: str, default: float | None) -> float | None:
    value = spec.get(key, default)
    if value is None:
        return None
    if not _is_number(value) or value <= 0:  # type: ignore[operator]
        raise SweepConfigError(f"sweep config: {where}.{key}: expected a positive number, got {value!r}")
    return value  # type: ignore[return-value]  # int or float; ints keep q_uniform values integral


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
