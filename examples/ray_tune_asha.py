"""A sweep on Ray Tune with ASHA: the sweep config of the Optuna engine, spread over a Ray cluster.

``rltrack.sweep(config, engine="ray")`` records the sweep; ``rltrack.agent`` runs its trials
through Tune (hyperband early termination becomes ``ASHAScheduler``). Each trial is an ordinary
run in the sweep's group; ``rltrack.init()`` inside ``train`` joins it. Trials that ASHA stops
early read ``pruned``. On a real cluster, ``ray.init(address="auto")`` and a store folder every
node mounts (or ``RLTRACK_URL`` for the team server) are all that change.

The "training" is a toy learning curve, so the example takes seconds: the loss falls at a rate
set by the learning rate, and too large a rate diverges.

    python examples/ray_tune_asha.py [--trials 8] [--iterations 16] [--dir rltrack-runs]
"""

from __future__ import annotations

import argparse
import math

import ray

import rltrack


def train() -> None:
    run = rltrack.init()  # the trial's run: its config holds the sampled parameters
    lr, iterations = run.config["lr"], run.config["iterations"]
    loss = 1.0
    for _ in range(iterations):
        rate = lr * 10 if lr < 0.05 else 0.5 - 4 * (lr - 0.05)  # too large a step learns slowly, then diverges
        loss *= math.exp(-max(rate, -0.2))
        run.log({"loss": loss, "lr": lr})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--iterations", type=int, default=16, help="values of the metric per trial (ASHA's max_t)")
    parser.add_argument("--project", default="tune-asha")
    parser.add_argument("--dir", default=None, help="store folder (default $RLTRACK_DIR or ./rltrack-runs)")
    args = parser.parse_args()

    config = {
        "method": "random",
        "metric": {"name": "loss", "goal": "minimize"},
        "parameters": {
            "lr": {"distribution": "log_uniform_values", "min": 1e-3, "max": 0.2},
            "iterations": {"value": args.iterations},
        },
        "early_terminate": {"type": "hyperband", "min_iter": 2, "max_iter": args.iterations, "eta": 2},
    }
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", configure_logging=False)
    try:
        sweep_id = rltrack.sweep(config, project=args.project, dir=args.dir, engine="ray")
        results = rltrack.agent(sweep_id, train, count=args.trials, dir=args.dir, seed=0)
    finally:
        ray.shutdown()
    best = min((r for r in results if r.value is not None), key=lambda r: r.value or math.inf)
    states = {s: sum(r.state == s for r in results) for s in ("finished", "pruned", "failed")}
    print(f"sweep {sweep_id}: {states}; best lr={best.config['lr']:.4g} loss={best.value:.4g} (run {best.run_id})")
    print(f"see them with: rltrack ui --dir {args.dir or 'rltrack-runs'}")


if __name__ == "__main__":
    main()
