#!/usr/bin/env python3
"""What ``sync_tensorboard`` adds to a CleanRL-style loop: rltrack's beside wandb's, in one invocation.

The loop (bench/_cleanrl_ppo.py) is real PPO on CartPole-v1 with a 64-64 actor and critic: one
env, so every env step makes one policy forward pass and writes 8 scalars through
``torch.utils.tensorboard.SummaryWriter.add_scalar``, and every 128 steps an Adam update of
4 epochs x 4 minibatches. Three arms, each a fresh process per measurement (bench/_tb_sync_child.py):

* ``tb``: the SummaryWriter alone;
* ``rltrack``: ``rltrack.init(sync_tensorboard=True)`` before the writer, ``run.finish()`` after;
* ``wandb``: ``wandb.init(mode="offline", sync_tensorboard=True)`` before the writer, ``finish()`` after.

Arms run interleaved (the order rotates each round); every number is a median over rounds and
every ratio is taken inside a round (arm / ``tb`` of the same round), then its median is shown.
Each child also checks that every (tag, step, value) the writer wrote is in the event file, in
the rltrack run (``rltrack.Api``) and in wandb's offline run file, where they apply.

With the wandb arm, all arms run in ``bench/.venv-tbsync`` (created on first use: torch, tensorboard,
wandb, gymnasium and this repo; see bench/_tb_sync_venv.py), fully offline. See bench/README.md.

    python bench/tb_sync.py                        # 3 arms, 5 rounds of 8,192 steps
    python bench/tb_sync.py --arms tb,rltrack --rounds 9
    python bench/tb_sync.py --quick                # tb + rltrack, 1 round of 512 steps, this interpreter (smoke)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _tb_sync_venv as venv  # noqa: E402

CHILD = HERE / "_tb_sync_child.py"
ARMS = ("tb", "rltrack", "wandb")
#: The issue's target: sync_tensorboard adds at most this much to the loop.
TARGET = 0.05


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--arms", default=",".join(ARMS), help="comma-separated subset of " + ",".join(ARMS))
    p.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 5; 1 with --quick)")
    p.add_argument("--steps", type=int, default=None, help="env steps per loop (default 8192; 512 with --quick)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1: 2 shared cores)")
    p.add_argument("--quick", action="store_true", help="tb + rltrack, 1 round, 512 steps, this interpreter")
    p.add_argument("--python", default=None, help="run the children with this interpreter, no venv set-up")
    p.add_argument("--venv", type=Path, default=HERE / ".venv-tbsync", help="the venv with wandb")
    p.add_argument("--workdir", type=Path, default=None, help="where runs go (default: a temp dir, removed)")
    p.add_argument("--keep", action="store_true", help="keep the workdir")
    p.add_argument("--json", type=Path, default=None, help="write every row and the summary here")
    p.add_argument("--child-timeout-s", type=float, default=900.0)
    a = p.parse_args(argv)
    if a.quick:
        a.arms = "tb,rltrack" if a.arms == ",".join(ARMS) else a.arms
        a.rounds, a.steps = a.rounds or 1, a.steps or 512
    a.rounds, a.steps = a.rounds or 5, a.steps or 8192
    a.arm_list = [arm for arm in a.arms.split(",") if arm]
    bad = [arm for arm in a.arm_list if arm not in ARMS]
    if bad or "tb" not in a.arm_list:
        p.error(f"arms {a.arm_list} must include tb (the baseline) and come from {','.join(ARMS)}")
    if a.steps < 128:
        p.error(f"--steps {a.steps} must be >= 128 (one PPO rollout)")
    return a


def _env(workdir: Path) -> dict[str, str]:
    """Offline, no telemetry, everything under ``workdir``."""
    return {
        **os.environ, **venv.QUIET_ENV, "WANDB_DIR": str(workdir), "RLTRACK_DIR": str(workdir / "rltrack"),
        "HF_HUB_OFFLINE": "1", "DISABLE_TELEMETRY": "1", "PYTHONUNBUFFERED": "1",
    }  # fmt: skip


def _spawn(python: str, arm: str, steps: int, workdir: Path, threads: int, timeout_s: float) -> dict[str, Any]:
    workdir.mkdir(parents=True)
    load_before = os.getloadavg()[0]
    cmd = [python, str(CHILD), arm, str(steps), str(workdir), str(threads)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(workdir), timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {"arm": arm, "error": f"timed out after {timeout_s:.0f} s", "load_before": load_before}
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        error = f"exit {proc.returncode}: {proc.stderr.strip()[-600:]}"
        return {"arm": arm, "error": error, "load_before": load_before}
    return {**json.loads(lines[-1]), "load_before": load_before}


def _missing(row: dict[str, Any]) -> int:
    """Values the writer wrote that a store lacks, plus points a store holds that were written once or never."""
    return sum(v for k, v in row.items() if k.startswith(("missing_", "extra_")))


def summarize(rows: list[dict[str, Any]], arms: list[str]) -> dict[str, dict[str, Any]]:
    """Per arm: medians over rounds, and the median of same-round ratios to ``tb``."""
    out: dict[str, dict[str, Any]] = {}
    for arm in arms:
        mine = [r for r in rows if r["arm"] == arm and "error" not in r]
        if not mine:
            out[arm] = {"rounds": 0}
            continue
        ratios: dict[str, list[float]] = {"loop_s": [], "loop_cpu_s": []}
        for r in mine:
            (base,) = [b for b in rows if b["arm"] == "tb" and b["round"] == r["round"]] or [None]
            if base is not None and "error" not in base:
                for k in ratios:
                    ratios[k].append(r[k] / base[k])
        out[arm] = {
            "rounds": len(mine),
            **{k: statistics.median(r[k] for r in mine) for k in ("init_s", "loop_s", "loop_cpu_s", "close_s")},
            "ratio_loop": statistics.median(ratios["loop_s"]) if ratios["loop_s"] else None,
            "ratio_cpu": statistics.median(ratios["loop_cpu_s"]) if ratios["loop_cpu_s"] else None,
            "missing": sum(_missing(r) for r in mine),
            "load1": statistics.median(r["load_before"] for r in mine),
        }
    return out


def _ratio(x: float | None) -> str:
    return "—" if x is None else f"{x:.3f} ({(x - 1) * 100:+.1f} %)"


def report(rows: list[dict[str, Any]], summary: dict[str, dict[str, Any]], steps: int) -> str:
    """The per-round table and the summary table, as text."""
    lines = [
        f"per round ({steps} env steps, {steps * 8} scalars per loop):",
        f"{'round':>5} {'arm':<8} {'load1':>6} {'loop s':>8} {'loop CPU s':>10} {'close s':>8} {'read back':<12}",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"{r['round']:>5} {r['arm']:<8} {r['load_before']:>6.1f} ERROR {r['error']}")
            continue
        check = "ok" if _missing(r) == 0 else f"BAD {_missing(r)}"
        lines.append(
            f"{r['round']:>5} {r['arm']:<8} {r['load_before']:>6.1f} {r['loop_s']:>8.2f} "
            f"{r['loop_cpu_s']:>10.2f} {r['close_s']:>8.2f} {check:<12}"
        )
    lines += [
        "",
        "medians (ratios: median of arm / tb in the same round):",
        f"{'arm':<8} {'n':>2} {'load1':>6} {'init s':>7} {'loop s':>8} {'loop CPU s':>10} {'close s':>8} "
        f"{'loop / tb':>17} {'CPU / tb':>17} read back",
    ]
    for arm, s in summary.items():
        if not s["rounds"]:
            lines.append(f"{arm:<8}  0 (every child failed)")
            continue
        check = "all" if s["missing"] == 0 else f"BAD {s['missing']}"
        lines.append(
            f"{arm:<8} {s['rounds']:>2} {s['load1']:>6.1f} {s['init_s']:>7.2f} {s['loop_s']:>8.2f} "
            f"{s['loop_cpu_s']:>10.2f} {s['close_s']:>8.2f} {_ratio(s['ratio_loop']):>17} "
            f"{_ratio(s['ratio_cpu']):>17} {check}"
        )
    rl = summary.get("rltrack", {})
    if rl.get("ratio_loop") is not None:
        lines.append(f"\ntarget (issue 13): rltrack's sync_tensorboard adds <= {TARGET:.0%} to the loop:")
        for name, ratio in (("wall", rl["ratio_loop"]), ("CPU (process + children)", rl["ratio_cpu"])):
            verdict = "PASS" if ratio - 1 <= TARGET else "FAIL"
            lines.append(f"  {name}: {(ratio - 1) * 100:+.1f} % {verdict}")
    return "\n".join(lines)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Run the rounds, print the tables; exit 1 when a child failed or a value was not read back."""
    a = _args(argv)
    python = a.python or (str(venv.ensure_venv(a.venv, HERE.parent)) if "wandb" in a.arm_list else sys.executable)
    workdir = a.workdir or Path(tempfile.mkdtemp(prefix="tb_sync-"))
    print(f"{venv.versions(python)}; torch threads {a.threads}; workdir {workdir}", flush=True)
    print("uptime:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(), flush=True)
    rows: list[dict[str, Any]] = []
    started = time.perf_counter()
    try:
        for rnd in range(a.rounds):
            order = a.arm_list[rnd % len(a.arm_list) :] + a.arm_list[: rnd % len(a.arm_list)]
            for arm in order:
                row = _spawn(python, arm, a.steps, workdir / f"r{rnd}-{arm}", a.threads, a.child_timeout_s)
                rows.append({**row, "round": rnd})
                shown = row.get("error") or f"loop {row['loop_s']:.2f} s, CPU {row['loop_cpu_s']:.2f} s"
                print(f"  round {rnd} {arm:<8} load {row['load_before']:.1f}: {shown}", flush=True)
    finally:
        if not a.keep and a.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    summary = summarize(rows, a.arm_list)
    print()
    print(report(rows, summary, a.steps))
    print(
        "uptime:",
        subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(),
        f"(bench took {time.perf_counter() - started:.0f} s)",
    )
    if a.json is not None:
        a.json.write_text(json.dumps({"rows": rows, "summary": summary, "steps": a.steps}, indent=1))
    failed = any("error" in r for r in rows)
    lost = any(_missing(r) for r in rows if r["arm"] != "wandb")  # wandb's losses are reported, not ours to fail
    return 1 if failed or lost else 0


if __name__ == "__main__":
    sys.exit(main())
