"""Benchmark the ROS 2 mirror: live node throughput/CPU/memory and bag import rate.

Live part (needs the ROS venv from `.ci/ros_venv.sh`: $RLTRACK_ROS_VENV or .venv-ros; and root): a publisher
process sends 1 kHz JointState (12 joints) + 100 Hz Odometry (reliable) + 30 Hz 320x240 rgb8
images (best-effort) for --duration seconds to the `mirror` node built by colcon, all inside a
loopback-only network namespace. The reliable writers keep --pub-depth samples (default 1000, 1 s
at 1 kHz): a reliable writer drops unacknowledged samples beyond its depth when the machine
stalls the reader's process. Reported: messages published vs stored (lost), node CPU as % of one
core over the publishing window, node RSS at start/end/max (flat = no growth).

Bag part (main venv only): rosbags writes sqlite3 bags of 100k Float32 (small), 50k Odometry +
50k JointState (medium) and 300 320x240 images (large); `import_bag` decodes and stores them into
a fresh store. Reported: messages/s end to end (open, decode, store, flush).

    python bench/ros_mirror.py --duration 30            # full
    python bench/ros_mirror.py --duration 5 --skip-bags # quick live check
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "ros"))
sys.path.insert(0, str(REPO / "tests" / "ros"))  # rosenv: colcon build + loopback namespace helpers

import rltrack  # noqa: E402

T0_NS = 1_700_000_000_000_000_000

PUBLISHER = textwrap.dedent('''
    import json, sys, time
    import rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
    from builtin_interfaces.msg import Time
    from nav_msgs.msg import Odometry
    from sensor_msgs.msg import Image, JointState
    duration, out, depth = float(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    rclpy.init()
    node = rclpy.create_node("bench_robot")
    rel = QoSProfile(depth=depth, reliability=ReliabilityPolicy.RELIABLE)
    pubs = {"/joint_states": node.create_publisher(JointState, "/joint_states", rel),
            "/odom": node.create_publisher(Odometry, "/odom", rel),
            "/camera/image_raw": node.create_publisher(Image, "/camera/image_raw", qos_profile_sensor_data)}
    while any(p.get_subscription_count() == 0 for p in pubs.values()):
        rclpy.spin_once(node, timeout_sec=0.05)
    end = time.monotonic() + 1.0  # reader-side discovery settles after writer-side matching
    while time.monotonic() < end:
        rclpy.spin_once(node, timeout_sec=0.05)
    js = JointState(name=[f"joint_{i}" for i in range(12)], position=[0.0] * 12, velocity=[0.0] * 12,
                    effort=[0.0] * 12)
    odom = Odometry(child_frame_id="base_link")
    img = Image(height=240, width=320, encoding="rgb8", step=960, data=bytes(320 * 240 * 3))
    rates = {"/joint_states": 1000, "/odom": 100, "/camera/image_raw": 30}
    n = {t: 0 for t in rates}
    print("publishing", flush=True)
    start = time.monotonic()
    t0 = time.time_ns()
    while True:
        now = time.monotonic() - start
        if now >= duration:
            break
        nxt = min((n[t] / r, t) for t, r in rates.items())
        if nxt[0] > now:
            time.sleep(nxt[0] - now)
        t = nxt[1]
        stamp_ns = t0 + int(nxt[0] * 1e9)
        msg = js if t == "/joint_states" else odom if t == "/odom" else img
        msg.header.stamp = Time(sec=stamp_ns // 1_000_000_000, nanosec=stamp_ns % 1_000_000_000)
        if t == "/joint_states":
            msg.position = [float(n[t])] * 12
        elif t == "/odom":
            msg.pose.pose.position.x = float(n[t])
        pubs[t].publish(msg)
        n[t] += 1
    elapsed = time.monotonic() - start
    reliable = [p for t, p in pubs.items() if t != "/camera/image_raw"]
    acked = all(p.wait_for_all_acked(rclpy.duration.Duration(seconds=20)) for p in reliable)
    json.dump({"published": n, "elapsed_s": elapsed, "acked": acked}, open(out, "w"))
''')


def live(duration_s: float, work: Path, pub_depth: int) -> dict[str, Any] | str:
    """Run the live part; return results, or why it cannot run here."""
    from rosenv import LoopbackNetns, build, ros_venv_path, ros_venv_problem

    problem = ros_venv_problem()
    venv = ros_venv_path()
    if problem or venv is None:
        return problem or "no ROS venv"
    ros = build(venv, work / "colcon")
    store = work / "live-store"
    with rltrack.init(project="bench", dir=store, system_metrics=False) as sim:
        sim.log({"train/loss": 1.0})
    (work / "publisher.py").write_text(PUBLISHER)
    ns = LoopbackNetns()
    try:
        env = ros.env(ns.domain_id)
        with (work / "node.log").open("wb") as out:
            node = ns.popen([str(ros.mirror), "--ros-args", "-p", f"run:={sim.id}", "-p", f"dir:={store}",
                             "-p", "topics:=['/joint_states','/odom','/camera/image_raw']",
                             "-p", "system_metrics:=false", "-p", "discovery_period_s:=0.5",
                             "-p", f"stats_period_s:={max(duration_s / 3, 1.0)}"],
                            stdout=out, stderr=subprocess.STDOUT, env=env)
        with (work / "publisher.log").open("wb") as out:
            pub = ns.popen([str(ros.python), str(work / "publisher.py"), str(duration_s), str(work / "pub.json"),
                            str(pub_depth)],
                           stdout=subprocess.PIPE, stderr=out, env=env)
        proc = psutil.Process(node.pid)
        assert pub.stdout is not None
        pub.stdout.readline()  # "publishing": matching and settling are done
        cpu0, wall0 = proc.cpu_times(), time.monotonic()
        threads0 = {t.id: t.user_time + t.system_time for t in proc.threads()}
        rss = [proc.memory_info().rss]
        while pub.poll() is None:
            time.sleep(1.0)  # sampling the node's memory once a second while the publisher runs
            rss.append(proc.memory_info().rss)
        cpu1, wall1 = proc.cpu_times(), time.monotonic()
        threads1 = {t.id: t.user_time + t.system_time for t in proc.threads()}
        result = json.loads((work / "pub.json").read_text())
        node.send_signal(signal.SIGINT)
        node.wait(timeout=300)
    finally:
        ns.close()
    view = rltrack.Api(dir=store).run(sim.id)
    summary = view.summary_of("real")
    js = view.series("joint_states/position/joint_0", source="real")[2]
    od = view.series("odom/pose/pose/position/x", source="real")[2]
    stored = {"/joint_states": len(js), "/odom": len(od)}
    # Each message carries its index: which ones are missing (start-up? bursts?)
    missing = {t: sorted(set(range(result["published"][t])) - {int(v) for v in vals})[:20]
               for t, vals in (("/joint_states", js), ("/odom", od))}
    busy = (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)
    # The main thread runs the rclpy executor; the others are the sink worker, rltrack's writer
    # and Fast DDS's threads (Linux gives them no Python names).
    per_thread = sorted(((100.0 * (c - threads0.get(tid, 0.0)) / (wall1 - wall0), tid == node.pid)
                         for tid, c in threads1.items()), reverse=True)
    top_threads = [f"{'executor' if main else 'thread'} {pct:.1f}%" for pct, main in per_thread[:5]]
    return {
        "published": result["published"], "acked": result["acked"], "publish_s": result["elapsed_s"],
        "stored": stored, "missing_first_20": missing,
        "images_received": summary.get("_rltrack/ros/received/camera/image_raw", 0),
        "videos": len(view.media("camera/image_raw/video", source="real")),
        "dropped": summary.get("_rltrack/ros/dropped", 0),
        "node_cpu_pct": 100.0 * busy / (wall1 - wall0), "top_threads": top_threads,
        "rss_mb": [r / 2**20 for r in (rss[0], rss[min(5, len(rss) - 1)], rss[-1], max(rss))],
    }


def write_bag(path: Path, kind: str) -> int:
    from rosbags.rosbag2 import Writer
    from rosbags.typesys import Stores, get_typestore

    ts = get_typestore(Stores.ROS2_JAZZY)
    t = ts.types
    n = 0
    with Writer(path, version=9) as writer:
        if kind == "small":
            conn = writer.add_connection("/rl/reward", "std_msgs/msg/Float32", typestore=ts)
            for i in range(100_000):
                writer.write(conn, T0_NS + i * 1000, bytes(ts.serialize_cdr(t["std_msgs/msg/Float32"](data=float(i)),
                                                                             "std_msgs/msg/Float32")))
                n += 1
            return n
        hdr = t["std_msgs/msg/Header"](stamp=t["builtin_interfaces/msg/Time"](sec=1, nanosec=0), frame_id="b")
        if kind == "medium":
            v3, q = t["geometry_msgs/msg/Vector3"], t["geometry_msgs/msg/Quaternion"]
            odom = t["nav_msgs/msg/Odometry"](
                header=hdr, child_frame_id="base",
                pose=t["geometry_msgs/msg/PoseWithCovariance"](pose=t["geometry_msgs/msg/Pose"](
                    position=t["geometry_msgs/msg/Point"](x=1.0, y=2.0, z=0.0),
                    orientation=q(x=0.0, y=0.0, z=0.0, w=1.0)), covariance=np.zeros(36)),
                twist=t["geometry_msgs/msg/TwistWithCovariance"](twist=t["geometry_msgs/msg/Twist"](
                    linear=v3(x=1.0, y=0.0, z=0.0), angular=v3(x=0.0, y=0.0, z=0.1)), covariance=np.zeros(36)))
            js = t["sensor_msgs/msg/JointState"](header=hdr, name=[f"j{i}" for i in range(12)],
                                                 position=np.arange(12.0), velocity=np.zeros(12), effort=np.ones(12))
            raw_o = bytes(ts.serialize_cdr(odom, "nav_msgs/msg/Odometry"))
            raw_j = bytes(ts.serialize_cdr(js, "sensor_msgs/msg/JointState"))
            co = writer.add_connection("/odom", "nav_msgs/msg/Odometry", typestore=ts)
            cj = writer.add_connection("/joint_states", "sensor_msgs/msg/JointState", typestore=ts)
            for i in range(50_000):
                writer.write(co, T0_NS + i * 20_000, raw_o)
                writer.write(cj, T0_NS + i * 20_000 + 1, raw_j)
                n += 2
            return n
        img = t["sensor_msgs/msg/Image"](header=hdr, height=240, width=320, encoding="rgb8", is_bigendian=0, step=960,
                                         data=np.random.default_rng(0).integers(0, 255, 320 * 240 * 3, dtype=np.uint8))
        raw = bytes(ts.serialize_cdr(img, "sensor_msgs/msg/Image"))
        conn = writer.add_connection("/camera/image_raw", "sensor_msgs/msg/Image", typestore=ts)
        for i in range(300):
            writer.write(conn, T0_NS + i * 33_333_333, raw)
            n += 1
        return n


def rosbags_alone(path: Path) -> float:
    """Messages/s of rosbags reading and deserializing the bag, nothing stored: the floor."""
    from rosbags.highlevel import AnyReader

    start = time.perf_counter()
    with AnyReader([path]) as reader:
        n = sum(1 for conn, _, raw in reader.messages() if reader.deserialize(raw, conn.msgtype) is not None)
    return n / (time.perf_counter() - start)


def bags(work: Path) -> list[dict[str, Any]]:
    from rltrack_ros.bag import import_bag
    from rltrack_ros.topics import parse_config

    rows = []
    for kind in ("small", "medium", "large"):
        path = work / f"bag-{kind}"
        count = write_bag(path, kind)
        size = sum(f.stat().st_size for f in path.iterdir())
        baseline = rosbags_alone(path)
        run = rltrack.init(project="bench", dir=work / f"store-{kind}", source="real", system_metrics=False)
        result = import_bag(path, run, parse_config({"images": {"fps": 30}}))
        run.finish()
        rows.append({"bag": kind, "messages": count, "mb": size / 2**20, "seconds": result.duration_s,
                     "msgs_per_s": result.rate_msgs_per_s, "mb_per_s": size / 2**20 / result.duration_s,
                     "rosbags_alone_msgs_per_s": baseline})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=30.0, help="live publishing time in seconds (default 30)")
    parser.add_argument("--pub-depth", type=int, default=1000,
                        help="publisher history depth of the reliable topics (default 1000 = 1 s at 1 kHz)")
    parser.add_argument("--skip-live", action="store_true")
    parser.add_argument("--skip-bags", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, stores)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="rltrack-ros-bench-"))
    out: dict[str, Any] = {"cpu_count": os.cpu_count()}
    try:
        if not args.skip_live:
            res = live(args.duration, work, args.pub_depth)
            out["live"] = res
            print(f"\nlive mirror, {args.duration:.0f} s (1 kHz JointState x12 + 100 Hz Odometry + 30 Hz 320x240; "
                  f"publisher depth {args.pub_depth}):")
            if isinstance(res, str):
                print(f"  skipped: {res}")
            else:
                print(f"  {'topic':<20}{'published':>10}{'stored':>10}{'lost':>8}")
                for topic in ("/joint_states", "/odom"):
                    p, s = res["published"][topic], res["stored"][topic]
                    print(f"  {topic:<20}{p:>10}{s:>10}{p - s:>8}   missing: {res['missing_first_20'][topic]}")
                p = res["published"]["/camera/image_raw"]
                print(f"  {'/camera/image_raw':<20}{p:>10}{res['images_received']:>10}{p - res['images_received']:>8}"
                      f"   (received; {res['videos']} video clips)")
                r0, r5, r1, rmax = res["rss_mb"]
                print(f"  node CPU {res['node_cpu_pct']:.1f} % of one core; RSS {r0:.0f} MB at start, "
                      f"{r5:.0f} after 5 s, {r1:.0f} at the end (max {rmax:.0f}); queue drops {res['dropped']}")
                print(f"  publisher kept pace: {res['publish_s']:.1f} s for {args.duration:.0f} s")
                print(f"  busiest node threads: {', '.join(res['top_threads'])}")
        if not args.skip_bags:
            rows = bags(work)
            out["bags"] = rows
            print(f"\nbag import (sqlite3, rosbags -> decode -> store):\n  {'bag':<8}{'messages':>10}{'MB':>8}"
                  f"{'s':>8}{'msg/s':>12}{'MB/s':>8}{'rosbags alone msg/s':>22}")
            for r in rows:
                print(f"  {r['bag']:<8}{r['messages']:>10}{r['mb']:>8.1f}{r['seconds']:>8.2f}"
                      f"{r['msgs_per_s']:>12,.0f}{r['mb_per_s']:>8.1f}{r['rosbags_alone_msgs_per_s']:>22,.0f}")
    finally:
        if args.keep:
            print(f"\nwork folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
