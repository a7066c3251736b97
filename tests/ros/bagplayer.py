"""Replay a rosbag2 over real ROS 2: every message's serialized bytes, in log-time order and pace.

Runs in the ROS venv inside the tests' loopback-only namespace: ``python bagplayer.py BAG RESULT``.
Publishers are reliable with depth 1000 (nothing may be lost: the test compares the live run with
an import of the same bag). Waits for every publisher to match, lets the reader side settle,
publishes, waits for acknowledgements and writes RESULT with the counts per topic.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
from pathlib import Path

import rclpy
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rosbags.highlevel import AnyReader


def main() -> int:
    bag, out = Path(sys.argv[1]), Path(sys.argv[2])
    rclpy.init()
    node = rclpy.create_node("bag_player")
    qos = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE)
    with AnyReader([bag]) as reader:
        pubs = {}
        for conn in reader.connections:
            pkg, _, name = conn.msgtype.split("/")
            cls = getattr(importlib.import_module(f"{pkg}.msg"), name)
            pubs[conn.topic] = node.create_publisher(cls, conn.topic, qos)
        deadline = time.monotonic() + 30
        while any(p.get_subscription_count() == 0 for p in pubs.values()):
            if time.monotonic() > deadline:
                print("bagplayer: unmatched", [t for t, p in pubs.items() if not p.get_subscription_count()])
                return 2
            rclpy.spin_once(node, timeout_sec=0.05)
        settle = time.monotonic() + 1.0  # reader-side discovery finishes after writer-side matching
        while time.monotonic() < settle:
            rclpy.spin_once(node, timeout_sec=0.05)
        counts = {t: 0 for t in pubs}
        start, first = time.monotonic(), None
        for conn, t_ns, raw in reader.messages():
            first = t_ns if first is None else first
            delay = start + (t_ns - first) / 1e9 - time.monotonic()
            if delay > 0:
                time.sleep(delay)  # the bag's own pace
            pubs[conn.topic].publish(bytes(raw))  # rclpy publishes serialized bytes as they are
            counts[conn.topic] += 1
    acked = all(p.wait_for_all_acked(rclpy.duration.Duration(seconds=10)) for p in pubs.values())
    out.write_text(json.dumps({"published": counts, "acked": acked}))
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
