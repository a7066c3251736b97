"""The wheel holds every package and data file the source tree has."""

from __future__ import annotations

import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 (ROS 2 Humble)
    tomllib = None

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAPPED = {"rltrack": ROOT / "rltrack", "rltrack.callbacks": ROOT / "callbacks", "rltrack.sim2real": ROOT / "sim2real"}


@pytest.mark.skipif(tomllib is None, reason="tomllib needs Python 3.11")
def test_every_package_folder_is_listed_in_pyproject() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert config["package-dir"] == {k: v.name for k, v in MAPPED.items()}
    found = set()
    for package, folder in MAPPED.items():
        for init in folder.rglob("__init__.py"):
            parts = init.parent.relative_to(folder).parts
            if package == "rltrack" and parts and parts[0] in ("callbacks", "sim2real"):
                continue
            found.add(".".join([package, *parts]))
    assert found == set(config["packages"])


@pytest.mark.skipif(tomllib is None, reason="tomllib needs Python 3.11")
def test_every_dashboard_asset_is_package_data() -> None:
    import fnmatch

    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["rltrack.server"]
    static = ROOT / "rltrack" / "server"
    for path in (static / "static").rglob("*"):
        if path.is_file():
            rel = path.relative_to(static).as_posix()
            assert any(fnmatch.fnmatch(rel, g) and rel.count("/") == g.count("/") for g in globs), rel
