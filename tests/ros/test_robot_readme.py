"""The README's robot install commands, as written: Python 3.10 with numpy 1.21.5 already there (Humble's).

``ros/`` is a plain setup.py package: ``pip wheel`` of it fails with a pip older than 23.1 and no
``wheel`` package ("invalid command 'bdist_wheel'"), as on Ubuntu 22.04, unless ``--use-pep517``.
``rltrack[ros] @ git+URL`` alone leaves out ``rltrack_ros`` (it lives in ``ros/``): import-bag then
says the package is missing. The slow test runs the commands in a fresh Python 3.10 venv
(``$RLTRACK_PY310`` or ``python3.10`` on PATH; it needs the package index for numpy and rosbags).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "tests" / "fixtures" / "real-bags" / "rb2_mcap_cdr_test"


def robot_commands() -> list[str]:
    """The ``pip`` lines of the README's ROS section's install block, comments cut."""
    section = (REPO / "README.md").read_text(encoding="utf-8").split("## Robot telemetry (ROS 2)")[1]
    block = section.split("\n## ")[0].split("```bash\n")[1].split("```")[0]
    return [line.split("  #")[0].strip() for line in block.splitlines() if line.startswith("pip ")]


def test_the_readme_builds_ros_with_pep517_and_installs_both_parts_from_git() -> None:
    wheel, install, git = robot_commands()
    assert wheel.split()[:2] == ["pip", "wheel"] and "--use-pep517" in wheel.split() and "./ros" in wheel.split()
    assert "dist/rltrack-*.whl" in install and "dist/rltrack_ros-*.whl" in install
    assert "'rltrack[ros] @ git+<repository URL>'" in git
    assert "'rltrack_ros @ git+<repository URL>#subdirectory=ros'" in git


def _python310() -> str:
    """A working Python 3.10, looked for as .ci/run does (a pyenv shim on PATH may not run)."""
    candidates = [os.environ.get("RLTRACK_PY310", ""), shutil.which("python3.10") or ""]
    candidates += sorted(str(p) for p in Path.home().glob(".pyenv/versions/3.10*/bin/python3.10"))
    candidates.append("/usr/bin/python3.10")
    check = "import sys; assert sys.version_info[:2] == (3, 10)"
    for cand in filter(None, candidates):
        if subprocess.run([cand, "-c", check], capture_output=True, check=False).returncode == 0:
            return cand
    pytest.skip("no Python 3.10 (set RLTRACK_PY310)")


def _sh(command: str, cwd: Path, venv: Path) -> str:
    env = {**os.environ, "PATH": f"{venv / 'bin'}:{os.environ['PATH']}", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("PYTHONPATH", None)
    done = subprocess.run(command, shell=True, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def _robot_venv(tmp_path: Path, name: str) -> Path:
    venv = tmp_path / name
    subprocess.run([_python310(), "-m", "venv", str(venv)], check=True)
    _sh("pip install -q numpy==1.21.5", tmp_path, venv)
    return venv


def _check_robot(venv: Path, tmp_path: Path) -> None:
    assert _sh("python -c 'import numpy; print(numpy.__version__)'", tmp_path, venv).strip() == "1.21.5"
    out = _sh(f"rltrack import-bag {FIXTURE} --project robot --dir {tmp_path / 'store'}", tmp_path, venv)
    assert "imported 7 messages" in out


@pytest.mark.slow
def test_the_readme_wheel_route_works_on_a_humble_like_python(tmp_path: Path) -> None:
    wheel, install, _ = robot_commands()
    venv = _robot_venv(tmp_path, "robot")
    dist = tmp_path / "dist"
    _sh(wheel.replace("-w dist/", f"-w {dist}/"), REPO, venv)  # where the checkout is
    _sh(install.replace("dist/", f"{dist}/"), tmp_path, venv)  # on the robot
    _check_robot(venv, tmp_path)


@pytest.mark.slow
def test_the_readme_git_route_installs_both_parts(tmp_path: Path) -> None:
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    _, _, git = robot_commands()
    venv = _robot_venv(tmp_path, "robot")
    _sh(git.replace("<repository URL>", f"file://localhost{REPO}"), tmp_path, venv)
    _check_robot(venv, tmp_path)
