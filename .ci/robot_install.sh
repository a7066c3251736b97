#!/usr/bin/env bash
# The robot install (issue 20): on ROS 2 Humble, numpy 1.21.5 comes from apt and compiled ROS Python
# packages are built against it. Installing rltrack and its `ros` extra must leave that numpy alone,
# and the core and the message decoder must work on it. Python 3.10 as on Ubuntu 22.04.
# Usage: bash .ci/robot_install.sh PYTHON3.10
set -euo pipefail
py310=$1
repo=$(cd "$(dirname "$0")/.." && pwd)
venv=$(mktemp -d)/robot
trap 'rm -rf "$(dirname "$venv")"' EXIT
"$py310" -m venv "$venv"
"$venv/bin/pip" install -q numpy==1.21.5
"$venv/bin/pip" install -q "$repo"
"$venv/bin/pip" install -q "$repo[ros]" "$repo/ros"
have=$("$venv/bin/python" -c 'import numpy; print(numpy.__version__)')
if [ "$have" != 1.21.5 ]; then
  echo "robot install: numpy was changed from 1.21.5 to $have by 'pip install rltrack[ros]'" >&2
  exit 1
fi
echo "robot install: numpy still $have after pip install . and .[ros]"
# Test tools only (none of them needs numpy); the tests that need an extra skip without it.
"$venv/bin/pip" install -q "pytest>=8" "hypothesis>=6"
(cd "$repo" && "$venv/bin/python" -m pytest -q -p no:cacheprovider -m "not ros and not slow and not browser" \
  tests/rltrack --ignore=tests/rltrack/server --ignore=tests/rltrack/sweeps --ignore=tests/rltrack/remote \
  tests/ros/test_decode.py tests/ros/test_topics.py tests/test_public_api.py)
"$venv/bin/python" -c 'import numpy; assert numpy.__version__ == "1.21.5", numpy.__version__'
