"""Plain-text rendering of a :class:`~rltrack.sim2real.report.GapReport` for terminals."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rltrack.sim2real.report import GapReport, MeanGap

__all__ = ["Section", "fmt", "gap_row", "heading", "render_table", "sections"]


def fmt(value: float | int | None, digits: int = 4) -> str:
    """Format a number compactly; ``None`` (not computed) becomes ``-``."""
    if value is None:
        return "-"
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}g}"


def _grid(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(header[i]), *(len(r[i]) for r in rows)) if rows else len(header[i]) for i in range(len(header))]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += [
        "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))) for r in rows
    ]
    return out


def gap_row(name: str, gap: MeanGap | None) -> list[str]:
    """Cells of one mean-gap row: name, sim mean, real mean, difference, CI, n sim, n real."""
    if gap is None:
        return [name, "-", "-", "-", "-", "-", "-"]
    ci = "-" if gap.ci_low is None else f"[{fmt(gap.ci_low)}, {fmt(gap.ci_high)}]"
    return [name, fmt(gap.sim_mean), fmt(gap.real_mean), fmt(gap.difference), ci, str(gap.n_sim), str(gap.n_real)]


@dataclass(frozen=True)
class Section:
    """One table of the report as text cells: the terminal, the dashboard and the demo all draw these."""

    title: str
    header: list[str]
    rows: list[list[str]]


def heading(report: GapReport) -> list[str]:
    """Return the lines above the tables: which episodes each side holds, and the bootstrap settings."""
    return [
        f"{report.sim.description}; run {report.sim.run}, source {report.sim.source!r}",
        f"{report.real.description}; run {report.real.run}, source {report.real.source!r}",
        f"differences are real - sim; {report.settings.ci_level:.0%} bootstrap CI, "
        f"n_boot={report.settings.n_boot}, seed={report.settings.seed}",
    ]


def sections(report: GapReport) -> list[Section]:
    """Return the report's measures as text tables, one per kind of measure (empty kinds left out)."""
    out = [
        Section(
            "episodes",
            ["measure", "sim mean", "real mean", "difference", "CI", "n sim", "n real"],
            [
                gap_row("return", report.episode_return),
                gap_row("success rate", report.success_rate),
                gap_row("length", report.episode_length),
            ],
        )
    ]
    if report.signals:
        out.append(
            Section(
                "signals (distributions over all samples)",
                ["key", "W1", "W1/sim std", "KS", "KS p", "n sim", "n real"],
                [
                    [
                        s.key if s.key == s.real_key else f"{s.key} ~ {s.real_key}",
                        fmt(s.wasserstein),
                        fmt(s.wasserstein_norm),
                        fmt(s.ks_statistic),
                        fmt(s.ks_p_value, 3),
                        str(s.n_sim),
                        str(s.n_real),
                    ]
                    for s in report.signals
                ],
            )
        )
    if report.paired:
        out.append(
            Section(
                f"paired episodes ({report.n_pairs} pairs by {report.pair_key}, aligned on {report.settings.align})",
                ["key", "RMSE", "DTW", "pairs", "samples"],
                [[p.key, fmt(p.rmse), fmt(p.dtw), str(p.n_pairs), str(p.n_samples)] for p in report.paired],
            )
        )
    if report.timing:
        out.append(
            Section(
                "real control-loop timing",
                ["key", "rate Hz", "period mean s", "jitter s", "dropped", "messages"],
                [
                    [
                        t.key,
                        fmt(t.rate_hz),
                        fmt(t.period_mean_s),
                        fmt(t.jitter_s),
                        str(t.dropped_estimate),
                        str(t.n_messages),
                    ]
                    for t in report.timing
                ],
            )
        )
    if report.versions is not None:
        v = report.versions
        out.append(
            Section(
                f"policy versions (n={v.n_versions}): Pearson {fmt(v.pearson)}  Spearman {fmt(v.spearman)}  "
                f"MMRV {fmt(v.mmrv)}",
                ["step", "sim mean", "real mean", "difference", "CI", "n sim", "n real"],
                [gap_row(str(p.step), p.gap) for p in v.points],
            )
        )
    return out


def render_table(report: GapReport) -> str:
    """Return the report's measures as aligned text tables, one section per kind of measure."""
    lines = heading(report)
    for section in sections(report):
        lines += ["", section.title, *_grid(section.header, section.rows)]
    if report.not_computed:
        lines += ["", "not computed"]
        lines += [f"  {n.measure}: {n.reason}" for n in report.not_computed]
    return "\n".join(lines) + "\n"
