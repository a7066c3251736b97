#!/usr/bin/env bash
# Set up everything rltrack's demo and tests need on a fresh Debian 12 machine, idempotently:
#   - Debian packages: chromium (dashboard browser tests), iproute2 + util-linux (loopback-only
#     network namespaces for the ROS 2 tests), postgresql (a throwaway cluster per test session for
#     the PostgreSQL store tests, tests/pgcluster.py);
#   - .venv: torch==2.13.0 first (the CPU wheel on these machines; an unpinned torch pulls a
#     multi-GB CUDA build), then rltrack editable with every extra, and the rltrack_ros package;
#   - .venv-ros: the separate venv with the PyPI ROS 2 Jazzy wheels (see .ci/ros_venv.sh).
# Usage: bash scripts/setup.sh            (everything)
#        RLTRACK_SETUP_ROS=0 bash scripts/setup.sh   (skip the ROS venv)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
export PIP_DISABLE_PIP_VERSION_CHECK=1

need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v ip >/dev/null 2>&1 || need_apt+=(iproute2)
command -v unshare >/dev/null 2>&1 || need_apt+=(util-linux)
# The PostgreSQL conformance tests start a throwaway cluster (tests/pgcluster.py); Debian keeps initdb off PATH.
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null 2>&1 || need_apt+=(postgresql)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: apt-get install ${need_apt[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "setup: please install ${need_apt[*]} (sudo apt-get install ${need_apt[*]}); browser/ROS/PostgreSQL tests skip without them" >&2
  fi
fi

py=${PYTHON:-python3.11}
command -v "$py" >/dev/null 2>&1 || py=python3
if [ ! -x .venv/bin/python ]; then
  "$py" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q torch==2.13.0
.venv/bin/python -m pip install -q -e ".[all,server,s3,dev,ray]"
# Editable, like rltrack itself: `rltrack import-bag` runs the checkout's rltrack_ros, never a stale copy.
.venv/bin/python -m pip install -q --use-pep517 -e ./ros

if [ "${RLTRACK_SETUP_ROS:-1}" = 1 ]; then
  bash .ci/ros_venv.sh "$repo/.venv-ros" "$repo" >/dev/null
fi
echo "setup: ready (.venv$( [ -d .venv-ros ] && echo ', .venv-ros'))"
