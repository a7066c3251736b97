"""Policy checkpoints from the artifact store: load one as a policy, evaluate every one in both domains.

The robot side only ever gets the policy through the store (``<run name>-policy:latest``), as a
robot computer would: download the version, load the SB3 zip, act deterministically.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from rltrack.demo.deps import DemoError

if TYPE_CHECKING:
    from rltrack.api import Api
    from rltrack.artifacts import ArtifactVersion
    from rltrack.demo.physics import StandInPhysics
    from rltrack.demo.standin import Policy

__all__ = ["CheckpointEval", "evaluate_checkpoints", "load_policy", "policy_versions"]


def policy_versions(api: Api, run_id: str) -> list[ArtifactVersion]:
    """Return the model versions ``run_id`` logged, oldest first.

    Raises:
        DemoError: the run logged no model (training stored no checkpoint).
    """
    versions = [v for v in api.artifacts(type="model") if v.logged_by_id == run_id]
    if not versions:
        raise DemoError(f"run {run_id!r} stored no policy checkpoint; see the warnings above (training went on)")
    return sorted(versions, key=lambda v: (v.name, v.number))


def load_policy(version: ArtifactVersion) -> Policy:
    """Download ``version`` and return its SB3 model as a deterministic batch policy.

    Raises:
        DemoError: the version holds no ``model.zip``.
    """
    from stable_baselines3 import PPO

    folder = version.download()
    path = folder / "model.zip"
    if not path.is_file():
        raise DemoError(f"policy {version.ref!r} holds no model.zip (files in {str(folder)!r}); was it an SB3 save?")
    model = PPO.load(path, device="cpu")

    def act(obs: npt.NDArray[np.float32]) -> npt.NDArray[Any]:
        action, _ = model.predict(obs, deterministic=True)
        return np.asarray(action)

    return act


@dataclass(frozen=True)
class CheckpointEval:
    """One checkpoint's returns in the nominal simulator and on the robot stand-in."""

    ref: str
    step: int
    sim_returns: tuple[float, ...]
    standin_returns: tuple[float, ...]


def evaluate_checkpoints(
    versions: Sequence[ArtifactVersion], physics: StandInPhysics, seeds: Sequence[int]
) -> list[CheckpointEval]:
    """Play every version on both sides, one episode per seed; versions without a step are skipped."""
    from rltrack.demo.standin import make_env, run_episodes

    out = []
    for version in versions:
        step = version.metadata.get("step")
        if isinstance(step, bool) or not isinstance(step, int):
            continue
        policy = load_policy(version)
        sim = run_episodes(policy, lambda: make_env(False), seeds)
        standin = run_episodes(policy, lambda: make_env(True, physics), seeds)
        out.append(
            CheckpointEval(version.ref, step, tuple(e.ret for e in sim), tuple(e.ret for e in standin))
        )
    return out
