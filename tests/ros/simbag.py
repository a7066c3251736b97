"""A nav2/Gazebo-style simulation recording, written with rosbags' writer (no ROS needed).

Odometry and each /tf transform are stamped in simulation time (1970 plus seconds, as a fresh
simulation's clock reads); reward and done topics have no header; every message is logged at the
recorder's wall clock (2026) a fixed latency after its stamp; ``/clock`` optionally, at 100 Hz of
simulation time. ``rtf`` is the real-time factor: 0.5 runs the simulation at half speed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bagdata import odometry, stamp
from rosbags.rosbag2 import Writer
from rosbags.typesys import Stores, get_typestore

TS = get_typestore(Stores.ROS2_JAZZY)
S = 1_000_000_000
MS = 1_000_000
SIM0 = 12 * S + 500 * MS  # the simulation had run 12.5 s when recording started
WALL0 = 1_780_000_000 * S  # 2026
LATENCY = 2 * MS  # from a publisher's stamp to the recorder
DURATION = 20 * S
EPISODE_LEN = 10  # rewards per episode


def transform(parent: str, child: str, t_ns: int, x: float) -> Any:
    t = TS.types
    header = stamp(TS, t_ns)
    header.frame_id = parent
    return t["geometry_msgs/msg/TransformStamped"](
        header=header, child_frame_id=child,
        transform=t["geometry_msgs/msg/Transform"](
            translation=t["geometry_msgs/msg/Vector3"](x=x, y=0.0, z=0.0),
            rotation=t["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.0, w=1.0)),
    )  # fmt: skip


def sim_messages(
    rtf: float = 1.0, *, with_clock: bool = False, with_tf: bool = True, duration_ns: int = DURATION
) -> Iterator[tuple[str, str, int, int, Any]]:
    """Yield (topic, type, wall receive time, sim time, message) of a recording of ``duration_ns`` wall time."""
    t = TS.types

    def wall(sim_ns: int) -> int:  # the recorder's clock when a message stamped sim_ns arrives
        return WALL0 + round((sim_ns - SIM0) / rtf) + LATENCY

    sim_span = round(duration_ns * rtf)
    if with_clock:
        for i in range(0, sim_span, 10 * MS):  # Gazebo's /clock at 100 Hz (of sim time)
            sim = SIM0 + i
            msg = t["rosgraph_msgs/msg/Clock"](clock=t["builtin_interfaces/msg/Time"](sec=sim // S, nanosec=sim % S))
            yield "/clock", "rosgraph_msgs/msg/Clock", wall(sim) - LATENCY, sim, msg
    # Rewards start 30 ms before the first odometry: they wait for the clock offset.
    for i, sim in enumerate(range(SIM0 - 30 * MS, SIM0 + sim_span, 100 * MS)):
        yield "/rl/reward", "std_msgs/msg/Float32", wall(sim), sim, t["std_msgs/msg/Float32"](data=float(i % 3))
        if i % EPISODE_LEN == EPISODE_LEN - 1:
            done = sim + MS
            yield "/rl/done", "std_msgs/msg/Bool", wall(done), done, t["std_msgs/msg/Bool"](data=True)
    for i, sim in enumerate(range(SIM0, SIM0 + sim_span, 50 * MS)):
        yield "/odom", "nav_msgs/msg/Odometry", wall(sim), sim, odometry(TS, i, sim)
        if not with_tf:
            continue
        moving = [transform("odom", "base_link", sim, 0.01 * i), transform("base_link", "wheel", sim, 0.2)]
        if i % 4 == 0:  # AMCL's map->odom at 5 Hz, in the same /tf message, at its own (older) stamp
            moving.append(transform("map", "odom", sim - 20 * MS, -1.0 - i))
        yield "/tf", "tf2_msgs/msg/TFMessage", wall(sim), sim, t["tf2_msgs/msg/TFMessage"](transforms=moving)


def write_sim_bag(
    path: Path, rtf: float = 1.0, *, with_clock: bool = False, with_tf: bool = True, duration_ns: int = DURATION
) -> list[tuple[str, int, int, Any]]:
    """Write the recording at ``path``; return its (topic, receive time, sim time, message) rows in log order."""
    messages = sim_messages(rtf, with_clock=with_clock, with_tf=with_tf, duration_ns=duration_ns)
    rows = sorted(messages, key=lambda r: r[2])
    with Writer(path, version=9) as writer:  # type: ignore[arg-type]
        conns: dict[str, Any] = {}
        for topic, msgtype, recv, _, msg in rows:
            if topic not in conns:
                conns[topic] = writer.add_connection(topic, msgtype, typestore=TS)
            writer.write(conns[topic], recv, bytes(TS.serialize_cdr(msg, msgtype)))
    return [(topic, recv, sim, msg) for topic, _, recv, sim, msg in rows]
