"""Install hints that work: an extra's packages named one by one, as pip can fetch them.

rltrack is installed from a checkout, a wheel or a ``git+`` URL, not from a package index, so a hint
such as ``pip install 'rltrack[ros]'`` fails on a user's machine. The packages an extra stands for
are on the index, so the hint names them, read from the installed distribution's own metadata.
"""

from __future__ import annotations

import re
import shlex
from importlib import metadata

__all__ = ["install_hint"]

_EXTRA_MARKER = re.compile(r"""^(?P<req>[^;]+?)\s*;\s*extra\s*==\s*["'](?P<extra>[^"']+)["']\s*$""")
# Used when the metadata cannot be read (a source tree on sys.path without an install).
_FALLBACK = {
    "ros": ["rosbags>=0.10,<0.12", "pyyaml>=6"],
    "ui": ["fastapi>=0.110", "uvicorn>=0.29", "plotly>=5.20", "httpx>=0.27"],
    "video": ["av>=14", "opencv-python-headless>=4.8"],
    "sweeps": ["optuna>=4.0,<6", "pyyaml>=6"],
    "remote": ["httpx>=0.27"],
    "sim2real": ["scipy>=1.10", "plotly>=5.20"],
    "sb3": ["stable-baselines3>=2.3,<3", "gymnasium[classic-control]>=1.0,<2", "torch>=2.1"],
    "lightning": ["lightning>=2.6,<3", "torch>=2.1"],
    "transformers": ["transformers>=5.25,<6", "accelerate>=1.1", "torch>=2.1"],
    "keras": ["keras>=3.15,<4", "torch>=2.1"],
    "tensorboard": ["tensorboard>=2.14"],
}


def _requirements(extra: str) -> list[str]:
    try:
        declared = metadata.requires("rltrack") or []
    except metadata.PackageNotFoundError:
        return list(_FALLBACK.get(extra, []))
    found: list[str] = []
    for line in declared:
        match = _EXTRA_MARKER.match(line)
        if match and match["extra"] == extra:
            found.append(match["req"].strip())
    return found or list(_FALLBACK.get(extra, []))


def install_hint(*extras: str) -> str:
    """Return a ``pip install`` command for the packages behind rltrack's ``extras``.

    Example: ``install_hint("ros")`` → ``pip install 'rosbags<0.12,>=0.10' 'pyyaml>=6'``.
    """
    packages: list[str] = []
    for extra in extras:
        for requirement in _requirements(extra):
            if requirement not in packages:
                packages.append(requirement)
    return "pip install " + " ".join(shlex.quote(p) for p in packages)
