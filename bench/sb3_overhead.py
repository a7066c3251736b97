"""What tracking costs an SB3 training run: rltrack's callback vs no tracking and vs peer trackers.

Cases (each variant in a fresh process, variants interleaved in every round, order rotating):
  ppo     PPO CartPole-v1, 4 DummyVecEnv envs, defaults, 40,960 timesteps
  dqn     DQN CartPole-v1, defaults, 50,000 timesteps
  cleanrl_ppo  the per-step stress case: CleanRL-style PPO training on CartPole-v1 (bench/_cleanrl_ppo.py: one
          env, 128-step rollouts, 4x4 minibatch updates) logging 8 scalars every env step, 100k steps
  cleanrl worse than any training loop: the same 8 scalars every step, with only a 64-64 MLP forward pass
          choosing each action (no updates, no sampling), 100k steps
  stress  worst case: CartPole-v1 with random actions (no policy), 8 scalars logged every env step, 100k steps
Variants:
  none           untracked
  rltrack        RLTrackCallback: every SB3 key, every episode, system metrics; no video
  rltrack_video  the same plus a video of one episode every 10,000 timesteps from an rgb_array env
  sb3_tb         SB3's own tensorboard_log (needs tensorboard)
  wandb          wandb offline + WandbCallback + sync_tensorboard (peers venv)
  trackio        trackio through a KVWriter on SB3's logger (peers venv)
  aim            aim 3.29.1's AimCallback (peers venv), log_system_params=False (the default crashes on
                 setuptools >= 81: aim imports pkg_resources); system metrics and terminal capture stay on; its
                 run is created inside learn(), so aim's run start is in learn s, and closed after learn()
  mlflow         mlflow.log_metrics through a KVWriter on SB3's logger (as in SB3's docs), sqlite (peers venv);
                 ppo/dqn only. Every process gets a fresh store, so init s includes creating mlflow's tables (~5 s)
The per-step cases run none, rltrack, wandb, trackio and aim (aim.Run with the same arguments,
run.track(dict, step=step)). Reported: median learn() seconds (loop seconds for the per-step cases),
its ratio to `none` in the same round (median over rounds), and the whole-process wall time minus
`none`'s in the same round.

    python bench/sb3_overhead.py --quick                # the cases at 1/4 size, rltrack variants, 1 round
    python bench/sb3_overhead.py --rounds 3              # full size, variants importable here
    python bench/sb3_overhead.py --peers --rounds 3      # every variant in bench/.venv-peers (installs SB3, aim there)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PEERS_VENV = ROOT / "bench" / ".venv-peers"
# SB3/Gymnasium/av pinned to what the dev venv has, so the peers venv trains the same code; aim to the
# version of shared/reference/anchor-trackers-measured.md (installing it downgrades filelock; pip check stays clean).
PEER_EXTRAS = ("stable-baselines3==2.9.2", "gymnasium[classic-control]==1.4.0", "av==18.1.0", "aim==3.29.1")
PEER_IMPORTS = "stable_baselines3, gymnasium, av, pygame, aim"
CASES = {"ppo": 40_960, "dqn": 50_000, "cleanrl_ppo": 100_000, "cleanrl": 100_000, "stress": 100_000}
PER_STEP = ("cleanrl_ppo", "cleanrl", "stress")
VARIANTS = ("none", "rltrack", "rltrack_video", "sb3_tb", "wandb", "trackio", "aim", "mlflow")
# No mlflow here: at ~4 ms per log_metrics call (reference, section 1) 100k steps alone take ~7 minutes.
STRESS_VARIANTS = ("none", "rltrack", "wandb", "trackio", "aim")
TARGETS = {"rltrack": 1.02, "rltrack_video": 1.05, "stress": 1.03}
QUIET_ENV = {
    "WANDB_MODE": "offline", "WANDB_SILENT": "true", "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
    "GRADIO_ANALYTICS_ENABLED": "False", "DO_NOT_TRACK": "1", "DISABLE_TELEMETRY": "1",
    "MLFLOW_DISABLE_TELEMETRY": "true", "AIM_UI_TELEMETRY_ENABLED": "0", "PIP_DISABLE_PIP_VERSION_CHECK": "1",
}


# ---- child: one measured process ------------------------------------------------------------


def _child(case: str, variant: str, steps: int, workdir: Path, threads: int) -> dict[str, Any]:
    import torch

    torch.set_num_threads(threads)
    os.chdir(workdir)
    if case in PER_STEP:
        return _stress(variant, steps, workdir, loop=case)
    import gymnasium as gym
    from stable_baselines3 import DQN, PPO
    from stable_baselines3.common.env_util import make_vec_env

    tb = str(workdir / "tb") if variant in ("sb3_tb", "wandb") else None
    if case == "ppo":
        model: Any = PPO("MlpPolicy", make_vec_env("CartPole-v1", n_envs=4, seed=0), device="cpu", seed=0,
                         tensorboard_log=tb)
    else:
        model = DQN("MlpPolicy", make_vec_env("CartPole-v1", n_envs=1, seed=0), device="cpu", seed=0,
                    tensorboard_log=tb)
    callback, finish = None, lambda: None
    t0 = time.perf_counter()
    if variant.startswith("rltrack"):
        from rltrack.callbacks import RLTrackCallback

        import rltrack

        run = rltrack.init(project="sb3-overhead", dir=workdir / "store")
        video = {"video_env": gym.make("CartPole-v1", render_mode="rgb_array"), "video_every": 10_000}
        callback = RLTrackCallback(run, **(video if variant == "rltrack_video" else {}))
        finish = run.finish
    elif variant == "wandb":
        import wandb
        from wandb.integration.sb3 import WandbCallback

        wb = wandb.init(project="sb3-overhead", dir=str(workdir), mode="offline", sync_tensorboard=True)
        callback, finish = WandbCallback(), wb.finish
    elif variant == "trackio":
        import trackio

        trackio.init(project="sb3-overhead")
        _log_through_sb3_logger(model, trackio.log, workdir)
        finish = trackio.finish
    elif variant == "aim":
        from aim.sb3 import AimCallback

        # The run itself is created in learn() (AimCallback._init_callback), so aim's run start counts in learn s.
        aim_callback = AimCallback(repo=str(workdir / "aim"), experiment_name="sb3-overhead", log_system_params=False)
        callback = aim_callback

        def close_aim() -> None:
            # AimCallback has no _on_training_end: its run is closed only by its __del__ or aim's atexit cleanup,
            # so that cost would hide in the wall time instead of finish s (the reference closes it the same way).
            aim_callback._run.close()
            # __del__ would then ask the closed run `.active`, which raises TypeError (printed, ignored) in 3.29.1.
            aim_callback._run = None

        finish = close_aim
    elif variant == "mlflow":
        import mlflow

        mlflow.set_tracking_uri(f"sqlite:///{workdir / 'mlflow.db'}")
        mlflow.set_experiment("sb3-overhead")
        mlflow.start_run()
        _log_through_sb3_logger(model, mlflow.log_metrics, workdir)
        finish = mlflow.end_run
    init_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    model.learn(steps, callback=callback)
    learn_s = time.perf_counter() - t1
    t2 = time.perf_counter()
    finish()
    return {"init_s": init_s, "learn_s": learn_s, "finish_s": time.perf_counter() - t2}


def _log_through_sb3_logger(model: Any, log: Any, workdir: Path) -> None:
    """Send every numeric value SB3's logger dumps to ``log(values, step=step)`` (a custom KVWriter)."""
    from stable_baselines3.common.logger import KVWriter, configure

    class Writer(KVWriter):  # type: ignore[misc]
        def write(self, key_values: dict[str, Any], key_excluded: Any, step: int = 0) -> None:
            log({k: float(v) for k, v in key_values.items() if isinstance(v, (int, float))}, step=step)

    # No output formats of its own (as the untracked run's default logger), folder kept in the workdir.
    model.set_logger(configure(str(workdir / "sb3-log"), [""]))
    model.logger.output_formats.append(Writer())


def _stress(variant: str, steps: int, workdir: Path, *, loop: str) -> dict[str, Any]:
    import gymnasium as gym
    import numpy as np

    env = gym.make("CartPole-v1")
    act = None
    if loop == "cleanrl":  # CleanRL's PPO agent: a 64-64 tanh MLP picks every action (one forward pass per step)
        import torch
        from torch import nn

        torch.manual_seed(0)
        net = nn.Sequential(nn.Linear(4, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 2))

        def act(observation: Any) -> int:
            with torch.no_grad():
                return int(net(torch.as_tensor(observation)).argmax())

    actions = np.random.default_rng(0).integers(0, 2, steps).tolist()
    log: Any = None
    finish: Any = lambda: None  # noqa: E731
    t0 = time.perf_counter()
    if variant == "rltrack":
        import rltrack

        run = rltrack.init(project="sb3-overhead", dir=workdir / "store")
        log, finish = run.log, run.finish
    elif variant == "wandb":
        import wandb

        wb = wandb.init(project="sb3-overhead", dir=str(workdir), mode="offline")
        log, finish = wb.log, wb.finish
    elif variant == "trackio":
        import trackio

        trackio.init(project="sb3-overhead")
        log, finish = trackio.log, trackio.finish
    elif variant == "aim":
        import aim

        aim_run = aim.Run(repo=str(workdir / "aim"), experiment="sb3-overhead", log_system_params=False)
        log, finish = aim_run.track, aim_run.close  # track(dict, step=step): one call for all 8 values
    init_s = time.perf_counter() - t0
    if loop == "cleanrl_ppo":
        sys.path.insert(0, str(Path(__file__).parent))
        from _cleanrl_ppo import train

        t1 = time.perf_counter()
        train(steps, log)
        learn_s = time.perf_counter() - t1
        t2 = time.perf_counter()
        finish()
        return {"init_s": init_s, "learn_s": learn_s, "finish_s": time.perf_counter() - t2}
    obs, _ = env.reset(seed=0)
    episode_return, length, episodes = 0.0, 0, 0
    t1 = time.perf_counter()
    for step in range(steps):
        obs, reward, terminated, truncated, _ = env.step(actions[step] if act is None else act(obs))
        episode_return += reward
        length += 1
        if terminated or truncated:
            obs, _ = env.reset()
            episodes += 1
            episode_return, length = 0.0, 0
        values = {
            "charts/x": float(obs[0]), "charts/x_dot": float(obs[1]), "charts/theta": float(obs[2]),
            "charts/theta_dot": float(obs[3]), "charts/reward": float(reward), "charts/return": episode_return,
            "charts/length": length, "charts/episodes": episodes,
        }
        if log is not None:
            log(values, step=step)
    learn_s = time.perf_counter() - t1
    t2 = time.perf_counter()
    finish()
    return {"init_s": init_s, "learn_s": learn_s, "finish_s": time.perf_counter() - t2}


# ---- parent: rounds, processes, table ------------------------------------------------------


def _importable(python: str, modules: str) -> bool:
    return subprocess.run([python, "-c", f"import {modules}"], capture_output=True).returncode == 0


def _peers_python(install: bool) -> str | None:
    python = PEERS_VENV / "bin" / "python"
    if not python.exists():
        return None
    if not _importable(str(python), PEER_IMPORTS) and install:
        print(f"installing {' '.join(PEER_EXTRAS)} into {PEERS_VENV}", flush=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PEER_EXTRAS], check=True,
                       env={**os.environ, **QUIET_ENV})
    return str(python)


def _available(python: str, variant: str) -> bool:
    needs = {"sb3_tb": "tensorboard", "wandb": "wandb, tensorboard", "trackio": "trackio", "aim": "aim",
             "mlflow": "mlflow", "rltrack_video": "av, pygame"}.get(variant)
    return needs is None or _importable(python, needs)


def _measure(python: str, case: str, variant: str, steps: int, threads: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="sb3-overhead-") as tmp:
        cmd = [python, __file__, "--child", case, variant, str(steps), tmp, str(threads)]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **QUIET_ENV}, cwd=tmp)
        wall = time.perf_counter() - t0
    if proc.returncode != 0:
        print(f"  {case}/{variant} FAILED:\n{proc.stderr[-2000:]}", flush=True)
        return {"failed": True}
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["wall_s"] = wall
    result["load"] = os.getloadavg()[0]
    return result


Results = dict[tuple[str, str], list[dict[str, Any]]]


def _table(results: Results, cases: list[str], variants: dict[str, list[str]]) -> str:
    lines = ["| case | variant | runs | learn s (median) | learn × none | wall s | wall − none s | fixed − none s "
             "| init s | finish s |", "|---|---|---|---|---|---|---|---|---|---|"]
    for case in cases:
        base = results.get((case, "none"), [])
        for variant in variants[case]:
            rows = results.get((case, variant), [])
            ok = [(i, r) for i, r in enumerate(rows) if not r.get("failed")]
            if not ok:
                lines.append(f"| {case} | {variant} | 0 | failed or skipped | | | | | | |")
                continue
            same = [(r, base[i]) for i, r in ok if i < len(base) and not base[i].get("failed")]
            ratio = statistics.median(r["learn_s"] / b["learn_s"] for r, b in same) if same else float("nan")
            delta = statistics.median(r["wall_s"] - b["wall_s"] for r, b in same) if same else float("nan")
            # Whole-process time outside learn() (imports, init, finish, exit), so learn()'s noise cancels.
            fixed = (statistics.median((r["wall_s"] - r["learn_s"]) - (b["wall_s"] - b["learn_s"]) for r, b in same)
                     if same else float("nan"))
            med = {k: statistics.median(r[k] for _, r in ok) for k in ("learn_s", "wall_s", "init_s", "finish_s")}
            target = TARGETS.get("stress" if case in PER_STEP else variant)
            mark = "" if target is None or variant == "none" else (" ✓" if ratio <= target else " ✗")
            lines.append(f"| {case} | {variant} | {len(ok)} | {med['learn_s']:.2f} | {ratio:.3f}{mark} | "
                         f"{med['wall_s']:.2f} | {delta:+.2f} | {fixed:+.2f} | {med['init_s']:.2f} | "
                         f"{med['finish_s']:.2f} |")
    return "\n".join(lines)


def _saved_table(path: Path) -> str:
    raw = json.loads(path.read_text())
    results: Results = {tuple(name.split("/", 1)): rows for name, rows in raw.items()}  # type: ignore[misc]
    cases = list(dict.fromkeys(case for case, _ in results))
    return _table(results, cases, {c: [v for case, v in results if case == c] for c in cases})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)  # CASE VARIANT STEPS WORKDIR THREADS
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cases", default="ppo,dqn,cleanrl_ppo,stress")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every case's steps")
    parser.add_argument("--quick", action="store_true", help="the cases at 1/4 size, rltrack variants, 1 round")
    parser.add_argument("--peers", action="store_true", help=f"run in {PEERS_VENV} (installs SB3, aim if missing)")
    parser.add_argument("--torch-threads", type=int, default=1, help="torch threads per child (1: less noise)")
    parser.add_argument("--json", default=None, help="also write raw results here")
    parser.add_argument("--table", default=None, metavar="JSON", help="print the table of a --json file, run nothing")
    args = parser.parse_args()
    if args.table:
        print(_saved_table(Path(args.table)))
        return
    if args.child:
        case, variant, steps, workdir, threads = args.child
        print(json.dumps(_child(case, variant, int(steps), Path(workdir), int(threads))))
        return
    if args.quick:
        args.rounds, args.scale, args.variants = 1, 0.25, "none,rltrack,rltrack_video"
    python = sys.executable
    if args.peers:
        peers = _peers_python(install=True)
        if peers is None:
            sys.exit(f"no peers venv at {PEERS_VENV}; create it with python bench/log_overhead.py first")
        python = peers
    cases = args.cases.split(",")
    wanted = [v for v in args.variants.split(",") if _available(python, v)]
    skipped = sorted(set(args.variants.split(",")) - set(wanted))
    variants = {c: [v for v in wanted if c not in PER_STEP or v in STRESS_VARIANTS] for c in cases}
    print(f"python {python}; skipped (not importable there): {skipped or 'none'}", flush=True)
    results: Results = {}
    for rnd in range(args.rounds):
        for case in cases:
            order = variants[case][rnd % len(variants[case]):] + variants[case][: rnd % len(variants[case])]
            for variant in order:
                steps = int(CASES[case] * args.scale)
                result = _measure(python, case, variant, steps, args.torch_threads)
                results.setdefault((case, variant), []).append(result)
                shown = "failed"
                if not result.get("failed"):
                    shown = f"learn {result['learn_s']:.2f} s wall {result['wall_s']:.2f} s"
                print(f"round {rnd + 1} {case:6s} {variant:13s} {shown} (load {os.getloadavg()[0]:.1f})", flush=True)
    print(f"\nscale {args.scale}, rounds {args.rounds}, torch threads {args.torch_threads}, "
          f"load now {os.getloadavg()[0]:.1f}; targets: learn × none ≤ 1.02 (rltrack), ≤ 1.05 (video), "
          "≤ 1.03 (per-step stress: cleanrl_ppo; cleanrl and stress are worse than any training loop)\n")
    print(_table(results, cases, variants))
    if args.json:
        Path(args.json).write_text(json.dumps({f"{c}/{v}": r for (c, v), r in results.items()}, indent=1))


if __name__ == "__main__":
    main()
