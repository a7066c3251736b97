"""wandb's module-level calls (``rltrack.config``, ``rltrack.save``, ...) acting on the current run.

Each reaches :func:`rltrack.run`'s run; before ``init()`` each raises :class:`RltrackError` saying
"call rltrack.init() first", as wandb's do, never ``AttributeError``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from typing import TYPE_CHECKING, Any

from rltrack._session import current
from rltrack.errors import RltrackError

if TYPE_CHECKING:
    from rltrack._run import Run
    from rltrack.artifacts import Artifact, ArtifactVersion

__all__ = [
    "alert",
    "config",
    "define_metric",
    "log_artifact",
    "mark_preempting",
    "save",
    "summary",
    "unwatch",
    "use_artifact",
    "watch",
]

#: wandb's define_metric summaries that rltrack names differently.
_SUMMARY_ALIASES = {"copy": "last", None: "last"}


def _run(what: str) -> Run:
    run = current()
    if run is None:
        raise RltrackError(f"rltrack.{what} used before rltrack.init(); call rltrack.init() first")
    return run


class _RunMapping(MutableMapping[str, Any]):
    """The current run's config or summary, reachable before ``init()`` as a name (wandb's ``wandb.config``)."""

    _part = ""

    def _target(self) -> MutableMapping[str, Any]:
        target: MutableMapping[str, Any] = getattr(_run(self._part), self._part)
        return target

    def __getitem__(self, key: str) -> Any:
        return self._target()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._target()[key] = value

    def __delitem__(self, key: str) -> None:
        del self._target()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._target())

    def __len__(self) -> int:
        return len(self._target())

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)  # copy, pickle and friends probe dunders
        return getattr(self._target(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._target(), name, value)

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Set several keys (``config.update(d, allow_val_change=True)`` as in wandb)."""
        self._target().update(*args, **kwargs)

    def __repr__(self) -> str:
        run = current()
        return f"<rltrack.{self._part} (no run: call rltrack.init() first)>" if run is None else repr(self._target())


class _ConfigView(_RunMapping):
    """The current run's config (``rltrack.config.lr``, ``rltrack.config.update(...)``), as ``wandb.config``."""

    _part = "config"

    def setdefaults(self, defaults: Mapping[str, Any]) -> None:
        """Set the keys of ``defaults`` that are not set yet."""
        _run("config").config.setdefaults(defaults)

    def as_dict(self) -> dict[str, Any]:
        """Return a copy as a plain dict."""
        return _run("config").config.as_dict()


class _SummaryView(_RunMapping):
    """The current run's summary (``rltrack.summary["best"] = 0.9``), as ``wandb.summary``."""

    _part = "summary"


config = _ConfigView()
summary = _SummaryView()


def define_metric(
    name: str,
    step_metric: str | None = None,
    step_sync: bool | None = None,
    hidden: bool | None = None,
    summary: str | None = None,
    goal: str | None = None,
    overwrite: bool | None = None,
) -> None:
    """Say how a key (or ``"train/*"`` glob) is summarised and which way is better (see :meth:`Run.define_metric`).

    wandb's spellings work: ``summary="min"``/``"max"``/``"mean"``/``"last"``/``"first"``/
    ``"none"``, ``"copy"`` (= last), ``"best"`` (min or max by ``goal``), or a comma list
    (``"min,max"``: the first is kept). ``step_sync``, ``hidden`` and ``overwrite`` are accepted.
    """
    run = _run("define_metric()")
    mode = summary.split(",")[0].strip() if isinstance(summary, str) and "," in summary else summary
    if mode == "best":
        mode = "max" if goal == "maximize" else "min"
    mode = _SUMMARY_ALIASES.get(mode, mode)
    run.define_metric(name, summary=mode, goal=goal, step_metric=step_metric)  # type: ignore[arg-type]  # checked there


def log_artifact(
    artifact_or_path: Artifact | str | os.PathLike[str],
    name: str | None = None,
    type: str | None = None,
    aliases: Sequence[str] | None = None,
) -> ArtifactVersion:
    """Store files as a new version of an artifact in the current run (see :meth:`Run.log_artifact`)."""
    return _run("log_artifact()").log_artifact(artifact_or_path, name=name, type=type, aliases=aliases or ())


def use_artifact(
    artifact_or_name: str, type: str | None = None, aliases: Sequence[str] | None = None, use_as: str | None = None
) -> ArtifactVersion:
    """Record that the current run used an artifact version (``"name:latest"``); ``type`` etc. are accepted."""
    return _run("use_artifact()").use_artifact(artifact_or_name)


def save(
    glob_str: str | os.PathLike[str], base_path: str | os.PathLike[str] | None = None, policy: str = "live"
) -> list[str]:
    """Copy files into the current run's ``files/`` folder (see :meth:`Run.save`)."""
    return _run("save()").save(glob_str, base_path, policy)


def watch(
    models: Any,
    criterion: Any = None,
    log: str | None = "gradients",
    log_freq: int = 1000,
    idx: int | None = None,
    log_graph: bool = False,
) -> None:
    """Log histograms and norms of a torch module's gradients/parameters every ``log_freq`` passes.

    ``log`` is ``"gradients"`` (default), ``"parameters"``, ``"all"`` or None; ``criterion``,
    ``idx`` and ``log_graph`` are accepted, ignored. torch is imported only here.
    """
    _run("watch()").watch(models, log=log, log_freq=log_freq)


def unwatch(models: Any = None) -> None:
    """Remove the hooks :func:`watch` added (for ``models``, or all)."""
    _run("unwatch()").unwatch(models)


def alert(title: str, text: str, level: str = "INFO", wait_duration: float | None = None) -> None:
    """Record an alert in the current run (see :meth:`Run.alert`)."""
    _run("alert()").alert(title, text, level, wait_duration)


def mark_preempting() -> None:
    """Say the current run may be preempted (see :meth:`Run.mark_preempting`)."""
    _run("mark_preempting()").mark_preempting()
