#!/usr/bin/env bash
# Create the separate ROS 2 test venv used by tests/ros/ (marker `ros`) and bench/ros_mirror.py.
#
# Usage: .ci/ros_venv.sh DIR [REPO_ROOT]
#   DIR        where the venv goes (created; reused if it already holds a working rclpy)
#   REPO_ROOT  the rltrack checkout to install editable (default: this script's repository)
# Then: RLTRACK_ROS_VENV=DIR pytest tests/ros -m ros
#
# Why a separate venv: the PyPI ROS 2 Jazzy wheels (unofficial, cp311 only, built by
# github.com/ycheng517/ros-python-wheels) install a `.pth` bootstrapper that re-execs every Python
# start in the venv with LD_LIBRARY_PATH extended; that must not leak into the main dev venv.
# Versions are pinned exactly: only Jazzy 7.1.6 and Kilted 9.1.2 exist, and they may disappear.
set -euo pipefail

if [ $# -lt 1 ]; then
  echo "usage: $0 DIR [REPO_ROOT]" >&2
  exit 2
fi
venv=$1
repo=${2:-$(cd "$(dirname "$0")/.." && pwd)}
py=${ROS_VENV_PYTHON:-python3.11}
if ! command -v "$py" >/dev/null 2>&1 || ! "$py" -c 'import sys; assert sys.version_info[:2] == (3, 11)' 2>/dev/null; then
  for cand in "$HOME"/.pyenv/versions/3.11*/bin/python3.11 /usr/bin/python3.11; do
    if [ -x "$cand" ]; then py=$cand; break; fi
  done
fi
"$py" -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' || {
  echo "ros_venv.sh: the PyPI ROS 2 Jazzy wheels need CPython 3.11; set ROS_VENV_PYTHON" >&2
  exit 2
}

if [ ! -x "$venv/bin/python" ]; then
  "$py" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip install --disable-pip-version-check -q)
"${pip[@]}" --upgrade "pip>=23" wheel
"${pip[@]}" \
  "ros-jazzy-rclpy[fastrtps]==7.1.6" \
  "ros-jazzy-std-msgs==5.3.6" \
  "ros-jazzy-sensor-msgs==5.3.6" \
  "ros-jazzy-nav-msgs==5.3.6" \
  "ros-jazzy-geometry-msgs==5.3.6" \
  "ros-jazzy-diagnostic-msgs==5.3.6" \
  "colcon-core>=0.17" \
  "colcon-ros>=0.5" \
  "rosbags>=0.10,<0.12" \
  "pyyaml>=6" \
  "psutil>=5.9" \
  "av>=12" \
  "opencv-python-headless>=4.8" \
  "pytest>=8"
"${pip[@]}" -e "$repo"

# Smoke check without touching the network: importing rclpy and building message classes opens no
# socket; rclpy.init() would, so it is left to the tests (which run inside a loopback namespace).
"$venv/bin/python" - <<'EOF'
import rclpy  # noqa: F401
from nav_msgs.msg import Odometry  # noqa: F401
from sensor_msgs.msg import JointState  # noqa: F401
import rosbags  # noqa: F401
import rltrack  # noqa: F401
print("ros venv ok")
EOF
