"""Recordings shaped like the field's, written with rosbags' writers: slashless topics, a service schema
rosbags cannot parse, cut and damaged files, a cut zstd part, ``strict``."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from bagdata import T0_NS, BagContents, odometry
from rltrack_ros.bag import import_bag, open_for
from rltrack_ros.errors import BagImportError
from rltrack_ros.topics import parse_config
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

import rltrack

#: A service definition stored as a message schema, as Jazzy's --all-services recordings carry them.
SERVICE_SCHEMA = "int64 a\nint64 b\n---\nint64 sum\n" + "# padding so the schema is long\n" * 40


def import_recording(path: Path, store: Path, config: dict[str, Any], **kw: Any) -> tuple[Any, Any, list[str]]:
    with (
        rltrack.init(project="shapes", dir=store, source="real", system_metrics=False) as run,
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always")
        result = import_bag(path, run, parse_config(config), **kw)
    return result, rltrack.Api(dir=store).run(run.id), [str(w.message) for w in caught]


def write_slashless(path: Path, storage: StoragePlugin = StoragePlugin.SQLITE3) -> None:
    """A ROS 1 -> ROS 2 conversion's naming: topics without a leading slash, a slashless rosout."""
    ts = get_typestore(Stores.ROS2_JAZZY)
    with Writer(path, version=9, storage_plugin=storage) as writer:
        truth = writer.add_connection("groundtruth", "nav_msgs/msg/Odometry", typestore=ts)
        log = writer.add_connection("rosout", "rcl_interfaces/msg/Log", typestore=ts)
        for i in range(12):
            t = T0_NS + i * 10_000_000
            writer.write(truth, t, ts.serialize_cdr(odometry(ts, i, t), "nav_msgs/msg/Odometry"))
            msg = ts.types["rcl_interfaces/msg/Log"](
                stamp=ts.types["builtin_interfaces/msg/Time"](sec=1, nanosec=0), level=20, name="n", msg="hi",
                file="f", function="g", line=i,
            )  # fmt: skip
            writer.write(log, t, ts.serialize_cdr(msg, "rcl_interfaces/msg/Log"))


@pytest.mark.parametrize("name", ["groundtruth", "/groundtruth"])
def test_slashless_topics_match_either_spelling(tmp_path: Path, name: str) -> None:
    write_slashless(tmp_path / "bag")
    result, view, _ = import_recording(tmp_path / "bag", tmp_path / "store", {"topics": [name]})
    assert result.messages == 12
    assert len(view.series("groundtruth/pose/pose/position/x", source="real")[2]) == 12


def test_slashless_rosout_is_ignored_like_rosout(tmp_path: Path) -> None:
    write_slashless(tmp_path / "bag", StoragePlugin.MCAP)
    result, view, _ = import_recording(tmp_path / "bag", tmp_path / "store", {})
    assert result.messages == 12
    assert not [k for k in view.keys(source="real") if k.startswith("rosout")]


def test_a_topic_not_in_the_bag_is_refused_with_a_close_match(tmp_path: Path) -> None:
    write_slashless(tmp_path / "bag")
    with pytest.raises(BagImportError) as info:
        open_for(tmp_path / "bag", parse_config({"topics": ["/groundtruht"]}))
    assert str(info.value) == (
        f"topic '/groundtruht' is not in bag '{tmp_path / 'bag'}'; did you mean '/groundtruth'? "
        "Its topics: /groundtruth, /rosout"
    )


def write_with_service_events(path: Path) -> None:
    ts = get_typestore(Stores.ROS2_JAZZY)
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        odom = writer.add_connection("/odom", "nav_msgs/msg/Odometry", typestore=ts)
        event = writer.add_connection(
            "/add/_service_event",
            "example_interfaces/srv/AddTwoInts_Event",
            msgdef=SERVICE_SCHEMA,
            rihs01="RIHS01_" + "0" * 64,
        )
        for i in range(10):
            t = T0_NS + i * 1000
            writer.write(odom, t, ts.serialize_cdr(odometry(ts, i, t), "nav_msgs/msg/Odometry"))
            writer.write(event, t, b"\x00\x01\x00\x00" + bytes(16))


@pytest.mark.parametrize("config", [{}, {"topics": ["/odom"]}])
def test_an_unparseable_schema_skips_only_its_channel(tmp_path: Path, config: dict[str, Any]) -> None:
    write_with_service_events(tmp_path / "bag")
    result, view, said = import_recording(tmp_path / "bag", tmp_path / "store", config)
    assert result.messages == 10
    assert len(view.series("odom/pose/pose/position/x", source="real")[2]) == 10
    skipped = [m for m in said if "_service_event" in m]
    if config:  # not selected: its schema is never parsed, nothing to say
        assert skipped == []
    else:
        (line,) = skipped
        assert line.startswith("topic '/add/_service_event': 0 of 10 messages read, 10 skipped: its schema cannot be")
        assert len(line) < 300  # no schema dump


def test_cut_sqlite_file_imports_its_readable_rows(tmp_path: Path, sqlite_bag: BagContents) -> None:
    folder = tmp_path / "bag"
    shutil.copytree(sqlite_bag.path, folder)
    (db,) = folder.glob("*.db3")
    db.write_bytes(db.read_bytes()[: db.stat().st_size * 2 // 3])
    result, view, said = import_recording(folder, tmp_path / "store", {})
    assert [m for m in said if m.startswith(f"bag file {db.name}: the file is cut short (66 of 100 pages)")]
    assert 0 < result.messages < 451
    _, t_ns, x = view.series("odom/pose/pose/position/x", source="real")
    index = ((t_ns - T0_NS) // 20_000_000).tolist()
    np.testing.assert_allclose(x, [0.1 * i for i in index])  # each value where it belongs


def test_cut_zstd_part_names_the_file_and_the_other_parts_import(tmp_path: Path) -> None:
    src = Path(__file__).resolve().parents[1] / "fixtures" / "real-bags" / "rb2_file_compression_withmeta"
    folder = tmp_path / "bag"
    shutil.copytree(src, folder)
    part = folder / "file_compression_1.db3.zstd"
    part.write_bytes(part.read_bytes()[:2000])
    result, _, said = import_recording(folder, tmp_path / "store", {})
    assert [m for m in said if m.startswith("bag file file_compression_1.db3.zstd: ")]
    assert 0 < result.messages < 383


def test_strict_refuses_a_shortfall_after_storing_what_was_read(tmp_path: Path) -> None:
    write_with_service_events(tmp_path / "bag")
    with (
        rltrack.init(project="shapes", dir=tmp_path / "store", source="real", system_metrics=False) as run,
        pytest.raises(BagImportError, match=r"--strict: messages were lost .*'/add/_service_event': 0 of 10"),
        warnings.catch_warnings(record=True),
    ):
        warnings.simplefilter("always")
        import_bag(tmp_path / "bag", run, parse_config({}), strict=True)
    view = rltrack.Api(dir=tmp_path / "store").run(run.id)
    assert len(view.series("odom/pose/pose/position/x", source="real")[2]) == 10


def write_odometry(path: Path, n: int, storage: StoragePlugin) -> None:
    ts = get_typestore(Stores.ROS2_JAZZY)
    with Writer(path, version=9, storage_plugin=storage) as writer:
        odom = writer.add_connection("/odom", "nav_msgs/msg/Odometry", typestore=ts)
        for i in range(n):
            t = T0_NS + i * 1_000_000
            writer.write(odom, t, ts.serialize_cdr(odometry(ts, i, t), "nav_msgs/msg/Odometry"))


def test_a_damaged_mcap_chunk_is_skipped_and_the_others_import(tmp_path: Path) -> None:
    from mcap.reader import make_reader

    write_odometry(tmp_path / "bag", 6000, StoragePlugin.MCAP)  # 1 MiB chunks: about four
    (mcap,) = (tmp_path / "bag").glob("*.mcap")
    with mcap.open("rb") as f:
        chunks = make_reader(f).get_summary().chunk_indexes  # type: ignore[union-attr]
    assert len(chunks) >= 3
    bad = chunks[1]
    data = bytearray(mcap.read_bytes())
    data[bad.chunk_start_offset + 9 + 16] ^= 0x01  # its uncompressed size: the chunk does not add up
    mcap.write_bytes(bytes(data))
    lost = sum(bad.message_start_time <= T0_NS + i * 1_000_000 <= bad.message_end_time for i in range(6000))
    result, view, said = import_recording(tmp_path / "bag", tmp_path / "store", {})
    assert result.messages == 6000 - lost and 0 < lost < 6000
    assert len(view.series("odom/pose/pose/position/x", source="real")[2]) == 6000 - lost
    assert [m for m in said if m.startswith(f"bag file {mcap.name}: 1 chunk(s) failed their checksum or decompression")]
    assert [m for m in said if m == f"topic '/odom': {6000 - lost} of 6000 messages read, {lost} unread "
            "(the recording lists 6000)"]  # fmt: skip


def test_messages_left_in_the_write_ahead_log_are_read(tmp_path: Path) -> None:
    import sqlite3

    write_odometry(tmp_path / "bag", 10, StoragePlugin.SQLITE3)
    (db,) = (tmp_path / "bag").glob("*.db3")
    # A recorder that lost power: rows committed to the WAL, never checkpointed into the database.
    live = sqlite3.connect(db)
    live.execute("PRAGMA journal_mode=WAL")
    live.execute("PRAGMA wal_autocheckpoint=0")
    (raw,) = live.execute("SELECT data FROM messages LIMIT 1").fetchone()
    with live:
        live.executemany("INSERT INTO messages (topic_id, timestamp, data) VALUES (1, ?, ?)",
                         [(T0_NS + 10_000_000 + i, raw) for i in range(5)])  # fmt: skip
    crashed = tmp_path / "crashed"
    crashed.mkdir()
    for f in (tmp_path / "bag").iterdir():
        shutil.copy(f, crashed / f.name)  # copied while the writer is open: the WAL holds the 5 rows
    live.close()
    assert Path(f"{crashed / db.name}-wal").stat().st_size > 0
    result, _, _ = import_recording(crashed, tmp_path / "store", {})
    assert result.messages == 15


def test_a_ros1_bag_without_its_index_names_the_file_and_the_repair_tool(tmp_path: Path) -> None:
    src = Path(__file__).resolve().parents[1] / "fixtures" / "real-bags" / "ros1_test_bag" / "test_bag.bag"
    cut = tmp_path / "cut.bag"
    cut.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    with pytest.raises(BagImportError) as info:
        open_for(cut, parse_config({}))
    message = str(info.value)
    assert message.startswith(f"cannot open bag '{cut}': cut.bag: cannot be opened (")
    assert message.endswith("(`rosbag reindex` repairs a ROS 1 bag whose index was not written)")
