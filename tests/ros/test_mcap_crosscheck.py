"""Our decoder against an independent reader: mcap-ros2-support on the mcap fixture."""

from __future__ import annotations

from numbers import Number
from typing import Any

import numpy as np
import pytest
from bagdata import BagContents
from rltrack_ros.decode import Decoder, FieldFilter, topic_prefix
from rltrack_ros.images import image_to_rgb

mcap_reader = pytest.importorskip("mcap.reader", reason="mcap is a dev dependency (rltrack[dev])")
mcap_ros2 = pytest.importorskip("mcap_ros2.decoder", reason="mcap-ros2-support is a dev dependency")

GENERIC = ("/odom", "/battery", "/imu", "/rl/reward", "/rl/done")


def walk(obj: Any, path: str, out: dict[str, float]) -> None:
    """Independent flattening of mcap_ros2's SimpleNamespace messages, by our documented rules."""
    for name in type(obj).__slots__:
        value = getattr(obj, name)
        sub = f"{path}/{name}" if path else name
        if name == "header" and not path:
            continue
        if "covariance" in name:
            continue  # excluded by the default filter
        if isinstance(value, bool):
            out[sub] = int(value)
        elif isinstance(value, Number):
            out[sub] = float(value)  # type: ignore[arg-type]
        elif isinstance(value, (list, tuple, bytes)):
            for i, item in enumerate(value):
                if isinstance(item, Number):
                    out[f"{sub}/{i}"] = float(item)  # type: ignore[arg-type]
        elif hasattr(type(value), "__slots__"):
            walk(value, sub, out)


def read_mcap(bag: BagContents) -> list[tuple[str, str, bytes, Any]]:
    (path,) = bag.path.glob("*.mcap")
    rows = []
    with open(path, "rb") as f:
        reader = mcap_reader.make_reader(f, decoder_factories=[mcap_ros2.DecoderFactory()])
        for schema, channel, message, decoded in reader.iter_decoded_messages():
            rows.append((channel.topic, schema.name, bytes(message.data), decoded))
    return rows


def test_generic_fields_match_mcap_ros2(mcap_bag: BagContents) -> None:
    decoder = Decoder.for_distro("jazzy")
    checked = 0
    for topic, schema, data, decoded in read_mcap(mcap_bag):
        if topic not in GENERIC:
            continue
        msgtype = schema.replace("/", "/msg/") if "/msg/" not in schema else schema
        values, t_ns = decoder.flatten(data, msgtype, topic=topic)
        want: dict[str, float] = {}
        walk(decoded, "", want)
        assert {k: float(v) for k, v in values.items()} == pytest.approx(
            {f"{topic_prefix(topic)}/{k}": v for k, v in want.items()}, nan_ok=True
        ), topic
        if hasattr(decoded, "header"):
            assert t_ns == decoded.header.stamp.sec * 1_000_000_000 + decoded.header.stamp.nanosec
        checked += 1
    assert checked == sum(mcap_bag.counts[t] for t in GENERIC)


def test_joint_states_and_diagnostics_match_mcap_ros2(mcap_bag: BagContents) -> None:
    decoder = Decoder.for_distro("jazzy")
    seen = {"/joint_states": 0, "/diagnostics": 0}
    for topic, _schema, data, decoded in read_mcap(mcap_bag):
        if topic == "/joint_states":
            values, _ = decoder.flatten(data, "sensor_msgs/msg/JointState", topic=topic)
            want = {f"joint_states/{f}/{n}": v for f in ("position", "velocity", "effort")
                    for n, v in zip(decoded.name, getattr(decoded, f), strict=False)}
            assert values == want
        elif topic == "/diagnostics":
            values, _ = decoder.flatten(data, "diagnostic_msgs/msg/DiagnosticArray", topic=topic)
            temp = next(kv.value for kv in decoded.status[0].values if kv.key == "temperature")
            assert values["diagnostics/motor_left/temperature"] == float(temp)
            assert values["diagnostics/battery/level"] == decoded.status[1].level
        else:
            continue
        seen[topic] += 1
    assert seen == {"/joint_states": 200, "/diagnostics": 3}


def test_image_pixels_match_mcap_ros2(mcap_bag: BagContents) -> None:
    decoder = Decoder.for_distro("jazzy")
    n = 0
    for topic, _schema, data, decoded in read_mcap(mcap_bag):
        if topic != "/camera/image_raw":
            continue
        ours = image_to_rgb(decoder.deserialize(data, "sensor_msgs/msg/Image"), "sensor_msgs/msg/Image")
        theirs = np.frombuffer(bytes(decoded.data), dtype=np.uint8).reshape(decoded.height, decoded.width, 3)
        np.testing.assert_array_equal(ours, theirs)
        n += 1
    assert n == mcap_bag.counts["/camera/image_raw"]


def test_field_filter_default_matches_walk_rule() -> None:
    # The cross-check's walker skips covariance because the default filter does; keep them in step.
    assert FieldFilter().exclude == ("*covariance*",)
