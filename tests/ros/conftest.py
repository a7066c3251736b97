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

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install 'rltrack[ros]')")

from bagdata import BagContents, write_bag  # noqa: E402


@pytest.fixture(scope="session")
def sqlite_bag(tmp_path_factory: pytest.TempPathFactory) -> BagContents:
    return write_bag(tmp_path_factory.mktemp("bags") / "robot_sqlite", "sqlite3")


@pytest.fixture(scope="session")
def mcap_bag(tmp_path_factory: pytest.TempPathFactory) -> BagContents:
    return write_bag(tmp_path_factory.mktemp("bags") / "robot_mcap", "mcap")
