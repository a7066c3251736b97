"""The demo's reality gap: ``rltrack.sim2real.compare`` with its defaults, and its report files.

The run's ``sim`` source holds two kinds of episodes: training episodes from ``RLTrackCallback``
(every policy along the way) and the deployed checkpoint's evaluation in the nominal simulator,
imported at the checkpoint's training step. ``compare`` picks the latter by itself (see
:func:`rltrack.sim2real.deployed.select_sim`), with the one bootstrap setting, so the gap the demo
prints is the one ``rltrack compare RUN``, ``compare(run_id)`` and the dashboard show.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rltrack.api import RunView
    from rltrack.demo.checkpoints import CheckpointEval
    from rltrack.sim2real import Calibration, GapReport

__all__ = ["GapFiles", "measure_gap", "stand_in_table", "write_gap_page"]

REPORT_STEM = "sim2real_gap"


@dataclass(frozen=True)
class GapFiles:
    """The gap report and where it was written."""

    report: GapReport
    html: Path
    json: Path
    stand_in: str = ""
    """What the robot stand-in is, said at the top of the HTML report."""


def measure_gap(
    view: RunView,
    *,
    checkpoints: Sequence[CheckpointEval],
    out_dir: Path,
    stand_in: str,
) -> GapFiles:
    """Compare the deployed policy in sim and on the stand-in; write ``sim2real_gap.html`` and ``.json``.

    Args:
        view: The demo run.
        checkpoints: Every checkpoint's returns on both sides (cross-version measures).
        out_dir: Folder for the report files (the run's folder).
        stand_in: What the robot stand-in is, said at the top of the HTML report.
    """
    from rltrack.sim2real import PolicyVersion, compare

    versions = [
        PolicyVersion(step=c.step, sim_returns=c.sim_returns, real_returns=c.standin_returns, name=c.ref)
        for c in checkpoints
    ]
    # compare()'s defaults: the same sim episodes, signals and bootstrap as every other place the gap is shown.
    report = compare(view, versions=versions or None)
    json_path = out_dir / f"{REPORT_STEM}.json"
    json_path.write_text(report.to_json() + "\n", encoding="utf-8")
    files = GapFiles(report, out_dir / f"{REPORT_STEM}.html", json_path, stand_in)
    write_gap_page(files)
    return files


def write_gap_page(files: GapFiles, *, calibration: Calibration | None = None) -> Path:
    """Write the report's HTML page; with ``calibration``, the before/after overlay is its last section."""
    from rltrack.sim2real.html import write_html

    html = write_html(files.report, files.html, calibration=calibration)
    _say_stand_in(html, files.stand_in)
    return html


def stand_in_table(report: GapReport, description: str) -> str:
    """Return the report's terminal table, saying that the ``real`` side is the robot stand-in."""
    table = report.table().replace("source 'real'", "source 'real' = robot stand-in", 1)
    return f"real = robot stand-in: {description} (a stand-in, not a robot)\n{table}"


def _say_stand_in(path: Path, stand_in: str) -> None:
    """Add, under the report's heading, that its ``real`` side is the robot stand-in."""
    import html

    note = (
        f"<p class='note'><b>real = robot stand-in</b>: {html.escape(stand_in)}; a simulated stand-in, "
        "not a robot. <b>sim</b> = the same policy in the nominal simulator.</p>"
    )
    page = path.read_text(encoding="utf-8")
    path.write_text(page.replace("</h1>", "</h1>" + note, 1), encoding="utf-8")
