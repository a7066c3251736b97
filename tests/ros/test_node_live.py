"""The ``mirror`` node with real rclpy (PyPI ROS 2 Jazzy wheels), in a loopback-only namespace.

Needs the ROS venv (``$RLTRACK_ROS_VENV``, else ``<repo>/.venv-ros``; made by
``.ci/ros_venv.sh``) and root for ``unshare -n``; skipped with the reason otherwise. ``ros/`` is
built with colcon and the node started the way ``ros2 run rltrack_ros mirror`` resolves it; a
robot stand-in process publishes at robot rates and QoS; assertions read the run back through
``rltrack.Api``.
"""

from __future__ import annotations

import ast
import json
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rosenv import LoopbackNetns, RosInstall, build, ros_venv_path, ros_venv_problem

import rltrack

pytestmark = pytest.mark.ros

HERE = Path(__file__).resolve().parent
JOINTS = ["left_knee", "right_knee", "left_hip", "right_hip"]
EPISODES = [[1.0, 0.5, 0.25], [2.0, -1.0, 0.5, 0.5], [0.75, 0.25]]
WAIT_S = 20.0
BEST_EFFORT = {"/odom", "/camera/image_raw"}  # the stand-in publishes these with sensor-data QoS
BEST_EFFORT_SHARE = 0.95


@pytest.fixture(scope="module")
def ros(tmp_path_factory: pytest.TempPathFactory) -> RosInstall:
    problem = ros_venv_problem()
    venv = ros_venv_path()
    if problem or venv is None:
        pytest.skip(problem or "no ROS venv")
    return build(venv, tmp_path_factory.mktemp("colcon"))


@pytest.fixture
def netns() -> Iterator[LoopbackNetns]:
    ns = LoopbackNetns()
    yield ns
    ns.close()


def training_run(store: Path) -> str:
    with rltrack.init(project="walker", dir=store, system_metrics=False) as sim:
        sim.log({"episode/return": 3.0}, step=1000)
    return sim.id


def start_node(ros: RosInstall, ns: LoopbackNetns, log: Path, params: dict[str, str]) -> subprocess.Popen[bytes]:
    args = [str(ros.mirror), "--ros-args"]
    for key, value in {"system_metrics": "false", "stats_period_s": "0.25", "discovery_period_s": "0.2",
                       **params}.items():
        args += ["-p", f"{key}:={value}"]
    with log.open("wb") as out:
        return ns.popen(args, stdout=out, stderr=subprocess.STDOUT, env=ros.env(ns.domain_id))


def run_standin(ros: RosInstall, ns: LoopbackNetns, tmp: Path, plan: dict[str, Any]) -> dict[str, Any]:
    (tmp / "plan.json").write_text(json.dumps(plan))
    with (tmp / "standin.log").open("wb") as out:
        proc = ns.popen([str(ros.python), str(HERE / "standin.py"), str(tmp / "plan.json"), str(tmp / "result.json")],
                        stdout=out, stderr=subprocess.STDOUT, env=ros.env(ns.domain_id))
    try:
        code = proc.wait(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert code == 0, (tmp / "standin.log").read_text()
    result: dict[str, Any] = json.loads((tmp / "result.json").read_text())
    return result


def wait_for_log(log: Path, node: subprocess.Popen[bytes], pattern: str, check: Any = None) -> re.Match[str]:
    """Wait (bounded) until the node's log has a line matching ``pattern`` (and ``check(match)``)."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        for match in reversed(list(re.finditer(pattern, log.read_text(errors="replace")))):
            if check is None or check(match):
                return match
            break
        if node.poll() is not None:
            break
        time.sleep(0.1)  # polling another process's log for a condition, bounded by WAIT_S
    raise AssertionError(f"node log never matched {pattern!r}:\n{log.read_text(errors='replace')[-3000:]}")


def received(match: re.Match[str]) -> dict[str, int]:
    counts: dict[str, int] = ast.literal_eval(match.group(1))
    return counts


def stop(node: subprocess.Popen[bytes], sig: signal.Signals, log: Path) -> None:
    node.send_signal(sig)
    assert node.wait(timeout=60) == 0, log.read_text(errors="replace")[-3000:]


def test_node_mirrors_robot_topics_into_the_training_run(ros: RosInstall, netns: LoopbackNetns,
                                                          tmp_path: Path) -> None:
    store = tmp_path / "store"
    run_id = training_run(store)
    config = tmp_path / "topics.yaml"
    config.write_text(
        "topics: [/odom, /joint_states, /battery, /diagnostics, /camera/image_raw]\n"
        "episodes: {reward: /rl/reward, done: /rl/done}\n"
        "images: {fps: 5, max_width: 64}\n"
    )
    log = tmp_path / "node.log"
    node = start_node(ros, netns, log, {"run": run_id, "dir": str(store), "config": str(config)})
    plan = {"duration_s": 3.0, "rates_hz": {"/odom": 50, "/joint_states": 100, "/battery": 2, "/diagnostics": 2,
                                            "/camera/image_raw": 10},
            "image": [64, 48], "joints": JOINTS, "episodes": EPISODES}
    result = run_standin(ros, netns, tmp_path, plan)
    published: dict[str, int] = result["published"]
    assert result["acked"]
    # Reliable topics must arrive whole; best-effort ones (sensor data) may lose a datagram on a
    # loaded machine, which is DDS's doing: those are checked against what the node received.
    wait_for_log(log, node, r"stats received=(\{.*?\})",
                 lambda m: all(received(m).get(t, 0) >= n * (BEST_EFFORT_SHARE if t in BEST_EFFORT else 1)
                               for t, n in published.items()))
    stop(node, signal.SIGTERM, log)

    view = rltrack.Api(dir=store).run(run_id)
    assert view.sources == ["sim", "real"]
    keys = set(view.keys(source="real"))
    assert {"odom/pose/pose/position/x", "odom/twist/twist/linear/x", "battery/voltage", "battery/cell_voltage/1",
            "diagnostics/motor_left/temperature", "diagnostics/motor_left/level", "rl/reward/data",
            "rl/done/data", "episode/return", "episode/length"} <= keys
    assert {f"joint_states/{f}/{j}" for f in ("position", "velocity", "effort") for j in JOINTS} <= keys
    counts = {t: len(view.series(k, source="real")[2]) for t, k in [
        ("/odom", "odom/pose/pose/position/x"), ("/joint_states", "joint_states/effort/left_hip"),
        ("/battery", "battery/voltage"), ("/diagnostics", "diagnostics/motor_left/temperature"),
        ("/rl/reward", "rl/reward/data"), ("/rl/done", "rl/done/data")]}
    summary = view.summary_of("real")
    got_odom = summary["_rltrack/ros/subscribed/odom"]  # what the node's subscription received
    assert counts == {t: got_odom if t == "/odom" else n for t, n in published.items() if t != "/camera/image_raw"}
    assert got_odom >= BEST_EFFORT_SHARE * published["/odom"]
    np.testing.assert_allclose(view.series("episode/return", source="real")[2], [sum(e) for e in EPISODES],
                               rtol=1e-6)
    assert view.series("episode/length", source="real")[2].tolist() == [len(e) for e in EPISODES]
    _, t_ns, x = view.series("odom/pose/pose/position/x", source="real")
    index = (t_ns - t_ns[0]) // 20_000_000  # header stamps (50 Hz), not receive times
    assert ((t_ns - t_ns[0]) % 20_000_000 == 0).all() and (np.diff(index) > 0).all()
    np.testing.assert_allclose(x, 0.01 * (index + round(x[0] / 0.01)))
    videos = view.media("camera/image_raw/video", source="real")
    assert videos and all(v.kind == "video" and v.path.stat().st_size > 0 for v in videos)
    assert summary["_rltrack/ros/dropped"] == 0
    assert summary["_rltrack/ros/episodes"] == len(EPISODES)
    assert not [k for k in summary if "qos_warnings" in k]
    text = log.read_text()
    assert "subscribed /odom [nav_msgs/msg/Odometry] reliability=best_effort" in text
    assert "subscribed /battery [sensor_msgs/msg/BatteryState] reliability=reliable durability=transient_local" in text


def test_forced_qos_mismatch_warns_and_other_topics_go_on(ros: RosInstall, netns: LoopbackNetns,
                                                          tmp_path: Path) -> None:
    store = tmp_path / "store"
    config = tmp_path / "topics.yaml"
    config.write_text(
        "topics: [{topic: /odom, qos: {reliability: reliable}}]\n"
        "episodes: {reward: /rl/reward, done: /rl/done}\n"
    )
    checkpoint = tmp_path / "policy.zip"
    checkpoint.write_bytes(b"weights")
    with rltrack.init(project="walker", dir=store, system_metrics=False) as sim:
        art = rltrack.Artifact("ppo-walker", type="model", metadata={"step": 20_000})
        art.add_file(checkpoint)
        sim.log_artifact(art)
    log = tmp_path / "node.log"
    node = start_node(ros, netns, log, {"project": "walker", "name": "robot-1", "dir": str(store),
                                        "config": str(config), "qos_warn_s": "1.5", "sim_run": sim.id,
                                        "policy": "ppo-walker:latest"})
    plan = {"duration_s": 2.5, "rates_hz": {"/odom": 50}, "image": [8, 8], "joints": JOINTS,
            "episodes": EPISODES[:1], "unmatched": ["/odom"]}
    result = run_standin(ros, netns, tmp_path, plan)
    warning = wait_for_log(log, node, r"/odom: 1 publisher\(s\) but no message in \d+ s; QoS may not match "
                                      r"\(we subscribe reliable/volatile, publishers offer best_effort\)")
    assert warning
    wait_for_log(log, node, r"stats received=(\{.*?\})", lambda m: received(m).get("/rl/done", 0) >= 1)
    stop(node, signal.SIGINT, log)
    assert result["published"]["/odom"] > 0
    api = rltrack.Api(dir=store)
    (view,) = [v for v in api.runs(project="walker") if v.id != sim.id]
    assert view.name == "robot-1" and view.sources == ["real"] and view.job_type == "deploy"
    assert view.config["sim_run"] == sim.id and view.config["policy_step"] == 20_000
    assert [r.id for r in api.artifact("ppo-walker:latest").used_by] == [view.id]
    keys = view.keys(source="real")
    assert not [k for k in keys if k.startswith("odom/")]
    steps, _, returns = view.series("episode/return", source="real")
    assert returns.tolist() == [sum(EPISODES[0])] and steps.tolist() == [20_000]  # at the policy's step
    assert view.summary_of("real")["_rltrack/ros/qos_warnings/odom"] == 1


def test_live_topics_and_the_recorded_bag_give_the_same_values(ros: RosInstall, netns: LoopbackNetns,
                                                               tmp_path: Path) -> None:
    from bagdata import write_bag
    from rltrack_ros.bag import import_bag
    from rltrack_ros.topics import load_config

    bag = write_bag(tmp_path / "bag", "mcap")
    config = tmp_path / "topics.yaml"
    config.write_text("topics: []\nepisodes: {reward: /rl/reward, done: /rl/done}\n")
    live_store, bag_store = tmp_path / "live", tmp_path / "imported"
    log = tmp_path / "node.log"
    node = start_node(ros, netns, log, {"project": "golden", "dir": str(live_store), "config": str(config)})
    with (tmp_path / "player.log").open("wb") as out:
        player = netns.popen([str(ros.python), str(HERE / "bagplayer.py"), str(bag.path), str(tmp_path / "res.json")],
                             stdout=out, stderr=subprocess.STDOUT, env=ros.env(netns.domain_id))
    assert player.wait(timeout=90) == 0, (tmp_path / "player.log").read_text()
    published = json.loads((tmp_path / "res.json").read_text())["published"]
    assert published == bag.counts
    wait_for_log(log, node, r"stats received=(\{.*?\})",
                 lambda m: all(received(m).get(t, 0) >= n for t, n in published.items()))
    stop(node, signal.SIGTERM, log)

    with rltrack.init(project="golden", dir=bag_store, source="real", system_metrics=False) as run:
        import_bag(bag.path, run, load_config(config))
    (live,) = rltrack.Api(dir=live_store).runs(project="golden")
    (imported,) = rltrack.Api(dir=bag_store).runs(project="golden")
    assert live.keys(source="real") == imported.keys(source="real")
    for key in imported.keys(source="real"):
        _, t_live, v_live = live.series(key, source="real")
        _, t_bag, v_bag = imported.series(key, source="real")
        np.testing.assert_array_equal(v_live, v_bag, err_msg=key)
        if not key.startswith(("rl/", "episode/")):  # stamped messages: robot time, not receive time
            np.testing.assert_array_equal(t_live, t_bag, err_msg=key)
    assert {m.key for m in live.media(source="real")} == {m.key for m in imported.media(source="real")}


def test_unknown_run_id_exits_with_one_clear_line(ros: RosInstall, netns: LoopbackNetns, tmp_path: Path) -> None:
    log = tmp_path / "node.log"
    node = start_node(ros, netns, log, {"run": "nope", "dir": str(tmp_path / "store")})
    assert node.wait(timeout=60) == 2
    text = log.read_text()
    assert "no run has id 'nope'" in text and "Traceback" not in text


@pytest.mark.parametrize("use_sim_time", ["false", "true"])
def test_a_simulation_s_topics_land_on_simulation_time(ros: RosInstall, netns: LoopbackNetns, tmp_path: Path,
                                                       use_sim_time: str) -> None:
    # Odometry stamped in sim time (1970), rewards without a header, /clock published: the node's receive
    # times (wall clock, 2026) are mapped through /clock, as a bag import of the same topics is, whether or
    # not the node runs under use_sim_time (then ROS time is /clock itself, but the rule is the same).
    # (No /tf: the ROS venv has no tf2_msgs; /tf by frame is tested through the shared decoder in test_clock.py.)
    from simbag import MS, SIM0, S, write_sim_bag

    rows = write_sim_bag(tmp_path / "bag", with_clock=True, with_tf=False, duration_ns=3 * S)
    config = tmp_path / "topics.yaml"
    config.write_text("topics: [/odom]\nepisodes: {reward: /rl/reward, done: /rl/done}\n")
    store, log = tmp_path / "store", tmp_path / "node.log"
    node = start_node(ros, netns, log, {"project": "sim", "dir": str(store), "config": str(config),
                                        "use_sim_time": use_sim_time})
    args = [str(ros.python), str(HERE / "bagplayer.py"), str(tmp_path / "bag"), str(tmp_path / "res.json")]
    with (tmp_path / "player.log").open("wb") as out:
        player = netns.popen(args, stdout=out, stderr=subprocess.STDOUT, env=ros.env(netns.domain_id))
    assert player.wait(timeout=90) == 0, (tmp_path / "player.log").read_text()
    published = json.loads((tmp_path / "res.json").read_text())["published"]
    wait_for_log(log, node, r"stats received=(\{.*?\})",
                 lambda m: all(received(m).get(t, 0) >= n for t, n in published.items()))
    stop(node, signal.SIGTERM, log)

    (view,) = rltrack.Api(dir=store).runs(project="sim")
    summary = view.summary_of("real")
    assert (summary["ros/clock"], summary["ros/clock_offset_from"]) == ("header", "/clock")
    for key in view.keys(source="real"):
        t_ns = view.series(key, source="real")[1]
        assert t_ns.min() > SIM0 - S and t_ns.max() < SIM0 + 4 * S, key  # sim time, not 2026
    sims = np.array([sim for topic, _, sim, _ in rows if topic == "/rl/reward"])
    got = view.series("rl/reward/data", source="real")[1]
    assert len(got) == len(sims)
    # Replayed in real time: each reward within the replay's scheduling jitter of its sim time.
    assert np.abs(got[1:] - sims[1:]).max() < 250 * MS
    stamps = [sim for topic, _, sim, _ in rows if topic == "/odom"]
    assert view.series("odom/pose/pose/position/x", source="real")[1].tolist() == stamps  # header stamps as they are
    assert view.series("episode/return", source="real")[1].min() > SIM0
