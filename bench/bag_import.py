"""Benchmark ``import_bag`` against rosbags' own raw decode of the same recording, and its memory.

Two generated recordings, each written as MCAP and as sqlite3 with rosbags' writer:

- ``telemetry``: Odometry 50 %, JointState (12 joints) 30 %, Imu 15 %, Float32 5 % (``--messages``);
- ``large``: the same telemetry plus 100 KB PointCloud2 messages up to ``--large-mb`` MB, for memory.

Each measurement runs in a fresh child process, in the same invocation: ``rosbags`` reads every
message with its ``AnyReader`` and deserializes it (the raw decode rate, nothing stored); ``rltrack``
runs ``import_bag`` into a new store (read, decode, flatten, store, flush). Reported: messages/s of
each (medians over ``--rounds`` interleaved rounds), the median of the per-round ratios (target
>= 50 %), the same ratio in CPU seconds (the process's own, writer thread included: on a shared,
loaded machine wall-clock ratios of one bag moved between 28 % and 77 % while the CPU ratio held
within 1 %), and each side's highest peak RSS. Peak RSS on both recordings gives
the slope per MB of bag, extrapolated to 1 GB (target <= 200 MB: the import streams).

    python bench/bag_import.py                    # ~5 min on 2 busy cores
    python bench/bag_import.py --messages 20000 --large-mb 60 --json /tmp/bag.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
T0_NS = 1_700_000_000_000_000_000
CLOUD_BYTES = 100_000


def _messages(ts: Any, n: int) -> Any:
    """Yield (topic, type, t_ns, message) of the telemetry mix, in time order."""
    t = ts.types
    time_cls, header_cls = t["builtin_interfaces/msg/Time"], t["std_msgs/msg/Header"]
    v3, quat = t["geometry_msgs/msg/Vector3"], t["geometry_msgs/msg/Quaternion"]
    joints = [f"joint_{j}" for j in range(12)]
    for i in range(n):
        t_ns = T0_NS + i * 1_000_000
        head = header_cls(stamp=time_cls(sec=t_ns // 10**9, nanosec=t_ns % 10**9), frame_id="base")
        kind = i % 20
        if kind < 10:
            pose = t["geometry_msgs/msg/Pose"](position=t["geometry_msgs/msg/Point"](x=0.1 * i, y=0.0, z=0.0),
                                               orientation=quat(x=0.0, y=0.0, z=0.0, w=1.0))  # fmt: skip
            twist = t["geometry_msgs/msg/Twist"](linear=v3(x=1.0, y=0.0, z=0.0), angular=v3(x=0.0, y=0.0, z=0.1))
            yield "/odom", "nav_msgs/msg/Odometry", t_ns, t["nav_msgs/msg/Odometry"](
                header=head, child_frame_id="base_link",
                pose=t["geometry_msgs/msg/PoseWithCovariance"](pose=pose, covariance=np.zeros(36)),
                twist=t["geometry_msgs/msg/TwistWithCovariance"](twist=twist, covariance=np.zeros(36)),
            )  # fmt: skip
        elif kind < 16:
            yield (
                "/joint_states",
                "sensor_msgs/msg/JointState",
                t_ns,
                t["sensor_msgs/msg/JointState"](
                    header=head, name=joints, position=np.full(12, 0.01 * i), velocity=np.ones(12), effort=np.zeros(12)
                ),
            )
        elif kind < 19:
            yield "/imu", "sensor_msgs/msg/Imu", t_ns, t["sensor_msgs/msg/Imu"](
                header=head, orientation=quat(x=0.0, y=0.0, z=0.0, w=1.0), orientation_covariance=np.zeros(9),
                angular_velocity=v3(x=0.0, y=0.0, z=0.01 * i), angular_velocity_covariance=np.zeros(9),
                linear_acceleration=v3(x=0.0, y=0.0, z=9.81), linear_acceleration_covariance=np.zeros(9),
            )  # fmt: skip
        else:
            yield "/rl/reward", "std_msgs/msg/Float32", t_ns, t["std_msgs/msg/Float32"](data=float(i % 7))


def _cloud(ts: Any, t_ns: int) -> Any:
    t = ts.types
    head = t["std_msgs/msg/Header"](stamp=t["builtin_interfaces/msg/Time"](sec=t_ns // 10**9, nanosec=t_ns % 10**9),
                                    frame_id="lidar")  # fmt: skip
    field = t["sensor_msgs/msg/PointField"](name="x", offset=0, datatype=7, count=1)
    return t["sensor_msgs/msg/PointCloud2"](header=head, height=1, width=CLOUD_BYTES // 4, fields=[field],
                                            is_bigendian=False, point_step=4, row_step=CLOUD_BYTES,
                                            data=np.zeros(CLOUD_BYTES, dtype=np.uint8), is_dense=True)  # fmt: skip


def write_bag(path: Path, storage: str, messages: int, clouds: int) -> int:
    """Write one recording; return its message count."""
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    ts = get_typestore(Stores.ROS2_JAZZY)
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    count = 0
    every = max(1, messages // clouds) if clouds else 0
    with Writer(path, version=9, storage_plugin=plugin) as writer:
        conns: dict[str, Any] = {}

        def put(topic: str, msgtype: str, t_ns: int, msg: Any) -> None:
            nonlocal count
            if topic not in conns:
                conns[topic] = writer.add_connection(topic, msgtype, typestore=ts)
            writer.write(conns[topic], t_ns, ts.serialize_cdr(msg, msgtype))
            count += 1

        for i, (topic, msgtype, t_ns, msg) in enumerate(_messages(ts, messages)):
            put(topic, msgtype, t_ns, msg)
            if every and i % every == 0 and i // every < clouds:
                put("/points", "sensor_msgs/msg/PointCloud2", t_ns + 1, _cloud(ts, t_ns + 1))
    return count


def child(mode: str, bag: str, store: str) -> None:
    """Run one measurement and print it as JSON (peak RSS from getrusage, in MB)."""
    sys.path.insert(0, str(REPO / "ros"))
    # Modules are imported before the clock starts: the rate is of the work, not of Python's start-up.
    from rltrack_ros.bag import import_bag
    from rltrack_ros.topics import parse_config
    from rosbags.highlevel import AnyReader

    import rltrack

    start, cpu = time.perf_counter(), time.process_time()
    if mode == "rosbags":
        n = 0
        with AnyReader([Path(bag)]) as reader:
            deserialize = reader.deserialize
            for conn, _, raw in reader.messages():
                deserialize(raw, conn.msgtype)
                n += 1
    else:
        with rltrack.init(project="bench", dir=store, source="real", system_metrics=False) as run:
            n = import_bag(bag, run, parse_config({})).messages
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"messages": n, "seconds": seconds, "cpu_seconds": cpu, "peak_rss_mb": rss_mb}))


def measure(mode: str, bag: Path, work: Path) -> dict[str, Any]:
    store = tempfile.mkdtemp(dir=work)
    out = subprocess.run([sys.executable, __file__, "--child", mode, str(bag), store], capture_output=True,
                         text=True, check=False, env={**os.environ, "RLTRACK_QUIET": "1"})  # fmt: skip
    if out.returncode != 0:
        raise SystemExit(f"{mode} child failed on {bag.name} (exit {out.returncode}):\n{out.stderr[-3000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def _median(values: list[float]) -> float:
    return float(np.median(values))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=100_000, help="telemetry messages per recording")
    parser.add_argument("--large-mb", type=int, default=200, help="size of the large recording (PointCloud2)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved measurements per recording (medians)")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--child", nargs=3, metavar=("MODE", "BAG", "STORE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return 0
    rows = []
    with tempfile.TemporaryDirectory(prefix="rltrack-bag-bench-") as tmp:
        work = Path(tmp)
        for name, clouds in (("telemetry", 0), ("large", args.large_mb * 1_000_000 // CLOUD_BYTES)):
            for storage in ("mcap", "sqlite3"):
                bag = work / f"{name}_{storage}"
                count = write_bag(bag, storage, args.messages, clouds)
                size_mb = sum(f.stat().st_size for f in bag.iterdir()) / 1e6
                raws, ours, ratios, cpu_ratios = [], [], [], []
                for _ in range(args.rounds):  # interleaved: a noisy moment hits both sides of one round
                    raw, mine = measure("rosbags", bag, work), measure("rltrack", bag, work)
                    assert mine["messages"] == raw["messages"] == count, (mine, raw, count)
                    raws.append(raw)
                    ours.append(mine)
                    ratios.append(raw["seconds"] / mine["seconds"])
                    cpu_ratios.append(raw["cpu_seconds"] / mine["cpu_seconds"])
                rows.append({"bag": name, "storage": storage, "messages": count, "mb": size_mb,
                             "rosbags_msgs_per_s": count / _median([r["seconds"] for r in raws]),
                             "rltrack_msgs_per_s": count / _median([r["seconds"] for r in ours]),
                             "ratio": _median(ratios), "cpu_ratio": _median(cpu_ratios),
                             "rosbags_rss_mb": max(r["peak_rss_mb"] for r in raws),
                             "rltrack_rss_mb": max(r["peak_rss_mb"] for r in ours)})  # fmt: skip
    print(f"{'bag':<10}{'storage':<9}{'messages':>9}{'MB':>7}{'rosbags msg/s':>15}{'rltrack msg/s':>15}"
          f"{'ratio':>7}{'CPU ratio':>11}{'RSS rosbags':>13}{'RSS rltrack':>13}")  # fmt: skip
    for r in rows:
        ratio = r["ratio"]
        print(f"{r['bag']:<10}{r['storage']:<9}{r['messages']:>9,}{r['mb']:>7.0f}{r['rosbags_msgs_per_s']:>15,.0f}"
              f"{r['rltrack_msgs_per_s']:>15,.0f}{ratio:>7.0%}{r['cpu_ratio']:>11.0%}"
              f"{r['rosbags_rss_mb']:>11.0f}MB{r['rltrack_rss_mb']:>11.0f}MB")  # fmt: skip
    for storage in ("mcap", "sqlite3"):
        small, large = (
            next(r for r in rows if r["bag"] == b and r["storage"] == storage) for b in ("telemetry", "large")
        )
        slope = (large["rltrack_rss_mb"] - small["rltrack_rss_mb"]) / max(large["mb"] - small["mb"], 1e-9)
        at_1gb = large["rltrack_rss_mb"] + slope * (1000 - large["mb"])
        print(
            f"{storage}: rltrack peak RSS grows {slope * 1000:.1f} MB per GB of bag -> about {at_1gb:.0f} MB "
            f"for a 1 GB bag (target <= 200 MB)"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
