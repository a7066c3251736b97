"""The config an SB3 model was built with: algorithm, policy, every constructor hyperparameter, env, versions."""

from __future__ import annotations

import enum
import inspect
from collections.abc import Mapping
from typing import Any

import gymnasium
import numpy as np
import stable_baselines3
import torch
from stable_baselines3.common.base_class import BaseAlgorithm

__all__ = ["model_config"]

# Constructor arguments that are objects, not hyperparameters, or are reported under another name.
_SKIP = frozenset({"self", "policy", "env", "_init_setup_model"})


def model_config(model: BaseAlgorithm) -> dict[str, Any]:
    """Return a JSON-friendly description of ``model`` for ``run.config``.

    Keys: ``algorithm``, ``policy`` (the alias passed, e.g. ``MlpPolicy``, when known),
    ``policy_class``, every constructor argument of the algorithm (schedules as their constant,
    or their ``repr``), ``env_id``, ``n_envs`` and ``versions``.
    """
    algo = type(model)
    config: dict[str, Any] = {"algorithm": algo.__name__, "policy_class": model.policy_class.__name__}
    for alias, cls in getattr(model, "policy_aliases", {}).items():
        if cls is model.policy_class:
            config["policy"] = alias
            break
    for name in inspect.signature(algo.__init__).parameters:
        if name in _SKIP:
            continue
        if hasattr(model, name):
            config[name] = to_jsonable(getattr(model, name))
        elif hasattr(model, "_" + name):  # e.g. stats_window_size is kept as _stats_window_size
            config[name] = to_jsonable(getattr(model, "_" + name))
    config["env_id"] = _env_id(model)
    config["n_envs"] = model.n_envs
    config["versions"] = _versions(algo)
    return config


def to_jsonable(value: Any, depth: int = 0) -> Any:
    """Convert a hyperparameter to JSON types: classes by name, constant schedules to their value."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value, depth)
    if isinstance(value, type):
        return value.__name__
    if isinstance(value, torch.device):
        return str(value)
    if depth < 4 and isinstance(value, Mapping):
        return {str(k): to_jsonable(v, depth + 1) for k, v in value.items()}
    if depth < 4 and isinstance(value, (list, tuple)):
        return [to_jsonable(v, depth + 1) for v in value]
    # SB3 wraps float arguments in FloatSchedule(ConstantSchedule(val)): report the float.
    inner = getattr(value, "value_schedule", value)
    constant = getattr(inner, "val", None)
    if isinstance(constant, (int, float)) and callable(value):
        return constant
    if callable(value) and hasattr(value, "__qualname__"):
        return f"{getattr(value, '__module__', '')}.{value.__qualname__}"
    return repr(value)


def _env_id(model: BaseAlgorithm) -> str | None:
    env = model.get_env()
    if env is None:
        return None
    try:
        spec = env.get_attr("spec", indices=[0])[0]
    except AttributeError:
        return None
    env_id = getattr(spec, "id", None)
    return env_id if isinstance(env_id, str) else None


def _versions(algo: type) -> dict[str, str]:
    versions = {
        "stable_baselines3": stable_baselines3.__version__,
        "torch": torch.__version__,
        "gymnasium": gymnasium.__version__,
    }
    top = algo.__module__.split(".", 1)[0]
    if top not in ("stable_baselines3", "__main__"):
        module = __import__(top)
        version = getattr(module, "__version__", None)
        if isinstance(version, str):
            versions[top] = version
    return versions
