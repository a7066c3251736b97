"""Log a plain Gymnasium training loop (CleanRL style, no SB3): episodes of every sub-env and videos.

``TrackEpisodes`` wraps the vector env and logs each finished episode of each sub-env
(``episode/return``, ``episode/length``) with Gymnasium 1.x autoreset handled;
``RecordRollouts`` wraps sub-env 0 inside its factory and logs every 20th episode as a video.
The "agent" is a hand-written controller with decaying exploration, to keep the example short.

    python examples/gymnasium_loop.py [--steps 20000] [--dir rltrack-runs]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
from rltrack.callbacks import RecordRollouts, TrackEpisodes

import rltrack


def make_env(index: int) -> Callable[[], gym.Env[Any, Any]]:
    def thunk() -> gym.Env[Any, Any]:
        if index == 0:
            return RecordRollouts(gym.make("CartPole-v1", render_mode="rgb_array"), every_episodes=20, max_frames=300)
        return gym.make("CartPole-v1")

    return thunk


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000, help="env timesteps (all sub-envs together)")
    parser.add_argument("--num-envs", type=int, default=4)
    parser.add_argument("--dir", default=None, help="store folder (default: ./rltrack-runs)")
    args = parser.parse_args()

    run = rltrack.init(project="gymnasium-loop", dir=args.dir, config=vars(args), tags=["cleanrl-style"])
    envs = TrackEpisodes(gym.vector.SyncVectorEnv([make_env(i) for i in range(args.num_envs)]))
    rng = np.random.default_rng(0)
    obs, _ = envs.reset(seed=0)
    global_step = 0
    while global_step < args.steps:
        epsilon = max(0.05, 1.0 - global_step / (0.5 * args.steps))
        greedy = (obs[:, 2] + 0.5 * obs[:, 3] > 0).astype(np.int64)  # push towards the pole's lean
        explore = rng.random(args.num_envs) < epsilon
        actions = np.where(explore, rng.integers(0, 2, args.num_envs), greedy)
        obs, _, _, _, _ = envs.step(actions)
        global_step += args.num_envs
        if global_step % 1000 < args.num_envs:
            run.log({"charts/epsilon": epsilon}, step=global_step)
    envs.close()  # logs a video still being recorded
    run.finish()

    view = rltrack.Api(args.dir).run(run.id)
    _, _, returns = view.series("episode/return")
    videos = len(view.media("video/episode"))
    print(f"run {run.id} ({run.name}): {len(returns)} episodes, last 10 mean return {returns[-10:].mean():.1f}, "
          f"{videos} video{'' if videos == 1 else 's'}")


if __name__ == "__main__":
    main()
