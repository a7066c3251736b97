"""Time ``calibrate`` on 2 parameters from 20 real episodes x 500 steps with 2 workers (issue 16: <= 60 s).

The real side is CartPole-v1 with a hidden 3x heavier, 1.4x longer pole (0.3 kg, half-length
0.7 m), balanced for 500 steps per episode by a PD rule and logged through the run API as source
``real``. ``calibrate`` searches ``masspole`` and ``length`` (env.unwrapped attributes of the
``CartPole-v1`` id) with the default open-loop replay (20-step windows) and stores every trial as a
run. Printed: wall time, trials, simulator steps per second, recovered vs true values and the error
before and after.

    python bench/calibrate.py                 # 2 workers, budget 200
    python bench/calibrate.py --workers 1 --budget 100
    python bench/calibrate.py --metric dtw    # the same search scored by DTW
    python bench/calibrate.py --metric filter --budget 40   # the ensemble Kalman filter (16 sims per step)

With ``--metric filter`` the recording gets Gaussian sensor noise (``--noise`` std on every key, the
policy still sees the true state) and the filter is told that std.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import tempfile
import time
from typing import Any

import gymnasium as gym
import numpy as np
from rltrack.sim2real import calibrate

import rltrack

N_EPISODES, N_STEPS = 20, 500
TRUTH = {"masspole": 0.3, "length": 0.7}
PARAMS = {"masspole": {"min": 0.05, "max": 1.0}, "length": {"min": 0.2, "max": 1.5}}


def cartpole(masspole: float, length: float) -> gym.Env[Any, Any]:
    env = gym.make("CartPole-v1", max_episode_steps=N_STEPS + 1)
    u: Any = env.unwrapped
    u.masspole, u.length = masspole, length
    u.total_mass, u.polemass_length = u.masspole + u.masscart, u.masspole * u.length
    return env


def record(root: str, noise: float) -> str:
    """Log 20 episodes of the PD rule on the hidden pole; each runs 500 steps (the rule keeps it up)."""
    env = cartpole(**TRUTH)
    rng = np.random.default_rng(0)
    run = rltrack.init(project="bench-calibrate", dir=root, source="real", system_metrics=False, quiet=True)
    for seed in range(N_EPISODES):
        obs, _ = env.reset(seed=seed)
        for _ in range(N_STEPS):
            action = int(obs[2] + 0.5 * obs[3] + 0.05 * obs[1] + 0.01 * obs[0] > 0)
            sensed = obs + noise * rng.standard_normal(obs.shape)
            run.log({**{f"obs/{i}": float(v) for i, v in enumerate(sensed)}, "action/0": action})
            obs, _, terminated, _, _ = env.step(action)
            if terminated:
                raise SystemExit(f"the PD rule dropped the pole in episode {seed}; the bench needs 500-step episodes")
        run.log({"episode/length": N_STEPS, "episode/seed": seed})
    run.finish()
    return run.id


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # worker processes, once the pool has joined them
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--budget", type=int, default=200)
    parser.add_argument("--metric", choices=["trajectory", "dtw", "filter"], default="trajectory")
    parser.add_argument("--noise", type=float, default=0.01, help="--metric filter: sensor noise std on every key")
    args = parser.parse_args()
    noise = args.noise if args.metric == "filter" else 0.0
    with tempfile.TemporaryDirectory() as root:
        run_id = record(root, noise)
        start, cpu0, kids0 = time.perf_counter(), time.process_time(), _children_cpu()
        result = calibrate(run_id, make_env="CartPole-v1", params=PARAMS, budget=args.budget,
                           workers=args.workers, metric=args.metric, noise=[noise] * 4 if noise else None,
                           dir=root)  # fmt: skip
        wall = time.perf_counter() - start
        main_cpu, workers_cpu = time.process_time() - cpu0, _children_cpu() - kids0
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}, "
        f"Python {platform.python_version()}"
    )
    print(
        f"calibrate: {N_EPISODES} episodes x {N_STEPS} steps, 2 parameters, budget {args.budget}, "
        f"{args.workers} workers, metric {args.metric}" + (f" (sensor noise std {noise:g})" if noise else "")
    )
    print(f"  wall time           {wall:.1f} s ({len(result.trials)} trials, {result.n_failed} failed, each a run)")
    # On a shared machine wall time depends on the neighbours; CPU time says what 2 idle cores would do.
    print(f"  CPU time            main process {main_cpu:.1f} s, worker processes {workers_cpu:.1f} s")
    print(f"  simulator steps     {result.sim_steps:,} ({result.sim_steps / wall:,.0f} steps/s sustained)")
    for name, truth in TRUTH.items():
        found = result.best_params[name]
        print(f"  {name:<18}  {found:.4f} (true {truth}, {abs(found - truth) / truth:.1%} off)")
    print(f"  replay error        {result.before.objective:.4g} -> {result.after.objective:.4g} "
          f"({result.improvement:,.0f}x lower)")  # fmt: skip
    print(f"  uncalibrated        {np.round(result.before.rmse, 4).tolist()} RMSE per obs key")


if __name__ == "__main__":
    main()
