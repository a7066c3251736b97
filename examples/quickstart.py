"""Log a realistic RL run without training anything, then print where it is.

A PPO-shaped learning curve, per-episode returns, losses, a short rollout video, and a
second writer attached as the ``real`` source (as the robot's ROS 2 node would be), all into
the embedded store. Run it, then look with ``rltrack runs show <id>`` or ``rltrack ui``.

    python examples/quickstart.py [--steps 50000] [--dir rltrack-runs]
"""

from __future__ import annotations

import argparse

import numpy as np

import rltrack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50_000, help="simulated env timesteps")
    parser.add_argument("--dir", default=None, help="store folder (default: ./rltrack-runs)")
    args = parser.parse_args()
    rng = np.random.default_rng(0)

    config = {"algo": "PPO", "env_id": "CartPole-v1", "learning_rate": 3e-4, "n_steps": 2048, "gamma": 0.99}
    with rltrack.init(project="quickstart", config=config, dir=args.dir, tags=["synthetic"]) as run:
        run.define_metric("episode/return", summary="max", goal="maximize")
        step = 0
        while step < args.steps:
            skill = min(1.0, step / (0.6 * args.steps))
            length = int(np.clip(rng.normal(20 + 480 * skill, 25), 8, 500))
            step += length
            run.log({"episode/return": float(length), "episode/length": length}, step=step)
            if step // 2048 != (step - length) // 2048:  # one PPO update per rollout of 2048 steps
                run.log(
                    {
                        "train/value_loss": float(50 * (1 - skill) + rng.exponential(2)),
                        "train/entropy_loss": float(-0.69 + 0.4 * skill),
                        "train/approx_kl": float(abs(rng.normal(0.01, 0.004))),
                        "rollout/ep_rew_mean": float(20 + 480 * skill),
                    },
                    step=step,
                )
        frames = np.zeros((60, 120, 160, 3), dtype=np.uint8)
        for t in range(60):  # a cart-and-pole cartoon: 2 seconds at 30 fps
            x = 80 + int(30 * np.sin(t / 9))
            frames[t, 90:100, x - 15 : x + 15] = (40, 120, 220)
            frames[t, 40:90, x - 1 : x + 2] = (220, 160, 40)
        run.log({"rollout/video": rltrack.Video(frames, fps=30, caption="synthetic rollout")}, step=step)
        run.flush()

        # The robot's side, as the ROS 2 node would attach it: same run, source "real".
        robot = rltrack.init(id=run.id, resume="must", source="real", dir=args.dir, system_metrics=False)
        for _ in range(10):
            ret = float(np.clip(rng.normal(380, 60), 50, 500))
            robot.log({"episode/return": ret, "episode/length": int(ret)}, step=step)
        robot.finish()

    print(f"run {run.id} ({run.name}) stored in {run.dir}")
    print(f"  look at it:  rltrack runs show {run.id}" + (f" --dir {args.dir}" if args.dir else ""))


if __name__ == "__main__":
    main()
