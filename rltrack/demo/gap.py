"""The demo's reality gap: ``rltrack.sim2real.compare`` on the deployed policy's episodes, and its report files.

The run's ``sim`` source holds two kinds of episodes: training episodes from ``RLTrackCallback``
(every policy along the way) and the deployed checkpoint's evaluation in the nominal simulator.
The gap of the deployed policy compares the latter with the robot stand-in, so the view handed to
``compare`` keeps only the ``sim`` episodes recorded from ``since_ns`` on (robot time of the sim
recording); everything else is read as stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rltrack.api import RunView
    from rltrack.demo.checkpoints import CheckpointEval
    from rltrack.sim2real import GapReport

__all__ = ["GapFiles", "measure_gap", "signal_keys"]

#: Telemetry keys both bags carry (``rltrack_ros`` names them after topic and field).
SIGNAL_PREFIXES = ("joint_states/", "rl/action/")
REPORT_STEM = "sim2real_gap"


def signal_keys(view: RunView) -> list[str]:
    """Return the telemetry keys logged under both ``sim`` and ``real`` (what the distributions compare)."""
    shared = set(view.keys("sim")) & set(view.keys("real"))
    return sorted(k for k in shared if k.startswith(SIGNAL_PREFIXES))


@dataclass(frozen=True)
class GapFiles:
    """The gap report and where it was written."""

    report: GapReport
    html: Path
    json: Path


def measure_gap(
    view: RunView,
    *,
    since_ns: int,
    checkpoints: Sequence[CheckpointEval],
    out_dir: Path,
    seed: int,
    stand_in: str,
) -> GapFiles:
    """Compare the deployed policy in sim and on the stand-in; write ``sim2real_gap.html`` and ``.json``.

    Args:
        view: The demo run.
        since_ns: Robot time at which the nominal-simulator recording starts.
        checkpoints: Every checkpoint's returns on both sides (cross-version measures).
        out_dir: Folder for the report files (the run's folder).
        seed: Bootstrap seed, so the report is reproducible.
        stand_in: What the robot stand-in is, said at the top of the HTML report.
    """
    from rltrack.sim2real import PolicyVersion, compare
    from rltrack.sim2real.deployed import DeployedEpisodes

    versions = [
        PolicyVersion(step=c.step, sim_returns=c.sim_returns, real_returns=c.standin_returns, name=c.ref)
        for c in checkpoints
    ]
    report = compare(
        DeployedEpisodes(view, since_ns=since_ns), keys=signal_keys(view), versions=versions or None, seed=seed
    )
    html = report.to_html(out_dir / f"{REPORT_STEM}.html")
    _say_stand_in(html, stand_in)
    json_path = out_dir / f"{REPORT_STEM}.json"
    json_path.write_text(report.to_json() + "\n", encoding="utf-8")
    return GapFiles(report, html, json_path)


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
