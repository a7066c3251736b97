"""What only a machine with an NVIDIA GPU can check: NVML metrics under load, and SB3 training on CUDA.

The test suite runs on CPU-only machines, where the NVML code is exercised against the real
library with no driver and against a patched module. This script checks the rest on a real GPU:

1. system metrics: a run samples every 0.25 s while a CUDA matrix-product loop keeps the GPU busy;
   ``system/gpu/0/*`` must be stored, with utilisation and power above zero under load and GPU
   memory in use rising while the loop holds its buffers;
2. SB3 PPO with ``device="cuda"`` and ``RLTrackCallback`` (checkpoints, gradient histograms and,
   when PyAV and pygame are installed, videos recorded by the child process from the CUDA policy's
   weights): every SB3 key lands, the checkpoints load back onto CUDA and CPU, the histograms and
   the videos are stored;
3. for scale: ``learn()`` on CUDA without, then with the callback (one run each; not a benchmark).

    python bench/gpu_check.py              # exit 1 when a check fails; prints what it saw
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import rltrack

CHECKS: list[tuple[str, bool, str]] = []


def check(name: str, ok: bool, seen: object) -> None:
    CHECKS.append((name, bool(ok), str(seen)))
    print(f"{'ok  ' if ok else 'FAIL'} {name}: {seen}", flush=True)


def gpu_metrics(store: Path, load_s: float) -> None:
    import torch

    run = rltrack.init(project="gpu-check", name="nvml", dir=store, system_metrics=0.25)
    time.sleep(1.0)  # idle samples first
    a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    end = time.monotonic() + load_s
    products = 0
    while time.monotonic() < end:
        for _ in range(20):
            a @ b
        torch.cuda.synchronize()
        products += 20
    run.finish()
    view = rltrack.Api(store).run(run.id)
    names = view.keys()  # a list (RunView is no mapping)
    gpu_keys = sorted(k for k in names if k.startswith("system/gpu/"))
    check("NVML keys stored", any(k.startswith("system/gpu/0/") for k in gpu_keys), gpu_keys)
    util = view.series("system/gpu/0/utilization_percent")[2]
    check("GPU utilisation > 0 under load", util.size > 0 and float(util.max()) > 0, util.round(1).tolist())
    memory = view.series("system/gpu/0/memory_used_bytes")[2]
    check("GPU memory in use rises with the buffers", memory.size > 1 and memory.max() > memory.min(),
          f"{memory.min() / 2**20:.0f} -> {memory.max() / 2**20:.0f} MiB")
    power = view.series("system/gpu/0/power_w")[2]
    watts = f"max {power.max():.0f} W" if power.size else "none"
    check("GPU power > 0", power.size > 0 and float(power.max()) > 0, watts)
    print(f"     ({products} bf16 8192^3 products in {load_s:.0f} s)")


def sb3_on_cuda(store: Path, steps: int, model_device: str = "cuda") -> None:
    import gymnasium as gym
    import torch
    from rltrack.callbacks import RLTrackCallback
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    try:
        import av  # noqa: F401
        import pygame  # noqa: F401

        video = {"video_env": gym.make("CartPole-v1", render_mode="rgb_array"), "video_every": steps // 2}
    except ImportError:
        video = {}
    # Untracked first, so CUDA's one-time start-up is not counted against the callback.
    plain = PPO("MlpPolicy", make_vec_env("CartPole-v1", n_envs=4, seed=0), n_steps=128, device=model_device, seed=0)
    t0 = time.perf_counter()
    plain.learn(steps)
    plain_s = time.perf_counter() - t0
    run = rltrack.init(project="gpu-check", name="ppo-cuda", dir=store)
    model = PPO("MlpPolicy", make_vec_env("CartPole-v1", n_envs=4, seed=0), n_steps=128, device=model_device, seed=0)
    callback = RLTrackCallback(run, checkpoint_every=steps // 2, gradients_every=steps // 4, **video)
    t0 = time.perf_counter()
    model.learn(steps, callback=callback)
    tracked_s = time.perf_counter() - t0
    run.finish()
    view = rltrack.Api(store).run(run.id)
    keys = set(view.keys())
    wanted = {"train/loss", "train/value_loss", "rollout/ep_rew_mean", "time/fps", "episode/return"}
    check("SB3 keys from a CUDA model", wanted <= keys, sorted(wanted - keys) or "all there")
    grads = view.media()
    histograms = [m for m in grads if m.kind == "histogram" and m.key.startswith("gradients/")]
    check("gradient histograms of CUDA parameters", len(histograms) > 0, f"{len(histograms)} stored")
    versions = rltrack.Api(store).artifacts(f"{run.name}-policy")
    check("checkpoints stored", len(versions) >= 2, [v.ref for v in versions])
    path = rltrack.Api(store).artifact(f"{run.name}-policy:latest").download() / "model.zip"
    for device in dict.fromkeys((model_device, "cpu")):
        loaded = PPO.load(path, device=device)
        obs = np.zeros((1, 4), dtype=np.float32)
        same = np.array_equal(loaded.predict(obs, deterministic=True)[0], model.predict(obs, deterministic=True)[0])
        check(f"checkpoint loads onto {device}", loaded.device.type == device and same, loaded.device)
    if video:
        clips = view.media("video/episode")
        stored = len(clips) >= 1 and all(c.path.stat().st_size > 0 for c in clips)
        check("videos of the CUDA policy (child process)", stored, [(c.step, c.meta.get("frames")) for c in clips])
    else:
        print("     (no PyAV/pygame: videos not checked)")
    name = torch.cuda.get_device_name() if model_device == "cuda" else "CPU"
    print(f"     learn({steps}) on {name}: {plain_s:.2f} s untracked, "
          f"{tracked_s:.2f} s with the callback, checkpoints, histograms and videos (one run each)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8192)
    parser.add_argument("--load-s", type=float, default=4.0)
    parser.add_argument("--json", default=None, help="also write the checks here")
    parser.add_argument("--cpu", action="store_true", help="dry-run part 2 on the CPU (checks the script itself)")
    args = parser.parse_args()
    import torch

    if not args.cpu and not torch.cuda.is_available():
        sys.exit("no CUDA device: this check needs an NVIDIA GPU (--cpu dry-runs the SB3 part)")
    with tempfile.TemporaryDirectory(prefix="rltrack-gpu-") as tmp:
        if not args.cpu:
            gpu_metrics(Path(tmp) / "store", args.load_s)
        sb3_on_cuda(Path(tmp) / "store", args.steps, "cpu" if args.cpu else "cuda")
    if args.json:
        Path(args.json).write_text(json.dumps([{"check": n, "ok": o, "seen": s} for n, o, s in CHECKS], indent=1))
    failed = [name for name, ok, _ in CHECKS if not ok]
    print(f"\n{len(CHECKS) - len(failed)}/{len(CHECKS)} checks passed" + (f"; failed: {failed}" if failed else ""))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
