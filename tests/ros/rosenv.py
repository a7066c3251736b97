"""Real ROS 2 for the ``ros`` tests: the ROS venv, a colcon build of ``ros/``, a loopback-only netns.

Nothing here talks DDS itself: every DDS process is started through :meth:`LoopbackNetns.popen`,
inside a network namespace that has only ``lo`` (``unshare -n`` + ``ip link set lo up``), with the
loopback-only Fast DDS profile as default profile, ``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST`` and
a random ``ROS_DOMAIN_ID``. Discovery traffic cannot reach another interface.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]

FASTDDS_LOOPBACK = """<?xml version="1.0" encoding="UTF-8"?>
<dds xmlns="http://www.eprosima.com"><profiles>
  <transport_descriptors><transport_descriptor>
    <transport_id>udp_lo</transport_id><type>UDPv4</type>
    <interfaceWhiteList><address>127.0.0.1</address></interfaceWhiteList>
  </transport_descriptor></transport_descriptors>
  <participant profile_name="loopback_only" is_default_profile="true"><rtps>
    <useBuiltinTransports>false</useBuiltinTransports>
    <userTransports><transport_id>udp_lo</transport_id></userTransports>
    <defaultUnicastLocatorList><locator><udpv4><address>127.0.0.1</address></udpv4></locator></defaultUnicastLocatorList>
    <builtin>
      <metatrafficUnicastLocatorList><locator><udpv4><address>127.0.0.1</address></udpv4></locator></metatrafficUnicastLocatorList>
      <initialPeersList><locator><udpv4><address>127.0.0.1</address></udpv4></locator></initialPeersList>
    </builtin>
  </rtps></participant>
</profiles></dds>
"""


def ros_venv_path() -> Path | None:
    """The ROS venv: $RLTRACK_ROS_VENV, else the checkout's .venv-ros (made by scripts/setup.sh)."""
    if os.environ.get("RLTRACK_ROS_VENV"):
        return Path(os.environ["RLTRACK_ROS_VENV"])
    default = REPO / ".venv-ros"
    return default if default.is_dir() else None


def ros_venv_problem() -> str | None:
    """Return why the ROS tests cannot run here, or None when they can."""
    venv = ros_venv_path()
    if venv is None:
        return ("no ROS venv: set RLTRACK_ROS_VENV, or create <repo>/.venv-ros with `.ci/ros_venv.sh .venv-ros` "
                "(scripts/setup.sh does)")
    if not (Path(venv) / "bin" / "python").is_file():
        return f"RLTRACK_ROS_VENV={venv!r} holds no bin/python; run `.ci/ros_venv.sh {venv}`"
    if not (Path(venv) / "bin" / "colcon").is_file():
        return f"RLTRACK_ROS_VENV={venv!r} has no colcon; rerun `.ci/ros_venv.sh {venv}`"
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("nsenter"):
        return "the ROS tests need root with unshare and nsenter, for a loopback-only network namespace"
    return None


@dataclass(frozen=True)
class RosInstall:
    """The ROS venv plus ``ros/`` built by colcon, and how to start its executables."""

    venv: Path
    install: Path
    mirror: Path  # resolved like `ros2 run rltrack_ros mirror`
    profile: Path

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    def env(self, domain_id: int) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("ROS_", "RMW_", "FASTRTPS", "FASTDDS", "RLTRACK_", "AMENT_", "PYTHON"))
               and k not in ("VIRTUAL_ENV", "_ROS_WHEELS_BOOTSTRAP_COMPLETE", "LD_LIBRARY_PATH")}
        site = next((self.install / "lib").glob("python3*/site-packages"))
        env.update({
            "PATH": f"{self.venv / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}",
            "VIRTUAL_ENV": str(self.venv),
            "AMENT_PREFIX_PATH": str(self.install),
            "PYTHONPATH": str(site),
            "PYTHONUNBUFFERED": "1",
            "FASTDDS_DEFAULT_PROFILES_FILE": str(self.profile),
            "FASTRTPS_DEFAULT_PROFILES_FILE": str(self.profile),
            "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST",
            "ROS_DOMAIN_ID": str(domain_id),
        })  # fmt: skip
        return env


def build(venv: Path, work: Path) -> RosInstall:
    """colcon-build ``ros/`` into ``work`` and resolve ``mirror`` through the ament index."""
    work.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("_ROS_WHEELS_BOOTSTRAP_COMPLETE", "PYTHONPATH")}
    env["PATH"] = f"{venv / 'bin'}:{env.get('PATH', '')}"
    subprocess.run(
        [str(venv / "bin" / "colcon"), "--log-base", str(work / "log"), "build", "--base-paths", str(REPO / "ros"),
         "--build-base", str(work / "build"), "--install-base", str(work / "install"), "--merge-install"],
        cwd=work, env=env, check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    install = work / "install"
    profile = work / "fastdds_loopback.xml"
    profile.write_text(FASTDDS_LOOPBACK)
    probe = RosInstall(venv, install, Path(), profile)
    # What `ros2 run rltrack_ros mirror` does: the ament index gives the package prefix, the
    # executable lives in <prefix>/lib/<package>/ (ros2cli itself is not on PyPI).
    prefix = subprocess.run(
        [str(venv / "bin" / "python"), "-c",
         "from ament_index_python.packages import get_package_prefix; print(get_package_prefix('rltrack_ros'))"],
        env=probe.env(0), check=True, capture_output=True, text=True, timeout=60,
    ).stdout.strip()  # fmt: skip
    mirror = Path(prefix) / "lib" / "rltrack_ros" / "mirror"
    if not os.access(mirror, os.X_OK):
        raise FileNotFoundError(f"colcon built no executable at {mirror}")
    return RosInstall(venv, install, mirror, profile)


class LoopbackNetns:
    """A network namespace with only ``lo``, held open by a sleeping process; DDS runs inside."""

    def __init__(self) -> None:
        self._children: list[subprocess.Popen[bytes]] = []
        self._holder = subprocess.Popen(["unshare", "-n", "--", "sh", "-c", "ip link set lo up && exec sleep 3600"])
        self.domain_id = random.SystemRandom().randint(1, 101)  # 0..101 is Fast DDS's safe range
        deadline = time.monotonic() + 10
        own = os.readlink("/proc/self/ns/net")
        while True:  # until the holder has its own namespace with lo up (not waiting for data)
            try:
                entered = os.readlink(f"/proc/{self._holder.pid}/ns/net") != own
            except OSError:
                entered = False
            links = self.run(["ip", "-o", "link"]).stdout if entered else ""
            if entered and ",UP" in links:
                break
            if time.monotonic() > deadline or self._holder.poll() is not None:
                raise RuntimeError(f"could not make a loopback-only namespace (unshare -n): {links!r}")
        names = [line.split(":")[1].strip() for line in links.splitlines()]
        if names != ["lo"]:
            raise RuntimeError(f"test namespace has interfaces {names!r}; only 'lo' is allowed")

    def _enter(self, cmd: list[str]) -> list[str]:
        return ["nsenter", "-t", str(self._holder.pid), "-n", "--", *cmd]

    def run(self, cmd: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self._enter(cmd), capture_output=True, text=True, timeout=30, check=True, **kw)

    def popen(self, cmd: list[str], **kw: Any) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(self._enter(cmd), **kw)
        self._children.append(proc)
        return proc

    def close(self) -> None:
        """Kill what a failed test left running in the namespace, then the namespace itself."""
        for proc in [*self._children, self._holder]:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)
