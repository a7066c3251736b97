"""``rltrack.sweep``: validate a config and create the sweep's Optuna study next to the store."""

from __future__ import annotations

import os
from collections.abc import Mapping

from rltrack.errors import InvalidValueError
from rltrack.store.paths import resolve_root
from rltrack.sweeps.config import parse_config
from rltrack.sweeps.engine import create_study, new_id, open_storage, sweep_folder, write_pointer

__all__ = ["sweep"]


def sweep(
    config: Mapping[str, object] | str | os.PathLike[str],
    project: str | None = None,
    *,
    dir: str | os.PathLike[str] | None = None,  # the public name, as in rltrack.init
    storage: str | None = None,
    engine: str = "optuna",
) -> str:
    """Create a hyperparameter sweep and return its id, for :func:`rltrack.agent`.

    The config is a wandb-style sweep (a dict or the path of a YAML file). Its Optuna study
    lives in ``<dir>/sweeps/<sweep_id>.journal``, shared by every agent using the same store
    folder, or in the database at ``storage`` (e.g. ``postgresql://...``) for agents on
    machines that share no folder; they then pass the same ``storage=``.

    Args:
        config: The sweep config, or the path of its YAML file.
        project: Project of the trials' runs (default: the config's ``project``, else ``RLTRACK_PROJECT``,
            else ``"default"``, as :func:`rltrack.init`).
        dir: The store folder (default ``$RLTRACK_DIR`` or ``./rltrack-runs``).
        storage: A database URL for Optuna instead of the journal file.
        engine: ``"optuna"`` (the default: agents on any machines sharing the journal) or ``"ray"``
            (one :func:`rltrack.agent` call runs the sweep through Ray Tune over a Ray cluster;
            see :mod:`rltrack.sweeps.ray_engine` for how the config maps onto Tune).

    Returns:
        The sweep id (8 lowercase letters and digits); the trials' runs have it as their group.

    Raises:
        SweepConfigError: the config is invalid (the message names the field).

    Example:
        >>> sweep_id = rltrack.sweep({"method": "random", "metric": {"name": "loss"},  # doctest: +SKIP
        ...                           "parameters": {"lr": {"min": 1e-4, "max": 1e-2}}}, project="demo")
    """
    cfg = parse_config(config)
    if project is not None and (not isinstance(project, str) or not project):
        raise InvalidValueError(f"sweep(project={project!r}) must be a non-empty string or None")
    project = project or cfg.project or os.environ.get("RLTRACK_PROJECT") or "default"
    root = resolve_root(dir)
    if engine == "ray":
        if storage is not None:
            raise InvalidValueError("sweep(engine='ray') keeps no Optuna storage; drop storage=")
        from rltrack.sweeps.ray_engine import create_ray_sweep

        return create_ray_sweep(cfg, project, root)
    if engine != "optuna":
        raise InvalidValueError(f"sweep(engine={engine!r}) must be 'optuna' or 'ray'")
    sweep_id = new_id()
    location = storage or str(sweep_folder(root) / f"{sweep_id}.journal")
    create_study(cfg, sweep_id, project, open_storage(location))
    write_pointer(root, sweep_id, storage)
    return sweep_id
