"""Robot stand-in: publishes odom, joint states, battery, reward, done, a camera and diagnostics.

Runs in the ROS venv (real rclpy), inside the tests' loopback-only network namespace. Usage:

    python standin.py PLAN.json RESULT.json

PLAN holds ``duration_s``, ``rates_hz`` (per topic), ``image`` ([width, height]), ``joints``,
``episodes`` (lists of rewards) and ``unmatched`` (topics not to wait for). QoS is what robots
use: sensor data (odom, camera) best-effort; joint states, reward, done and diagnostics
reliable; battery reliable + transient-local. The stand-in waits until every publisher has
matched a subscriber, then lets the subscriber's side of discovery finish (settle_s, see
shared/reference/ros2-on-these-machines.md §3), publishes on a fixed schedule, waits for
reliable publishers to be acknowledged and writes RESULT: what it published, per topic.
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import rclpy
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from nav_msgs.msg import Odometry
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import BatteryState, Image, JointState
from std_msgs.msg import Bool, Float32, Header

RELIABLE = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)


def header(t_ns: int) -> Header:
    return Header(stamp=Time(sec=t_ns // 1_000_000_000, nanosec=t_ns % 1_000_000_000), frame_id="base")


def build(topic: str, i: int, t_ns: int, plan: dict[str, Any]) -> Any:
    if topic == "/odom":
        msg = Odometry(header=header(t_ns), child_frame_id="base_link")
        msg.pose.pose.position.x = 0.01 * i
        msg.twist.twist.linear.x = math.sin(i / 50)
        return msg
    if topic == "/joint_states":
        n = len(plan["joints"])
        return JointState(header=header(t_ns), name=plan["joints"], position=[float(i + k) for k in range(n)],
                          velocity=[0.5] * n, effort=[-1.0 * k for k in range(n)])
    if topic == "/battery":
        return BatteryState(header=header(t_ns), voltage=24.0 - 0.01 * i, percentage=0.9, present=True,
                            cell_voltage=[4.0, 4.1])
    if topic == "/camera/image_raw":
        w, h = plan["image"]
        return Image(header=header(t_ns), height=h, width=w, encoding="rgb8", step=w * 3,
                     data=bytes([(i * 7) % 256]) * (w * h * 3))
    if topic == "/diagnostics":
        return DiagnosticArray(header=header(t_ns), status=[DiagnosticStatus(
            level=b"\x00", name="motor: left", values=[KeyValue(key="temperature", value=f"{40 + i}")])])
    raise KeyError(topic)


def main() -> int:
    plan = json.loads(Path(sys.argv[1]).read_text())
    rclpy.init()
    node = rclpy.create_node("robot_standin")
    types = {"/odom": (Odometry, qos_profile_sensor_data), "/joint_states": (JointState, RELIABLE),
             "/battery": (BatteryState, LATCHED), "/camera/image_raw": (Image, qos_profile_sensor_data),
             "/diagnostics": (DiagnosticArray, RELIABLE)}
    rates: dict[str, float] = plan["rates_hz"]
    pubs = {t: node.create_publisher(types[t][0], t, types[t][1]) for t in rates}
    reward_pub = node.create_publisher(Float32, "/rl/reward", RELIABLE)
    done_pub = node.create_publisher(Bool, "/rl/done", RELIABLE)
    everyone = [*pubs.values(), reward_pub, done_pub]
    # Topics whose QoS a test deliberately mismatches never match: don't wait for them.
    must_match = [p for p in everyone if p.topic_name not in plan.get("unmatched", [])]

    deadline = time.monotonic() + plan.get("match_timeout_s", 30.0)
    while any(p.get_subscription_count() == 0 for p in must_match):
        if time.monotonic() > deadline:
            unmatched = [p.topic_name for p in must_match if p.get_subscription_count() == 0]
            print(f"standin: no subscriber matched {unmatched}", file=sys.stderr)
            return 2
        rclpy.spin_once(node, timeout_sec=0.05)
    # The writer side has matched; give the reader side the same chance (discovery race, §3).
    settle_end = time.monotonic() + plan.get("settle_s", 1.0)
    while time.monotonic() < settle_end:
        rclpy.spin_once(node, timeout_sec=0.05)

    # One schedule of (time offset, topic, index); rewards at 10 Hz, done 30 ms after an episode's
    # last reward (as an env reports termination after its last step's reward).
    events: list[tuple[float, str, int]] = []
    for topic, hz in rates.items():
        events += [(k / hz, topic, k) for k in range(int(plan["duration_s"] * hz))]
    step = 0
    for ep, rewards in enumerate(plan["episodes"]):
        for _r in rewards:
            events.append((0.1 * step + 0.005, "/rl/reward", step))
            step += 1
        events.append((0.1 * (step - 1) + 0.035, "/rl/done", ep))
    events.sort()
    flat_rewards = [r for ep in plan["episodes"] for r in ep]
    published = {t: 0 for t in [*rates, "/rl/reward", "/rl/done"]}
    start = time.monotonic()
    t0_ns = time.time_ns()
    for offset, topic, i in events:
        delay = start + offset - time.monotonic()
        if delay > 0:
            time.sleep(delay)  # pacing the publisher at its rate, not waiting for data
        if topic == "/rl/reward":
            reward_pub.publish(Float32(data=float(flat_rewards[i])))
        elif topic == "/rl/done":
            done_pub.publish(Bool(data=True))
        else:
            pubs[topic].publish(build(topic, i, t0_ns + int(offset * 1e9), plan))
        published[topic] += 1
    acked = all(p.wait_for_all_acked(rclpy.duration.Duration(seconds=10)) for p in everyone
                if p.qos_profile.reliability == ReliabilityPolicy.RELIABLE)
    Path(sys.argv[2]).write_text(json.dumps({"published": published, "acked": acked,
                                             "elapsed_s": time.monotonic() - start}))
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
