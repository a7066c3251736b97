"""bench/tb_sync.py in its smallest configuration (no wandb arm): it runs, every scalar the writer wrote reads back."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import rltrack

BENCH = Path(__file__).resolve().parents[2] / "bench" / "tb_sync.py"
STEPS = 128
TAGS = {"charts/x", "charts/x_dot", "charts/theta", "charts/theta_dot", "charts/reward", "charts/return",
        "charts/length", "charts/episodes"}  # fmt: skip

pytest.importorskip("torch.utils.tensorboard")
pytest.importorskip("gymnasium")


def test_quick_bench_times_both_arms_and_the_run_holds_every_scalar(tmp_path: Path) -> None:
    out, work = tmp_path / "tb_sync.json", tmp_path / "work"
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--steps", str(STEPS), "--json", str(out), "--workdir", str(work)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "target (issue 13)" in proc.stdout and "BAD" not in proc.stdout
    result = json.loads(out.read_text())
    rows = {row["arm"]: row for row in result["rows"]}
    assert set(rows) == {"tb", "rltrack"}
    for row in rows.values():
        assert row["scalars"] == STEPS * len(TAGS) and row["missing_tb"] == 0
        assert row["loop_s"] > 0 and row["loop_cpu_s"] > 0
    assert rows["rltrack"]["missing_rltrack"] == rows["rltrack"]["extra_rltrack"] == 0
    assert rows["rltrack"]["rltrack_errors"] == {}
    assert result["summary"]["rltrack"]["ratio_loop"] > 0

    # Independently of the child's own check: the synced run, read as a user would, has each tag at each step,
    # with the float32 values the event file holds.
    from rltrack.tensorboard import EventFileReader

    (event_file,) = (work / "r0-rltrack" / "runs").rglob("*tfevents*")
    in_file = {(p.tag, p.step): p.value for p in EventFileReader(event_file).read(final=True) if p.kind == "scalar"}
    (run,) = rltrack.Api(work / "r0-rltrack" / "rltrack").runs()
    assert set(run.keys()) == TAGS
    for tag in TAGS:
        steps, _, values = run.series(tag)
        assert steps.tolist() == list(range(STEPS)), tag
        assert values.tolist() == [in_file[(tag, s)] for s in range(STEPS)], tag
        assert np.isfinite(values).all()
