"""The import's fast paths give exactly what the generic paths give.

``Decoder.deserialize`` calls rosbags' generated reader directly and ``MessageFlattener.groups``
runs a function compiled per type. Both are checked against the slow path on every message of
every real fixture (the 94-type bag included) and on synthetic messages with bools, int64 beyond
2**53, times, nested headers and arrays: same objects, same keys in the same order, same value
types and values, same stamps, same inexact reports.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from bagdata import T0_NS, battery, diagnostics, imu, joint_state, odometry, stamp
from rltrack_ros.decode import Decoder, FieldFilter, MessageFlattener, topic_prefix
from rltrack_ros.errors import DecodeError
from rosbags.typesys import Stores, get_typestore
from test_decode import MSGDEFS, basic_types
from test_real_bags import FIXTURES, raw_read

JAZZY = get_typestore(Stores.ROS2_JAZZY)
FILTERS = (FieldFilter(), FieldFilter(exclude=(), max_array=1000))


def shape(groups: list[tuple[dict[str, Any], int | None]]) -> list[Any]:
    """Keys in order with each value's type and repr (NaN compares equal to NaN this way)."""
    return [([(k, type(v).__name__, repr(v)) for k, v in values.items()], stamp) for values, stamp in groups]


def generic(flat: MessageFlattener) -> MessageFlattener:
    """A twin of ``flat`` that takes the generic (uncompiled) path."""
    twin = MessageFlattener(flat._typestore, flat.msgtype, flat._prefix, flat._filter, identity=flat._identity,
                            on_inexact=flat._on_inexact)  # fmt: skip
    twin._compiled = None
    return twin


def check_message(decoder: Decoder, data: bytes, msgtype: str, topic: str) -> int:
    """Compare both paths on one message; return how many flatteners were compiled."""
    store = decoder.typestore
    try:
        expected = store.deserialize_cdr(data, msgtype)
    except Exception:
        with pytest.raises(DecodeError):
            decoder.deserialize(data, msgtype)
        return 0
    msg = decoder.deserialize(data, msgtype)
    assert type(msg) is type(expected)
    assert bytes(store.serialize_cdr(msg, msgtype)) == bytes(store.serialize_cdr(expected, msgtype))
    compiled = 0
    for n, flt in enumerate(FILTERS):
        flat = decoder.flattener(f"{topic}#{n}", msgtype, topic_prefix(topic), flt)
        compiled += flat._compiled is not None
        assert shape(flat.groups(msg)) == shape(generic(flat).groups(msg)), (topic, msgtype)
    return compiled


@pytest.mark.parametrize("folder", sorted(p.name for p in FIXTURES.iterdir() if p.is_dir()))
def test_fast_paths_match_the_generic_ones_on_every_real_message(folder: str, tmp_path: Path) -> None:
    rows, store = raw_read(FIXTURES / folder, tmp_path)
    decoder = Decoder(store)
    checked = 0
    for topic, msgtype, _t_ns, data in rows:
        if decoder.knows(msgtype):
            check_message(decoder, data, decoder.resolve(msgtype), "/" + topic.lstrip("/"))
            checked += 1
    assert checked > 0


def test_the_94_type_bag_exercises_the_compiled_path(tmp_path: Path) -> None:
    rows, store = raw_read(FIXTURES / "rsrs_mcap_alltypes", tmp_path)
    decoder = Decoder(store)
    compiled = sum(check_message(decoder, data, typ, "/" + topic.lstrip("/"))
                   for topic, typ, _, data in rows if decoder.knows(typ))  # fmt: skip
    assert compiled > 50


@pytest.mark.parametrize(
    ("msgtype", "make"),
    [("nav_msgs/msg/Odometry", odometry), ("sensor_msgs/msg/JointState", joint_state),
     ("sensor_msgs/msg/Imu", imu), ("sensor_msgs/msg/BatteryState", battery),
     ("diagnostic_msgs/msg/DiagnosticArray", diagnostics)],
)  # fmt: skip
def test_fast_paths_match_on_the_telemetry_types(msgtype: str, make: Any) -> None:
    decoder = Decoder(JAZZY)
    for i in range(3):
        assert check_message(decoder, bytes(JAZZY.serialize_cdr(make(JAZZY, i, T0_NS + i), msgtype)), msgtype, "/t")
    zero = bytes(JAZZY.serialize_cdr(make(JAZZY, 0, 0), msgtype))  # a zero stamp is no stamp
    assert decoder.flattener("/t#0", msgtype, "t", FILTERS[0]).groups(decoder.deserialize(zero, msgtype))[0][1] is None


def test_bools_wide_integers_times_and_nested_headers_match() -> None:
    decoder = Decoder.for_distro("jazzy", [MSGDEFS])
    ts = decoder.typestore
    fast: list[tuple[str, int]] = []
    slow: list[tuple[str, int]] = []
    name = "test_msgs/msg/BasicTypes"
    flat = MessageFlattener(ts, name, "b", FieldFilter(), on_inexact=lambda k, v: fast.append((k, v)))
    twin = generic(MessageFlattener(ts, name, "b", FieldFilter(), on_inexact=lambda k, v: slow.append((k, v))))
    assert flat._compiled is not None
    for values in ({"bool_value": True, "int64_value": 2**53, "uint64_value": 2**60},
                   {"bool_value": False, "int64_value": -(2**53) - 1, "uint64_value": 2**64 - 1}):  # fmt: skip
        msg = decoder.deserialize(bytes(ts.serialize_cdr(basic_types(ts, name, **values), name)), name)
        assert shape(flat.groups(msg)) == shape(twin.groups(msg))
        assert fast == slow
    assert [k for k, _ in fast] == ["b/int64_value", "b/uint64_value"]
    t = JAZZY.types
    pose = t["geometry_msgs/msg/PoseStamped"](header=stamp(JAZZY, 2_500_000_000), pose=odometry(JAZZY, 1, 0).pose.pose)
    path = t["nav_msgs/msg/Path"](header=stamp(JAZZY, T0_NS), poses=[pose])
    data = bytes(JAZZY.serialize_cdr(path, "nav_msgs/msg/Path"))
    # An array of messages: the generic path (its elements may carry their own stamps).
    assert check_message(Decoder(JAZZY), data, "nav_msgs/msg/Path", "/plan") == 0
    time_ref = t["builtin_interfaces/msg/Time"](sec=3, nanosec=500_000_000)
    ref = t["sensor_msgs/msg/TimeReference"](header=stamp(JAZZY, T0_NS), source="gps", time_ref=time_ref)
    data = bytes(JAZZY.serialize_cdr(ref, "sensor_msgs/msg/TimeReference"))
    assert check_message(Decoder(JAZZY), data, "sensor_msgs/msg/TimeReference", "/ref") == 2


def test_big_endian_truncated_and_padded_bytes_take_the_full_path() -> None:
    decoder = Decoder(JAZZY)
    msgtype = "nav_msgs/msg/Odometry"
    msg = odometry(JAZZY, 2, T0_NS)
    big = bytes(JAZZY.serialize_cdr(msg, msgtype, little_endian=False))
    assert big[:2] == b"\x00\x00"
    check_message(decoder, big, msgtype, "/odom")
    little = bytes(JAZZY.serialize_cdr(msg, msgtype))
    for bad in (little[:-9], little + bytes(8), b"\x00\x01\x00", b"\x01\x01\x00\x00" + little[4:]):
        with pytest.raises(DecodeError) as fast:
            decoder.deserialize(bad, msgtype)
        with pytest.raises(Exception) as full:  # rosbags' own error, wrapped by the decoder
            JAZZY.deserialize_cdr(bad, msgtype)
        assert str(full.value) in str(fast.value)
    view = decoder.deserialize(memoryview(little), msgtype)
    assert bytes(JAZZY.serialize_cdr(view, msgtype)) == little


def test_a_direct_reader_that_fails_where_rosbags_succeeds_is_turned_off() -> None:
    decoder = Decoder(JAZZY)
    msgtype = "nav_msgs/msg/Odometry"
    data = bytes(JAZZY.serialize_cdr(odometry(JAZZY, 1, T0_NS), msgtype))
    calls: list[int] = []

    def other_layout(*args: Any) -> Any:  # a rosbags whose generated readers take other arguments
        calls.append(len(args))
        raise TypeError("takes 3 positional arguments but 4 were given")

    decoder._fast[msgtype] = (other_layout, JAZZY.types[msgtype])
    for _ in range(3):
        assert bytes(JAZZY.serialize_cdr(decoder.deserialize(data, msgtype), msgtype)) == data
    assert calls == [4]  # tried once, then rosbags' own deserialize_cdr only
    with pytest.raises(DecodeError, match="cannot decode 9 bytes"):
        decoder.deserialize(data[:9], msgtype)
