"""``rltrack import-bag`` through the real CLI group and store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from bagdata import BagContents
from click.testing import CliRunner

import rltrack
from rltrack.cli import main


def test_import_bag_into_a_new_run(tmp_path: Path, mcap_bag: BagContents) -> None:
    config = tmp_path / "topics.yaml"
    config.write_text("topics: [/odom]\nepisodes: {reward: /rl/reward, done: /rl/done}\n")
    result = CliRunner().invoke(main, ["import-bag", str(mcap_bag.path), "--project", "robot", "--name", "walk-1",
                                       "--config", str(config), "--dir", str(tmp_path / "store")])
    assert result.exit_code == 0, result.output
    assert "imported 119 messages" in result.output and "3 episodes" in result.output
    (view,) = rltrack.Api(dir=tmp_path / "store").runs(project="robot")
    assert (view.name, view.state, view.sources) == ("walk-1", "finished", ["real"])
    np.testing.assert_allclose(view.series("episode/return", source="real")[2], mcap_bag.returns)


def test_import_bag_attaches_to_a_training_run(tmp_path: Path, sqlite_bag: BagContents) -> None:
    store = tmp_path / "store"
    with rltrack.init(project="robot", dir=store, system_metrics=False) as sim:
        sim.log({"train/loss": 0.1})
    result = CliRunner().invoke(main, ["import-bag", str(sqlite_bag.path), "--run", sim.id, "--topic", "/battery",
                                       "--dir", str(store)])
    assert result.exit_code == 0, result.output
    view = rltrack.Api(dir=store).run(sim.id)
    assert view.sources == ["sim", "real"]
    assert len(view.series("battery/voltage", source="real")[2]) == 4


def test_run_and_project_are_exclusive(tmp_path: Path, sqlite_bag: BagContents) -> None:
    result = CliRunner().invoke(main, ["import-bag", str(sqlite_bag.path), "--dir", str(tmp_path)])
    assert result.exit_code == 2 and "exactly one of --run ID" in result.output


def test_unknown_run_is_a_clean_error(tmp_path: Path, sqlite_bag: BagContents) -> None:
    result = CliRunner().invoke(main, ["import-bag", str(sqlite_bag.path), "--run", "nope", "--dir", str(tmp_path)])
    assert result.exit_code == 1 and "no run has id 'nope'" in result.output


def test_policy_artifact_places_real_episodes_at_its_training_step(tmp_path: Path, sqlite_bag: BagContents) -> None:
    store = tmp_path / "store"
    checkpoint = tmp_path / "policy.zip"
    checkpoint.write_bytes(b"weights")
    with rltrack.init(project="robot", dir=store, system_metrics=False) as sim:
        art = rltrack.Artifact("ppo-walker", type="model", metadata={"step": 20_000})
        art.add_file(checkpoint)
        sim.log_artifact(art, aliases=["deployed"])
    config = tmp_path / "topics.yaml"
    config.write_text("topics: []\nepisodes: {reward: /rl/reward, done: /rl/done}\n")
    result = CliRunner().invoke(main, ["import-bag", str(sqlite_bag.path), "--run", sim.id, "--config", str(config),
                                       "--policy", "ppo-walker:deployed", "--dir", str(store)])
    assert result.exit_code == 0, result.output
    view = rltrack.Api(dir=store).run(sim.id)
    assert view.series("episode/return", source="real")[0].tolist() == [20_000] * 3
    version = rltrack.Api(dir=store).artifact("ppo-walker:deployed")
    assert [r.id for r in version.used_by] == [sim.id]
    assert view.config["policy"] == "ppo-walker:deployed" and view.config["policy_step"] == 20_000


def test_unknown_policy_is_a_warning_and_robot_steps_are_used(tmp_path: Path, sqlite_bag: BagContents) -> None:
    config = tmp_path / "topics.yaml"
    config.write_text("topics: []\nepisodes: {reward: /rl/reward, done: /rl/done}\n")
    result = CliRunner().invoke(main, ["import-bag", str(sqlite_bag.path), "--project", "robot", "--config",
                                       str(config), "--policy", "nope:latest", "--dir", str(tmp_path / "store")])
    assert result.exit_code == 0, result.output
    assert "warning: policy 'nope:latest' not recorded as lineage" in result.output
    (view,) = rltrack.Api(dir=tmp_path / "store").runs(project="robot")
    assert view.series("episode/return", source="real")[0].tolist() == [5, 12, 16]
