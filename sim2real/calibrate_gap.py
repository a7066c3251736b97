"""The sim-to-real gap before and after a calibration: the existing GapReport on the simulator's replays.

Every recorded episode is replayed in the simulator with the nominal parameters and with the
calibrated ones, the way the calibration scored it (open-loop windows, or the filter's one-step
predictions), and each replay becomes a *side* that :func:`rltrack.sim2real.compare_sides` measures
against the recording: distribution distances per key (W1, KS) and paired RMSE/DTW per episode,
the same functions with the same settings as ``rltrack compare``. Episode returns are not part of
a replay (the recorded actions are replayed, no policy acts), and a replay has no clock of its own,
so the report's episode and timing sections are left out with a note.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from rltrack.sim2real.align import Series
from rltrack.sim2real.report import NotComputed
from rltrack.sim2real.sides import Side

if TYPE_CHECKING:
    from rltrack.sim2real.calibrate_env import Objective
    from rltrack.sim2real.report import GapReport

__all__ = ["gap_reports", "replay_side"]

#: A replay's steps get times on a nominal 1 ms grid: the report's timing section is dropped anyway.
_TICK_NS = 1_000_000


def _side(objective: Objective, rows: list[npt.NDArray[np.float64]], source: str) -> Side:
    """Episodes (one ``(T, obs_dim)`` array each) as a side: scored keys, ``episode/length`` and ``episode/seed``."""
    data, cols = objective.episodes, list(objective.columns)
    steps, ends, lengths = [], [], []
    offset = 0
    for episode in rows:
        steps.append(np.arange(offset, offset + episode.shape[0]))
        offset += episode.shape[0]
        ends.append(offset - 1)
        lengths.append(episode.shape[0])
    step = np.concatenate(steps)
    values = np.vstack(rows)
    series = {data.obs_keys[c]: Series.of(step, step * _TICK_NS, values[:, c]) for c in cols}
    end = np.asarray(ends)
    series["episode/length"] = Series.of(end, end * _TICK_NS, lengths)
    # Pairing by seed: each episode's index in the recording, the same on both sides.
    series["episode/seed"] = Series.of(end, end * _TICK_NS, list(data.index))
    return Side.of(data.run, source, series, signals=[data.obs_keys[c] for c in cols])


def replay_side(objective: Objective, params: Mapping[str, Any], source: str) -> Side:
    """Every recorded episode replayed with ``params`` (each window from its start on), as a side."""
    episodes = []
    for k, obs in enumerate(objective.episodes.observations):
        out = obs.copy()
        for start, rows in objective.predict(params, k):
            out[start + 1 : start + rows.shape[0]] = rows[1:]
        episodes.append(out)
    return _side(objective, episodes, source)


def gap_reports(
    objective: Objective, before: Mapping[str, Any], after: Mapping[str, Any]
) -> tuple[GapReport, GapReport]:
    """The gap report of the nominal simulator's replay, and of the calibrated one's, against the recording.

    Raises:
        Exception: Whatever the simulator raises (the caller reports the gap as not computed).
    """
    from rltrack.sim2real.compare import compare_sides

    real = _side(objective, list(objective.episodes.observations), objective.episodes.source)
    keys = [objective.episodes.obs_keys[c] for c in objective.columns]
    out = []
    for label, params in (("before", before), ("after", after)):
        sim = replay_side(objective, params, f"replay-{label}")
        report = compare_sides(sim, real, keys=keys, sim_description=f"sim: the recording replayed {label} "
                               "calibration")  # fmt: skip
        dropped = [n for n in report.not_computed if n.measure.startswith(("episodes", "versions"))]
        kept = tuple(n for n in report.not_computed if n not in dropped)
        out.append(
            dataclasses.replace(
                report, timing=(), not_computed=(*kept, NotComputed(
                    "episodes and timing", "a replay applies the recorded actions (no policy, no returns) and has "
                    "no clock of its own")),
            )
        )  # fmt: skip
    return out[0], out[1]
