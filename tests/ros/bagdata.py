"""Deterministic robot telemetry written as rosbag2 fixtures with rosbags (no ROS needed).

Every message is built from its index, so tests can state exactly what an import must produce.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

T0_NS = 1_700_000_000_000_000_000
JOINTS = ("left_knee", "right_knee", "hip")
#: Rewards per episode: three episodes of 5, 7 and 4 steps.
EPISODE_REWARDS = ((1.0, 0.5, 0.25, 2.0, -1.0), (0.5,) * 7, (3.0, -0.5, 1.5, 0.25))
IMAGE_W, IMAGE_H = 64, 48


@dataclass
class BagContents:
    """What a fixture bag holds, for assertions."""

    path: Path
    counts: dict[str, int] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)
    returns: list[float] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)


def stamp(ts: Any, t_ns: int) -> Any:
    time_cls = ts.types["builtin_interfaces/msg/Time"]
    header = ts.types["std_msgs/msg/Header"]
    return header(stamp=time_cls(sec=t_ns // 1_000_000_000, nanosec=t_ns % 1_000_000_000), frame_id="base")


def odometry(ts: Any, i: int, t_ns: int) -> Any:
    t = ts.types
    v3, q = t["geometry_msgs/msg/Vector3"], t["geometry_msgs/msg/Quaternion"]
    point = t["geometry_msgs/msg/Point"](x=0.1 * i, y=-0.2 * i, z=0.0)
    turn = q(x=0.0, y=0.0, z=math.sin(i / 10), w=math.cos(i / 10))
    pose = t["geometry_msgs/msg/Pose"](position=point, orientation=turn)
    twist = t["geometry_msgs/msg/Twist"](linear=v3(x=math.sin(i), y=0.0, z=0.0), angular=v3(x=0.0, y=0.0, z=0.05 * i))
    return t["nav_msgs/msg/Odometry"](
        header=stamp(ts, t_ns), child_frame_id="base_link",
        pose=t["geometry_msgs/msg/PoseWithCovariance"](pose=pose, covariance=np.full(36, 0.01)),
        twist=t["geometry_msgs/msg/TwistWithCovariance"](twist=twist, covariance=np.full(36, 0.02)),
    )  # fmt: skip


def joint_state(ts: Any, i: int, t_ns: int) -> Any:
    n = len(JOINTS)
    return ts.types["sensor_msgs/msg/JointState"](
        header=stamp(ts, t_ns), name=list(JOINTS),
        position=np.arange(n, dtype=np.float64) + i, velocity=np.full(n, 0.5 * i),
        effort=-np.arange(n, dtype=np.float64),
    )  # fmt: skip


def battery(ts: Any, i: int, t_ns: int) -> Any:
    return ts.types["sensor_msgs/msg/BatteryState"](
        header=stamp(ts, t_ns), voltage=24.0 - 0.1 * i, temperature=30.0, current=-2.0, charge=float("nan"),
        capacity=float("nan"), design_capacity=5.0, percentage=1.0 - 0.01 * i, power_supply_status=2,
        power_supply_health=1, power_supply_technology=3, present=True,
        cell_voltage=np.array([4.0, 4.1, 4.2], dtype=np.float32), cell_temperature=np.array([], dtype=np.float32),
        location="slot0", serial_number="B-1",
    )  # fmt: skip


def imu(ts: Any, i: int, t_ns: int) -> Any:
    t = ts.types
    v3 = t["geometry_msgs/msg/Vector3"]
    return t["sensor_msgs/msg/Imu"](
        header=stamp(ts, t_ns), orientation=t["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.0, w=1.0),
        orientation_covariance=np.zeros(9), angular_velocity=v3(x=0.01 * i, y=0.0, z=0.0),
        angular_velocity_covariance=np.zeros(9), linear_acceleration=v3(x=0.0, y=0.0, z=9.81),
        linear_acceleration_covariance=np.zeros(9),
    )  # fmt: skip


def image_pixels(i: int) -> np.ndarray:
    """RGB test pattern of frame ``i``: a gradient plus a frame-dependent red level."""
    img = np.zeros((IMAGE_H, IMAGE_W, 3), dtype=np.uint8)
    img[:, :, 0] = (i * 10) % 256
    img[:, :, 1] = np.arange(IMAGE_W, dtype=np.uint8)[None, :] * 3
    img[:, :, 2] = np.arange(IMAGE_H, dtype=np.uint8)[:, None] * 4
    return img


def image(ts: Any, i: int, t_ns: int) -> Any:
    return ts.types["sensor_msgs/msg/Image"](
        header=stamp(ts, t_ns), height=IMAGE_H, width=IMAGE_W, encoding="rgb8", is_bigendian=0,
        step=IMAGE_W * 3, data=image_pixels(i).reshape(-1),
    )  # fmt: skip


def compressed(ts: Any, i: int, t_ns: int) -> Any:
    import cv2

    ok, buf = cv2.imencode(".png", image_pixels(i)[:, :, ::-1])
    assert ok
    return ts.types["sensor_msgs/msg/CompressedImage"](header=stamp(ts, t_ns), format="png", data=buf.reshape(-1))


def diagnostics(ts: Any, i: int, t_ns: int) -> Any:
    t = ts.types
    kv, status = t["diagnostic_msgs/msg/KeyValue"], t["diagnostic_msgs/msg/DiagnosticStatus"]
    return t["diagnostic_msgs/msg/DiagnosticArray"](header=stamp(ts, t_ns), status=[
        status(level=0, name="motor: left", message="ok", hardware_id="m1",
               values=[kv(key="temperature", value=f"{40 + i}"), kv(key="mode", value="velocity")]),
        status(level=1, name="battery", message="low", hardware_id="b1", values=[kv(key="voltage", value="23.5 V")]),
    ])  # fmt: skip


def _float32(ts: Any, value: float) -> Any:
    return ts.types["std_msgs/msg/Float32"](data=value)


def _bool(ts: Any, value: bool) -> Any:
    return ts.types["std_msgs/msg/Bool"](data=value)


def messages(ts: Any) -> Iterator[tuple[str, str, int, Any]]:
    """Yield (topic, type, log time, message) of the standard fixture, in time order per topic."""
    ms = 1_000_000
    for i in range(100):  # 50 Hz for 2 s
        yield "/odom", "nav_msgs/msg/Odometry", T0_NS + i * 20 * ms, odometry(ts, i, T0_NS + i * 20 * ms)
    for i in range(200):  # 100 Hz
        t = T0_NS + i * 10 * ms
        yield "/joint_states", "sensor_msgs/msg/JointState", t, joint_state(ts, i, t)
    for i in range(4):
        yield "/battery", "sensor_msgs/msg/BatteryState", T0_NS + i * 500 * ms, battery(ts, i, T0_NS + i * 500 * ms)
    for i in range(100):
        yield "/imu", "sensor_msgs/msg/Imu", T0_NS + i * 20 * ms + 1, imu(ts, i, T0_NS + i * 20 * ms + 1)
    for i in range(20):  # 10 Hz camera
        yield "/camera/image_raw", "sensor_msgs/msg/Image", T0_NS + i * 100 * ms, image(ts, i, T0_NS + i * 100 * ms)
    for i in range(5):
        t = T0_NS + i * 400 * ms + 3
        yield "/camera/compressed", "sensor_msgs/msg/CompressedImage", t, compressed(ts, i, t)
    for i in range(3):
        t = T0_NS + i * 1000 * ms + 5
        yield "/diagnostics", "diagnostic_msgs/msg/DiagnosticArray", t, diagnostics(ts, i, t)
    step = 0
    for rewards in EPISODE_REWARDS:
        for r in rewards:
            t = T0_NS + step * 100 * ms + 7
            yield "/rl/reward", "std_msgs/msg/Float32", t, _float32(ts, r)
            step += 1
        # done comes 1 ms after the last reward, as a policy node publishes it
        yield "/rl/done", "std_msgs/msg/Bool", T0_NS + (step - 1) * 100 * ms + ms, _bool(ts, True)


def write_bag(path: Path, storage: str = "sqlite3", *, distro: str = "jazzy", version: int = 9) -> BagContents:
    """Write the standard fixture bag at ``path`` (a folder that must not exist yet)."""
    ts = get_typestore({"humble": Stores.ROS2_HUMBLE, "jazzy": Stores.ROS2_JAZZY, "kilted": Stores.ROS2_KILTED}[distro])
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    contents = BagContents(path)
    rows = sorted(messages(ts), key=lambda row: row[2])
    with Writer(path, version=version, storage_plugin=plugin) as writer:  # type: ignore[arg-type]
        conns: dict[str, Any] = {}
        for topic, msgtype, t_ns, msg in rows:
            if topic not in conns:
                conns[topic] = writer.add_connection(topic, msgtype, typestore=ts)
                contents.types[topic] = msgtype
            writer.write(conns[topic], t_ns, ts.serialize_cdr(msg, msgtype))
            contents.counts[topic] = contents.counts.get(topic, 0) + 1
    contents.returns = [sum(r) for r in EPISODE_REWARDS]
    contents.lengths = [len(r) for r in EPISODE_REWARDS]
    return contents
