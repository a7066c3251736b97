"""Summaries and markdown tables for bench/log_overhead.py.

Every number in a table is a median over rounds. Ratios are computed inside one round
(tracker vs rltrack in the same round) and then the median of those ratios is taken, so a
noisy round moves both sides of a ratio together.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from typing import Any

Row = dict[str, Any]

TARGETS = {
    "median_us": 2.0,
    "p99_us": 20.0,
    "x_fastest_peer": 7.0,
    "readable_s": 0.5,
    "ingest_per_s": 1_000_000.0,
    "ttfl_s": 0.15,
}


def _med(values: Iterable[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def _ok(row: Row) -> bool:
    return row.get("rc") == 0 and row.get("result") is not None


def _by(rows: list[Row], kind: str, tracker: str) -> list[Row]:
    return [r for r in rows if r["kind"] == kind and r["tracker"] == tracker and _ok(r)]


def _same_round_ratios(rows: list[Row], tracker: str, ref: str = "rltrack") -> list[float]:
    ratios = []
    for r in _by(rows, "micro", tracker):
        refs = [x for x in _by(rows, "micro", ref) if x["round"] == r["round"]]
        if refs and refs[0]["result"]["median_us"] > 0:
            ratios.append(r["result"]["median_us"] / refs[0]["result"]["median_us"])
    return ratios


def summarize(rows: list[Row], trackers: list[str]) -> dict[str, Row]:
    """Return one summary row per tracker (medians over rounds)."""
    out: dict[str, Row] = {}
    for t in trackers:
        micro = _by(rows, "micro", t)
        ttfl = _by(rows, "ttfl", t)
        s: Row = {
            "tracker": t,
            "rounds": len(micro),
            "failed": [r for r in rows if r["tracker"] == t and not _ok(r)],
        }
        for field in (
            "median_us",
            "p99_us",
            "p999_us",
            "max_us",
            "init_s",
            "finish_s",
            "loop_cpu_s",
            "calls",
        ):
            s[field] = _med(r["result"][field] for r in micro)
        s["exit_after_finish_s"] = _med(r.get("exit_after_finish_s") for r in micro)
        s["x_rltrack"] = _med(_same_round_ratios(rows, t))
        backs = [r.get("readback") or {} for r in micro]
        s["points"] = min((b.get("points", 0) for b in backs), default=None)
        s["expected"] = max((b.get("expected", 0) for b in backs), default=None)
        s["readback_ok"] = bool(backs) and all(
            b.get("points") == b.get("expected") and b.get("steps_ok") for b in backs
        )
        s["readback_s"] = _med(b.get("readback_s") for b in backs)
        for keys in (10, 100):
            ing = _by(rows, f"ingest{keys}", t)
            s[f"ingest{keys}_per_s"] = _med(r["result"]["scalars_per_s"] for r in ing)
            # Per CPU second (all threads of the logging process): what a quiet machine would
            # reach, since CPU time barely grows when other people's jobs take the cores.
            s[f"ingest{keys}_per_cpu_s"] = _med(r["result"]["scalars"] / max(r["result"]["cpu_s"], 1e-9) for r in ing)
            s[f"ingest{keys}_capped"] = any(r["result"]["capped"] for r in ing)
            s[f"ingest{keys}_finish_s"] = _med(r["result"]["finish_s"] for r in ing)
            s[f"ingest{keys}_readback_ok"] = all(
                (r.get("readback") or {}).get("points") == r["result"]["scalars"] for r in ing
            )
        s["ttfl_s"] = _med(r["ttfl_s"] for r in ttfl)
        for phase in ("interp_s", "harness_s", "import_s", "init_s", "first_log_s"):
            s[f"ttfl_{phase}"] = _med(r.get(phase) for r in ttfl)
        cold = [r for r in rows if r["kind"] == "ttfl_cold" and r["tracker"] == t and _ok(r)]
        s["ttfl_cold_s"] = cold[0]["ttfl_s"] if cold else None
        out[t] = s
    return out


def fastest_peer_factor(rows: list[Row], peers: list[str]) -> float | None:
    """Median over rounds of (fastest peer's median µs / rltrack's median µs) in that round."""
    factors = []
    for r in _by(rows, "micro", "rltrack"):
        peer_meds = [x["result"]["median_us"] for p in peers for x in _by(rows, "micro", p) if x["round"] == r["round"]]
        if peer_meds and r["result"]["median_us"] > 0:
            factors.append(min(peer_meds) / r["result"]["median_us"])
    return _med(factors)


def _f(v: float | None, fmt: str) -> str:
    return "–" if v is None else format(v, fmt)


def _rate(v: float | None, capped: bool, per_cpu: float | None = None) -> str:
    if v is None:
        return "–"
    cpu = "" if per_cpu is None else f" ({per_cpu / 1e6:.2f} M/CPU s)"
    return f"{v:,.0f}" + (" ¹" if capped else "") + cpu


def main_table(summary: dict[str, Row]) -> str:
    """Return the per-tracker markdown table."""
    head = (
        "| tracker | rounds | calls | median µs/call | p99 µs/call | × rltrack (same round) | init s | "
        "finish = readable after loop s | exit after finish s | loop CPU s | ingest scalars/s (10 keys) | "
        "ingest scalars/s (100 keys) | TTFL s | TTFL interpreter / import / init / 1st log s | points read back |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for s in sorted(summary.values(), key=lambda x: x["median_us"] if x["median_us"] is not None else 1e18):
        points = (
            "–" if s["points"] is None else f"{s['points']:,}/{s['expected']:,}" + ("" if s["readback_ok"] else " LOST")
        )
        phases = "/".join(_f(s[f"ttfl_{p}"], ".3f") for p in ("interp_s", "import_s", "init_s", "first_log_s"))
        lines.append(
            f"| {s['tracker']} | {s['rounds']} | {_f(s['calls'], ',.0f')} | {_f(s['median_us'], '.2f')} | "
            f"{_f(s['p99_us'], '.1f')} | {_f(s['x_rltrack'], '.1f')} | {_f(s['init_s'], '.3f')} | "
            f"{_f(s['finish_s'], '.3f')} | {_f(s['exit_after_finish_s'], '.3f')} | "
            f"{_f(s['loop_cpu_s'], '.2f')} | "
            f"{_rate(s['ingest10_per_s'], s['ingest10_capped'], s['ingest10_per_cpu_s'])} | "
            f"{_rate(s['ingest100_per_s'], s['ingest100_capped'], s['ingest100_per_cpu_s'])} | "
            f"{_f(s['ttfl_s'], '.3f')} | {phases} | {points} |"
        )
    return "\n".join(lines)


def targets_table(summary: dict[str, Row], rows: list[Row], peers: list[str]) -> tuple[str, bool]:
    """Return the rltrack targets table and whether every target passed."""
    s = summary.get("rltrack")
    if s is None:
        return "(rltrack not measured: no targets)", True
    factor = fastest_peer_factor(rows, peers)
    ingest = [v for v in (s["ingest10_per_s"], s["ingest100_per_s"]) if v is not None]
    worst_ingest = min(ingest) if ingest else None
    readable_ok = s["readback_ok"] and s["finish_s"] is not None and s["finish_s"] <= TARGETS["readable_s"]
    checks = [
        (
            "log() median, 10 floats",
            "≤ 2 µs",
            _f(s["median_us"], ".2f") + " µs",
            s["median_us"],
            "le",
            "median_us",
        ),
        ("log() p99, 10 floats", "≤ 20 µs", _f(s["p99_us"], ".1f") + " µs", s["p99_us"], "le", "p99_us"),
        (
            "× fastest peer (same round)",
            "≥ 7×",
            "n/a (no peers measured)" if factor is None else f"{factor:.1f}×",
            factor,
            "ge",
            "x_fastest_peer",
        ),
        (
            "200k scalars readable after loop",
            "≤ 0.5 s",
            _f(s["finish_s"], ".3f") + " s" + ("" if s["readback_ok"] else " (read back INCOMPLETE)"),
            s["finish_s"] if readable_ok else None,
            "le",
            "readable_s",
        ),
        (
            "sustained ingest (worst of 10/100-key dicts)",
            "≥ 1,000,000 scalars/s",
            _rate(worst_ingest, False) + " /s",
            worst_ingest,
            "ge",
            "ingest_per_s",
        ),
        ("time to first log", "≤ 0.15 s", _f(s["ttfl_s"], ".3f") + " s", s["ttfl_s"], "le", "ttfl_s"),
    ]
    lines = ["| target | goal | measured | result |", "|---|---|---|---|"]
    all_ok = True
    for name, goal, shown, value, op, key in checks:
        if value is None:
            verdict = "n/a" if key == "x_fastest_peer" and factor is None else "FAIL"
        else:
            passed = value <= TARGETS[key] if op == "le" else value >= TARGETS[key]
            verdict = "PASS" if passed else "FAIL"
        all_ok = all_ok and verdict != "FAIL"
        lines.append(f"| {name} | {goal} | {shown} | {verdict} |")
    return "\n".join(lines), all_ok


def rounds_table(rows: list[Row]) -> str:
    """Return one line per micro run (round, tracker, median, p99, load) to show the spread."""
    lines = [
        "| round | tracker | median µs | p99 µs | finish s | load avg (1 min) |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r["kind"] == "micro" and _ok(r):
            res = r["result"]
            lines.append(
                f"| {r['round']} | {r['tracker']} | {res['median_us']:.2f} | {res['p99_us']:.1f} | "
                f"{res['finish_s']:.3f} | {r['load1']:.2f} |"
            )
    return "\n".join(lines)
