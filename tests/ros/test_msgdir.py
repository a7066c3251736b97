"""``--msg-dir`` on real recordings: legacy ``pkg/Name`` type names, ``.srv`` service events, big integers.

Fixtures (tests/fixtures/decode, see its SOURCES.txt): ros2/rosbag2's ``test_bag_for_seek`` (an
MCAP whose channel says ``test_msgs/BasicTypes``) and ``bag_with_topics_and_service_events`` (a
sqlite3 bag with ``test_msgs/srv/BasicTypes_Event`` channels and no definitions for them), with
test_msgs' real ``.msg``/``.srv`` files. The oracle reads the storage itself (mcap's reader,
sqlite3) and decodes with rosbags; every value must be in the run at its time.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from rltrack_ros import import_bag
from rltrack_ros.decode import Decoder, load_msg_dirs
from rltrack_ros.mirror import Mirror
from rltrack_ros.topics import parse_config
from rosbags.typesys import Stores, get_typestore

import rltrack
from rltrack.cli import main
from rltrack.errors import RltrackWarning

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "decode"
MSGDEFS = FIXTURES / "msgdefs"
BASIC = ("bool_value", "byte_value", "char_value", "float32_value", "float64_value", "int8_value", "uint8_value",
         "int16_value", "uint16_value", "int32_value", "uint32_value", "int64_value", "uint64_value")  # fmt: skip


def typestore() -> Any:
    ts = get_typestore(Stores.ROS2_JAZZY)
    load_msg_dirs(ts, [MSGDEFS])
    return ts


def number(value: Any) -> float:
    return float(value)


def series(store: Path, key: str) -> list[tuple[int, float]]:
    (view,) = rltrack.Api(dir=store).runs()
    _, t_ns, values = view.series(key, source="real")
    return list(zip(t_ns.tolist(), values.tolist(), strict=True))


def test_legacy_type_name_in_a_real_mcap_imports_every_field(tmp_path: Path) -> None:
    from mcap.reader import make_reader

    ts = typestore()
    want: dict[str, list[tuple[int, float]]] = {f"topic1/{f}": [] for f in BASIC}
    (path,) = (FIXTURES / "rb2_mcap_seek").glob("*.mcap")
    with path.open("rb") as f:
        for schema, channel, message in make_reader(f).iter_messages():
            assert (schema.name, channel.topic) == ("test_msgs/BasicTypes", "topic1")  # the legacy spelling
            msg = ts.deserialize_cdr(message.data, "test_msgs/msg/BasicTypes")
            for name in BASIC:  # no header: the run's clock is the log time
                want[f"topic1/{name}"].append((message.log_time, number(getattr(msg, name))))
    result = CliRunner().invoke(main, ["import-bag", str(FIXTURES / "rb2_mcap_seek"), "--project", "seek",
                                       "--msg-dir", str(MSGDEFS), "--dir", str(tmp_path)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert sum(len(v) for v in want.values()) == 5 * len(BASIC)
    for key, points in want.items():
        assert series(tmp_path, key) == points, key


def service_event_oracle(db: Path, ts: Any) -> dict[str, list[tuple[int, float]]]:
    want: dict[str, list[tuple[int, float]]] = {}
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT t.name, t.type, m.timestamp, m.data FROM messages m "
                           "JOIN topics t ON t.id = m.topic_id ORDER BY m.timestamp").fetchall()  # fmt: skip
    finally:
        con.close()
    for topic, msgtype, t_ns, data in rows:
        if not msgtype.endswith("_Event"):
            continue
        assert msgtype == "test_msgs/srv/BasicTypes_Event"
        msg = ts.deserialize_cdr(data, msgtype)
        prefix = topic.strip("/")
        values = {f"{prefix}/info/event_type": msg.info.event_type,
                  f"{prefix}/info/sequence_number": msg.info.sequence_number,
                  f"{prefix}/info/stamp": msg.info.stamp.sec + msg.info.stamp.nanosec * 1e-9}  # fmt: skip
        for part in ("request", "response"):
            for i, item in enumerate(getattr(msg, part)):
                values.update({f"{prefix}/{part}/{i}/{name}": getattr(item, name) for name in BASIC})
        for key, value in values.items():
            want.setdefault(key, []).append((t_ns, number(value)))
    return want


def test_srv_definitions_decode_recorded_service_events(tmp_path: Path) -> None:
    bag = FIXTURES / "rb2_sqlite_topics_services"
    want = service_event_oracle(next(bag.glob("*.db3")), typestore())
    config = tmp_path / "topics.yaml"
    config.write_text("topics:\n"
                      "  - {topic: /test_service1/_service_event, exclude: ['*client_gid*']}\n"
                      "  - {topic: /test_service2/_service_event, exclude: ['*client_gid*']}\n")  # fmt: skip
    result = CliRunner().invoke(main, ["import-bag", str(bag), "--project", "svc", "--config", str(config),
                                       "--msg-dir", str(MSGDEFS), "--dir", str(tmp_path)])  # fmt: skip
    assert result.exit_code == 0, result.output
    (view,) = rltrack.Api(dir=tmp_path).runs()
    assert sorted(view.keys(source="real")) == sorted(want)
    assert any("/request/0/" in k for k in want) and any("/response/0/" in k for k in want)
    for key, points in want.items():
        assert series(tmp_path, key) == points, key


def test_service_events_without_their_srv_are_named_with_the_fix(tmp_path: Path) -> None:
    bag = FIXTURES / "rb2_sqlite_topics_services"
    run = rltrack.init(project="svc", dir=tmp_path, source="real", system_metrics=False)
    with pytest.warns(RltrackWarning) as caught:
        import_bag(bag, run, parse_config({"topics": ["/test_service1/_service_event"]}))
    run.finish()
    said = [str(w.message) for w in caught]
    hint = [m for m in said if "'test_msgs/srv/BasicTypes_Event' is unknown" in m]
    assert hint and ".srv" in hint[0] and "--msg-dir" in hint[0], said


def test_integers_beyond_2_53_are_stored_rounded_counted_and_warned_once_per_key(tmp_path: Path) -> None:
    ts = typestore()
    fields = dict.fromkeys(BASIC, 0) | {"bool_value": False, "float32_value": 0.0, "float64_value": 0.0}
    run = rltrack.init(project="ids", dir=tmp_path, source="real", system_metrics=False)
    mirror = Mirror(run, parse_config({}), Decoder(ts))
    big = [2**53 + 1, 2**53 + 3, 2**40]  # the last one is exact
    with pytest.warns(RltrackWarning) as caught:
        for i, value in enumerate(big):
            msg = ts.types["test_msgs/msg/BasicTypes"](**(fields | {"uint64_value": value, "int64_value": -value}))
            mirror.handle("/ids", "test_msgs/BasicTypes", bytes(ts.serialize_cdr(msg, "test_msgs/msg/BasicTypes")),
                          1_000 + i)
        mirror.close()
    run.finish()
    said = sorted(str(w.message) for w in caught if "2**53" in str(w.message))
    assert said == [
        "'ids/int64_value': integer -9007199254740993 is beyond 2**53 and is stored rounded to -9007199254740992.0 "
        "(values are float64); counted under '_rltrack/ros/inexact/ids/int64_value'. Log it as two 32-bit halves "
        "or as text if every digit matters.",
        "'ids/uint64_value': integer 9007199254740993 is beyond 2**53 and is stored rounded to 9007199254740992.0 "
        "(values are float64); counted under '_rltrack/ros/inexact/ids/uint64_value'. Log it as two 32-bit halves "
        "or as text if every digit matters.",
    ]
    (view,) = rltrack.Api(dir=tmp_path).runs()
    summary = view.summary_of("real")
    assert (summary["_rltrack/ros/inexact/ids/uint64_value"], summary["_rltrack/ros/inexact/ids/int64_value"]) == (2, 2)
    assert view.series("ids/uint64_value", source="real")[2].tolist() == [float(v) for v in big]
