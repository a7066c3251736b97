"""`rltrack demo` end to end with tiny budgets (--no-ui): what lands in the store and what is printed."""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

import rltrack
from rltrack.cli import main

pytest.importorskip("stable_baselines3", reason="the demo trains with SB3 (rltrack[sb3])")
pytest.importorskip("rosbags", reason="the demo records rosbag2 with rosbags (rltrack[ros])")
pytest.importorskip("scipy", reason="the demo measures the gap with rltrack.sim2real (rltrack[sim2real])")

STEPS = 2048  # one PPO rollout: 4 envs x 512 steps
EPISODES = 3
CHECKPOINT_STEPS = [512, 1024, 1536, 2048]  # four evenly spaced checkpoints, the last at the final step
CAMERA_EVERY = 5  # 50 Hz control, 10 Hz camera


@dataclass
class Demo:
    store: Path
    output: str
    view: Any


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    store = tmp_path_factory.mktemp("demo") / "store"
    args = ["demo", "--steps", str(STEPS), "--episodes", str(EPISODES), "--seed", "1", "--no-ui", "--dir", str(store)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    # Besides the demo's run, the project holds the calibration's trial runs (job type "calibration").
    runs = [r for r in rltrack.Api(store).runs("rltrack-demo") if r.job_type != "calibration"]
    assert len(runs) == 1
    return Demo(store, result.output, runs[0])


def test_one_run_holds_sim_and_real(demo: Demo) -> None:
    assert set(demo.view.sources) == {"sim", "real"}
    assert demo.view.state == "finished"
    assert "stand-in" in demo.view.tags


def test_checkpoints_are_versions_of_the_policy_artifact_with_latest(demo: Demo) -> None:
    api = rltrack.Api(demo.store)
    versions = api.artifacts(f"{demo.view.name}-policy")
    assert [v.metadata["step"] for v in versions] == CHECKPOINT_STEPS
    latest = api.artifact(f"{demo.view.name}-policy:latest")
    assert latest.metadata["step"] == STEPS
    assert latest.logged_by_id == demo.view.id
    assert demo.view.id in [r.id for r in latest.used_by]  # the deployment is recorded as lineage


def test_training_and_evaluation_episodes_are_under_sim(demo: Demo) -> None:
    steps, _, returns = demo.view.series("episode/return", source="sim")
    assert len(returns) > EPISODES
    assert int((steps == STEPS).sum()) >= EPISODES  # the deployed policy's evaluation sits at its step
    assert {"rollout/ep_rew_mean", "time/fps"} <= set(demo.view.keys("sim"))  # SB3 logger values


def test_stand_in_returns_sit_at_the_checkpoint_step(demo: Demo) -> None:
    steps, _, returns = demo.view.series("episode/return", source="real")
    assert steps.tolist() == [STEPS] * EPISODES
    assert np.all(returns >= 1)
    lengths = demo.view.series("episode/length", source="real")[2]
    np.testing.assert_array_equal(lengths, returns)  # CartPole pays 1 per step
    assert demo.view.config["policy_step"] == STEPS
    assert demo.view.config["policy"] == f"{demo.view.name}-policy:latest"


def test_telemetry_and_videos_arrive_under_both_sources(demo: Demo) -> None:
    joints = {f"joint_states/{f}/{j}" for f in ("position", "velocity") for j in ("cart", "pole")}
    for source in ("sim", "real"):
        keys = set(demo.view.keys(source))
        assert joints | {"joint_states/effort/cart", "rl/action/data"} <= keys
        assert not {"rl/reward/data", "rl/done/data"} & keys  # rewards and dones become episode values only
        videos = [m for m in demo.view.media(source=source) if m.kind == "video"]
        assert len(videos) == EPISODES
        assert all(m.path.is_file() for m in videos)


def test_every_checkpoint_is_evaluated_on_both_sides(demo: Demo) -> None:
    for source in ("sim", "real"):
        steps, _, values = demo.view.series("eval/mean_reward", source=source)
        assert steps.tolist() == CHECKPOINT_STEPS
        assert np.all(values >= 1)


def test_bags_hold_the_robot_topics(demo: Demo) -> None:
    from rltrack.demo.deps import import_rltrack_ros

    import_rltrack_ros()
    from rltrack_ros.bag import topics_in

    real_lengths = demo.view.series("episode/length", source="real")[2]
    topics = topics_in(demo.view.dir / "bags" / "stand-in")
    ticks = int(real_lengths.sum())
    assert topics == {
        "/joint_states": ("sensor_msgs/msg/JointState", ticks),
        "/camera/image_raw": ("sensor_msgs/msg/Image", math.ceil(ticks / CAMERA_EVERY)),
        "/rl/action": ("std_msgs/msg/Int32", ticks),
        "/rl/reward": ("std_msgs/msg/Float32", ticks),
        "/rl/done": ("std_msgs/msg/Bool", EPISODES),
    }
    assert (demo.view.dir / "bags" / "sim" / "metadata.yaml").is_file()


def test_gap_report_compares_the_deployed_policy(demo: Demo) -> None:
    html = demo.view.dir / "sim2real_gap.html"
    assert html.is_file() and html.stat().st_size > 10_000  # plotly.js is inlined
    assert "real = robot stand-in" in html.read_text()
    report = json.loads((demo.view.dir / "sim2real_gap.json").read_text())
    gap = report["episodes"]["return"]
    # Only the deployed policy's sim episodes, not the training ones: n_sim equals --episodes.
    assert (gap["n_sim"], gap["n_real"]) == (EPISODES, EPISODES)
    real_returns = demo.view.series("episode/return", source="real")[2]
    assert gap["real_mean"] == pytest.approx(float(real_returns.mean()))
    assert "joint_states/velocity/pole" in report["signals"]
    assert [p["step"] for p in report["versions"]["points"]] == CHECKPOINT_STEPS


def test_the_printed_gap_is_the_one_compare_the_cli_and_the_dashboard_show(demo: Demo) -> None:
    from rltrack.sim2real import compare
    from rltrack.sim2real.text import gap_row

    from rltrack.server import ServerSettings
    from rltrack.server.serve import BackgroundServer

    httpx = pytest.importorskip("httpx", reason="the dashboard test talks HTTP (rltrack[ui])")
    report = compare(demo.view.id, dir=demo.store)
    description = f"sim: {EPISODES} eval episodes at step {STEPS:,}, policy v{len(CHECKPOINT_STEPS) - 1}"
    assert report.sim.description == description
    gap = report.episode_return
    assert gap is not None and (gap.n_sim, gap.n_real) == (EPISODES, EPISODES)
    return_line = next(line for line in report.table().splitlines() if line.startswith("return "))
    assert return_line in demo.output.splitlines()
    assert f"{description}; run {demo.view.id}, source 'sim'" in demo.output
    cli = CliRunner().invoke(main, ["compare", demo.view.id, "--dir", str(demo.store)])
    assert cli.exit_code == 0, cli.output
    assert cli.output == report.table()
    with BackgroundServer(ServerSettings(root=demo.store)) as server:
        data = httpx.get(f"{server.url}/api/runs/{demo.view.id}/simreal/gap", timeout=60).json()
    assert data["sections"][0]["rows"][0] == gap_row("return", gap)
    assert data["heading"][0].startswith(description)
    assert data["report"]["episodes"]["return"] == report.to_dict()["episodes"]["return"]


def test_output_names_the_stand_in_and_where_everything_is(demo: Demo) -> None:
    out = demo.output
    assert "source 'real' = robot stand-in" in out
    assert "a stand-in, not a robot" in out
    assert str(demo.view.dir / "sim2real_gap.html") in out
    assert f"rltrack ui --dir {demo.store}" in out
    assert "[5/5]" in out


def test_the_stand_in_is_calibrated_after_the_gap_table(demo: Demo) -> None:
    out = demo.output
    assert out.index("calibrating the simulator from the stand-in's recording") > out.index("not computed")
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ") and line.split()}
    # The delay shows in every command; the truth is printed beside what was recovered.
    assert "true 1     recovered 1 (95% likelihood range 1..1)" in lines["actuator_delay_steps"]
    assert "true 3" in lines["pole_mass_factor"]
    group = next(line for line in out.splitlines() if "trials are runs in group" in line).split("'")[1]
    trials = [r for r in rltrack.Api(demo.store).runs("rltrack-demo") if r.group == group]
    assert len(trials) == 40 and {r.job_type for r in trials} == {"calibration"}
    assert (demo.view.dir / group / "randomization.yaml").is_file()


def test_too_few_episodes_is_refused_before_training(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["demo", "--episodes", "1", "--no-ui", "--dir", str(tmp_path / "s")])
    assert result.exit_code == 2
    assert "--episodes" in result.output
    assert not (tmp_path / "s").exists()


def test_importing_the_demo_and_cli_loads_nothing_heavy() -> None:
    import subprocess

    code = (
        "import sys, rltrack.cli, rltrack.demo, rltrack.cli.demo\n"
        "heavy = {'torch', 'stable_baselines3', 'gymnasium', 'rosbags', 'rltrack_ros', 'scipy', 'fastapi'}\n"
        "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_a_missing_package_is_named_with_its_extra_before_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    real_find_spec = importlib.util.find_spec

    def without_rosbags(name: str, *args: Any) -> Any:
        return None if name == "rosbags" else real_find_spec(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", without_rosbags)
    result = CliRunner().invoke(main, ["demo", "--no-ui", "--dir", str(tmp_path / "s")])
    assert result.exit_code == 1
    assert "['rosbags']" in result.output and "pip install 'rltrack[ros]'" in result.output
    assert not (tmp_path / "s").exists()
