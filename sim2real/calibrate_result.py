"""What a calibration found: best parameters, their uncertainty, identifiability and randomization ranges.

Uncertainty is the *near-best set*: every evaluated parameter set (search trials and profile
points) whose replay error is within ``tolerance`` (relative) of the best one. It is a set, not a
posterior sample: the replay error is deterministic given the parameters, so the honest statement
is "these parameters explain the recording about as well as the best", and its per-parameter
``[low, high]`` is the range reported.

Identifiability comes from a *profile*: starting at the search's best, one parameter at a time is
moved across its whole prior range. A parameter whose profile changes the error by less than
``tolerance`` (relative) is flagged unidentifiable: the recording says nothing about it, so it
gets no estimate and its whole prior range is suggested for randomization.

Suggested domain-randomization ranges are written in the same wandb-style form ``params`` takes:
an identified parameter is randomized over its near-best range widened by a quarter of its width
on each side (at least 5 % of the estimate), inside its prior range; an integer one over its
near-best integers.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from rltrack.sim2real.calibrate_env import Score
from rltrack.sim2real.calibrate_space import ParamSpec

if TYPE_CHECKING:
    from rltrack.sim2real.report import GapReport

__all__ = ["FORMAT", "Calibration", "Overlay", "ParamResult", "Trial", "summarize"]

FORMAT = "rltrack.sim2real.calibration"
_VERSION = 1
#: Widening of a near-best range for randomization: this fraction of its width on each side ...
_WIDEN = 0.25
#: ... and at least this fraction of the estimate (a near-best set of one point is not certainty).
_MIN_REL = 0.05


@dataclass(frozen=True, slots=True)
class Trial:
    """One evaluated parameter set: its score, or why it failed."""

    number: int
    params: Mapping[str, Any]
    score: Score | None
    error: str | None = None
    kind: str = "search"
    """``"search"`` (Optuna), ``"refine"`` (Nelder-Mead) or ``"profile"`` (identifiability)."""


@dataclass(frozen=True, slots=True)
class ParamResult:
    """One parameter's estimate, uncertainty, identifiability and suggested randomization."""

    name: str
    estimate: Any
    """Best value, or None when the parameter is unidentifiable."""
    low: Any
    """Lowest value in the near-best set (the prior's low end when unidentifiable)."""
    high: Any
    prior_low: Any
    prior_high: Any
    identifiable: bool
    sensitivity: float
    """(max - min) / min of the replay error along this parameter's profile."""
    randomization: Mapping[str, Any]
    """Suggested domain-randomization distribution, wandb style."""


@dataclass(frozen=True)
class Overlay:
    """One recorded episode beside its replay in the simulator before and after calibration (scored keys)."""

    episode: int
    """The episode's index among the run's episodes."""
    keys: tuple[str, ...]
    real: npt.NDArray[np.float64]
    """Recorded values, shape ``(T, len(keys))``."""
    before: tuple[tuple[int, npt.NDArray[np.float64]], ...]
    """Replay windows of the nominal simulator: ``(start step, rows)``, rows from the start observation on."""
    after: tuple[tuple[int, npt.NDArray[np.float64]], ...]
    """Replay windows of the best simulator."""


@dataclass(frozen=True)
class Calibration:
    """The result of :func:`rltrack.sim2real.calibrate`."""

    runs: tuple[str, ...]
    keys: tuple[str, ...]
    horizon: int | None
    n_episodes: int
    n_steps: int
    engine: str
    tolerance: float
    group: str | None
    best_params: dict[str, Any]
    """The parameters of the best trial (every parameter, identifiable or not: a simulator needs a value)."""
    before: Score
    """Replay error of the nominal (uncalibrated) simulator."""
    after: Score
    """Replay error of the best trial."""
    parameters: tuple[ParamResult, ...]
    trials: tuple[Trial, ...] = field(repr=False)
    wall_s: float = 0.0
    overlay: Overlay | None = field(default=None, repr=False)
    """The first episode replayed before and after, for :meth:`to_html` (None if it could not be replayed)."""
    metric: str = "trajectory"
    """How a simulator was scored: ``trajectory``, ``dtw`` or ``filter``."""
    gap_before: GapReport | None = field(default=None, repr=False)
    """The gap report of the nominal simulator's replay against the recording (W1, KS, paired RMSE/DTW per key)."""
    gap_after: GapReport | None = field(default=None, repr=False)
    """The same for the calibrated simulator."""

    @property
    def uncertainty(self) -> str:
        """What the near-best ranges mean."""
        if self.metric == "filter":
            return (
                "likelihood-ratio set: every trial whose log-likelihood is within 1.92 (chi-square 95 %, one "
                "degree of freedom, halved) of the best"
            )
        return f"near-best set: every trial within {self.tolerance:.0%} (relative) of the best replay error"

    @property
    def improvement(self) -> float:
        """How many times lower the replay error is after calibration (inf when it reached zero)."""
        return self.before.objective / self.after.objective if self.after.objective > 0 else math.inf

    @property
    def n_near_best(self) -> int:
        """Trials in the near-best set; under about 3, the ranges say more about the search than the data."""
        limit = self.after.objective * (1.0 + self.tolerance) + 1e-12
        return sum(t.score is not None and t.score.objective <= limit for t in self.trials)

    @property
    def n_failed(self) -> int:
        """Trials whose simulator raised."""
        return sum(t.score is None for t in self.trials)

    @property
    def sim_steps(self) -> int:
        """Simulator steps taken by every trial together."""
        return sum(t.score.sim_steps for t in self.trials if t.score is not None)

    def param(self, name: str) -> ParamResult:
        """Return one parameter's result by name.

        Raises:
            KeyError: No searched parameter has this name.
        """
        for p in self.parameters:
            if p.name == name:
                return p
        raise KeyError(name)

    def randomization(self) -> dict[str, Any]:
        """Return the suggested domain-randomization ranges as a wandb-style ``parameters`` mapping."""
        return {p.name: dict(p.randomization) for p in self.parameters}

    def to_dict(self) -> dict[str, Any]:
        """Return the result as JSON-ready data (``format``/``version`` first; fields are only added)."""
        failures = [{"number": t.number, "params": dict(t.params), "error": t.error} for t in self.trials if t.error]
        return {
            "format": FORMAT,
            "version": _VERSION,
            "runs": list(self.runs),
            "keys": list(self.keys),
            "horizon": self.horizon,
            "n_episodes": self.n_episodes,
            "n_steps": self.n_steps,
            "engine": self.engine,
            "tolerance": self.tolerance,
            "group": self.group,
            "metric": self.metric,
            "uncertainty": self.uncertainty,
            "best_params": self.best_params,
            "before": _score_dict(self.before, self.keys),
            "after": _score_dict(self.after, self.keys),
            "improvement": None if math.isinf(self.improvement) else self.improvement,
            "parameters": {
                p.name: {k: _finite(getattr(p, k)) for k in ParamResult.__dataclass_fields__ if k != "name"}
                for p in self.parameters
            },
            "randomization": self.randomization(),
            "gap": None
            if self.gap_before is None or self.gap_after is None
            else {"before": self.gap_before.to_dict(), "after": self.gap_after.to_dict()},
            "n_trials": len(self.trials),
            "n_failed": self.n_failed,
            "n_near_best": self.n_near_best,
            "failures": failures[:20],
            "sim_steps": self.sim_steps,
            "wall_s": self.wall_s,
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        """Return :meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), indent=indent, default=_plain, allow_nan=False)

    def write(self, folder: str | Path) -> tuple[Path, Path]:
        """Write ``calibration.json`` and ``randomization.yaml`` (feed the latter to training) into ``folder``.

        Returns:
            The two paths.
        """
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        result = out / "calibration.json"
        result.write_text(self.to_json() + "\n", encoding="utf-8")
        ranges = out / "randomization.yaml"
        header = (
            f"# Domain-randomization ranges suggested by rltrack calibrate from run(s) {', '.join(self.runs)}.\n"
            "# Identified parameters: near-best range, widened; unidentifiable ones: their whole prior range.\n"
        )
        # JSON is YAML; one parameter per line reads well and needs no YAML writer.
        lines = [
            f"{json.dumps(name)}: {json.dumps(spec, default=_plain)}" for name, spec in self.randomization().items()
        ]
        ranges.write_text(header + "parameters:\n" + "".join(f"  {line}\n" for line in lines), encoding="utf-8")
        return result, ranges

    def to_html(self, path: str | Path, *, gap: GapReport | None = None) -> Path:
        """Write one self-contained page: the tables and the before/after replay overlay (needs plotly).

        Args:
            path: The page to write.
            gap: A gap report of the same run: the page is that report's, with the calibration as its
                last section.

        Returns:
            The written path.
        """
        if gap is not None:
            from rltrack.sim2real.html import write_html as write_gap_html

            return write_gap_html(gap, Path(path), calibration=self)
        from rltrack.sim2real.calibrate_html import write_html

        return write_html(self, Path(path))

    def table(self) -> str:
        """Return the result as aligned plain text for a terminal."""
        from rltrack.sim2real.calibrate_text import render

        return render(self)


def _finite(value: Any) -> Any:
    # JSON has no infinity: an infinite sensitivity (the error was 0 somewhere on the profile) is null.
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _score_dict(score: Score, keys: Sequence[str]) -> dict[str, Any]:
    return {
        "objective": score.objective,
        "rmse": dict(zip(keys, score.rmse, strict=True)),
        "n_samples": score.n_samples,
        "sim_steps": score.sim_steps,
    }


def summarize(
    specs: Sequence[ParamSpec],
    trials: Sequence[Trial],
    profiles: Mapping[str, Sequence[Trial]],
    tolerance: float,
) -> tuple[Trial, tuple[ParamResult, ...]]:
    """Find the best trial and each parameter's uncertainty, identifiability and randomization.

    Args:
        specs: The searched parameters.
        trials: Every evaluated trial (failed ones are skipped).
        profiles: Per parameter, the profile trials (the best with only that parameter moved).
        tolerance: Relative tolerance on the replay error.

    Returns:
        The best trial and one :class:`ParamResult` per parameter.
    """
    done = [t for t in trials if t.score is not None and math.isfinite(t.score.objective)]
    best = min(done, key=lambda t: t.score.objective)  # type: ignore[union-attr]  # filtered above
    limit = best.score.objective * (1.0 + tolerance) + 1e-12  # type: ignore[union-attr]
    near = [t for t in done if t.score.objective <= limit]  # type: ignore[union-attr]
    results = []
    for spec in specs:
        values = [t.params[spec.name] for t in near]
        profile = [t.score.objective for t in profiles.get(spec.name, ()) if t.score is not None]
        lowest = min(profile, default=0.0)
        sensitivity = (max(profile) - lowest) / lowest if profile and lowest > 0 else (math.inf if profile else 0.0)
        identifiable = sensitivity > tolerance
        results.append(_param_result(spec, best.params[spec.name], values, sensitivity, identifiable))
    return best, tuple(results)


def _param_result(spec: ParamSpec, best: Any, values: list[Any], sensitivity: float, identifiable: bool) -> ParamResult:
    prior_low = list(spec.choices) if spec.choices else spec.low
    prior_high = None if spec.choices else spec.high
    if spec.choices:
        seen = [c for c in spec.choices if c in values] if identifiable else list(spec.choices)
        dist: dict[str, Any] = {"value": seen[0]} if len(seen) == 1 else {"values": seen}
        return ParamResult(spec.name, best if identifiable else None, seen, None, prior_low, prior_high,
                           identifiable, sensitivity, dist)  # fmt: skip
    low, high = (min(values), max(values)) if identifiable else (spec.low, spec.high)
    if spec.integer:
        lo, hi = int(low), int(high)  # type: ignore[arg-type]
        dist = {"value": lo} if lo == hi else {"distribution": "int_uniform", "min": lo, "max": hi}
    else:
        lo_f, hi_f = float(low), float(high)  # type: ignore[arg-type]
        if identifiable:
            pad = max(_WIDEN * (hi_f - lo_f), _MIN_REL * abs(float(best)))
            lo_f, hi_f = max(float(spec.low), lo_f - pad), min(float(spec.high), hi_f + pad)  # type: ignore[arg-type]
        dist = {"distribution": "uniform", "min": _round(lo_f), "max": _round(hi_f)}
    return ParamResult(spec.name, best if identifiable else None, low, high, prior_low, prior_high,
                       identifiable, sensitivity, dist)  # fmt: skip


def _round(x: float) -> float:
    return float(f"{x:.6g}")
