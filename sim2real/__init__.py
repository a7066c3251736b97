"""Quantify the reality gap between simulated and real runs.

``compare(sim, real)`` returns a :class:`GapReport`: episode return, success-rate and length gaps
with bootstrap intervals; per-signal Wasserstein and KS distances; RMSE and DTW over paired
episodes; the robot's control-loop timing; and, across policy versions, Pearson, Spearman and
SIMPLER's MMRV. The sim side is the deployed checkpoint's episodes, picked by :func:`select_sim`
and stated in the report (``report.sim.description``); every view of the gap uses the bootstrap
setting :data:`N_BOOT`, :data:`SEED`. ``replay(real_run, env_fn, episode=k)`` re-executes recorded real actions in a
simulator to isolate the dynamics gap; ``calibrate(real_run, make_env=..., params=...)`` searches
the simulator's parameters that replay the recording best and suggests randomization ranges (it
also needs the ``sweeps`` extra, Optuna). Requires the ``sim2real`` extra (scipy); the HTML report
also needs plotly (``ui`` extra).
"""

from __future__ import annotations

from rltrack.sim2real.align import Series
from rltrack.sim2real.calibrate import calibrate
from rltrack.sim2real.calibrate_result import Calibration
from rltrack.sim2real.calibrate_space import CalibrationError
from rltrack.sim2real.compare import compare, compare_sides
from rltrack.sim2real.deployed import N_BOOT, SEED, SimSelection, select_sim
from rltrack.sim2real.errors import GapError
from rltrack.sim2real.replay import ReplayResult, replay, replay_actions
from rltrack.sim2real.report import GapReport
from rltrack.sim2real.sides import Side, load_side
from rltrack.sim2real.versions import PolicyVersion, compare_versions

__all__ = [
    "N_BOOT",
    "SEED",
    "Calibration",
    "CalibrationError",
    "GapError",
    "GapReport",
    "PolicyVersion",
    "ReplayResult",
    "Series",
    "Side",
    "SimSelection",
    "calibrate",
    "compare",
    "compare_sides",
    "compare_versions",
    "load_side",
    "replay",
    "replay_actions",
    "select_sim",
]
