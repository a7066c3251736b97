"""What ``init(config=...)`` accepts, turned into a plain dict: the forms wandb scripts pass.

A mapping, an ``argparse.Namespace``, a dataclass instance, or the path of a YAML file (wandb's
``{key: {desc: ..., value: ...}}`` layout or plain ``key: value``). A ``config-defaults.yaml`` in
the working directory fills keys the script did not set, as wandb's does. PyYAML is imported only
when a YAML file is read.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from rltrack.errors import InvalidValueError

__all__ = ["DEFAULTS_FILE", "config_dict", "defaults_from_cwd", "filter_keys", "read_yaml"]

#: wandb reads this file from the working directory into every run's config.
DEFAULTS_FILE = "config-defaults.yaml"
_WANDB_META = ("wandb_version", "_wandb")


def config_dict(config: object, *, what: str = "init(config=...)") -> dict[str, Any]:
    """Return ``config`` as a dict with string keys.

    Raises:
        InvalidValueError: ``config`` is none of the accepted forms, or its YAML file is unreadable.
    """
    if config is None:
        return {}
    if isinstance(config, argparse.Namespace):
        return dict(vars(config))
    if isinstance(config, Mapping):
        return {str(k): v for k, v in config.items()}
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        # Not dataclasses.asdict: it deep-copies values, and a config may hold large objects.
        return {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
    if isinstance(config, (str, os.PathLike)):
        return read_yaml(Path(config), what=what)
    raise InvalidValueError(
        f"{what.replace('...', repr(config))} must be a dict, an argparse.Namespace, a dataclass instance "
        f"or the path of a YAML file, not a {type(config).__name__}"
    )


def read_yaml(path: Path, *, what: str = "config") -> dict[str, Any]:
    """Read a wandb-style config YAML file (``key: {value: ...}`` entries are unwrapped)."""
    if not path.is_file():
        raise InvalidValueError(f"{what}: {str(path)!r} is not a file; pass an existing YAML file or a dict")
    try:
        import yaml
    except ImportError as err:
        raise InvalidValueError(f"{what}: reading {str(path)!r} needs PyYAML: pip install pyyaml ({err})") from err
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise InvalidValueError(f"{what}: cannot read {str(path)!r} as YAML: {err}") from err
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InvalidValueError(
            f"{what}: {str(path)!r} holds a {type(data).__name__}, not a mapping of key: value; write one key per line"
        )
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key in _WANDB_META:
            continue
        if isinstance(value, dict) and "value" in value and set(value) <= {"value", "desc"}:
            value = value["value"]
        out[str(key)] = value
    return out


def defaults_from_cwd() -> dict[str, Any]:
    """Return ``./config-defaults.yaml`` as a dict (empty when there is none)."""
    path = Path(DEFAULTS_FILE)
    if not path.is_file():
        return {}
    return read_yaml(path, what=DEFAULTS_FILE)


def filter_keys(
    config: dict[str, Any], include: Iterable[str] | None, exclude: Iterable[str] | None
) -> dict[str, Any]:
    """Keep only ``include`` keys (when given), then drop ``exclude`` keys (wandb's two init arguments)."""
    for name, keys in (("config_include_keys", include), ("config_exclude_keys", exclude)):
        if keys is not None and (isinstance(keys, str) or not all(isinstance(k, str) for k in keys)):
            raise InvalidValueError(f"init({name}={keys!r}) must be a list of key names such as ['seed']")
    if include is not None and exclude is not None:
        raise InvalidValueError("init() takes config_include_keys or config_exclude_keys, not both; pick one")
    if include is not None:
        wanted = set(include)
        return {k: v for k, v in config.items() if k in wanted}
    if exclude is not None:
        dropped = set(exclude)
        return {k: v for k, v in config.items() if k not in dropped}
    return config
