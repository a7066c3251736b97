"""Fixtures for the sim2real tests: runs logged through the real run API into a tmp_path store."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pytest

import rltrack

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # --import-mode=importlib: make the helper module importable
    sys.path.insert(0, str(HERE))

from s2r_standin import DEFAULT_MASSPOLE, Deployed, cartpole, make_deployed, record_episodes  # noqa: E402


@pytest.fixture
def sim_real_run(store_dir: Path) -> Callable[..., str]:
    """Log a sim side and a real side (CartPole with ``masspole``) into one run; return its id."""

    def make(
        seeds: Iterable[int] = range(8),
        *,
        masspole: float = DEFAULT_MASSPOLE,
        real_seeds: Iterable[int] | None = None,
        real_signal: Callable[[np.ndarray], dict[str, float]] | None = None,
        max_steps: int = 200,
        real_max_steps: int | None = None,
    ) -> str:
        seeds = list(seeds)
        sim = rltrack.init(project="s2r", dir=store_dir, system_metrics=False)
        record_episodes(sim, cartpole(), seeds, max_steps=max_steps)
        sim.finish()
        real = rltrack.init(id=sim.id, resume="must", source="real", dir=store_dir, system_metrics=False)
        record_episodes(real, cartpole(masspole), seeds if real_seeds is None else real_seeds,
                        signal=real_signal, max_steps=real_max_steps or max_steps)
        real.finish()
        return sim.id

    return make


@pytest.fixture
def deployed(store_dir: Path, tmp_path: Path) -> Deployed:
    """A store holding one deployed checkpoint's sim and real episodes (see :func:`make_deployed`)."""
    return make_deployed(store_dir, tmp_path)
