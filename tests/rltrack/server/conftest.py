"""A store filled by the real run API, and an in-process client over the dashboard app."""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

with warnings.catch_warnings():
    # Starlette 1.x deprecates its httpx-based TestClient in favour of httpx2 (not installed here);
    # the client still works and is what FastAPI documents.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

import rltrack
from rltrack.server import create_app

LOSS_STEPS = 100


@dataclass
class Filled:
    root: Path
    alpha: str  # finished: train/loss, rollout/ep_rew_mean, a video and an image
    beta: str  # finished, another seed of the same group
    robot: str  # sim + real sources, deployed checkpoint step in its config
    loss_steps: int = LOSS_STEPS


def moving_frames(n: int = 30, size: int = 64) -> np.ndarray:
    frames = np.zeros((n, size, size, 3), dtype=np.uint8)
    for i in range(n):
        frames[i, :, (i * 2) % size : (i * 2) % size + 6, 0] = 255
        frames[i, :, :, 2] = (i * 8) % 256
    return frames


def fill_store(root: Path) -> Filled:
    # Fixed ids: a run's colour is a hash of its id, and random ids collide in 1 of 20 pairs.
    alpha = rltrack.init(id="alpha001", project="cartpole", name="alpha", group="ppo", tags=["ppo", "baseline"],
                         config={"lr": 0.001, "seed": 0, "algo": "ppo"}, dir=root, system_metrics=False)
    for step in range(LOSS_STEPS):
        alpha.log({"train/loss": 1.0 / (step + 1), "rollout/ep_rew_mean": float(step)}, step=step)
    alpha.log({"media/rollout": rltrack.Video(moving_frames(), fps=10, caption="episode 1"),
               "media/frame": rltrack.Image(moving_frames(1)[0])}, step=LOSS_STEPS)
    alpha.finish()
    beta = rltrack.init(id="beta0002", project="cartpole", name="beta", group="ppo", tags=["ppo"],
                        config={"lr": 0.01, "seed": 1, "algo": "ppo"}, dir=root, system_metrics=False)
    for step in range(LOSS_STEPS):
        beta.log({"train/loss": 2.0 / (step + 1), "rollout/ep_rew_mean": 2.0 * step}, step=step)
    beta.finish()
    sim = rltrack.init(project="robot", name="sim-real", config={"deployed_step": 5000}, dir=root,
                       system_metrics=False)
    for step in range(0, 6000, 1000):
        sim.log({"episode/return": step / 100.0, "odom/speed": 0.5}, step=step)
    sim.flush()
    real = rltrack.init(id=sim.id, resume="must", source="real", dir=root, system_metrics=False)
    for episode in range(4):
        real.log({"episode/return": 40.0 + episode, "odom/speed": 0.4}, step=episode)
    real.finish()
    sim.finish()
    return Filled(root, alpha.id, beta.id, sim.id)


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Filled:
    return fill_store(tmp_path_factory.mktemp("dashboard") / "store")


def local_client(app: Any, **kwargs: Any) -> TestClient:
    """Return an in-process client that looks like a browser on this machine (``127.0.0.1``).

    The server refuses ``Host`` names that are not its own (DNS rebinding), so the client names
    ``127.0.0.1`` rather than TestClient's default ``testserver``, and connects from loopback.
    """
    kwargs.setdefault("base_url", "http://127.0.0.1")
    kwargs.setdefault("client", ("127.0.0.1", 50000))
    return TestClient(app, **kwargs)


@pytest.fixture(scope="module")
def client(filled: Filled) -> Iterator[TestClient]:
    with local_client(create_app(filled.root)) as c:
        yield c


@pytest.fixture
def frames() -> Callable[..., np.ndarray]:
    """Return :func:`moving_frames` (a clip whose content changes every frame)."""
    return moving_frames


@pytest.fixture
def make_client() -> Callable[..., TestClient]:
    """Return a factory of in-process clients over an app (``make_client(app)``), see :func:`local_client`."""
    return local_client


#: Debian's chromium, headless, with nothing that reaches past loopback (updates, sync, safe browsing).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's chromium driven by Playwright, one per test module (skipped where it is not installed)."""
    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()
