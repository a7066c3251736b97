"""``rltrack import-bag`` through the real CLI group and store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from bagdata import BagContents
from click.testing import CliRunner

import rltrack
from rltrack.cli import main


def test_import_bag_into_a_new_run(tmp_path: Path, mcap_bag: BagContents) -> None:
    config = tmp_path / "topics.yaml"
    config.write_text("topics: [/odom]\nepisodes: {reward: /rl/reward, done: /rl/done}\n")
    result = CliRunner().invoke(
        main,
        [
            "import-bag",
            str(mcap_bag.path),
            "--project",
            "robot",
            "--name",
            "walk-1",
            "--config",
            str(config),
            "--dir",
            str(tmp_path / "store"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "imported 119 messages" in result.output and "3 episodes" in result.output
    (view,) = rltrack.Api(dir=tmp_path / "store").runs(project="robot")
    assert (view.name, view.state, view.sources) == ("walk-1", "finished", ["real"])
    np.testing.assert_allclose(view.series("episode/return", source="real")[2], mcap_bag.returns)


def test_import_bag_attaches_to_a_training_run(tmp_path: Path, sqlite_bag: BagContents) -> None:
    store = tmp_path / "store"
    with rltrack.init(project="robot", dir=store, system_metrics=False) as sim:
        sim.log({"train/loss": 0.1})
    result = CliRunner().invoke(
        main, ["import-bag", str(sqlite_bag.path), "--run", sim.id, "--topic", "/battery", "--dir", str(store)]
    )
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
    result = CliRunner().invoke(
        main,
        [
            "import-bag",
            str(sqlite_bag.path),
            "--run",
            sim.id,
            "--config",
            str(config),
            "--policy",
            "ppo-walker:deployed",
            "--dir",
            str(store),
        ],
    )
    assert result.exit_code == 0, result.output
    view = rltrack.Api(dir=store).run(sim.id)
    assert view.series("episode/return", source="real")[0].tolist() == [20_000] * 3
    version = rltrack.Api(dir=store).artifact("ppo-walker:deployed")
    assert [r.id for r in version.used_by] == [sim.id]
    assert view.config["policy"] == "ppo-walker:deployed" and view.config["policy_step"] == 20_000


def test_unknown_policy_is_a_warning_and_robot_steps_are_used(tmp_path: Path, sqlite_bag: BagContents) -> None:
    config = tmp_path / "topics.yaml"
    config.write_text("topics: []\nepisodes: {reward: /rl/reward, done: /rl/done}\n")
    result = CliRunner().invoke(
        main,
        [
            "import-bag",
            str(sqlite_bag.path),
            "--project",
            "robot",
            "--config",
            str(config),
            "--policy",
            "nope:latest",
            "--dir",
            str(tmp_path / "store"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "warning: policy 'nope:latest' not recorded as lineage" in result.output
    (view,) = rltrack.Api(dir=tmp_path / "store").runs(project="robot")
    assert view.series("episode/return", source="real")[0].tolist() == [5, 12, 16]


REAL = Path(__file__).resolve().parents[1] / "fixtures" / "real-bags"


def test_a_bad_topic_leaves_no_run_behind(tmp_path: Path, sqlite_bag: BagContents) -> None:
    result = CliRunner().invoke(
        main,
        ["import-bag", str(sqlite_bag.path), "--project", "robot", "--topic", "/odm", "--dir", str(tmp_path / "store")],
    )
    assert result.exit_code == 1
    assert "Error: topic '/odm' is not in bag" in result.output and "did you mean '/odom'?" in result.output
    assert not (tmp_path / "store").exists() or rltrack.Api(dir=tmp_path / "store").runs(project="robot") == []


def test_an_empty_recording_leaves_no_run_behind(tmp_path: Path) -> None:
    from rosbags.rosbag2 import Writer
    from rosbags.typesys import Stores, get_typestore

    with Writer(tmp_path / "empty", version=9) as writer:
        writer.add_connection("/odom", "nav_msgs/msg/Odometry", typestore=get_typestore(Stores.ROS2_JAZZY))
    result = CliRunner().invoke(
        main, ["import-bag", str(tmp_path / "empty"), "--project", "robot", "--dir", str(tmp_path / "store")]
    )
    assert result.exit_code == 1
    assert "nothing to import: the selected topics of" in result.output and "its topics: /odom (0)" in result.output
    assert not (tmp_path / "store").exists() or rltrack.Api(dir=tmp_path / "store").runs(project="robot") == []


def test_the_table_and_a_hint_for_topics_without_numbers(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["import-bag", str(REAL / "rb2_sqlite_talker"), "--project", "robot", "--dir", str(tmp_path / "store")]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines.index("topic   type                 read  expected  values  skipped") + 1 == lines.index(
        "/topic  std_msgs/msg/String    10        10       0  -"
    )
    assert "not selected: /parameter_events (0), /rosout (10)" in lines
    assert "hint: /topic (std_msgs/msg/String) carry no numeric fields, so they gave no values" in result.output


def test_ros1_bag_imports_from_the_cli(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        [
            "import-bag",
            str(REAL / "ros1_test_bag" / "test_bag.bag"),
            "--project",
            "robot",
            "--topic",
            "int_topic",
            "--dir",
            str(tmp_path / "store"),
        ],
    )
    assert result.exit_code == 0, result.output
    (view,) = rltrack.Api(dir=tmp_path / "store").runs(project="robot")
    assert view.keys(source="real") == ["int_topic/data"]
    assert len(view.series("int_topic/data", source="real")[2]) == 3


def test_strict_fails_the_run_and_says_why(tmp_path: Path) -> None:
    # One topic imports, one is skipped (JSON, not CDR): the run keeps what was read and fails.
    from test_q2_shapes import write_foreign_mcap

    write_foreign_mcap(tmp_path / "bag")
    args = ["import-bag", str(tmp_path / "bag"), "--project", "robot", "--strict", "--dir", str(tmp_path / "store")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert "warning: topic '/json': 0 of 40 messages read, 40 skipped: serialization format 'json' is not CDR" in (
        result.output
    )
    assert "--strict: messages were lost" in result.output
    (view,) = rltrack.Api(dir=tmp_path / "store").runs(project="robot")
    assert view.state == "failed"
    assert view.series("v/data", source="real")[2].tolist() == [i * 0.5 for i in range(40)]


def test_strict_on_a_recording_nothing_of_which_can_be_read_leaves_no_run(tmp_path: Path) -> None:
    # Was: an empty failed run; every selected topic is skipped (wrong_format) before reading a message.
    args = ["import-bag", str(REAL / "rb2_mcap_wrong_rmw"), "--project", "robot", "--strict",
            "--dir", str(tmp_path / "store")]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert "nothing to import: no selected topic of" in result.output
    assert "/test_topic (test_msgs/msg/BasicTypes: serialization format 'wrong_format' is not CDR)" in result.output
    assert not (tmp_path / "store" / "rltrack.db").exists() or rltrack.Api(dir=tmp_path / "store").runs() == []


def test_the_demos_bag_imports_its_episodes_without_a_config(tmp_path: Path) -> None:
    pytest.importorskip("gymnasium", reason="the demo's stand-in is a Gymnasium wrapper (rltrack[sb3])")
    from rltrack.demo.record import write_bag
    from rltrack.demo.standin import Episode

    rng = np.random.default_rng(0)
    episodes = [Episode(seed=k, measured=rng.normal(size=(n, 4)), state=rng.normal(size=(n, 4)),
                        action=np.zeros(n, dtype=np.int64), force_n=np.zeros(n), reward=np.ones(n), terminated=True)
                for k, n in enumerate((5, 8))]  # fmt: skip
    bag = write_bag(tmp_path / "demo", episodes, t0_ns=1_700_000_000_000_000_000)
    result = CliRunner().invoke(
        main, ["import-bag", str(bag.path), "--project", "robot", "--dir", str(tmp_path / "store")]
    )
    assert result.exit_code == 0, result.output
    assert "episodes: reward '/rl/reward', done '/rl/done' (found by name" in result.output
    assert "2 episodes" in result.output
    (view,) = rltrack.Api(dir=tmp_path / "store").runs(project="robot")
    assert view.series("episode/return", source="real")[2].tolist() == [5.0, 8.0]


def test_a_single_mcap_cut_before_its_channels_is_refused_naming_the_cut_and_its_tool(tmp_path: Path) -> None:
    # Was: "hold no messages; its topics: (none)", not a word that the file is cut.
    cut = tmp_path / "talker.mcap"
    cut.write_bytes((REAL / "rb2_mcap_talker" / "talker.mcap").read_bytes()[:200])
    args = ["import-bag", str(cut), "--project", "robot", "--dir", str(tmp_path / "store")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    said = " ".join(result.output.split())
    assert "nothing to import: the selected topics of" in said
    cut_note = "talker.mcap: the recording is cut short (the file is cut inside a record at byte 200)"
    assert f"its topics: (none); {cut_note}" in said
    assert "`mcap recover`" in said
    assert not (tmp_path / "store" / "rltrack.db").exists()
