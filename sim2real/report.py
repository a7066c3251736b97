"""The gap report: frozen records, JSON, a terminal table and an offline HTML page.

``GapReport.to_json()`` writes this layout; field names are stable (new fields may be added, none
renamed). Every measure that could not be computed is ``null`` and has an entry in
``not_computed`` saying why. Differences are ``real - sim``.

.. code-block:: text

    {"format": "rltrack.sim2real.gap_report", "version": 1,
     "sim":  {"run", "source", "n_episodes", "description"},   "real": {...},
     "settings": {"n_boot", "seed", "ci_level", "align", "dtw_window_fraction"},
     "episodes": {"return" | "success_rate" | "length":
                  {"sim_mean", "real_mean", "difference", "ci_low", "ci_high", "n_sim", "n_real"} | null},
     "signals": {KEY: {"real_key", "n_sim", "n_real", "n_nonfinite_sim", "n_nonfinite_real",
                       "sim_mean", "real_mean", "sim_std", "real_std",
                       "wasserstein", "wasserstein_norm", "ks_statistic", "ks_p_value",
                       "histogram": {"edges", "sim_density", "real_density"} | null}},
     "paired": {"n_pairs", "pair_key", "keys": {KEY: {"real_key", "n_pairs", "n_samples", "rmse", "dtw"}}},
     "timing": {REAL_KEY: {"n_messages", "n_intervals", "period_mean_s", "period_median_s",
                           "jitter_s", "rate_hz", "dropped_estimate"}},
     "versions": {"n_versions", "pearson", "spearman", "mmrv",
                  "points": [{"step", "name", "sim_mean", "real_mean", "difference",
                              "ci_low", "ci_high", "n_sim", "n_real"}]} | null,
     "not_computed": [{"measure", "reason"}]}
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rltrack.sim2real.timing import LoopTiming

__all__ = [
    "FORMAT",
    "GapReport",
    "Histogram",
    "MeanGap",
    "NotComputed",
    "PairedGap",
    "Settings",
    "SideInfo",
    "SignalGap",
    "VersionGap",
    "VersionPoint",
]

FORMAT = "rltrack.sim2real.gap_report"
_VERSION = 1
JsonDict = dict[str, Any]


@dataclass(frozen=True, slots=True)
class MeanGap:
    """Sim mean, real mean, their difference (real - sim) and its bootstrap interval."""

    sim_mean: float | None
    real_mean: float | None
    difference: float | None
    ci_low: float | None
    ci_high: float | None
    n_sim: int
    n_real: int

    def ci_contains(self, value: float) -> bool:
        """Whether the interval exists and contains ``value``."""
        return self.ci_low is not None and self.ci_high is not None and self.ci_low <= value <= self.ci_high


@dataclass(frozen=True, slots=True)
class Histogram:
    """Densities of one signal on shared bin edges, for plotting."""

    edges: tuple[float, ...]
    sim_density: tuple[float, ...]
    real_density: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class SignalGap:
    """Distribution distances between the sim and real samples of one signal."""

    key: str
    real_key: str
    n_sim: int
    n_real: int
    n_nonfinite_sim: int
    n_nonfinite_real: int
    sim_mean: float | None
    real_mean: float | None
    sim_std: float | None
    real_std: float | None
    wasserstein: float | None
    wasserstein_norm: float | None
    ks_statistic: float | None
    ks_p_value: float | None
    histogram: Histogram | None


@dataclass(frozen=True, slots=True)
class PairedGap:
    """Trajectory error of one signal over paired episodes (same reset seed on both sides)."""

    key: str
    real_key: str
    n_pairs: int
    n_samples: int
    rmse: float | None
    """Mean over pairs of each pair's RMSE after alignment."""
    dtw: float | None
    """Mean over pairs of each pair's DTW distance (sum of |sim - real| along the warping path)."""


@dataclass(frozen=True, slots=True)
class VersionPoint:
    """Sim and real performance of one policy version (checkpoint)."""

    step: int
    name: str | None
    gap: MeanGap


@dataclass(frozen=True, slots=True)
class VersionGap:
    """Agreement of sim and real across policy versions, and the gap per training step."""

    n_versions: int
    pearson: float | None
    spearman: float | None
    mmrv: float | None
    points: tuple[VersionPoint, ...]


@dataclass(frozen=True, slots=True)
class NotComputed:
    """A measure left out of the report, and why."""

    measure: str
    reason: str


@dataclass(frozen=True, slots=True)
class SideInfo:
    """Which run and source one side of the comparison came from, and which of its episodes."""

    run: str
    source: str
    n_episodes: int
    description: str = ""
    """The sentence every gap table states, e.g. ``"sim: 10 eval episodes at step 20,480, policy v3"``."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Parameters the report was computed with."""

    n_boot: int
    seed: int
    ci_level: float
    align: str
    dtw_window_fraction: float


@dataclass(frozen=True, slots=True)
class GapReport:
    """The reality gap between a sim side and a real side, with sample sizes for every measure."""

    sim: SideInfo
    real: SideInfo
    settings: Settings
    episode_return: MeanGap | None
    success_rate: MeanGap | None
    episode_length: MeanGap | None
    signals: tuple[SignalGap, ...]
    n_pairs: int
    pair_key: str | None
    paired: tuple[PairedGap, ...]
    timing: tuple[LoopTiming, ...]
    versions: VersionGap | None
    not_computed: tuple[NotComputed, ...]

    def to_dict(self) -> JsonDict:
        """Return the report as plain JSON-ready data (layout in this module's docstring)."""
        return {
            "format": FORMAT,
            "version": _VERSION,
            "sim": _fields(self.sim),
            "real": _fields(self.real),
            "settings": _fields(self.settings),
            "episodes": {
                "return": _gap_dict(self.episode_return),
                "success_rate": _gap_dict(self.success_rate),
                "length": _gap_dict(self.episode_length),
            },
            "signals": {s.key: _signal_dict(s) for s in self.signals},
            "paired": {
                "n_pairs": self.n_pairs,
                "pair_key": self.pair_key,
                "keys": {p.key: _fields(p, skip=("key",)) for p in self.paired},
            },
            "timing": {t.key: _fields(t, skip=("key",)) for t in self.timing},
            "versions": _versions_dict(self.versions),
            "not_computed": [_fields(n) for n in self.not_computed],
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        """Return the report as JSON text (undefined values are ``null``, never NaN)."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def to_html(self, path: str | Path) -> Path:
        """Write one self-contained HTML file with interactive charts that opens offline.

        plotly.js is inlined from the installed ``plotly`` package (the ``ui`` extra); the page
        loads nothing from the network.

        Returns:
            The written path.
        """
        from rltrack.sim2real.html import write_html

        return write_html(self, Path(path))

    def table(self) -> str:
        """Return the report as aligned plain text for a terminal."""
        from rltrack.sim2real.text import render_table

        return render_table(self)


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _fields(record: Any, skip: tuple[str, ...] = ()) -> JsonDict:
    return {name: _clean(getattr(record, name)) for name in record.__dataclass_fields__ if name not in skip}


def _gap_dict(gap: MeanGap | None) -> JsonDict | None:
    return None if gap is None else _fields(gap)


def _signal_dict(signal: SignalGap) -> JsonDict:
    out = _fields(signal, skip=("key", "histogram"))
    hist = signal.histogram
    out["histogram"] = (
        None
        if hist is None
        else {
            "edges": list(hist.edges),
            "sim_density": list(hist.sim_density),
            "real_density": list(hist.real_density),
        }
    )
    return out


def _versions_dict(versions: VersionGap | None) -> JsonDict | None:
    if versions is None:
        return None
    out = _fields(versions, skip=("points",))
    out["points"] = [{"step": p.step, "name": p.name, **_fields(p.gap)} for p in versions.points]
    return out
