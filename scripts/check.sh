#!/usr/bin/env bash
# Lint and type-check as CI does: ruff over the tree (or the paths given), then mypy --strict on the
# installed layout (callbacks/ and sim2real/ mapped into the rltrack namespace).
# Usage: [MYPY_CACHE=/tmp/mypy-mine] bash scripts/check.sh [paths for ruff...]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
.venv/bin/ruff check "${@:-.}"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp -r rltrack "$stage/rltrack"
cp -r sim2real "$stage/rltrack/sim2real"
cp -r callbacks "$stage/rltrack/callbacks"
(cd "$stage" && "$repo/.venv/bin/mypy" --config-file "$repo/pyproject.toml" --cache-dir "${MYPY_CACHE:-/tmp/mypy-cache}" -p rltrack)
