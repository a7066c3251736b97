"""Time ``compare`` on 1,000 real episodes x 20 signals x 500 steps (issue 7's bound: <= 5 s).

Both sides hold 1,000 episodes of 20 signals at 500 steps (10 M values each); every real episode
is paired with a sim episode by seed, so the run computes the full report: episode gaps with
2,000 bootstrap resamples, W1/KS and histograms over 500 k samples per signal, RMSE and DTW over
1,000 pairs per signal, and the real loop timing of every signal.

    python bench/sim2real_compare.py            # the computation on loaded arrays
    python bench/sim2real_compare.py --store    # also log both sides through the run API and time
                                                # compare(run_id) end to end (reads from SQLite)
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time

import numpy as np
from rltrack.sim2real import Series, Side, compare, compare_sides

N_EPISODES, N_SIGNALS, N_STEPS = 1000, 20, 500
PERIOD_NS = 10_000_000  # 100 Hz robot loop


def make_side(name: str, rng: np.random.Generator, *, real: bool) -> dict[str, Series]:
    """Episodes of smooth signals; the real side is a biased, noisier, jittery version."""
    total = N_EPISODES * N_STEPS
    step = np.arange(total + N_EPISODES, dtype=np.int64).reshape(N_EPISODES, N_STEPS + 1)
    sig_step = step[:, :N_STEPS].ravel()  # signals at steps 0..499 of each episode block
    end_step = step[:, N_STEPS]  # the summary one step after the last sample
    t = np.cumsum(rng.normal(PERIOD_NS, 3e5 if real else 0.0, size=total)).astype(np.int64)
    if real:
        t[rng.choice(total, 200, replace=False)] += 3 * PERIOD_NS  # gaps: dropped messages
        t = np.maximum.accumulate(t)
    series: dict[str, Series] = {}
    phase = np.linspace(0, 6 * np.pi, N_STEPS)
    for k in range(N_SIGNALS):
        base = np.sin(phase[None, :] * (1 + k / 10) + rng.uniform(0, 1, (N_EPISODES, 1)))
        values = base + rng.normal(0, 0.1 if real else 0.05, base.shape) + (0.05 * k if real else 0.0)
        series[f"joint/{k}"] = Series(sig_step, t, values.ravel())
    returns = rng.normal(400 if real else 450, 30, N_EPISODES)
    lengths = np.full(N_EPISODES, float(N_STEPS))
    t_end = t[N_STEPS - 1 :: N_STEPS] + PERIOD_NS
    for key, value in (
        ("episode/return", returns),
        ("episode/length", lengths),
        ("episode/success", (returns > 420).astype(float)),
        ("episode/seed", np.arange(N_EPISODES, dtype=float)),
    ):
        series[key] = Series(end_step, t_end, value)
    return series


def log_side(run_id: str | None, source: str, data: dict[str, Series], root: str) -> str:
    import rltrack

    run = rltrack.init(
        project="bench", id=run_id, resume="must" if run_id else None, source=source, dir=root, system_metrics=False
    )
    signals = [k for k in data if not k.startswith("episode/")]
    ep_keys = [k for k in data if k.startswith("episode/")]
    ends = data["episode/length"].step
    columns = np.stack([data[k].value for k in signals], axis=1)
    steps, stamps = data[signals[0]].step, data[signals[0]].t_ns
    ep = 0
    for i in range(steps.size):
        run.log(dict(zip(signals, columns[i].tolist(), strict=True)), step=int(steps[i]), t_ns=int(stamps[i]))
        if i % N_STEPS == N_STEPS - 1:
            run.log(
                {k: float(data[k].value[ep]) for k in ep_keys},
                step=int(ends[ep]),
                t_ns=int(data["episode/length"].t_ns[ep]),
            )
            ep += 1
    run.finish()
    return run.id


def timed(fn, repeat: int):  # type: ignore[no-untyped-def]
    """Best wall time and the CPU time of that run (all threads of this process)."""
    best, cpu, out = float("inf"), float("inf"), None
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        out = fn()
        wall = time.perf_counter() - start
        if wall < best:
            best, cpu = wall, time.process_time() - start_cpu
    return (best, cpu), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", action="store_true", help="also time compare() through the store")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    sim_data, real_data = make_side("sim", rng, real=False), make_side("real", rng, real=True)
    sim, real = Side.of("bench", "sim", sim_data), Side.of("bench", "real", real_data)
    print(
        f"{platform.machine()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, "
        f"numpy {np.__version__}; {N_EPISODES} episodes x {N_SIGNALS} signals x {N_STEPS} steps per side, all paired"
    )
    seconds, report = timed(lambda: compare_sides(sim, real), args.repeat)
    rows = [("compare_sides (loaded arrays)", seconds)]
    if args.store:
        with tempfile.TemporaryDirectory() as root:
            start = time.perf_counter()
            run_id = log_side(None, "sim", sim_data, root)
            log_side(run_id, "real", real_data, root)
            print(f"logged both sides through the run API in {time.perf_counter() - start:.1f} s")
            seconds_store, _ = timed(lambda: compare(run_id, dir=root), args.repeat)
            rows.append(("compare(run_id) via store", seconds_store))
    print(f"\n{'what':<32} {'wall (best of ' + str(args.repeat) + ')':>20} {'CPU':>8}  bound")
    for name, (wall, cpu) in rows:
        print(f"{name:<32} {wall:>18.2f} s {cpu:>6.2f} s  <= 5 s {'ok' if wall <= 5 else 'OVER'}")
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    print()
    print(report.table())


if __name__ == "__main__":
    main()
