"""Shared fixtures for the ROS 2 tests.

``ros/`` is an ament_python package, not part of the rltrack wheel: the tests import
``rltrack_ros`` from the source folder by putting ``<repo>/ros`` first on ``sys.path``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROS_SRC = Path(__file__).resolve().parents[2] / "ros"
if str(ROS_SRC) not in sys.path:
    sys.path.insert(0, str(ROS_SRC))
HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

try:
    import rosbags  # noqa: F401
except ImportError:  # without the ros extra these tests cannot even be collected
    collect_ignore_glob = ["test_*.py"]
else:
    from bagdata import BagContents, write_bag


@pytest.fixture(scope="session")
def sqlite_bag(tmp_path_factory: pytest.TempPathFactory) -> BagContents:
    return write_bag(tmp_path_factory.mktemp("bags") / "robot_sqlite", "sqlite3")


@pytest.fixture(scope="session")
def mcap_bag(tmp_path_factory: pytest.TempPathFactory) -> BagContents:
    return write_bag(tmp_path_factory.mktemp("bags") / "robot_mcap", "mcap")
