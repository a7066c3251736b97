"""Optuna plumbing of a sweep: storage, sampler, pruner, and the study that holds the trials.

A sweep is one Optuna study named after the sweep id. By default its storage is a journal file
next to the store, ``<store dir>/sweeps/<sweep_id>.journal``, which agents in several processes
(or on several machines sharing the folder over NFS) use together: Optuna's
``JournalFileBackend`` serialises appends with its default symlink lock. A database URL
(``postgresql://...``, ``mysql://...``, ``sqlite:///...``) serves agents that share no folder.
The validated config and the project travel in the study's user attributes, so an agent needs
only the sweep id (and the URL, for a database).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rltrack._extras import install_hint
from rltrack.sweeps.config import SweepConfig, parse_config
from rltrack.sweeps.errors import SweepNotFoundError
from rltrack.sweeps.space import Space

if TYPE_CHECKING:
    import optuna
    from optuna.pruners import BasePruner
    from optuna.samplers import BaseSampler
    from optuna.storages import BaseStorage

__all__ = [
    "SweepHandle",
    "claim_lock",
    "create_study",
    "import_optuna",
    "load_sweep",
    "make_pruner",
    "make_sampler",
    "new_id",
    "open_storage",
    "sweep_folder",
    "write_pointer",
]

_CONFIG_ATTR = "rltrack.config"
_PROJECT_ATTR = "rltrack.project"


def import_optuna() -> Any:
    """Import Optuna, or raise an ImportError that names the extra to install."""
    try:
        import optuna
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(f"sweeps need Optuna: {install_hint('sweeps')}") from err
    return optuna


def sweep_folder(root: Path) -> Path:
    """Return the folder that holds the sweeps' journals and pointers under a store folder."""
    return root / "sweeps"


def open_storage(location: str | os.PathLike[str]) -> BaseStorage:
    """Open Optuna storage: a database URL as is, anything else as a journal file path."""
    opt = import_optuna()
    text = os.fspath(location)
    if "://" in text:
        return opt.storages.RDBStorage(text)  # type: ignore[no-any-return]
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    Path(text).parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(text))


def make_sampler(config: SweepConfig, seed: int | None = None) -> BaseSampler:
    """Return the Optuna sampler for ``config.method``: grid, random, or TPE for ``bayes``.

    The grid ignores ``seed``: every agent must shuffle the grid the same way, because Optuna's
    ``GridSampler`` maps trial number ``n`` to grid point ``n`` of its shuffled list; distinct
    trial numbers, which the storage hands out atomically, then mean distinct points.
    """
    opt = import_optuna()
    if config.method == "grid":
        return _grid_sampler_class(opt)(Space(config.params).grid_space(), seed=0)  # type: ignore[no-any-return]
    if config.method == "random":
        return opt.samplers.RandomSampler(seed=seed)  # type: ignore[no-any-return]
    # constant_liar makes parallel agents avoid the points that running trials are evaluating.
    return opt.samplers.TPESampler(seed=seed, constant_liar=True)  # type: ignore[no-any-return]


def _grid_sampler_class(optuna: Any) -> Any:
    class AskTellGridSampler(optuna.samplers.GridSampler):  # type: ignore[misc]
        """GridSampler that leaves stopping to the agent.

        Optuna's ``after_trial`` calls ``study.stop()``, which raises outside ``optimize()``;
        the agent checks the grid's size before asking for a trial instead.
        """

        def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
            return None

    return AskTellGridSampler


def make_pruner(config: SweepConfig) -> BasePruner:
    """Return Optuna's ``HyperbandPruner`` for ``early_terminate``, else a pruner that never prunes."""
    opt = import_optuna()
    hb = config.early_terminate
    if hb is None:
        return opt.pruners.NopPruner()  # type: ignore[no-any-return]
    return opt.pruners.HyperbandPruner(  # type: ignore[no-any-return]
        min_resource=hb.min_iter,
        max_resource="auto" if hb.max_iter is None else hb.max_iter,
        reduction_factor=hb.eta,
    )


def create_study(config: SweepConfig, sweep_id: str, project: str, storage: BaseStorage) -> optuna.Study:
    """Create the sweep's study in ``storage`` and record the config and project in it."""
    opt = import_optuna()
    study: optuna.Study = opt.create_study(
        storage=storage,
        study_name=sweep_id,
        direction=config.metric.goal,
        sampler=make_sampler(config),
        pruner=make_pruner(config),
    )
    study.set_user_attr(_CONFIG_ATTR, json.loads(json.dumps(dict(config.raw))))
    study.set_user_attr(_PROJECT_ATTR, project)
    return study


@dataclass(frozen=True, slots=True)
class SweepHandle:
    """A loaded sweep: its config, project and study (with this agent's sampler)."""

    sweep_id: str
    config: SweepConfig
    project: str
    study: optuna.Study
    root: Path
    #: The claim lock's path (Optuna adds ``.lock``) for a journal sweep; None for a database.
    lock_path: Path | None = None


@contextlib.contextmanager
def claim_lock(handle: SweepHandle) -> Iterator[None]:
    """Hold the sweep's claim lock (a no-op for database storage)."""
    if handle.lock_path is None:
        yield
        return
    from optuna.storages.journal import JournalFileOpenLock

    # O_CREAT|O_EXCL lock file; Optuna breaks it after 30 s, far longer than a claim takes.
    lock = JournalFileOpenLock(str(handle.lock_path))
    lock.acquire()
    try:
        yield
    finally:
        lock.release()


def new_id() -> str:
    """Return a new short, url-safe id (8 lowercase letters and digits), for sweeps and trial runs."""
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(8))


def write_pointer(root: Path, sweep_id: str, storage_url: str | None) -> None:
    """Record where a sweep's study lives, so agents on this store need only the id."""
    folder = sweep_folder(root)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{sweep_id}.json").write_text(json.dumps({"storage": storage_url}), encoding="utf-8")


def load_sweep(sweep_id: str, root: Path, *, storage: str | None = None, seed: int | None = None) -> SweepHandle:
    """Open the study of ``sweep_id`` with a fresh sampler seeded by ``seed``.

    Raises:
        SweepNotFoundError: neither the store folder nor ``storage`` knows the sweep.
    """
    opt = import_optuna()
    location = storage or _storage_location(sweep_id, root)
    opened = open_storage(location)
    try:
        probe = opt.load_study(study_name=sweep_id, storage=opened)
    except KeyError as err:
        raise SweepNotFoundError(
            f"no sweep {sweep_id!r} in {str(location)!r}; check the id, dir= or the storage URL"
        ) from err
    config = parse_config(_mapping(probe.user_attrs.get(_CONFIG_ATTR), sweep_id))
    study = opt.load_study(
        study_name=sweep_id, storage=opened, sampler=make_sampler(config, seed), pruner=make_pruner(config)
    )
    project = str(probe.user_attrs.get(_PROJECT_ATTR))
    # Not "<journal>.lock": that is the journal backend's own lock file.
    lock_path = None if "://" in str(location) else Path(str(location) + ".claim")
    return SweepHandle(sweep_id=sweep_id, config=config, project=project, study=study, root=root, lock_path=lock_path)


def _storage_location(sweep_id: str, root: Path) -> str:
    pointer = sweep_folder(root) / f"{sweep_id}.json"
    if not pointer.is_file():
        raise SweepNotFoundError(
            f"no sweep {sweep_id!r} under {str(sweep_folder(root))!r}; check the id and dir= "
            "(or pass storage= for a sweep kept in a database)"
        )
    url = json.loads(pointer.read_text(encoding="utf-8")).get("storage")
    return str(url) if url else str(sweep_folder(root) / f"{sweep_id}.journal")


def _mapping(value: object, sweep_id: str) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        raise SweepNotFoundError(f"the study {sweep_id!r} was not created by rltrack.sweep (it has no config)")
    return value
