"""Train DQN on CartPole and log a video of the greedy policy every few thousand timesteps.

Videos come from a separate env made with ``render_mode="rgb_array"`` (one env, never a tiled
vector frame); frames stream to an H.264 encoder thread while the episode runs.

    python examples/sb3_dqn_video.py [--steps 50000] [--video-every 10000] [--dir rltrack-runs]
"""

from __future__ import annotations

import argparse

import gymnasium as gym
import torch
from rltrack.callbacks import RLTrackCallback
from stable_baselines3 import DQN

import rltrack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50_000, help="env timesteps to train")
    parser.add_argument("--video-every", type=int, default=None, help="timesteps (default: steps / 4)")
    parser.add_argument("--video-length", type=int, default=500, help="most frames per video")
    parser.add_argument("--dir", default=None, help="store folder (default: ./rltrack-runs)")
    args = parser.parse_args()
    video_every = args.video_every or max(args.steps // 4, 1)

    # Tiny MLPs on CPU run fastest on one thread (and do not fight other processes for cores).
    torch.set_num_threads(1)
    callback = RLTrackCallback(
        video_env=gym.make("CartPole-v1", render_mode="rgb_array"),
        video_every=video_every,
        video_length=args.video_length,
        project="sb3-cartpole",
        dir=args.dir,
        tags=["dqn", "video"],
    )
    model = DQN("MlpPolicy", "CartPole-v1", learning_starts=min(1000, args.steps // 10), device="cpu", seed=0)
    model.learn(args.steps, callback=callback, log_interval=10)
    run = callback.run
    run.finish()

    videos = rltrack.Api(args.dir).run(run.id).media("video/episode")
    print(f"run {run.id} ({run.name}): {len(videos)} video{'' if len(videos) == 1 else 's'}")
    for video in videos:
        print(f"  step {video.step}: {video.meta['frames']} frames -> {video.path}")


if __name__ == "__main__":
    main()
