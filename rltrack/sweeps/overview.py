"""Read a sweep back: its trials, the best one and Optuna's parameter importances (for the dashboard).

Example:
    >>> from rltrack.sweeps.overview import list_sweeps, overview  # doctest: +SKIP
    >>> view = overview(list_sweeps("rltrack-runs")[0], dir="rltrack-runs")  # doctest: +SKIP
    >>> view.best.config, view.importances  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rltrack.store.paths import resolve_root
from rltrack.sweeps.config import JsonValue
from rltrack.sweeps.engine import import_optuna, load_sweep, sweep_folder

if TYPE_CHECKING:
    import optuna

__all__ = ["SweepOverview", "TrialRow", "list_sweeps", "overview"]

_STATES = {"COMPLETE": "finished", "PRUNED": "pruned", "FAIL": "failed", "RUNNING": "running", "WAITING": "waiting"}


@dataclass(frozen=True, slots=True)
class TrialRow:
    """One trial of a sweep: its run, state, objective value and parameters."""

    number: int
    run_id: str | None
    state: str
    value: float | None
    config: Mapping[str, JsonValue]
    iterations: int
    duration_s: float | None


@dataclass(frozen=True, slots=True)
class SweepOverview:
    """A sweep's config, trials (by number), best finished trial and parameter importances."""

    sweep_id: str
    project: str
    method: str
    metric: str
    goal: str
    config: Mapping[str, object]
    trials: tuple[TrialRow, ...]
    best: TrialRow | None
    #: Optuna's fANOVA importance of each searched parameter (sums to 1); empty below 2 finished trials.
    importances: Mapping[str, float]


def list_sweeps(dir: str | os.PathLike[str] | None = None) -> list[str]:  # the public name, as in init
    """Return the ids of the sweeps created in a store folder, newest first."""
    folder = sweep_folder(resolve_root(dir))
    if not folder.is_dir():
        return []
    pointers = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
    return [p.stem for p in pointers]


def overview(
    sweep_id: str,
    *,
    dir: str | os.PathLike[str] | None = None,  # the public name, as in rltrack.init
    storage: str | None = None,
    importances: bool = True,
) -> SweepOverview:
    """Read a sweep's trials from its Optuna study.

    Raises:
        SweepNotFoundError: no such sweep.
    """
    handle = load_sweep(sweep_id, resolve_root(dir), storage=storage)
    study = handle.study
    frozen = [t for t in study.get_trials(deepcopy=False) if "rltrack.skipped" not in t.user_attrs]
    rows = tuple(_row(t) for t in frozen)
    finished = [r for r in rows if r.state == "finished" and r.value is not None]
    best: TrialRow | None = None
    if finished:
        pick = max if handle.config.metric.goal == "maximize" else min
        best = pick(finished, key=lambda r: r.value)  # type: ignore[arg-type, return-value]  # values are set
    return SweepOverview(
        sweep_id=sweep_id,
        project=handle.project,
        method=handle.config.method,
        metric=handle.config.metric.name,
        goal=handle.config.metric.goal,
        config=handle.config.raw,
        trials=rows,
        best=best,
        importances=_importances(study) if importances and len(finished) >= 2 else {},
    )


def _row(trial: optuna.trial.FrozenTrial) -> TrialRow:
    start, end = trial.datetime_start, trial.datetime_complete
    return TrialRow(
        number=trial.number,
        run_id=trial.user_attrs.get("run_id"),
        state=_STATES.get(trial.state.name, trial.state.name.lower()),
        value=trial.value,
        config=trial.user_attrs.get("config", {}),
        iterations=len(trial.intermediate_values),
        duration_s=(end - start).total_seconds() if start and end else None,
    )


def _importances(study: optuna.Study) -> dict[str, float]:
    optuna = import_optuna()
    try:
        return dict(optuna.importance.get_param_importances(study))
    except (ValueError, RuntimeError):
        # Optuna refuses when every finished trial has the same value or no parameter varies.
        return {}
