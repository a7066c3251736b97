"""One clock per run: a simulation recording (header stamps in sim time, receive time in 2026).

The bags (:mod:`simbag`) are written with rosbags' writer the way a nav2/Gazebo recording looks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from bagdata import odometry
from click.testing import CliRunner
from rltrack_ros import import_bag
from rltrack_ros.clock import PENDING_NS, RunClock
from rltrack_ros.decode import Decoder
from rltrack_ros.errors import TopicConfigError
from rltrack_ros.mirror import Mirror
from rltrack_ros.topics import parse_config
from rosbags.rosbag2 import Writer
from simbag import DURATION, LATENCY, MS, SIM0, TS, WALL0, S, transform, write_sim_bag

import rltrack
from rltrack.cli import main
from rltrack.errors import RltrackWarning


def imported(tmp_path: Path, bag: Path, config: dict[str, Any]) -> tuple[Any, Any]:
    run = rltrack.init(project="nav2", dir=tmp_path / "store", source="real", system_metrics=False)
    result = import_bag(bag, run, parse_config(config))
    run.finish()
    return result, rltrack.Api(dir=tmp_path / "store").run(run.id)


EPISODES = {"episodes": {"reward": "/rl/reward", "done": "/rl/done"}}


@pytest.fixture(scope="module")
def sim_bag(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[str, int, int, Any]]]:
    path = tmp_path_factory.mktemp("sim") / "nav2_sim"
    return path, write_sim_bag(path)


def test_a_sim_time_recording_comes_out_on_one_clock_spanning_its_duration(tmp_path: Path, sim_bag: Any) -> None:
    bag, rows = sim_bag
    _, view = imported(tmp_path, bag, EPISODES)
    summary = view.summary_of("real")
    assert summary["ros/clock"] == "header" and summary["ros/clock_offset_from"] == "header stamps"
    assert summary["ros/clock_offset_ns"] == SIM0 - WALL0 - LATENCY  # stamp - receive time, as measured
    keys = view.keys(source="real")
    assert {"odom/twist/twist/linear/x", "rl/reward/data", "tf/odom/base_link/translation/x", "episode/return"} <= set(
        keys
    )
    for key in keys:
        t_ns = view.series(key, source="real")[1]
        # Every series on sim time: none in 2026, all within the 20 s the simulation ran.
        assert t_ns.min() >= SIM0 - 50 * MS and t_ns.max() < SIM0 + DURATION + 50 * MS, key
    # Unstamped rewards: receive time + the measured offset, i.e. their sim time (latency is constant here).
    rewards = [(recv, sim) for topic, recv, sim, _ in rows if topic == "/rl/reward"]
    t_reward = view.series("rl/reward/data", source="real")[1]
    assert t_reward.tolist() == [sim for _, sim in rewards]
    # Episodes end on the unstamped done topic: also on sim time.
    done = [sim for topic, _, sim, _ in rows if topic == "/rl/done"]
    assert view.series("episode/return", source="real")[1].tolist() == done


def test_receive_clock_puts_everything_at_log_time(tmp_path: Path, sim_bag: Any) -> None:
    bag, rows = sim_bag
    _, view = imported(tmp_path, bag, {"clock": "receive"})
    assert view.summary_of("real")["ros/clock"] == "receive"
    assert "ros/clock_offset_ns" not in view.summary_of("real")
    odom_recv = [recv for topic, recv, _, _ in rows if topic == "/odom"]
    assert view.series("odom/pose/pose/position/x", source="real")[1].tolist() == odom_recv
    assert view.series("tf/odom/base_link/translation/x", source="real")[1].tolist() == odom_recv


def test_tf_is_keyed_by_frames_each_series_continuous_and_separate(tmp_path: Path, sim_bag: Any) -> None:
    bag, rows = sim_bag
    _, view = imported(tmp_path, bag, {"topics": ["/tf"]})
    assert view.keys(source="real") == sorted(
        f"tf/{frames}/{part}/{axis}"
        for frames in ("odom/base_link", "base_link/wheel", "map/odom")
        for part, axes in (("translation", "xyz"), ("rotation", "xyzw"))
        for axis in axes
    )
    want: dict[str, list[tuple[int, float]]] = {"odom/base_link": [], "base_link/wheel": [], "map/odom": []}
    for topic, _, _, msg in rows:
        if topic == "/tf":
            for tr in msg.transforms:
                t_ns = tr.header.stamp.sec * S + tr.header.stamp.nanosec
                want[f"{tr.header.frame_id}/{tr.child_frame_id}"].append((t_ns, tr.transform.translation.x))
    assert [len(v) for v in want.values()] == [400, 400, 100]
    for frames, points in want.items():
        _, t_ns, x = view.series(f"tf/{frames}/translation/x", source="real")
        assert list(zip(t_ns.tolist(), x.tolist(), strict=True)) == points, frames  # each transform at its stamp
        assert np.all(np.diff(t_ns) > 0), frames  # one continuous series per frame pair, never interleaved


def test_slow_simulation_with_clock_maps_unstamped_topics_through_clock(tmp_path: Path) -> None:
    # The simulation runs at half real time: one fixed offset would drift by 10 s over the recording.
    rows = write_sim_bag(tmp_path / "bag", rtf=0.5, with_clock=True)
    _, view = imported(tmp_path, tmp_path / "bag", {"topics": ["/rl/reward", "/odom"]})
    summary = view.summary_of("real")
    assert (summary["ros/clock"], summary["ros/clock_offset_from"]) == ("header", "/clock")
    assert "clock/clock" not in view.keys(source="real")  # read for the clock only, not logged
    sims = np.array([sim for topic, _, sim, _ in rows if topic == "/rl/reward"])
    got = view.series("rl/reward/data", source="real")[1]
    assert len(got) == len(sims)
    # The first reward precedes the first /clock (sim SIM0, received at WALL0): held, then mapped by that
    # offset; 60 ms of wall time before it are 30 ms of sim time at half speed, so it lands 28 ms early.
    assert got[0] == WALL0 - 60 * MS + LATENCY + (SIM0 - WALL0) == sims[0] - 28 * MS
    # After that, by the latest /clock: 100 Hz of sim time is 20 ms of wall time, in which the sim
    # advances 10 ms; so a reward is never further off than that plus its latency.
    assert np.abs(got[1:] - sims[1:]).max() <= 10 * MS + LATENCY


def test_a_recording_without_stamps_stays_on_receive_time(tmp_path: Path) -> None:
    t = TS.types
    with Writer(tmp_path / "bag", version=9) as writer:  # type: ignore[arg-type]
        conn = writer.add_connection("/rl/reward", "std_msgs/msg/Float32", typestore=TS)
        for i in range(5):
            writer.write(conn, WALL0 + i * S, bytes(TS.serialize_cdr(t["std_msgs/msg/Float32"](data=1.0 * i),
                                                                      "std_msgs/msg/Float32")))  # fmt: skip
    _, view = imported(tmp_path, tmp_path / "bag", {})
    assert view.summary_of("real")["ros/clock"] == "receive"
    assert view.series("rl/reward/data", source="real")[1].tolist() == [WALL0 + i * S for i in range(5)]


def real_run(tmp_path: Path) -> Any:
    return rltrack.init(project="nav2", dir=tmp_path, source="real", system_metrics=False)


def times(store: Path, run: Any, key: str) -> list[int]:
    run.flush()
    return rltrack.Api(dir=store).run(run.id).series(key, source="real")[1].tolist()  # type: ignore[no-any-return]


def _float32(value: float) -> bytes:
    return bytes(TS.serialize_cdr(TS.types["std_msgs/msg/Float32"](data=value), "std_msgs/msg/Float32"))


def test_header_clock_without_any_stamp_warns_and_counts(tmp_path: Path) -> None:
    run = rltrack.init(project="nav2", dir=tmp_path, source="real", system_metrics=False)
    mirror = Mirror(run, parse_config({"clock": "header"}), Decoder(TS))
    mirror.handle("/r", "std_msgs/msg/Float32", _float32(1.0), WALL0)
    mirror.handle("/r", "std_msgs/msg/Float32", _float32(2.0), WALL0 + S)
    with pytest.warns(RltrackWarning, match=r"clock 'header': 2 values of topics without a header stamp"):
        mirror.close()
    run.finish()
    view = rltrack.Api(dir=tmp_path).run(run.id)
    assert view.series("r/data", source="real")[1].tolist() == [WALL0, WALL0 + S]
    assert view.summary_of("real")["_rltrack/ros/clock_unmapped"] == 2


def test_auto_settles_on_receive_time_after_five_seconds_without_a_stamp(tmp_path: Path) -> None:
    run = real_run(tmp_path)
    mirror = Mirror(run, parse_config({}), Decoder(TS))
    mirror.handle("/r", "std_msgs/msg/Float32", _float32(1.0), WALL0)
    assert times(tmp_path, run, "r/data") == []  # held: a stamp may still come
    mirror.handle("/r", "std_msgs/msg/Float32", _float32(2.0), WALL0 + PENDING_NS)
    assert times(tmp_path, run, "r/data") == [WALL0, WALL0 + PENDING_NS]
    assert run.summary["ros/clock"] == "receive"
    odom = bytes(TS.serialize_cdr(odometry(TS, 0, SIM0), "nav_msgs/msg/Odometry"))
    mirror.handle("/odom", "nav_msgs/msg/Odometry", odom, WALL0 + PENDING_NS + 1)
    mirror.close()
    # Settled: a late stamp does not start a second clock.
    assert times(tmp_path, run, "odom/pose/pose/position/x") == [WALL0 + PENDING_NS + 1]
    run.finish()


def test_tf_static_stamps_do_not_set_the_offset(tmp_path: Path) -> None:
    run = real_run(tmp_path)
    mirror = Mirror(run, parse_config({}), Decoder(TS))
    old = bytes(TS.serialize_cdr(TS.types["tf2_msgs/msg/TFMessage"](transforms=[transform("base", "lidar", S, 0.1)]),
                                 "tf2_msgs/msg/TFMessage"))  # fmt: skip
    mirror.handle("/tf_static", "tf2_msgs/msg/TFMessage", old, WALL0)  # published at startup, latched
    mirror.handle("/r", "std_msgs/msg/Float32", _float32(1.0), WALL0 + 1)
    odom = bytes(TS.serialize_cdr(odometry(TS, 0, SIM0), "nav_msgs/msg/Odometry"))
    mirror.handle("/odom", "nav_msgs/msg/Odometry", odom, WALL0 + 10)
    mirror.close()
    assert times(tmp_path, run, "r/data") == [WALL0 + 1 + (SIM0 - WALL0 - 10)]
    assert times(tmp_path, run, "tf_static/base/lidar/translation/x") == [S]  # at its own stamp
    run.finish()


def test_run_clock_rules() -> None:
    clock = RunClock("auto")
    assert clock.t_ns(None, 100) is None and not clock.resolved
    assert clock.observe(stamp_ns=40, recv_ns=100)  # settles: header clock, offset -60
    assert (clock.t_ns(None, 200), clock.t_ns(55, 200)) == (140, 55)
    assert not clock.observe(stamp_ns=100, recv_ns=150)  # re-measured: offset -50
    assert clock.t_ns(None, 200) == 150
    clock.observe_clock(sim_ns=1000, recv_ns=150)  # /clock wins from now on
    assert not clock.observe(stamp_ns=0, recv_ns=10_000) and clock.t_ns(None, 200) == 1050
    assert clock.summary() == {"ros/clock": "header", "ros/clock_offset_ns": 850, "ros/clock_offset_from": "/clock"}
    receive = RunClock("receive")
    assert not receive.observe(5, 10) and receive.t_ns(5, 10) == 10
    with pytest.raises(TopicConfigError, match=r"clock must be one of \['auto', 'header', 'receive'\], got 'sim'"):
        parse_config({"clock": "sim"})


def test_cli_clock_option_chooses_the_time_axis(tmp_path: Path, sim_bag: Any) -> None:
    bag, rows = sim_bag
    store = tmp_path / "store"
    args = ["import-bag", str(bag), "--project", "nav2", "--topic", "/odom", "--clock", "receive", "--dir", str(store)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    (view,) = rltrack.Api(dir=store).runs(project="nav2")
    odom_recv = [recv for topic, recv, _, _ in rows if topic == "/odom"]
    assert view.series("odom/pose/pose/position/x", source="real")[1].tolist() == odom_recv
    bad = CliRunner().invoke(main, ["import-bag", str(bag), "--project", "nav2", "--clock", "sim", "--dir", str(store)])
    assert bad.exit_code == 2 and "'sim' is not one of 'auto', 'header', 'receive'" in bad.output


def test_a_topic_stamped_on_another_clock_is_placed_by_receive_time(tmp_path: Path) -> None:
    from bagdata import diagnostics

    run = real_run(tmp_path)
    mirror = Mirror(run, parse_config({}), Decoder(TS))
    odom = bytes(TS.serialize_cdr(odometry(TS, 0, SIM0), "nav_msgs/msg/Odometry"))
    mirror.handle("/odom", "nav_msgs/msg/Odometry", odom, WALL0 + LATENCY)
    # A node without use_sim_time stamps its diagnostics with the wall clock, among sim-time topics.
    diag = bytes(TS.serialize_cdr(diagnostics(TS, 0, WALL0 + MS), "diagnostic_msgs/msg/DiagnosticArray"))
    with pytest.warns(RltrackWarning, match=r"topic '/diagnostics': header stamps \+1779999988 s away from the run's "
                                            r"clock \(measured on header stamps\)"):  # fmt: skip
        mirror.handle("/diagnostics", "diagnostic_msgs/msg/DiagnosticArray", diag, WALL0 + 3 * MS)
    mirror.handle("/odom", "nav_msgs/msg/Odometry", odom, WALL0 + LATENCY)  # the offset is not taken from it
    mirror.close()
    assert times(tmp_path, run, "diagnostics/battery/voltage") == [SIM0 + MS]  # receive time + the run's offset
    assert run.summary["_rltrack/ros/foreign_clock/diagnostics"] == 1
    run.finish()
