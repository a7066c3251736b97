"""The calibration result as a terminal table: parameters, error before and after, randomization."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rltrack.sim2real.calibrate_result import Calibration

__all__ = ["render"]


def _num(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return "inf" if math.isinf(value) else f"{value:.4g}"
    return str(value)


def _grid(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]


def _spread(spec: dict[str, Any]) -> str:
    if "value" in spec:
        return f"= {_num(spec['value'])}"
    if "values" in spec:
        return "{" + ", ".join(_num(v) for v in spec["values"]) + "}"
    return f"[{_num(spec['min'])}, {_num(spec['max'])}]"


def render(result: Calibration) -> str:
    """Return the aligned table ``rltrack calibrate`` prints."""
    horizon = "whole episodes" if result.horizon is None else f"{result.horizon}-step windows"
    lines = [
        f"calibration of run(s) {', '.join(result.runs)}: {result.n_episodes} episodes, {result.n_steps:,} steps, "
        + _how(result.metric, horizon),
        f"{len(result.trials)} trials ({result.n_failed} failed), engine {result.engine}, "
        f"{result.sim_steps:,} sim steps in {result.wall_s:.1f} s"
        + (f"; trial runs in group {result.group!r}" if result.group else ""),
        "",
    ]
    rows = [["parameter", "estimate", "near-best range", "prior", "identifiable", "randomize"]]
    for p in result.parameters:
        near = "-" if not p.identifiable else (
            "{" + ", ".join(map(_num, p.low)) + "}" if isinstance(p.low, list) else f"[{_num(p.low)}, {_num(p.high)}]"
        )  # fmt: skip
        prior = "{" + ", ".join(map(_num, p.prior_low)) + "}" if isinstance(p.prior_low, list) else (
            f"[{_num(p.prior_low)}, {_num(p.prior_high)}]"
        )  # fmt: skip
        flag = "yes" if p.identifiable else f"NO (error changes {_pct(p.sensitivity)} over the prior)"
        rows.append([p.name, _num(p.estimate), near, prior, flag, _spread(dict(p.randomization))])
    lines += _grid(rows)
    lines.append("")
    objective, per_key = _LABELS.get(result.metric, _LABELS["trajectory"])
    err = [["replay error" if result.metric != "filter" else "filter", "before", "after", "ratio"]]
    err.append([objective, _num(result.before.objective), _num(result.after.objective),
                f"{_num(result.improvement)}x lower"])  # fmt: skip
    for key, b, a in zip(result.keys, result.before.rmse, result.after.rmse, strict=True):
        err.append([f"{per_key} {key}", _num(b), _num(a), f"{_num(b / a) if a > 0 else 'inf'}x"])
    lines += _grid(err)
    if result.metric == "filter":
        gain = result.before.n_samples * math.log(result.improvement) if math.isfinite(result.improvement) else math.inf
        lines.append(f"log-likelihood gain {_num(gain)} over {result.after.n_samples:,} recorded values")
    lines.append(f"near-best = {result.uncertainty.split(': ', 1)[1]}")
    if result.n_near_best < _FEW_NEAR:
        lines.append(
            f"only {result.n_near_best} trial(s) are near-best: the search has not mapped the best's neighbourhood, "
            "so the ranges are narrower than the uncertainty; raise the budget"
        )
    lines += _gap_rows(result)
    return "\n".join(lines)


#: Fewer near-best trials than this: the table says the ranges come from too few points.
_FEW_NEAR = 3
_LABELS = {
    "trajectory": ("objective (RMSE / std, mean over keys)", "RMSE"),
    "dtw": ("objective (DTW cost / std, mean over keys)", "DTW/sample"),
    "filter": ("objective (exp mean neg. log-likelihood)", "innovation RMS"),
}


def _gap_rows(result: Calibration) -> list[str]:
    """Per key, the gap report's paired RMSE and W1 of the replay before and after."""
    before, after = result.gap_before, result.gap_after
    if before is None or after is None:
        return []
    rows = [["gap report (replay vs real)", "paired RMSE before", "after", "W1 before", "after"]]
    paired_b, paired_a = {p.key: p for p in before.paired}, {p.key: p for p in after.paired}
    signal_b, signal_a = {s.key: s for s in before.signals}, {s.key: s for s in after.signals}
    for key in result.keys:
        rmse = [_num(getattr(side.get(key), "rmse", None)) for side in (paired_b, paired_a)]
        w1 = [_num(getattr(side.get(key), "wasserstein", None)) for side in (signal_b, signal_a)]
        rows.append([key, *rmse, *w1])
    return ["", *_grid(rows)]


def _how(metric: str, horizon: str) -> str:
    if metric == "filter":
        return "scored by an ensemble Kalman filter over whole episodes"
    return f"open-loop replay in {horizon}" + (", scored by DTW" if metric == "dtw" else "")


def _pct(value: float) -> str:
    return "inf" if math.isinf(value) else f"{value:.1%}"
