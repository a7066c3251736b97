"""The bounded queue between the ROS executor and the run: never blocks, drops are counted."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from bagdata import T0_NS
from rltrack_ros.decode import Decoder
from rltrack_ros.mirror import Mirror
from rltrack_ros.sink import Sink
from rltrack_ros.topics import parse_config
from rosbags.typesys import Stores, get_typestore

import rltrack
from rltrack.errors import RltrackWarning

TS = get_typestore(Stores.ROS2_JAZZY)
RAW = bytes(TS.serialize_cdr(TS.types["std_msgs/msg/Float32"](data=1.5), "std_msgs/msg/Float32"))


class StalledMirror(Mirror):
    """A mirror whose first message waits for ``release``: a store that is slow or away."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.release = threading.Event()
        self.started = threading.Event()

    def handle(self, topic: str, msgtype: str, raw: bytes | memoryview, recv_t_ns: int) -> None:
        self.started.set()
        self.release.wait(timeout=30)
        super().handle(topic, msgtype, raw, recv_t_ns)


def test_full_queue_drops_without_blocking_and_counts_in_the_summary(tmp_path: Path) -> None:
    run = rltrack.init(project="robot", dir=tmp_path, source="real", system_metrics=False)
    mirror = StalledMirror(run, parse_config({}), Decoder.for_distro("jazzy"))
    sink = Sink(mirror, maxsize=3)
    assert sink.offer("/r", "std_msgs/msg/Float32", RAW, T0_NS)
    assert mirror.started.wait(timeout=10)  # the worker holds message 0; the queue is empty
    start = time.perf_counter()
    with pytest.warns(RltrackWarning, match="queue of 3 messages is full"):
        accepted = [sink.offer("/r", "std_msgs/msg/Float32", RAW, T0_NS + i) for i in range(1, 10)]
    assert time.perf_counter() - start < 1.0  # the executor thread never waits for the store
    assert accepted == [True] * 3 + [False] * 6
    mirror.release.set()
    sink.close()
    run.finish()
    view = rltrack.Api(dir=tmp_path).run(run.id)
    assert len(view.series("r/data", source="real")[2]) == 4
    summary = view.summary_of("real")
    assert (summary["_rltrack/ros/dropped"], summary["_rltrack/ros/dropped/r"]) == (6, 6)
    assert summary["_rltrack/ros/logged/r"] == 4


def test_a_message_that_cannot_be_logged_is_counted_and_the_worker_goes_on(tmp_path: Path) -> None:
    run = rltrack.init(project="robot", dir=tmp_path, source="real", system_metrics=False)
    # A rename to a reserved key makes run.log refuse the values: one failure, then more messages.
    config = parse_config({"topics": [{"topic": "/bad", "rename": {"data": "step"}}, "/r"]})
    sink = Sink(Mirror(run, config, Decoder.for_distro("jazzy")))
    with pytest.warns(RltrackWarning, match="could not be logged \\(InvalidKeyError"):
        sink.offer("/bad", "std_msgs/msg/Float32", RAW, T0_NS)
        sink.offer("/r", "std_msgs/msg/Float32", RAW, T0_NS + 1)
        sink.close()
    run.finish()
    view = rltrack.Api(dir=tmp_path).run(run.id)
    assert view.keys(source="real") == ["r/data"]
    assert view.summary_of("real")["_rltrack/ros/failed/InvalidKeyError"] == 1
