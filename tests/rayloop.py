"""A local Ray cluster for tests that can reach nothing but loopback.

Ray's GCS and raylet listen on every interface whatever ``_node_ip_address`` says, so the test's
thread first moves into a new network namespace that has only ``lo`` (``unshare(CLONE_NEWNET)``);
``ray.init`` starts its processes from there, so they inherit it. At the end Ray is shut down and
the thread returns to its own namespace (``setns``). Without root (CAP_SYS_ADMIN) the tests skip:
they never start Ray on the host's interfaces. :func:`loopback_command` does the same for a
script run as a subprocess (``unshare -n``).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator

import pytest

_CLONE_NEWNET = 0x40000000
#: Ray sends usage statistics to the internet unless told not to.
RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_DISABLE_DOCKER_CPU_WARNING": "1"}


def _why_not() -> str | None:
    if os.geteuid() != 0:
        return "the Ray tests need root to run Ray in a loopback-only network namespace"
    if not shutil.which("ip") or not shutil.which("unshare"):
        return "the Ray tests need 'ip' and 'unshare' for a loopback-only network namespace"
    return None


def loopback_command(argv: list[str]) -> list[str]:
    """Return ``argv`` wrapped to run in a new network namespace whose only interface is ``lo`` (up)."""
    reason = _why_not()
    if reason:
        pytest.skip(reason)
    return ["unshare", "-n", "--", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", *argv]


@contextlib.contextmanager
def loopback_ray(num_cpus: int = 2) -> Iterator[None]:
    """Run ``ray.init(num_cpus=...)`` (no dashboard) inside a loopback-only namespace; shut it down after."""
    ray = pytest.importorskip("ray")
    reason = _why_not()
    if reason:
        pytest.skip(reason)
    libc = ctypes.CDLL(None, use_errno=True)
    own = os.open(f"/proc/self/task/{threading.get_native_id()}/ns/net", os.O_RDONLY)
    saved = {k: os.environ.get(k) for k in RAY_ENV}
    os.environ.update(RAY_ENV)
    temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    try:
        if libc.unshare(_CLONE_NEWNET) != 0:
            pytest.skip(f"unshare(CLONE_NEWNET) failed (errno {ctypes.get_errno()})")
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True, timeout=10)
        links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
        names = [line.split(":")[1].strip() for line in links.splitlines()]
        assert names == ["lo"], f"the test namespace has interfaces {names!r}; only 'lo' is allowed"
        ray.init(num_cpus=num_cpus, include_dashboard=False, _node_ip_address="127.0.0.1", _temp_dir=temp,
                 configure_logging=False, log_to_driver=False)
        yield
    finally:
        ray.shutdown()
        libc.setns(own, _CLONE_NEWNET)
        os.close(own)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(temp, ignore_errors=True)
