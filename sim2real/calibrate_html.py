"""One self-contained HTML page for a calibration: its tables and the before/after replay overlay.

Per scored key, one chart overlays the recorded episode (real), its replay in the nominal simulator
(before) and in the calibrated one (after). The simulator restarts from the recorded observation at
each replay window, so its lines break at the window starts. plotly.js is inlined as in the gap
report (:func:`rltrack.sim2real.html.plotly_js`): the page opens offline.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from rltrack.sim2real.calibrate_space import CalibrationError
from rltrack.sim2real.html import plotly_js

if TYPE_CHECKING:
    from rltrack.sim2real.calibrate_result import Calibration

__all__ = ["overlay_figures", "overlay_section", "write_html"]

_REAL, _BEFORE, _AFTER = "#d62728", "#999999", "#1f77b4"
_CSS = (
    "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}"
    "h1{font-size:1.4em} h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ddd}"
    "pre{font-size:.85em;overflow-x:auto} .chart{height:320px} .note{color:#555}"
)
Windows = tuple[tuple[int, npt.NDArray[np.float64]], ...]


def _finite(values: npt.NDArray[np.float64]) -> list[float | None]:
    """Values as JSON numbers; a diverged simulator's inf or NaN becomes a gap in the line."""
    return [float(v) if math.isfinite(v) else None for v in values.tolist()]


def _segments(windows: Windows, column: int) -> tuple[list[int | None], list[float | None]]:
    """Join the replay windows into one line with gaps between them."""
    x: list[int | None] = []
    y: list[float | None] = []
    for start, rows in windows:
        x += [*range(start, start + rows.shape[0]), None]
        y += [*_finite(rows[:, column]), None]
    return x, y


def overlay_figures(result: Calibration) -> list[dict[str, Any]]:
    """One plotly figure per scored key: the recorded episode, the simulator before and after."""
    overlay = result.overlay
    if overlay is None:
        return []
    figs = []
    for j, key in enumerate(overlay.keys):
        bx, by = _segments(overlay.before, j)
        ax, ay = _segments(overlay.after, j)
        figs.append({
            "data": [
                {"x": list(range(overlay.real.shape[0])), "y": _finite(overlay.real[:, j]), "name": "real (recorded)",
                 "mode": "lines", "line": {"color": _REAL, "width": 3}},
                {"x": bx, "y": by, "name": "sim before", "mode": "lines", "line": {"color": _BEFORE, "dash": "dot"}},
                {"x": ax, "y": ay, "name": "sim after", "mode": "lines", "line": {"color": _AFTER}},
            ],
            "layout": {"title": {"text": key}, "xaxis": {"title": {"text": "step in episode"}},
                       "margin": {"t": 40, "b": 40}},
        })  # fmt: skip
    return figs


def overlay_section(result: Calibration, first: int) -> str:
    """The calibration's table and one chart slot per scored key (ids ``fig<first>``, ``fig<first + 1>``, ...)."""
    n = 0 if result.overlay is None else len(result.overlay.keys)
    charts = "".join(f'<div class="chart" id="fig{first + i}"></div>' for i in range(n))
    episode = "" if result.overlay is None else f" (episode {result.overlay.episode} of the recording)"
    how = (
        "The lines are the ensemble Kalman filter's one-step predictions: each step predicted from everything "
        "recorded before it."
        if result.metric == "filter"
        else "The simulator replays the recorded actions open-loop and restarts from the recorded observation "
        "at each window, so its lines break at the window starts."
    )
    return (
        f"<pre>{html.escape(result.table())}</pre>"
        f"<h2>Simulator before and after calibration{html.escape(episode)}</h2>"
        f"<p class='note'>Real (recorded), the simulator with its nominal parameters (before) and with the "
        f"calibrated ones (after), per key. {html.escape(how)}</p>{charts}"
    )


def write_html(result: Calibration, path: Path) -> Path:
    """Write the calibration page to ``path`` (parent folders are created) and return the path.

    Raises:
        GapError: plotly is not installed.
        CalibrationError: The file cannot be written.
    """
    js = plotly_js()
    figs = overlay_figures(result)
    page = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>rltrack calibration</title>"
        f"<style>{_CSS}</style><script>{js}</script></head><body>"
        f"<h1>Calibration from run(s) {html.escape(', '.join(result.runs))}</h1>"
        + overlay_section(result, 0)
        + "<script>const FIGS="
        + json.dumps(figs, allow_nan=False).replace("</", "<\\/")
        + ";"
        "FIGS.forEach((f,i)=>Plotly.newPlot('fig'+i,f.data,f.layout,{responsive:true,displaylogo:false}));"
        "</script></body></html>"
    )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(page, encoding="utf-8")
    except OSError as err:
        raise CalibrationError(
            f"cannot write the calibration page to {str(path)!r}: {err}; choose a writable path"
        ) from err
    return path
