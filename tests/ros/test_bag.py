"""Bag import end to end: rosbags-written fixtures -> import_bag -> the real store -> rltrack.Api."""

from __future__ import annotations

import contextlib
import re
import shutil
import sqlite3
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from bagdata import JOINTS, T0_NS, BagContents, odometry, stamp, write_bag
from rltrack_ros.bag import bag_paths, import_bag, topics_in
from rltrack_ros.errors import BagImportError
from rltrack_ros.topics import parse_config
from rosbags.rosbag2 import Writer
from rosbags.typesys import Stores, get_types_from_msg, get_typestore

import rltrack
from rltrack.errors import RltrackWarning

EPISODES = {"episodes": {"reward": "/rl/reward", "done": "/rl/done"}}
GENERIC_KEYS = 54  # keys the standard fixture gives (see test_import_writes_expected_keys)


def attach_real(store: Path) -> tuple[str, Any]:
    """A finished training run plus a second writer attached as source 'real'."""
    with rltrack.init(project="robot", dir=store, system_metrics=False) as sim:
        sim.log({"episode/return": 1.0}, step=100)
    return sim.id, rltrack.init(id=sim.id, resume="must", source="real", dir=store, system_metrics=False)


def imported(store: Path, bag: Path | str, config: dict[str, Any] | None = None, **kw: Any) -> tuple[Any, Any]:
    run_id, run = attach_real(store)
    result = import_bag(bag, run, parse_config(EPISODES if config is None else config), **kw)
    run.finish()
    return result, rltrack.Api(dir=store).run(run_id)


@pytest.fixture(params=["sqlite3", "mcap"])
def bag(request: pytest.FixtureRequest, sqlite_bag: BagContents, mcap_bag: BagContents) -> BagContents:
    return sqlite_bag if request.param == "sqlite3" else mcap_bag


def test_import_writes_expected_keys_counts_and_times(tmp_path: Path, bag: BagContents) -> None:
    result, view = imported(tmp_path, bag.path)
    assert result.messages == sum(bag.counts.values())
    keys = view.keys(source="real")
    assert len(keys) == GENERIC_KEYS
    assert {f"joint_states/{f}/{j}" for f in ("position", "velocity", "effort") for j in JOINTS} <= set(keys)
    assert {
        "episode/return",
        "episode/length",
        "rl/reward/data",
        "rl/done/data",
        "battery/cell_voltage/2",
        "diagnostics/motor_left/temperature",
        "imu/angular_velocity/x",
    } <= set(keys)
    assert not [k for k in keys if "covariance" in k or k.startswith("camera/")]
    _, t_ns, values = view.series("odom/pose/pose/position/x", source="real")
    assert len(values) == bag.counts["/odom"]
    assert t_ns.tolist() == [T0_NS + i * 20_000_000 for i in range(100)]
    np.testing.assert_allclose(values, [0.1 * i for i in range(100)])
    assert len(view.series("joint_states/effort/hip", source="real")[2]) == bag.counts["/joint_states"]
    assert view.keys(source="sim") == ["episode/return"]  # the training side is untouched


def test_episode_returns_equal_reward_sums(tmp_path: Path, bag: BagContents) -> None:
    _, view = imported(tmp_path, bag.path)
    steps, _, returns = view.series("episode/return", source="real")
    np.testing.assert_allclose(returns, bag.returns)
    assert view.series("episode/length", source="real")[2].tolist() == bag.lengths
    assert steps.tolist() == np.cumsum(bag.lengths).tolist()  # robot env steps at each episode's end


def test_policy_step_places_episodes_at_the_checkpoint(tmp_path: Path, sqlite_bag: BagContents) -> None:
    _, view = imported(tmp_path, sqlite_bag.path, step_offset=50_000)
    assert view.series("episode/return", source="real")[0].tolist() == [50_000] * 3


def test_cameras_become_videos_per_episode(tmp_path: Path, bag: BagContents) -> None:
    result, view = imported(tmp_path, bag.path)
    media = view.media(source="real")
    by_key: dict[str, list[Any]] = {}
    for m in media:
        by_key.setdefault(m.key, []).append(m)
    assert sorted(by_key) == ["camera/compressed/video", "camera/image_raw/video"]
    # three episodes end clips; frames after the last done form one more clip
    assert [m.step for m in by_key["camera/image_raw/video"]] == [5, 12, 16, 16]
    assert all(m.kind == "video" and m.path.is_file() and m.path.stat().st_size > 0 for m in media)
    assert result.videos == len(media)


def test_summary_counts_what_was_mirrored(tmp_path: Path, bag: BagContents) -> None:
    _, view = imported(tmp_path, bag.path)
    summary = view.summary_of("real")
    assert summary["_rltrack/ros/received"] == sum(bag.counts.values())
    assert summary["_rltrack/ros/logged/odom"] == 100
    assert summary["_rltrack/ros/episodes"] == 3


def test_sqlite_and_mcap_give_identical_values(tmp_path: Path, sqlite_bag: BagContents, mcap_bag: BagContents) -> None:
    _, a = imported(tmp_path / "a", sqlite_bag.path)
    _, b = imported(tmp_path / "b", mcap_bag.path)
    assert a.keys(source="real") == b.keys(source="real")
    for key in a.keys(source="real"):
        for x, y in zip(a.series(key, source="real"), b.series(key, source="real"), strict=True):
            np.testing.assert_array_equal(x, y)


def test_include_rename_and_max_rate_apply(tmp_path: Path, sqlite_bag: BagContents) -> None:
    config = {
        "topics": [
            {"topic": "/joint_states", "include": ["effort/*"], "max_rate_hz": 20},
            {"topic": "/battery", "rename": {"percentage": "battery/percent"}, "include": ["voltage"]},
        ]
    }
    _, view = imported(tmp_path, sqlite_bag.path, config)
    assert view.keys(source="real") == sorted(
        ["battery/percent", "battery/voltage"] + [f"joint_states/effort/{j}" for j in JOINTS]
    )
    assert len(view.series("joint_states/effort/hip", source="real")[2]) == 40  # 100 Hz for 2 s -> 20 Hz


def test_bare_mcap_file_and_folder_of_mcaps_import(tmp_path: Path, mcap_bag: BagContents) -> None:
    (mcap_file,) = mcap_bag.path.glob("*.mcap")
    folder = tmp_path / "only_mcap"
    folder.mkdir()
    shutil.copy(mcap_file, folder / "part0.mcap")
    assert bag_paths(mcap_file) == [mcap_file] and bag_paths(folder) == [folder / "part0.mcap"]
    for source in (mcap_file, folder):
        result, view = imported(tmp_path / source.name, source, {"topics": ["/odom"]})
        assert result.messages == 100 and len(view.keys(source="real")) == 13


def test_topics_in_lists_types_and_counts(sqlite_bag: BagContents) -> None:
    assert topics_in(sqlite_bag.path)["/odom"] == ("nav_msgs/msg/Odometry", 100)


def drop_definitions(bag: Path) -> None:
    """Make a rosbags sqlite3 bag look Humble-era: no message definitions stored."""
    (db,) = bag.glob("*.db3")
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM message_definitions")
    meta = bag / "metadata.yaml"
    meta.write_text(re.sub(r"type_description_hash: \S+", "type_description_hash: ''", meta.read_text()))


def test_humble_bag_without_definitions_uses_the_distro_store(tmp_path: Path) -> None:
    bag = write_bag(tmp_path / "humble", "sqlite3", distro="humble", version=8)
    drop_definitions(bag.path)
    result, view = imported(tmp_path / "store", bag.path, {"distro": "humble", **EPISODES})
    assert result.messages == sum(bag.counts.values()) and result.errors == 0
    np.testing.assert_allclose(view.series("episode/return", source="real")[2], bag.returns)


def write_custom_bag(path: Path, msg_root: Path) -> None:
    pkg = msg_root / "my_robot" / "msg"
    pkg.mkdir(parents=True)
    (pkg / "Wheel.msg").write_text("std_msgs/Header header\nfloat64 speed\nint32 ticks\n")
    ts = get_typestore(Stores.ROS2_JAZZY)
    ts.register(get_types_from_msg((pkg / "Wheel.msg").read_text(), "my_robot/msg/Wheel"))
    with Writer(path, version=8) as writer:
        wheel = writer.add_connection("/wheel", "my_robot/msg/Wheel", typestore=ts)
        odom = writer.add_connection("/odom", "nav_msgs/msg/Odometry", typestore=ts)
        for i in range(10):
            t = T0_NS + i * 1000
            msg = ts.types["my_robot/msg/Wheel"](header=stamp(ts, t), speed=0.5 * i, ticks=i)
            writer.write(wheel, t, bytes(ts.serialize_cdr(msg, "my_robot/msg/Wheel")))
            writer.write(odom, t, bytes(ts.serialize_cdr(odometry(ts, i, t), "nav_msgs/msg/Odometry")))
    drop_definitions(path)


def test_unknown_type_warns_once_and_other_topics_go_on(tmp_path: Path) -> None:
    write_custom_bag(tmp_path / "bag", tmp_path / "msgs")
    with pytest.warns(RltrackWarning, match="'my_robot/msg/Wheel' is unknown") as caught:
        result, view = imported(tmp_path / "store", tmp_path / "bag", {})
    assert len([w for w in caught if "my_robot" in str(w.message)]) == 1
    assert view.keys(source="real") == sorted(k for k in view.keys(source="real") if k.startswith("odom/"))
    assert len(view.series("odom/pose/pose/position/x", source="real")[2]) == 10
    assert result.messages == 20


def test_msg_dirs_decode_custom_types(tmp_path: Path) -> None:
    write_custom_bag(tmp_path / "bag", tmp_path / "msgs")
    config = {"topics": ["/wheel"], "msg_dirs": [str(tmp_path / "msgs")]}
    _, view = imported(tmp_path / "store", tmp_path / "bag", config)
    assert view.keys(source="real") == ["wheel/speed", "wheel/ticks"]
    assert view.series("wheel/ticks", source="real")[2].tolist() == list(range(10))


def readable_rows(db: Path, n: int) -> int:
    """Independent oracle: rows a point lookup by id can still read from a damaged database."""
    conn = sqlite3.connect(f"file:{db}?immutable=1", uri=True)
    ok = 0
    for rid in range(1, n + 1):
        with contextlib.suppress(sqlite3.DatabaseError):
            ok += conn.execute("SELECT data FROM messages WHERE id = ?", (rid,)).fetchone() is not None
    conn.close()
    return ok


def test_damaged_sqlite_bag_salvages_every_readable_row(tmp_path: Path) -> None:
    bag = write_bag(tmp_path / "bag", "sqlite3")
    (db,) = bag.path.glob("*.db3")
    data = bytearray(db.read_bytes())
    middle = len(data) // 4096 // 2 * 4096
    data[middle : middle + 4096] = b"\xff" * 4096
    db.write_bytes(bytes(data))
    readable = readable_rows(db, 451)
    assert 0 < readable < 451
    run_id, run = attach_real(tmp_path / "store")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = import_bag(bag.path, run, parse_config({}))
    run.finish()
    said = [str(w.message) for w in caught]
    assert [
        m
        for m in said
        if re.match(
            r"bag file bag\.db3: the database is damaged .*every readable row was imported.*`ros2 bag reindex`", m
        )
    ]
    assert result.messages == readable  # every readable row, not just those before the damage
    view = rltrack.Api(dir=tmp_path / "store").run(run_id)
    summary = view.summary_of("real")
    assert summary["_rltrack/ros/received"] == readable
    assert sum(v for k, v in summary.items() if k.startswith("_rltrack/ros/unread/")) == 451 - readable


def test_truncated_mcap_imports_what_a_stream_reader_recovers(tmp_path: Path, mcap_bag: BagContents) -> None:
    from mcap.reader import NonSeekingReader

    folder = tmp_path / "bag"
    shutil.copytree(mcap_bag.path, folder)  # metadata.yaml says how many messages there were
    (cut,) = folder.glob("*.mcap")
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])
    recovered = 0
    with open(cut, "rb") as f:  # the mcap library's forward reader, stopped by the cut
        try:
            for _ in NonSeekingReader(f).iter_messages():
                recovered += 1
        except Exception:  # it raises at the cut; what came before counts
            pass
    run_id, run = attach_real(tmp_path / "store")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = import_bag(folder, run, parse_config({}))
    run.finish()
    said = [str(w.message) for w in caught]
    assert [m for m in said if re.match(rf"bag file {cut.name}: the recording is cut short .*`mcap recover`", m)]
    assert [m for m in said if re.match(r"topic '/odom': \d+ of 100 messages read, \d+ unread", m)]
    assert recovered <= result.messages and 0 < result.messages < 451  # the library stops at the cut chunk
    view = rltrack.Api(dir=tmp_path / "store").run(run_id)
    _, t_ns, x = view.series("odom/pose/pose/position/x", source="real")
    assert t_ns.tolist() == [T0_NS + i * 20_000_000 for i in range(len(x))]  # a prefix, in order
    np.testing.assert_allclose(x, [0.1 * i for i in range(len(x))])


def test_missing_path_and_non_bag_are_refused(tmp_path: Path) -> None:
    with pytest.raises(BagImportError, match="does not exist"):
        bag_paths(tmp_path / "nope")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(BagImportError, match=r"'.*notes.txt' is not a bag"):
        bag_paths(tmp_path / "notes.txt")
    with pytest.raises(BagImportError, match=r"holds neither metadata\.yaml nor \.db3/\.mcap/\.bag files"):
        bag_paths(tmp_path)


def test_progress_reports_the_end(tmp_path: Path, sqlite_bag: BagContents) -> None:
    calls: list[tuple[int, int]] = []
    imported(tmp_path, sqlite_bag.path, {"topics": ["/odom"]}, progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (100, 100)
