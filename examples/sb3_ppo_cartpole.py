"""Train PPO on CartPole with one callback: every SB3 value, every episode, checkpoints, best policy.

``RLTrackCallback`` logs SB3's own ``train/*``, ``rollout/*``, ``time/*`` and (with SB3's
``EvalCallback`` alongside) ``eval/*`` values at SB3's step, each episode of the four envs,
the model's config, and a checkpoint every ``--checkpoint-every`` timesteps as versions of
``<run name>-policy`` (``latest``, and ``best`` on the best evaluation).

    python examples/sb3_ppo_cartpole.py [--steps 40000] [--dir rltrack-runs]
"""

from __future__ import annotations

import argparse

import torch
from rltrack.callbacks import RLTrackCallback
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import CallbackList, EvalCallback
from stable_baselines3.common.env_util import make_vec_env

import rltrack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40_000, help="env timesteps to train")
    parser.add_argument("--checkpoint-every", type=int, default=None, help="timesteps (default: steps / 4)")
    parser.add_argument("--dir", default=None, help="store folder (default: ./rltrack-runs)")
    args = parser.parse_args()
    checkpoint_every = args.checkpoint_every or max(args.steps // 4, 1)

    # Tiny MLPs on CPU run fastest on one thread (and do not fight other processes for cores).
    torch.set_num_threads(1)
    run = rltrack.init(project="sb3-cartpole", dir=args.dir, tags=["ppo"], job_type="train")
    env = make_vec_env("CartPole-v1", n_envs=4, seed=0)
    n_steps = 128 if args.steps >= 4096 else 16  # small budgets still get a few PPO updates (n_envs * 16 = 64)
    model = PPO("MlpPolicy", env, n_steps=n_steps, batch_size=64, n_epochs=4, device="cpu", seed=0)
    eval_env = make_vec_env("CartPole-v1", n_envs=1, seed=1)
    # eval_freq counts callback calls (4 timesteps each here): one evaluation per checkpoint interval.
    evaluator = EvalCallback(eval_env, eval_freq=max(checkpoint_every // 4, 1), n_eval_episodes=2, verbose=0)
    model.learn(args.steps, callback=CallbackList([evaluator, RLTrackCallback(run, checkpoint_every=checkpoint_every)]))
    run.finish()

    api = rltrack.Api(args.dir)
    latest, best = api.artifact(f"{run.name}-policy:latest"), api.artifact(f"{run.name}-policy:best")
    print(f"run {run.id} ({run.name}): {model.num_timesteps} timesteps; latest policy {latest.ref} at step "
          f"{latest.metadata['step']}, best {best.ref} at step {best.metadata['step']} "
          f"(eval/mean_reward {best.metadata['eval/mean_reward']:.1f})")
    print(f"load it with: PPO.load(rltrack.Api().artifact({best.ref!r}).download() / 'model.zip')")


if __name__ == "__main__":
    main()
