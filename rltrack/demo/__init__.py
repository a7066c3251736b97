"""``rltrack demo``: the whole product in one go, on a robot stand-in.

PPO trains on CartPole-v1 into a run (source ``sim``, checkpoints as artifact versions); the
deployed checkpoint then plays the nominal simulator and a robot stand-in (CartPole with a heavier
pole, a delayed actuator and noisy sensors), each recorded as a rosbag2 and imported through
``rltrack_ros`` into the same run (sources ``sim`` and ``real``); ``rltrack.sim2real`` measures the
gap. Nothing heavy is imported until :func:`run_demo` runs.
"""

from __future__ import annotations

from rltrack.demo.deps import DemoError
from rltrack.demo.physics import StandInPhysics
from rltrack.demo.pipeline import DemoResult, DemoSettings, run_demo

__all__ = ["DemoError", "DemoResult", "DemoSettings", "StandInPhysics", "run_demo"]
