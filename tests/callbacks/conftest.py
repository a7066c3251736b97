"""Fixtures for the callback tests: a run in a temporary store and an env with known episode returns."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import pytest

import rltrack


class StairsEnv(gym.Env[np.ndarray, int]):
    """Episodes of exactly ``length`` steps whose rewards are 1, 2, ..., so a return is length*(length+1)/2.

    ``truncate=True`` ends episodes by truncation instead of termination; the last step's info
    holds ``is_success`` (True for odd lengths) and ``score`` (= the length).
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}

    def __init__(self, length: int, *, truncate: bool = False) -> None:
        self.length = length
        self.truncate = truncate
        self.observation_space = gym.spaces.Box(0.0, np.inf, shape=(1,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self._t = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self._t = 0
        return np.zeros(1, dtype=np.float32), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        self._t += 1
        done = self._t >= self.length
        info: dict[str, Any] = {"is_success": self.length % 2 == 1, "score": float(self.length)} if done else {}
        terminated, truncated = (False, done) if self.truncate else (done, False)
        return np.array([self._t], dtype=np.float32), float(self._t), terminated, truncated, info


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread() -> Iterator[None]:
    # On a shared 2-core machine torch's default of one thread per core makes tiny-net SB3 runs
    # ~10x slower (36 s vs 4 s for 1,500 DQN steps, measured here under load).
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def run(store_dir: Path) -> Iterator[rltrack.Run]:
    """A run in a fresh store, finished after the test."""
    r = rltrack.init(project="callbacks", dir=store_dir, system_metrics=False)
    yield r
    r.finish()


def read_run(store_dir: Path, run: rltrack.Run) -> Any:
    """Finish ``run`` and return its stored view."""
    run.finish()
    return rltrack.Api(store_dir).run(run.id)


def decode_video(path: Path) -> tuple[int, int, int]:
    """Return (frames, height, width) of a video file decoded with PyAV."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return frames, stream.codec_context.height, stream.codec_context.width
