"""Train PPO on CartPole with RLlib into a run: every metric of each training iteration, and every episode.

``RLTrackRLlibCallback`` logs each number of the result dict ``algo.train()`` returns
(``env_runners/episode_return_mean``, ``learners/default_policy/policy_loss``, ...) at
``num_env_steps_sampled_lifetime``, and the return and length of every episode the env runners
finished. The env runners are separate processes: they hand their episodes to the algorithm
through RLlib's own metrics, so only this process writes the run.

    python examples/rllib_ppo_cartpole.py [--iterations 20] [--env-runners 1] [--dir rltrack-runs]
"""

from __future__ import annotations

import argparse

import ray
from ray.rllib.algorithms.ppo import PPOConfig
from rltrack.callbacks import RLTrackRLlibCallback

import rltrack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=20, help="training iterations (algo.train() calls)")
    parser.add_argument("--env-runners", type=int, default=1, help="remote env runner processes")
    parser.add_argument("--batch", type=int, default=1000, help="env steps per iteration")
    parser.add_argument("--project", default="rllib-cartpole")
    parser.add_argument("--dir", default=None, help="store folder (default $RLTRACK_DIR or ./rltrack-runs)")
    args = parser.parse_args()

    # A local cluster on this machine only: no dashboard, Ray's sockets on loopback.
    ray.init(num_cpus=args.env_runners + 1, include_dashboard=False, _node_ip_address="127.0.0.1",
             configure_logging=False)
    run = rltrack.init(project=args.project, dir=args.dir, config={"iterations": args.iterations})
    config = (
        PPOConfig()
        .environment("CartPole-v1")
        .env_runners(num_env_runners=args.env_runners)
        .training(train_batch_size_per_learner=args.batch, minibatch_size=min(128, args.batch), num_epochs=4)
        .rl_module(model_config={"fcnet_hiddens": [32]})
        .callbacks(RLTrackRLlibCallback)  # RLlib builds it in every process; it writes to the current run
    )
    algo = config.build_algo()
    try:
        for _ in range(args.iterations):
            result = algo.train()
            steps = int(result["num_env_steps_sampled_lifetime"])
            mean = result["env_runners"].get("episode_return_mean", float("nan"))
            print(f"iteration {result['training_iteration']}: {steps} env steps, episode return {mean:.1f}")
    finally:
        algo.stop()
        run.finish()
        ray.shutdown()


if __name__ == "__main__":
    main()
