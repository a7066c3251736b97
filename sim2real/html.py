"""One self-contained HTML page for a gap report, with interactive plotly charts.

plotly.js is read from the installed ``plotly`` wheel (its bundled ``plotly.min.js``) and inlined,
so the page opens from disk with no network. Figures are plain JSON specs handed to
``Plotly.newPlot``; the Python plotly API is not needed.
"""

from __future__ import annotations

import html
import importlib.resources
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rltrack.sim2real.errors import GapError
from rltrack.sim2real.text import fmt

if TYPE_CHECKING:
    from rltrack.sim2real.calibrate_result import Calibration
    from rltrack.sim2real.report import GapReport, MeanGap

__all__ = ["plotly_js", "write_html"]

Figure = dict[str, Any]
_SIM, _REAL, _DIFF = "#1f77b4", "#d62728", "#555555"
_CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{font-size:1.4em} h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.9em;display:block;max-width:100%;overflow-x:auto}
td,th{padding:.25em .7em;border-bottom:1px solid #eee} caption{text-align:left;font-weight:600;padding:.3em 0}
td{text-align:right} td:first-child,th:first-child{text-align:left} .note{color:#666;font-size:.9em}
.chart{width:100%;height:360px}
"""


def plotly_js() -> str:
    """Return the minified plotly.js bundled with the installed ``plotly`` package.

    Raises:
        GapError: plotly is not installed (install the ``ui`` extra).
    """
    try:
        text = (importlib.resources.files("plotly") / "package_data" / "plotly.min.js").read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError) as err:
        raise GapError(
            "the HTML report inlines plotly.js from the plotly package, which is missing; pip install 'rltrack[ui]'"
        ) from err
    return text.replace("</script", "<\\/script")


def _bars(title: str, keys: list[str], traces: list[tuple[str, list[float | None], str]], ytitle: str) -> Figure:
    return {
        "data": [{"type": "bar", "name": n, "x": keys, "y": y, "marker": {"color": c}} for n, y, c in traces],
        "layout": {"title": {"text": title}, "barmode": "group", "yaxis": {"title": {"text": ytitle}}},
    }


def _episode_figure(name: str, gap: MeanGap) -> Figure:
    diff = gap.difference
    error: dict[str, Any] = {"visible": False}
    if diff is not None and gap.ci_low is not None and gap.ci_high is not None:
        error = {"type": "data", "symmetric": False, "array": [gap.ci_high - diff], "arrayminus": [diff - gap.ci_low]}
    return {
        "data": [
            {
                "type": "bar",
                "name": f"sim (n={gap.n_sim})",
                "x": ["sim"],
                "y": [gap.sim_mean],
                "marker": {"color": _SIM},
            },
            {
                "type": "bar",
                "name": f"real (n={gap.n_real})",
                "x": ["real"],
                "y": [gap.real_mean],
                "marker": {"color": _REAL},
            },
            {
                "type": "bar",
                "name": "real - sim, 95% CI",
                "x": ["real - sim"],
                "y": [diff],
                "marker": {"color": _DIFF},
                "error_y": error,
            },
        ],
        "layout": {"title": {"text": f"episode {name}"}, "showlegend": True},
    }


def _histogram_figure(report: GapReport) -> Figure | None:
    signals = [s for s in report.signals if s.histogram is not None]
    if not signals:
        return None
    data: list[dict[str, Any]] = []
    buttons: list[dict[str, Any]] = []
    first_title = ""

    for i, s in enumerate(signals):
        h = s.histogram
        assert h is not None  # filtered above; narrows the type for mypy
        centers = [(a + b) / 2 for a, b in zip(h.edges[:-1], h.edges[1:], strict=True)]
        for side, dens, color in (("sim", h.sim_density, _SIM), ("real", h.real_density, _REAL)):
            data.append(
                {
                    "type": "bar",
                    "name": side,
                    "x": centers,
                    "y": list(dens),
                    "opacity": 0.55,
                    "marker": {"color": color},
                    "visible": i == 0,
                }
            )
        visible = [j // 2 == i for j in range(2 * len(signals))]
        title = f"{s.key}: W1 {fmt(s.wasserstein)}, KS {fmt(s.ks_statistic)} (n sim {s.n_sim}, n real {s.n_real})"
        first_title = first_title or title
        buttons.append({"label": s.key, "method": "update", "args": [{"visible": visible}, {"title": {"text": title}}]})
    return {
        "data": data,
        "layout": {
            "barmode": "overlay",
            "bargap": 0,
            "title": {"text": first_title},
            "yaxis": {"title": {"text": "density"}},
            "updatemenus": [{"buttons": buttons, "x": 1.0, "xanchor": "right", "y": 1.15}],
        },
    }


def _version_figures(report: GapReport) -> list[Figure]:
    v = report.versions
    if v is None or not v.points:
        return []
    steps = [p.step for p in v.points]
    labels = [p.name or str(p.step) for p in v.points]
    diff = [p.gap.difference for p in v.points]
    low = [p.gap.ci_low for p in v.points]
    high = [p.gap.ci_high for p in v.points]
    scatter = {
        "data": [
            {
                "type": "scatter",
                "mode": "markers+text",
                "x": [p.gap.sim_mean for p in v.points],
                "y": [p.gap.real_mean for p in v.points],
                "text": labels,
                "textposition": "top center",
            }
        ],
        "layout": {
            "title": {
                "text": f"sim vs real return per policy: Pearson {fmt(v.pearson)}, "
                f"Spearman {fmt(v.spearman)}, MMRV {fmt(v.mmrv)}"
            },
            "xaxis": {"title": {"text": "sim mean return"}},
            "yaxis": {"title": {"text": "real mean return"}},
        },
    }
    gap = {
        "data": [
            {"type": "scatter", "mode": "lines", "x": steps, "y": high, "line": {"width": 0}, "showlegend": False},
            {
                "type": "scatter",
                "mode": "lines",
                "x": steps,
                "y": low,
                "fill": "tonexty",
                "line": {"width": 0},
                "name": "95% CI",
            },
            {
                "type": "scatter",
                "mode": "lines+markers",
                "x": steps,
                "y": diff,
                "name": "real - sim",
                "marker": {"color": _DIFF},
            },
        ],
        "layout": {
            "title": {"text": "return gap by training step of each checkpoint"},
            "xaxis": {"title": {"text": "training step"}},
            "yaxis": {"title": {"text": "real - sim"}},
        },
    }
    return [scatter, gap]


def _figures(report: GapReport) -> list[tuple[str, Figure]]:
    figs: list[tuple[str, Figure]] = []
    for name, gap in (
        ("return", report.episode_return),
        ("success rate", report.success_rate),
        ("length", report.episode_length),
    ):
        if gap is not None:
            figs.append(("episodes", _episode_figure(name, gap)))
    if report.signals:
        keys = [s.key for s in report.signals]
        figs.append(
            (
                "signals",
                _bars(
                    "distribution distance per signal",
                    keys,
                    [
                        ("W1 / sim std", [s.wasserstein_norm for s in report.signals], _DIFF),
                        ("KS statistic", [s.ks_statistic for s in report.signals], _REAL),
                    ],
                    "distance",
                ),
            )
        )
        hist = _histogram_figure(report)
        if hist is not None:
            figs.append(("signals", hist))
    if report.paired:
        keys = [p.key for p in report.paired]
        # Two charts: DTW sums |error| along a whole episode, so it dwarfs RMSE on one axis.
        n = report.n_pairs
        figs.append(
            (
                "paired",
                _bars(
                    f"RMSE after alignment ({n} pairs)",
                    keys,
                    [("RMSE", [p.rmse for p in report.paired], _SIM)],
                    "signal units",
                ),
            )
        )
        figs.append(
            (
                "paired",
                _bars(
                    f"DTW distance ({n} pairs)",
                    keys,
                    [("DTW", [p.dtw for p in report.paired], _REAL)],
                    "signal units x steps",
                ),
            )
        )
    figs += [("versions", f) for f in _version_figures(report)]
    return figs


def _table(header: list[str], rows: list[list[str]], caption: str = "") -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f"<table>{cap}<tr>{head}</tr>{body}</table>"


def _sections(report: GapReport) -> dict[str, str]:
    from rltrack.sim2real.text import gap_row

    out = {
        "episodes": _table(
            ["measure", "sim mean", "real mean", "real - sim", "95% CI", "n sim", "n real"],
            [
                gap_row("return", report.episode_return),
                gap_row("success rate", report.success_rate),
                gap_row("length", report.episode_length),
            ],
            caption=report.sim.description,
        )
    }
    out["signals"] = _table(
        ["key", "real key", "W1", "W1 / sim std", "KS", "KS p", "n sim", "n real"],
        [
            [
                s.key,
                s.real_key,
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
    pairing = (
        f"<p class='note'>{report.n_pairs} episode pairs matched by {html.escape(report.pair_key)}, aligned on "
        f"{html.escape(report.settings.align)}; DTW band {report.settings.dtw_window_fraction:.0%} of the longer "
        "episode.</p>"
        if report.pair_key
        else ""
    )
    out["paired"] = pairing + _table(
        ["key", "RMSE", "DTW", "pairs", "samples"],
        [[p.key, fmt(p.rmse), fmt(p.dtw), str(p.n_pairs), str(p.n_samples)] for p in report.paired],
    )
    out["timing"] = _table(
        ["key", "rate Hz", "period mean s", "median s", "jitter s", "dropped", "messages"],
        [
            [
                t.key,
                fmt(t.rate_hz),
                fmt(t.period_mean_s),
                fmt(t.period_median_s),
                fmt(t.jitter_s),
                str(t.dropped_estimate),
                str(t.n_messages),
            ]
            for t in report.timing
        ],
    )
    versions = report.versions
    out["versions"] = (
        ""
        if versions is None
        else _table(
            ["step", "name", "sim mean", "real mean", "real - sim", "95% CI", "n sim", "n real"],
            [[str(p.step), p.name or "", *gap_row("", p.gap)[1:]] for p in versions.points],
        )
    )
    return out


def write_html(report: GapReport, path: Path, *, calibration: Calibration | None = None) -> Path:
    """Write the report page to ``path`` (parent folders are created) and return the path.

    With ``calibration``, the page ends with a section on it: its table and, per scored key, the
    recorded episode beside the simulator before and after calibration (the same page, offline).

    Raises:
        GapError: plotly is not installed, or the file cannot be written.
    """
    js = plotly_js()
    sections = _sections(report)
    charts: dict[str, list[str]] = {}
    specs = []
    for i, (section, fig) in enumerate(_figures(report)):
        charts.setdefault(section, []).append(f'<div class="chart" id="fig{i}"></div>')
        specs.append(fig)
    titles = {
        "episodes": "Episode gaps",
        "signals": "Signal distributions",
        "paired": "Paired episodes",
        "timing": "Real control-loop timing",
        "versions": "Across policy versions",
    }
    body = []
    for section, title in titles.items():
        body.append(f"<h2>{title}</h2>{sections[section]}{''.join(charts.get(section, []))}")
    if calibration is not None:
        from rltrack.sim2real.calibrate_html import overlay_figures, overlay_section

        body.append(f"<h2 id='calibration'>Calibration</h2>{overlay_section(calibration, len(specs))}")
        specs += overlay_figures(calibration)
    skipped = "".join(f"<li><b>{html.escape(n.measure)}</b>: {html.escape(n.reason)}</li>" for n in report.not_computed)
    s, r = report.sim, report.real
    page = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>rltrack sim-vs-real gap</title>"
        f"<style>{_CSS}</style><script>{js}</script></head><body>"
        f"<h1>Sim-vs-real gap: {html.escape(s.run)}/{html.escape(s.source)} vs {html.escape(r.run)}/"
        f"{html.escape(r.source)}</h1><p class='note' id='sides'><b>{html.escape(s.description)}</b><br>"
        f"{html.escape(r.description)}</p><p class='note'>Differences are real - sim. "
        f"{report.settings.ci_level:.0%} bootstrap intervals with {report.settings.n_boot} resamples, "
        f"seed {report.settings.seed}"
        # Only a report that paired episodes says how they were aligned (none paired: nothing was aligned).
        + (f"; paired episodes aligned on {html.escape(report.settings.align)}" if report.n_pairs else "")
        + ".</p>"
        + "".join(body)
        + f"<h2>Not computed</h2><ul>{skipped or '<li>everything was computed</li>'}</ul>"
        + "<script>const FIGS="
        + json.dumps(specs, allow_nan=False).replace("</", "<\\/")
        + ";"
        "FIGS.forEach((f,i)=>Plotly.newPlot('fig'+i,f.data,f.layout,{responsive:true,displaylogo:false}));"
        "</script></body></html>"
    )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(page, encoding="utf-8")
    except OSError as err:
        raise GapError(f"cannot write the HTML report to {str(path)!r}: {err}; choose a writable path") from err
    return path
