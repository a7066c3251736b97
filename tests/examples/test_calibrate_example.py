"""examples/calibrate_cartpole.py runs as a user runs it, with a small budget, into a temporary store."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytest.importorskip("optuna", reason="calibrate searches with Optuna (rltrack[sweeps])")


def test_calibrate_example_recovers_the_hidden_pole(tmp_path: Path) -> None:
    store = tmp_path / "store"
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "calibrate_cartpole.py"), "--budget", "40", "--episodes", "4",
         "--dir", str(store)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert str(store) in out + done.stderr
    assert "40 trials (0 failed)" in out
    # The length shows in every step of the pole; 40 trials place it within 5 %.
    length = re.search(r"^length\s+true 0\.7\s+recovered (\S+)", out, re.MULTILINE)
    assert length is not None and abs(float(length.group(1)) - 0.7) <= 0.035, out
    ratio = re.search(r"objective \(RMSE / std, mean over keys\)\s+\S+\s+\S+\s+(\S+)x lower", out)
    assert ratio is not None and float(ratio.group(1).replace(",", "")) >= 5, out
    paths = {m.group(1): Path(m.group(2)) for m in re.finditer(r"^(result|randomization|before/after)\s+(\S+)$", out,
                                                                re.MULTILINE)}  # fmt: skip
    assert set(paths) == {"result", "randomization", "before/after"}
    saved = json.loads(paths["result"].read_text(encoding="utf-8"))
    assert saved["n_trials"] == 40 and saved["runs"] and paths["randomization"].is_file()
    assert "Plotly.newPlot" in paths["before/after"].read_text(encoding="utf-8")
