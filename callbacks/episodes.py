"""Per-episode return and length of one or many sub-environments: :class:`EpisodeAccumulator`.

One accumulator serves the single-env wrapper (``num_envs=1``), the vector wrapper and the SB3
callback's fallback for envs without ``Monitor``, so episode bookkeeping lives in one place.
It only sees numbers (rewards and done flags per sub-env); it never touches an env.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

__all__ = ["EpisodeAccumulator", "FinishedEpisode"]


@dataclass(frozen=True, slots=True)
class FinishedEpisode:
    """One finished episode: which sub-env, its undiscounted return and its length in steps."""

    env_index: int
    episode_return: float
    length: int


class EpisodeAccumulator:
    """Sums rewards per sub-env and reports each episode when it terminates or is truncated.

    ``skip_after_done`` models Gymnasium 1.x's ``NEXT_STEP`` autoreset: the step after an
    episode ends only resets that sub-env (its reward is 0 and its action is ignored), so it
    belongs to no episode. With ``SAME_STEP`` autoreset, ``DISABLED`` autoreset and single envs
    every step counts.

    Example:
        >>> acc = EpisodeAccumulator(2)
        >>> acc.step([1.0, 2.0], [False, True], [False, False])
        [FinishedEpisode(env_index=1, episode_return=2.0, length=1)]
    """

    def __init__(self, num_envs: int, *, skip_after_done: bool = False) -> None:
        self.num_envs = num_envs
        self.skip_after_done = skip_after_done
        # float64 sums: a float32 running sum (as in VecMonitor) drifts over long episodes.
        self._returns = np.zeros(num_envs, dtype=np.float64)
        self._lengths = np.zeros(num_envs, dtype=np.int64)
        self._prev_done = np.zeros(num_envs, dtype=bool)

    def step(self, rewards: ArrayLike, terminated: ArrayLike, truncated: ArrayLike) -> list[FinishedEpisode]:
        """Add one step of every sub-env; return the episodes that ended with it (usually none).

        Args:
            rewards: Reward of each sub-env (shape ``(num_envs,)``, or a scalar for one env).
            terminated: Whether each sub-env's episode terminated at this step.
            truncated: Whether each sub-env's episode was truncated at this step.
        """
        reward = np.asarray(rewards, dtype=np.float64).reshape(self.num_envs)
        done = np.logical_or(terminated, truncated).reshape(self.num_envs)
        if self.skip_after_done and self._prev_done.any():
            counted = ~self._prev_done
            self._returns += np.where(counted, reward, 0.0)
            self._lengths += counted
        else:
            self._returns += reward
            self._lengths += 1
        self._prev_done = done
        if not done.any():
            return []
        finished = [
            FinishedEpisode(int(i), float(self._returns[i]), int(self._lengths[i])) for i in np.flatnonzero(done)
        ]
        self._returns[done] = 0.0
        self._lengths[done] = 0
        return finished

    def reset(self, mask: NDArray[np.bool_] | None = None) -> None:
        """Forget the running episodes (all, or where ``mask`` is True), e.g. after ``env.reset()``."""
        if mask is None:
            mask = np.ones(self.num_envs, dtype=bool)
        self._returns[mask] = 0.0
        self._lengths[mask] = 0
        self._prev_done[mask] = False
