"""Which ``sim`` episodes stand for the policy the robot ran.

A training run's ``sim`` episodes are its whole learning curve; the robot ran one checkpoint. The
ROS node records that checkpoint's training step as the run's ``policy_step`` and logs the real
episodes there, so the gap compares them with the sim episodes of the same policy: those logged
at that step (an evaluation of the checkpoint, as ``rltrack demo`` does), else the last
:data:`RECENT_EPISODES` training episodes up to it (what SB3's ``rollout/ep_rew_mean`` averages).
A training episode that happened to end exactly at the checkpoint step counts as evaluated there.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["RECENT_EPISODES", "DeployedEpisodes", "deployed_view"]

#: Training episodes kept before the checkpoint when it has no evaluation episodes of its own.
RECENT_EPISODES = 100

SeriesArrays = tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]


class DeployedEpisodes:
    """A read view whose ``sim`` episode keys keep only the deployed policy's episodes.

    Args:
        view: The run's read view (``rltrack.Api().run(id)``).
        policy_step: The deployed checkpoint's training step.
        since_ns: Instead of ``policy_step``: keep episodes recorded from this time on.
        source: The side to filter (``sim``).
    """

    def __init__(
        self, view: Any, *, policy_step: int | None = None, since_ns: int | None = None, source: str = "sim"
    ) -> None:
        self._view = view
        self._policy_step = policy_step
        self._since_ns = since_ns
        self._source = source

    @property
    def id(self) -> str:
        """The run id."""
        return str(self._view.id)

    @property
    def sources(self) -> Collection[str]:
        """Sources that wrote into the run."""
        return list(self._view.sources)

    def keys(self, source: str | None = None) -> list[str]:
        """Keys logged under ``source``."""
        return list(self._view.keys(source))

    def __getattr__(self, name: str) -> Any:
        # Everything else (config, summary, media, ...) is the run's own.
        return getattr(self._view, name)

    def series(self, key: str, *, source: str | None = None) -> SeriesArrays:
        """``(step, t_ns, value)`` of one key, ``sim`` episode keys limited to the deployed policy."""
        step, t_ns, value = self._view.series(key, source=source)
        if (source or self._view.primary_source) != self._source or not key.startswith("episode/"):
            return step, t_ns, value
        if self._since_ns is not None:
            keep = t_ns >= self._since_ns
        elif self._policy_step is not None:
            keep = step == self._policy_step
            if int(keep.sum()) < 2:
                earlier = np.flatnonzero(step <= self._policy_step)[-RECENT_EPISODES:]
                keep = np.zeros(step.shape, dtype=bool)
                keep[earlier] = True
        else:
            return step, t_ns, value
        return step[keep], t_ns[keep], value[keep]


def deployed_view(view: Any, policy_step: object = None) -> Any:
    """Return ``view`` limited to its deployed policy's ``sim`` episodes when a ``policy_step`` is known.

    ``policy_step`` defaults to the run's config entry of that name (written by the ROS node).
    """
    if policy_step is None:
        policy_step = (getattr(view, "config", None) or {}).get("policy_step")
    if isinstance(policy_step, bool) or not isinstance(policy_step, (int, float)):
        return view
    return DeployedEpisodes(view, policy_step=int(policy_step))
