"""Field shapes through ``rltrack import-bag`` as a user types it, on bags written with rosbags' writers."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from bagdata import T0_NS, odometry
from click.testing import CliRunner
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

import rltrack
from rltrack.cli import main

TS = get_typestore(Stores.ROS2_JAZZY)
F32, BOOL, ODOM = "std_msgs/msg/Float32", "std_msgs/msg/Bool", "nav_msgs/msg/Odometry"


def cli(path: Path, store: Path, *extra: str) -> tuple[int, str, list[rltrack.RunView]]:
    result = CliRunner().invoke(main, ["import-bag", str(path), "--project", "q2", "--dir", str(store), *extra])
    runs = rltrack.Api(dir=store).runs(project="q2") if (store / "rltrack.db").exists() else []
    return result.exit_code, result.output, runs


def write_rl_bag(path: Path) -> None:
    """Reward and done topics without the leading slash (a rosbag2_py or converted recording's names)."""
    with Writer(path, version=9, storage_plugin=StoragePlugin.SQLITE3) as writer:
        reward = writer.add_connection("rl/reward", F32, typestore=TS)
        done = writer.add_connection("rl/done", BOOL, typestore=TS)
        for i in range(10):
            writer.write(reward, T0_NS + i * 10**7, TS.serialize_cdr(TS.types[F32](data=float(i)), F32))
            if i % 5 == 4:
                writer.write(done, T0_NS + i * 10**7 + 1, TS.serialize_cdr(TS.types[BOOL](data=True), BOOL))


@pytest.mark.parametrize("topic", ["rl/reward", "/rl/reward"])
def test_topic_option_with_episodes_found_by_name_decodes_the_done_topic(tmp_path: Path, topic: str) -> None:
    # --topic narrows the types built before the episode topics are guessed: /rl/done was "of an unknown type".
    write_rl_bag(tmp_path / "bag")
    code, out, (view,) = cli(tmp_path / "bag", tmp_path / "store", "--topic", topic)
    assert code == 0, out
    assert "episodes: reward '/rl/reward', done '/rl/done' (found by name" in out
    assert "unknown to the decoder" not in out and "2 episodes" in out
    np.testing.assert_allclose(view.series("episode/return", source="real")[2], [10.0, 35.0])


@pytest.mark.parametrize("storage", [StoragePlugin.SQLITE3, StoragePlugin.MCAP])
def test_qos_in_metadata_differing_from_the_storage_reads_every_message(tmp_path: Path, storage: StoragePlugin) -> None:
    bag = tmp_path / "bag"
    with Writer(bag, version=8, storage_plugin=storage) as writer:
        conn = writer.add_connection("/odom", ODOM, typestore=TS, offered_qos_profiles="")
        for i in range(10):
            t = T0_NS + i * 10**7
            writer.write(conn, t, TS.serialize_cdr(odometry(TS, i, t), ODOM))
    meta = bag / "metadata.yaml"
    qos = '"- history: 3\\n  depth: 0\\n  reliability: 1\\n  durability: 2"'
    meta.write_text(re.sub(r"offered_qos_profiles: .*", f"offered_qos_profiles: {qos}", meta.read_text()))
    code, out, (view,) = cli(bag, tmp_path / "store")
    assert code == 0, out
    assert re.search(r"^/odom +nav_msgs/msg/Odometry +10 +10 +10 +-$", out, re.M), out
    assert len(view.series("odom/pose/pose/position/x", source="real")[2]) == 10


def test_the_demo_bag_alone_finds_its_episodes(tmp_path: Path) -> None:
    pytest.importorskip("gymnasium", reason="the demo's episodes come from rltrack[demo] (gymnasium)")
    from rltrack.demo.record import write_bag
    from rltrack.demo.standin import Episode

    episodes = [
        Episode(seed=s, measured=np.zeros((20 + s, 4)), state=np.zeros((20 + s, 4)),
                action=np.zeros(20 + s, dtype=np.int64), force_n=np.zeros(20 + s), reward=np.ones(20 + s),
                terminated=True)
        for s in range(3)
    ]  # fmt: skip
    (tmp_path / "bags").mkdir()
    recorded = write_bag(tmp_path / "bags" / "sim", episodes, t0_ns=T0_NS)
    code, out, (view,) = cli(recorded.path, tmp_path / "store")
    assert code == 0, out
    assert "3 episodes" in out
    np.testing.assert_allclose(view.series("episode/return", source="real")[2], [20.0, 21.0, 22.0])


@pytest.mark.parametrize("storage", [StoragePlugin.SQLITE3, StoragePlugin.MCAP])
def test_a_topic_recorded_with_two_types_expects_the_messages_of_both(tmp_path: Path, storage: StoragePlugin) -> None:
    # metadata.yaml lists such a topic once per type: the expectation is their sum (was: the last entry's count).
    f64 = "std_msgs/msg/Float64"
    with Writer(tmp_path / "bag", version=9, storage_plugin=storage) as writer:
        a = writer.add_connection("/x", F32, typestore=TS)
        b = writer.add_connection("/x", f64, typestore=TS)
        for i in range(5):
            writer.write(a, T0_NS + i * 10**7, TS.serialize_cdr(TS.types[F32](data=float(i)), F32))
            writer.write(b, T0_NS + i * 10**7 + 1, TS.serialize_cdr(TS.types[f64](data=100.0 + i), f64))
    code, out, (view,) = cli(tmp_path / "bag", tmp_path / "store", "--strict")
    assert code == 0, out
    assert re.search(r"^/x +std_msgs/msg/Float32 +10 +10 +10 +-$", out, re.M), out
    assert "messages read" not in out
    assert sorted(view.series("x/data", source="real")[2].tolist()) == [0, 1, 2, 3, 4, 100, 101, 102, 103, 104]


@pytest.mark.parametrize("storage", [StoragePlugin.SQLITE3, StoragePlugin.MCAP])
def test_stale_metadata_listing_no_messages_imports_what_the_files_hold(tmp_path: Path, storage: StoragePlugin) -> None:
    # metadata.yaml written before the recording ended lists 0 messages: it was refused as "nothing to import".
    bag = tmp_path / "bag"
    with Writer(bag, version=9, storage_plugin=storage) as writer:
        conn = writer.add_connection("/odom", ODOM, typestore=TS)
        for i in range(10):
            t = T0_NS + i * 10**7
            writer.write(conn, t, TS.serialize_cdr(odometry(TS, i, t), ODOM))
    meta = bag / "metadata.yaml"
    meta.write_text(re.sub(r"message_count: \d+", "message_count: 0", meta.read_text()))
    code, out, (view,) = cli(bag, tmp_path / "store", "--strict")
    assert code == 0, out
    assert "warning: metadata.yaml lists fewer messages than the files hold" in out
    assert re.search(r"^/odom +nav_msgs/msg/Odometry +10 +10 +10 +-$", out, re.M), out
    assert len(view.series("odom/pose/pose/position/x", source="real")[2]) == 10


def write_foreign_mcap(path: Path, n: int = 40) -> None:
    """An MCAP from a non-ROS tool: no profile, a JSON channel beside a CDR one (rosbags' reader refuses it)."""
    from mcap.writer import Writer as McapWriter

    f64 = "std_msgs/msg/Float64"
    path.mkdir()
    with (path / "tool.mcap").open("wb") as fh:
        writer = McapWriter(fh, chunk_size=256)
        writer.start(profile="", library="a non-ROS tool")
        cdr = writer.register_channel("/v", "cdr", writer.register_schema(f64, "ros2msg", b"float64 data"))
        js = writer.register_channel("/json", "json", writer.register_schema("foo.Bar", "jsonschema", b"{}"))
        for i in range(n):
            t = T0_NS + i * 10**6
            writer.add_message(cdr, t, bytes(TS.serialize_cdr(TS.types[f64](data=i * 0.5), f64)), t)
            writer.add_message(js, t, b'{"x": 1}', t)
        writer.finish()


def test_an_mcap_rosbags_refuses_is_counted_and_its_json_channel_says_why(tmp_path: Path) -> None:
    pytest.importorskip("mcap.writer", reason="mcap is a dev dependency (rltrack[dev])")
    write_foreign_mcap(tmp_path / "bag")
    code, out, (view,) = cli(tmp_path / "bag", tmp_path / "store")
    assert code == 0, out
    assert view.series("v/data", source="real")[2].tolist() == [i * 0.5 for i in range(40)]
    assert re.search(r"^/json +foo\.Bar +0 +40 +0 +40 skipped: serialization format 'json' is not CDR$", out, re.M)
    assert re.search(r"^/v +std_msgs/msg/Float64 +40 +40 +40 +-$", out, re.M), out
    # Cut inside its data: counts are unknown, the JSON channel still says why it was skipped.
    data = (tmp_path / "bag" / "tool.mcap").read_bytes()
    (tmp_path / "bag" / "tool.mcap").write_bytes(data[: len(data) // 3])
    code, out, _ = cli(tmp_path / "bag", tmp_path / "store2")
    assert code == 0, out
    assert re.search(r"^/json +foo\.Bar +0 +\? +0 +skipped: serialization format 'json' is not CDR$", out, re.M), out
    assert "bag file tool.mcap: the recording is cut short" in out


def test_a_long_path_that_gives_no_values_hints_at_max_array(tmp_path: Path) -> None:
    # A nav2 plan of 100 poses is one array longer than max_array: "no numeric fields" alone misled.
    t = TS.types
    quat = t["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.0, w=1.0)

    def pose(k: int) -> object:
        point = t["geometry_msgs/msg/Point"](x=k * 0.1, y=0.0, z=0.0)
        head = t["std_msgs/msg/Header"](stamp=t["builtin_interfaces/msg/Time"](sec=1, nanosec=k), frame_id="map")
        return t["geometry_msgs/msg/PoseStamped"](header=head, pose=t["geometry_msgs/msg/Pose"](position=point,
                                                                                               orientation=quat))

    msg = t["nav_msgs/msg/Path"](header=t["std_msgs/msg/Header"](stamp=t["builtin_interfaces/msg/Time"](sec=1,
                                 nanosec=0), frame_id="map"), poses=[pose(k) for k in range(100)])  # fmt: skip
    with Writer(tmp_path / "bag", version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        conn = writer.add_connection("/plan", "nav_msgs/msg/Path", typestore=TS)
        writer.write(conn, T0_NS, TS.serialize_cdr(msg, "nav_msgs/msg/Path"))
    code, out, _ = cli(tmp_path / "bag", tmp_path / "store")
    assert code == 0, out
    assert "hint: /plan (nav_msgs/msg/Path) carry no numeric fields" in out
    assert "except in arrays longer than max_array (64 unless a --config topic entry sets 'max_array'" in out
    config = tmp_path / "plan.yaml"
    config.write_text("topics:\n  - {topic: /plan, max_array: 100}\n")
    code, out, (view,) = cli(tmp_path / "bag", tmp_path / "store2", "--config", str(config))
    assert code == 0 and "hint:" not in out, out
    assert view.series("plan/poses/99/pose/position/x", source="real")[2].tolist() == [pytest.approx(9.9)]


def test_importing_the_same_bag_twice_into_a_run_is_refused(tmp_path: Path) -> None:
    # Re-running the command (to add --msg-dir, after a warning) stored every value twice.
    write_rl_bag(tmp_path / "bag")
    code, out, (view,) = cli(tmp_path / "bag", tmp_path / "store")
    assert code == 0, out
    again = CliRunner().invoke(main, ["import-bag", str(tmp_path / "bag"), "--run", view.id, "--dir",
                                      str(tmp_path / "store")])  # fmt: skip
    assert again.exit_code == 1
    assert f"is already imported into run {view.id!r} as source 'real'; importing it again would store" in again.output
    # Under another source it is a second copy on purpose; the API refuses like the CLI.
    other = CliRunner().invoke(main, ["import-bag", str(tmp_path / "bag"), "--run", view.id, "--source", "replay",
                                      "--dir", str(tmp_path / "store")])  # fmt: skip
    assert other.exit_code == 0, other.output
    from rltrack_ros.bag import import_bag
    from rltrack_ros.errors import BagImportError
    from rltrack_ros.topics import parse_config

    with (
        rltrack.init(id=view.id, resume="must", source="real", dir=tmp_path / "store", system_metrics=False) as run,
        pytest.raises(BagImportError, match="is already imported into run"),
    ):
        import_bag(tmp_path / "bag", run, parse_config({}))
    view = rltrack.Api(dir=tmp_path / "store").run(view.id)
    assert len(view.series("rl/reward/data", source="real")[2]) == 10
    assert len(view.series("rl/reward/data", source="replay")[2]) == 10


def test_a_folder_of_recordings_names_them(tmp_path: Path) -> None:
    write_rl_bag(tmp_path / "bags" / "morning")
    write_rl_bag(tmp_path / "bags" / "evening")
    code, out, runs = cli(tmp_path / "bags", tmp_path / "store")
    assert code == 1 and runs == []
    bags = tmp_path / "bags"
    assert f"it holds recordings: {bags / 'evening'}, {bags / 'morning'} (import each)" in out.replace("\n", " ")


def test_two_recordings_into_one_run_add_up_their_counters(tmp_path: Path) -> None:
    # The second import replaced the first's counters: 20 values stored, the summary said 10 received.
    for name in ("a", "b"):
        with Writer(tmp_path / name, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
            conn = writer.add_connection("/odom", ODOM, typestore=TS)
            for i in range(10):
                t = T0_NS + i * 10**7 + (0 if name == "a" else 10**9)
                writer.write(conn, t, TS.serialize_cdr(odometry(TS, i, t), ODOM))
    code, out, (view,) = cli(tmp_path / "a", tmp_path / "store")
    assert code == 0, out
    again = CliRunner().invoke(main, ["import-bag", str(tmp_path / "b"), "--run", view.id, "--dir",
                                      str(tmp_path / "store")])  # fmt: skip
    assert again.exit_code == 0, again.output
    view = rltrack.Api(dir=tmp_path / "store").run(view.id)
    assert len(view.series("odom/pose/pose/position/x", source="real")[2]) == 20
    summary = view.summary_of("real")
    assert [summary[f"_rltrack/ros/{k}"] for k in ("received", "logged", "received/odom", "expected/odom")] == [20] * 4


def test_tf_messages_with_more_than_64_transforms_are_keyed_by_frame(tmp_path: Path) -> None:
    # A robot's /tf_static holds every fixed frame in one message (often over 64); max_array (64) dropped
    # the whole message, and the hint said TFMessage carries no numeric fields.
    t = TS.types

    def transform(parent: str, child: str, t_ns: int, x: float) -> object:
        stamp = t["builtin_interfaces/msg/Time"](sec=t_ns // 10**9, nanosec=t_ns % 10**9)
        return t["geometry_msgs/msg/TransformStamped"](
            header=t["std_msgs/msg/Header"](stamp=stamp, frame_id=parent), child_frame_id=child,
            transform=t["geometry_msgs/msg/Transform"](
                translation=t["geometry_msgs/msg/Vector3"](x=x, y=0.0, z=0.0),
                rotation=t["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.0, w=1.0)),
        )  # fmt: skip

    tf = "tf2_msgs/msg/TFMessage"
    with Writer(tmp_path / "bag", version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        static = writer.add_connection("/tf_static", tf, typestore=TS)
        moving = writer.add_connection("/tf", tf, typestore=TS)
        links = [transform("base_link", f"link_{i}", T0_NS, float(i)) for i in range(100)]
        writer.write(static, T0_NS, TS.serialize_cdr(t[tf](transforms=links), tf))
        for k in range(5):
            t_ns = T0_NS + k * 10**8
            chain = [transform(f"link_{i}", f"link_{i + 1}", t_ns - i * 1000, k + i / 100) for i in range(70)]
            writer.write(moving, t_ns, TS.serialize_cdr(t[tf](transforms=chain), tf))
    code, out, (view,) = cli(tmp_path / "bag", tmp_path / "store", "--clock", "header")
    assert code == 0, out
    assert "carry no numeric fields" not in out
    keys = set(view.keys(source="real"))
    assert {f"tf_static/base_link/link_{i}/translation/x" for i in range(100)} <= keys
    assert {f"tf/link_{i}/link_{i + 1}/rotation/w" for i in range(70)} <= keys
    _, t_ns, x = view.series("tf_static/base_link/link_99/translation/x", source="real")
    assert (t_ns.tolist(), x.tolist()) == ([T0_NS], [99.0])
    _, t_ns, x = view.series("tf/link_69/link_70/translation/x", source="real")
    assert t_ns.tolist() == [T0_NS + k * 10**8 - 69_000 for k in range(5)]  # each transform at its own stamp
    assert x.tolist() == [k + 0.69 for k in range(5)]


def write_humble_range_bag(path: Path) -> list[float]:
    """A Humble-era sqlite3 recording: metadata.yaml version 5, no stored definitions, sensor_msgs/Range."""
    import sqlite3

    humble = get_typestore(Stores.ROS2_HUMBLE)
    t, rng = humble.types, "sensor_msgs/msg/Range"
    ranges = [1.0 + i for i in range(5)]
    with Writer(path, version=8) as writer:
        conn = writer.add_connection("/sonar", rng, typestore=humble)
        for i, r in enumerate(ranges):
            t_ns = T0_NS + i * 10**8
            stamp = t["builtin_interfaces/msg/Time"](sec=t_ns // 10**9, nanosec=t_ns % 10**9)
            msg = t[rng](header=t["std_msgs/msg/Header"](stamp=stamp, frame_id="sonar"), radiation_type=0,
                         field_of_view=0.5, min_range=0.1, max_range=4.0, range=r)  # fmt: skip
            writer.write(conn, t_ns, humble.serialize_cdr(msg, rng))
    db = sqlite3.connect(path / f"{path.name}.db3")
    db.executescript("DROP TABLE message_definitions; DROP TABLE IF EXISTS schema;")
    db.close()
    meta = path / "metadata.yaml"
    text = meta.read_text()
    meta.write_text(re.sub(r"(?m)^  version: 8$", "  version: 5", re.sub(r"(?m)^ *ros_distro:.*\n", "", text)))
    return ranges


def test_a_humble_era_recording_without_definitions_is_read_with_humble_types(tmp_path: Path) -> None:
    # Was: every Range undecodable ('buffer of at least 40 bytes'): Jazzy's Range has one more field
    # (variance), and jazzy was the typestore for types a Humble bag does not define.
    ranges = write_humble_range_bag(tmp_path / "humble_bag")
    code, out, (view,) = cli(tmp_path / "humble_bag", tmp_path / "store")
    assert code == 0, out
    assert re.search(r"^/sonar +sensor_msgs/msg/Range +5 +5 +5 +-$", out, re.M), out
    assert view.series("sonar/range", source="real")[2].tolist() == ranges
    # A distro the user names is used as given.
    code, out, _ = cli(tmp_path / "humble_bag", tmp_path / "store2", "--distro", "jazzy")
    assert re.search(r"^/sonar +sensor_msgs/msg/Range +5 +5 +0 +5 undecodable$", out, re.M), out
