"""Every example runs as a user would run it, with tiny budgets, into a temporary store."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# example file -> extra arguments that keep it to a few seconds
EXAMPLES: dict[str, list[str]] = {
    "artifacts.py": [],
    "gymnasium_loop.py": ["--steps", "2000"],
    "keras_torch.py": ["--epochs", "2"],
    "lightning_mnistlike.py": ["--epochs", "2"],
    "ros_import_bag.py": [],
    "sb3_dqn_video.py": ["--steps", "1500", "--video-every", "1000", "--video-length", "50"],
    "sb3_ppo_cartpole.py": ["--steps", "2048", "--checkpoint-every", "1024"],
    "quickstart.py": ["--steps", "3000"],
    "sim2real_compare.py": ["--episodes", "4", "--max-steps", "100", "--out", "gap.html"],
    "sweep_ppo.py": ["--count", "1", "--steps", "512"],
    "transformers_tiny.py": ["--steps", "6"],
}

# Examples of frameworks a partial install may lack (`.[all]` has them): skipped where it is not installed.
NEEDS: dict[str, str] = {"lightning_mnistlike.py": "lightning", "transformers_tiny.py": "transformers",
                         "keras_torch.py": "keras"}


# Smoke-run by their own modules: Ray's in a loopback-only namespace, calibration with its own checks.
ELSEWHERE = {"rllib_ppo_cartpole.py": "test_ray_examples.py", "ray_tune_asha.py": "test_ray_examples.py",
             "calibrate_cartpole.py": "test_calibrate_example.py"}


def test_every_example_is_smoke_tested() -> None:
    present = {p.name for p in (ROOT / "examples").glob("*.py")}
    assert present == set(EXAMPLES) | set(ELSEWHERE), "add new examples to EXAMPLES with small budgets"
    for name, module in ELSEWHERE.items():
        assert name in (Path(__file__).parent / module).read_text(), f"{module} must run {name}"


@pytest.mark.parametrize("name", sorted(set(EXAMPLES) | set(ELSEWHERE)))
def test_example_help_names_the_store_it_writes_to(name: str) -> None:
    # Read from the source: --help would import each framework. Every example writes to ./rltrack-runs by default
    # (calibrate_cartpole.py's help said "the user's folder", which is no folder a user can find).
    source = (ROOT / "examples" / name).read_text(encoding="utf-8")
    (line,) = [line for line in source.splitlines() if '"--dir"' in line]
    assert "./rltrack-runs" in line, line


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_runs(name: str, tmp_path: Path) -> None:
    if name in NEEDS and importlib.util.find_spec(NEEDS[name]) is None:
        pytest.skip(f"{name} needs {NEEDS[name]} (pip install -e '.[{NEEDS[name]}]')")
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / name), *EXAMPLES[name], "--dir", str(tmp_path / "store")],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    # Every example says where its runs are, so a user can find them (init() prints the store on stderr).
    assert str(tmp_path / "store") in done.stdout + done.stderr, (done.stdout + done.stderr)[-2000:]
    assert "XDG_RUNTIME_DIR" not in done.stderr, "SDL's environment warning reads as an rltrack error"
    # pygame.init() opening a missing sound card prints "ALSA lib ... cannot find card '0'" (gymnasium_loop).
    assert "ALSA lib" not in done.stderr, "SDL's sound-card probe reads as an rltrack error"
