"""Put a robot's rosbag2 recording next to the simulation in one run (source "real").

    python examples/ros_import_bag.py                 # writes a small demo bag first
    python examples/ros_import_bag.py PATH/TO/BAG     # a rosbag2 folder or an .mcap file

Needs rltrack's `ros` extra and the `ros/` package importable: from this checkout,
`pip install '.[ros]' ./ros` (or build `ros/` with colcon; run from the checkout, this script finds
`ros/` itself). The CLI does the same: `rltrack import-bag BAG --run RUN_ID`.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ros"))  # run from a checkout

from rltrack_ros import import_bag, parse_config

import rltrack
from rltrack.store.paths import resolve_root


def odometry(t: Any, stamp: int, speed: float) -> Any:
    """A nav_msgs/Odometry from rosbags' message classes (they have no defaults)."""
    v3, zero = t["geometry_msgs/msg/Vector3"], np.zeros(36)
    sec, nanosec = divmod(stamp, 1_000_000_000)
    pose = t["geometry_msgs/msg/Pose"](position=t["geometry_msgs/msg/Point"](x=0.0, y=0.0, z=0.0),
                                       orientation=t["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.0, w=1.0))
    twist = t["geometry_msgs/msg/Twist"](linear=v3(x=speed, y=0.0, z=0.0), angular=v3(x=0.0, y=0.0, z=0.0))
    return t["nav_msgs/msg/Odometry"](
        header=t["std_msgs/msg/Header"](stamp=t["builtin_interfaces/msg/Time"](sec=sec, nanosec=nanosec),
                                        frame_id="odom"),
        child_frame_id="base_link",
        pose=t["geometry_msgs/msg/PoseWithCovariance"](pose=pose, covariance=zero),
        twist=t["geometry_msgs/msg/TwistWithCovariance"](twist=twist, covariance=zero),
    )


def demo_bag(path: Path) -> Path:
    """Write 10 s of a robot: 50 Hz odometry, a reward per 0.1 s step, done every 20 steps."""
    from rosbags.rosbag2 import Writer
    from rosbags.typesys import Stores, get_typestore

    ts = get_typestore(Stores.ROS2_JAZZY)
    t = ts.types
    t0 = 1_700_000_000_000_000_000
    with Writer(path, version=9) as writer:
        odom = writer.add_connection("/odom", "nav_msgs/msg/Odometry", typestore=ts)
        reward = writer.add_connection("/rl/reward", "std_msgs/msg/Float32", typestore=ts)
        done = writer.add_connection("/rl/done", "std_msgs/msg/Bool", typestore=ts)
        for i in range(500):
            stamp = t0 + i * 20_000_000
            msg = odometry(t, stamp, speed=0.5 + 0.1 * math.sin(i / 25))
            writer.write(odom, stamp, bytes(ts.serialize_cdr(msg, "nav_msgs/msg/Odometry")))
            if i % 5 == 0:
                step = i // 5
                writer.write(reward, stamp + 1, bytes(ts.serialize_cdr(t["std_msgs/msg/Float32"](data=1.0),
                                                                       "std_msgs/msg/Float32")))
                if step % 20 == 19:
                    writer.write(done, stamp + 2, bytes(ts.serialize_cdr(t["std_msgs/msg/Bool"](data=True),
                                                                         "std_msgs/msg/Bool")))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description="Import a rosbag2 into a run as its real source.")
    parser.add_argument("bag", nargs="?", default=None, help="rosbag2 folder or .mcap (default: write a demo bag)")
    parser.add_argument("--dir", default=None, help="store folder (default: $RLTRACK_DIR or ./rltrack-runs)")
    args = parser.parse_args()
    store = resolve_root(args.dir)
    bag = Path(args.bag) if args.bag else demo_bag(Path(tempfile.mkdtemp(prefix="rltrack-demo-bag-")) / "demo_bag")
    with rltrack.init(project="walker", dir=store, system_metrics=False) as sim:  # stands in for training
        for step in range(0, 10_000, 1000):
            sim.log({"episode/return": 20.0 * (1 - math.exp(-step / 3000))}, step=step)
    real = rltrack.init(id=sim.id, resume="must", source="real", dir=store, system_metrics=False)
    config = parse_config({"episodes": {"reward": "/rl/reward", "done": "/rl/done"}})
    result = import_bag(bag, real, config)
    real.finish()
    view = rltrack.Api(dir=store).run(sim.id)
    print(f"imported {result.messages} messages ({result.rate_msgs_per_s:,.0f}/s) into run {sim.id} in {store}")
    print("real keys:", ", ".join(view.keys(source="real")[:6]), "...")
    print("real episode returns:", view.series("episode/return", source="real")[2].tolist())


if __name__ == "__main__":
    main()
