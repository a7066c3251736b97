"""What the demo needs installed, checked before any training starts, with the command that installs it."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from rltrack.errors import RltrackError

__all__ = ["DemoError", "check_packages", "import_rltrack_ros"]

#: module -> the rltrack extra that installs it.
_NEEDED = {
    "torch": "sb3",
    "stable_baselines3": "sb3",
    "gymnasium": "sb3",
    "rosbags": "ros",
    "yaml": "ros",
    "scipy": "sim2real",
    "plotly": "ui",
}
_UI = {"fastapi": "ui", "uvicorn": "ui"}
_ROS_HINT = (
    "pip install 'rltrack[ros]' ./ros  (from the rltrack checkout; the ROS 2 package rltrack_ros also builds "
    "with colcon)"
)


class DemoError(RltrackError):
    """The demo cannot run: a package is missing or a setting is out of range."""


def check_packages(*, ui: bool) -> None:
    """Raise when a package the demo imports is missing, naming the extras that install it.

    Raises:
        DemoError: one or more packages are missing.
    """
    wanted = {**_NEEDED, **(_UI if ui else {})}
    missing = {module: extra for module, extra in wanted.items() if importlib.util.find_spec(module) is None}
    if missing:
        extras = ",".join(sorted(set(missing.values())))
        raise DemoError(
            f"rltrack demo needs {sorted(missing)!r}, which are not installed: pip install 'rltrack[{extras}]'"
        )


def import_rltrack_ros() -> ModuleType:
    """Return the ``rltrack_ros`` package: installed, else from this checkout's ``ros/`` folder.

    Raises:
        DemoError: it is neither installed nor next to this checkout; the message says how to install it.
    """
    try:
        return importlib.import_module("rltrack_ros")
    except ImportError as err:
        if err.name != "rltrack_ros":
            raise DemoError(f"rltrack_ros cannot be imported ({err}); {_ROS_HINT}") from err
    checkout = Path(__file__).resolve().parents[2] / "ros"
    if (checkout / "rltrack_ros" / "__init__.py").is_file():
        # A development checkout: use the package in place, as `rltrack import-bag` does.
        sys.path.append(str(checkout))
        return importlib.import_module("rltrack_ros")
    raise DemoError(
        f"rltrack demo records the robot stand-in as a rosbag2 and imports it with rltrack_ros, which is not "
        f"installed: {_ROS_HINT}"
    )
